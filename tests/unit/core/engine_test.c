/*
 * engine_test.c - end-to-end scenarios of the engine core through its public API on a
 * real SQLite file: attribution, eligibility, explanations, tiers, limits, holds,
 * schedules, expiry, refunds (cancel, reverse + clawback, pro rata), redeem, the
 * state machine, and the ledger and audit invariants after every scenario.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "core/core.h"
#include "fulfill/crypto.h"
#include "engine_fixture.h"

static struct fx F;
static void setup(void) { fx_open(&F); }
static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

TestSuite(engine, .init = setup, .fini = teardown);

static const char *status_of(json_t *rewards, size_t i)
{
	return json_string_value(json_object_get(json_array_get(rewards, i), "status"));
}

Test(engine, jessica_three_of_five_convert)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	const char *friends[] = {"tom", "ann", "bob", "eve", "max"};
	for (int i = 0; i < 5; i++) {
		char ref[16];
		snprintf(ref, sizeof(ref), "ref_%d", i);
		fx_referral(&F, ref, "give20", "jessica", friends[i]);
	}
	cr_assert_eq(fx_conversion(&F, "o1", "tom", 7500), 2);
	cr_assert_eq(fx_conversion(&F, "o2", "ann", 5000), 2, "exactly the minimum qualifies");
	cr_assert_eq(fx_conversion(&F, "o3", "bob", 12000), 2);
	cr_assert_eq(fx_conversion(&F, "o4", "eve", 4999), 0, "below the minimum earns nothing");
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_eq(json_array_size(all), 6);
	int referrer = 0, referred = 0;
	size_t i;
	json_t *r;
	json_array_foreach(all, i, r)
	{
		const char *role = json_string_value(json_object_get(r, "role"));
		referrer += !strcmp(role, "referrer");
		referred += !strcmp(role, "referred");
		cr_assert_eq(json_integer_value(json_object_get(r, "amount")), 2000);
		cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "approved");
		cr_assert_str_eq(json_string_value(json_object_get(r, "reason")), "awaiting_fulfillment");
	}
	cr_assert_eq(referrer, 3);
	cr_assert_eq(referred, 3);
	json_decref(all);

	/* the below-minimum conversion says why */
	json_t *x = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_explain(F.e, &F.cli, "o4", &x, &d), FF_OK, "%s", d.message);
	json_t *ex = json_object_get(x, "explanation");
	cr_assert(json_is_false(json_object_get(ex, "eligible")));
	cr_assert_str_eq(json_string_value(json_object_get(ex, "outcome")), "not_eligible");
	const char *why = json_string_value(json_array_get(json_object_get(ex, "failed"), 0));
	cr_assert_not_null(strstr(why, "conversion.amount (4999) >= 5000"), "%s", why);
	json_decref(x);

	json_t *c = NULL;
	cr_assert_eq(engine_conversion_get(F.e, &F.cli, "o4", &c, &d), FF_OK);
	cr_assert(json_is_object(json_object_get(c, "explanation")), "a conversion without reward carries its explanation");
	json_decref(c);

	/* the worker fulfils all six through the ledger */
	json_t *w = fx_worker(&F, T0 + 1000);
	cr_assert_eq(json_integer_value(json_object_get(w, "fulfilled")), 6);
	json_decref(w);
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 6000);
	cr_assert_eq(fx_balance(&F, "tom", "USD"), 2000);
	cr_assert_eq(fx_balance(&F, "eve", "USD"), 0);

	json_t *p = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "jessica", &p, &d), FF_OK);
	json_t *stats = json_object_get(p, "stats");
	cr_assert_eq(json_integer_value(json_object_get(stats, "referrals")), 5);
	cr_assert_eq(json_integer_value(json_object_get(stats, "successful_referrals")), 3);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(stats, "rewards"), "fulfilled")), 3);
	json_decref(p);

	json_t *ref = NULL;
	cr_assert_eq(engine_referral_get(F.e, &F.cli, "ref_3", &ref, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(ref, "status")), "pending");
	json_decref(ref);
	cr_assert_eq(engine_referral_get(F.e, &F.cli, "ref_0", &ref, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(ref, "status")), "successful");
	json_decref(ref);
}

Test(engine, duplicate_event_changes_nothing)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	json_t *first = NULL, *again = NULL;
	const char *ev = "{\"id\":\"evt-c1\",\"type\":\"conversion\",\"data\":{\"id\":\"o1\",\"participant\":\"tom\","
			 "\"amount\":7500,\"currency\":\"USD\"}}";
	cr_assert_eq(fx_event(&F, &first, NULL, "%s", ev), FF_OK);
	cr_assert_eq(fx_event(&F, &again, NULL, "%s", ev), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(again, "outcome")), "duplicate");
	cr_assert(json_equal(json_object_get(first, "rewards"), json_object_get(again, "rewards")));
	json_decref(first);
	json_decref(again);
	/* even a different body under the same id is a duplicate, forever */
	cr_assert_eq(fx_event(&F, &again, NULL,
			      "{\"id\":\"evt-c1\",\"type\":\"conversion\",\"data\":{\"id\":\"o9\",\"participant\":"
			      "\"tom\",\"amount\":99999,\"currency\":\"USD\"}}"),
		     FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(again, "outcome")), "duplicate");
	json_decref(again);
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_eq(json_array_size(all), 2);
	json_decref(all);
}

Test(engine, refund_before_payout_cancels)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 7500);
	fx_ok(&F, "{\"id\":\"rf1\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\",\"reason\":\"chargeback\"}}");
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_eq(json_array_size(all), 2);
	cr_assert_str_eq(status_of(all, 0), "cancelled");
	cr_assert_str_eq(status_of(all, 1), "cancelled");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "reason")), "chargeback");
	json_decref(all);
	json_t *w = fx_worker(&F, T0 + 1000);
	cr_assert_eq(json_integer_value(json_object_get(w, "fulfilled")), 0);
	json_decref(w);
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 0);
}

Test(engine, refund_after_payout_reverses_with_clawback)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 7500);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_balance(&F, "tom", "USD"), 2000);
	/* tom spends 1500 of it, then refunds: the clawback leaves him owing 1500 */
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "tom", 1500, "USD", &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	/* a partial refund that drops the net below the minimum reverses both rewards */
	fx_ok(&F, "{\"id\":\"rf1\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\",\"amount\":3000}}");
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_str_eq(status_of(all, 0), "reversed");
	cr_assert_str_eq(status_of(all, 1), "reversed");
	json_decref(all);
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 0);
	cr_assert_eq(fx_balance(&F, "tom", "USD"), -1500, "a clawback may leave a debt");
	/* new credit pays the debt first */
	fx_referral(&F, "ref_2", "give20", "tom", "zoe");
	fx_conversion(&F, "o2", "zoe", 6000);
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_balance(&F, "tom", "USD"), 500);
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "tom", 600, "USD", &out, &d), FF_E_INSUFFICIENT_BALANCE);
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "tom", 500, "USD", &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
}

Test(engine, refund_too_large_is_rejected_and_changes_nothing)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 7500);
	fx_ok(&F, "{\"id\":\"rf1\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\",\"amount\":1000}}");
	struct ff_diag d;
	cr_assert_eq(fx_event(&F, NULL, &d, "{\"id\":\"rf2\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\",\"amount\":6501}}"),
		     FF_E_INVALID_AMOUNT);
	cr_assert_str_eq(d.param, "data.amount");
	cr_assert_eq(fx_event(&F, NULL, &d, "{\"id\":\"rf3\",\"type\":\"refund\",\"data\":{\"conversion\":\"nope\"}}"),
		     FF_E_REF_NOT_FOUND);
	cr_assert_str_eq(d.param, "data.conversion");
	json_t *c = NULL;
	cr_assert_eq(engine_conversion_get(F.e, &F.cli, "o1", &c, &d), FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(c, "refunded_amount")), 1000);
	cr_assert_eq(json_integer_value(json_object_get(c, "net_amount")), 6500);
	json_decref(c);
	json_t *all = fx_rewards(&F, "approved", NULL);
	cr_assert_eq(json_array_size(all), 2, "still qualifies: fixed rewards stay");
	json_decref(all);
}

Test(engine, percent_reward_shrinks_pro_rata)
{
	fx_program(&F, "{\"id\":\"pct\",\"name\":\"10%\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"percent_bp\":1000,\"max_amount\":5000},{\"to\":\"referred\",\"type\":"
		       "\"credit\",\"amount\":500}]}");
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "pct", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 12345);
	json_t *all = fx_rewards(&F, NULL, "jessica");
	/* 10% of 12345 = 1234.5 -> half-even 1234 */
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(all, 0), "amount")), 1234);
	json_decref(all);
	json_decref(fx_worker(&F, T0 + 1000));
	fx_ok(&F, "{\"id\":\"rf1\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\",\"amount\":2345}}");
	all = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(all, 0), "amount")), 1000);
	cr_assert_str_eq(status_of(all, 0), "fulfilled");
	json_decref(all);
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 1000, "the difference was clawed back");
	all = fx_rewards(&F, NULL, "tom");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(all, 0), "amount")), 500, "fixed stays");
	json_decref(all);
	/* a huge conversion is capped */
	fx_referral(&F, "ref_2", "pct", "jessica", "ann");
	fx_conversion(&F, "o2", "ann", 1000000);
	all = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(all, 1), "amount")), 5000);
	json_decref(all);
}

/* One conversion earns in two programs with different minimums: a partial refund is
 * judged by each program's own eligibility, over the context that program saw. */
Test(engine, refund_judges_each_programs_rewards_by_its_own_rules)
{
	fx_program(&F, "{\"id\":\"big\",\"name\":\"Big\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"
		       "\"conversion.amount\"},5000]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	fx_program(&F, "{\"id\":\"small\",\"name\":\"Small\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"
		       "\"conversion.amount\"},1000]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":300}]}");
	fx_participant(&F, "jessica");
	fx_participant(&F, "ann");
	/* tom: first referred through big, then small; zoe the other way round (the
	 * conversion records the last program that rewarded it) */
	fx_referral(&F, "ref_t1", "big", "jessica", "tom");
	fx_referral(&F, "ref_t2", "small", "ann", "tom");
	fx_referral(&F, "ref_z1", "small", "ann", "zoe");
	fx_referral(&F, "ref_z2", "big", "jessica", "zoe");
	cr_assert_eq(fx_conversion(&F, "o1", "tom", 6000), 2);
	cr_assert_eq(fx_conversion(&F, "o2", "zoe", 6000), 2);
	/* net 3000: below big's minimum, still above small's */
	fx_ok(&F, "{\"id\":\"rf1\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\",\"amount\":3000}}");
	fx_ok(&F, "{\"id\":\"rf2\",\"type\":\"refund\",\"data\":{\"conversion\":\"o2\",\"amount\":3000}}");
	json_t *j = fx_rewards(&F, NULL, "jessica"), *a = fx_rewards(&F, NULL, "ann");
	cr_assert_eq(json_array_size(j), 2);
	cr_assert_eq(json_array_size(a), 2);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_str_eq(status_of(j, i), "cancelled", "big's reward %zu no longer qualifies", i);
		cr_assert_str_eq(status_of(a, i), "approved", "small's reward %zu still qualifies", i);
	}
	json_decref(j);
	json_decref(a);
	/* the rest refunded: nothing qualifies any more */
	fx_ok(&F, "{\"id\":\"rf3\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\"}}");
	a = fx_rewards(&F, "approved", "ann");
	cr_assert_eq(json_array_size(a), 1, "zoe's reward stays, tom's is cancelled");
	json_decref(a);
}

Test(engine, tiers_pick_the_highest_reached)
{
	fx_program(&F, "{\"id\":\"t\",\"name\":\"Tiers\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000},{\"to\":\"referred\",\"type\":\"credit\",\"amount\":100}],"
		       "\"tiers\":[{\"from\":3,\"to\":\"referrer\",\"type\":\"credit\",\"amount\":3000},"
		       "{\"from\":5,\"to\":\"referrer\",\"type\":\"credit\",\"amount\":5000}]}");
	fx_participant(&F, "jessica");
	long long expect[] = {1000, 1000, 3000, 3000, 5000, 5000};
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(fx_friend_buys(&F, "t", "jessica", i, 100), 2);
		json_t *all = fx_rewards(&F, NULL, "jessica");
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(all, i), "amount")), expect[i],
			     "referral %d", i + 1);
		json_decref(all);
	}
	json_t *friendr = fx_rewards(&F, NULL, "f4");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(friendr, 0), "amount")), 100,
		     "tiers replace only the referrer's reward");
	json_decref(friendr);
}

Test(engine, limits_cap_and_explain)
{
	fx_program(&F, "{\"id\":\"l\",\"name\":\"Limits\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000},{\"to\":\"referred\",\"type\":\"credit\",\"amount\":100}],"
		       "\"limits\":{\"referrer_rewards_per_year\":2}}");
	fx_participant(&F, "jessica");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(fx_friend_buys(&F, "l", "jessica", i, 100), i < 2 ? 2 : 1);
	json_t *mine = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_array_size(mine), 2);
	json_decref(mine);
	json_t *x = NULL;
	struct ff_diag d;
	json_t *f2 = fx_rewards(&F, NULL, "f2");
	const char *rid = json_string_value(json_object_get(json_array_get(f2, 0), "id"));
	cr_assert_eq(engine_explain(F.e, &F.cli, rid, &x, &d), FF_OK);
	char *text = json_dumps(x, 0);
	cr_assert_not_null(strstr(text, "referrer_rewards_per_year limit 2 reached"), "%s", text);
	free(text);
	json_decref(x);
	json_decref(f2);
}

/* An amount limit is minor units of the program's currency: points neither count
 * towards it nor are capped by it (100000 points are not $1000). */
Test(engine, amount_limits_count_the_program_currency_only)
{
	fx_program(&F, "{\"id\":\"l\",\"name\":\"Limits\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000},{\"to\":\"referrer\",\"type\":\"points\",\"amount\":100000}],"
		       "\"limits\":{\"referrer_amount_per_year\":2000}}");
	fx_participant(&F, "jessica");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(fx_friend_buys(&F, "l", "jessica", i, 100), i < 2 ? 2 : 1, "conversion %d", i);
	json_t *mine = fx_rewards(&F, NULL, "jessica");
	int credits = 0, points = 0;
	size_t i;
	json_t *r;
	json_array_foreach(mine, i, r)
	{
		const char *type = json_string_value(json_object_get(r, "type"));
		credits += !strcmp(type, "credit");
		points += !strcmp(type, "points");
	}
	json_decref(mine);
	cr_assert_eq(credits, 2, "$20.00 of credit reaches the $20.00 limit");
	cr_assert_eq(points, 3, "points are not capped by a money limit");
}

/* Limits per period count rewards by when they were earned (the conversion's
 * occurred_at), not when the event was ingested: a late event counts in its own month. */
Test(engine, limits_count_the_period_a_reward_was_earned_in)
{
	fx_program(&F, "{\"id\":\"l\",\"name\":\"Limits\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000}],\"limits\":{\"referrer_rewards_per_month\":1}}");
	fx_participant(&F, "jessica");
	const char *friends[] = {"f0", "f1", "f2", "f3"};
	for (int i = 0; i < 4; i++) {
		/* referred in August: before every purchase below (a purchase made before
		 * its referral is attributed to none) */
		fx_ok(&F,
		      "{\"id\":\"r-ref_%d\",\"type\":\"referral\",\"occurred_at\":\"2026-08-01T00:00:00Z\","
		      "\"data\":{\"id\":\"ref_%d\",\"program\":\"l\",\"referrer\":\"jessica\",\"referred\":\"%s\"}}",
		      i, i, friends[i]);
	}
	/* October 31: one October reward */
	fftime_set_now(T0 + 30 * DAY + 1000);
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c0\",\"type\":\"conversion\",\"occurred_at\":\"2026-10-31T10:00:00Z\","
			       "\"data\":{\"id\":\"o0\",\"participant\":\"f0\",\"amount\":100,\"currency\":\"USD\"}}"), 1);
	/* November 1: another October purchase, delivered late, is October's second */
	fftime_set_now(T0 + 31 * DAY + 1000);
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c1\",\"type\":\"conversion\",\"occurred_at\":\"2026-10-31T11:00:00Z\","
			       "\"data\":{\"id\":\"o1\",\"participant\":\"f1\",\"amount\":100,\"currency\":\"USD\"}}"), 0,
		     "a late event must not go past its own month's cap");
	/* a September purchase backfilled now has September's cap to itself */
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c2\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-15T11:00:00Z\","
			       "\"data\":{\"id\":\"o2\",\"participant\":\"f2\",\"amount\":100,\"currency\":\"USD\"}}"), 1);
	/* and neither used up November's */
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c3\",\"type\":\"conversion\",\"occurred_at\":\"2026-11-01T00:00:00Z\","
			       "\"data\":{\"id\":\"o3\",\"participant\":\"f3\",\"amount\":100,\"currency\":\"USD\"}}"), 1);
}

/* stats.referrer_rewards_this_year counts the year the reward would be earned in (the
 * purchase's), as the limits do: a December purchase delivered in January sees
 * December's rewards. */
Test(engine, rewards_this_year_is_the_purchase_year)
{
	fx_program(&F, "{\"id\":\"y\",\"name\":\"One a year\",\"currency\":\"USD\",\"eligibility\":{\"<\":"
		       "[{\"var\":\"stats.referrer_rewards_this_year\"},1]},\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000}]}");
	fx_participant(&F, "jessica");
	for (int i = 0; i < 3; i++)
		fx_ok(&F,
		      "{\"id\":\"r-ref_%d\",\"type\":\"referral\",\"occurred_at\":\"2026-08-01T00:00:00Z\","
		      "\"data\":{\"id\":\"ref_%d\",\"program\":\"y\",\"referrer\":\"jessica\",\"referred\":\"f%d\"}}",
		      i, i, i);
	fftime_set_now(T0 + 80 * DAY); /* 2026-12-20 */
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c0\",\"type\":\"conversion\",\"occurred_at\":\"2026-12-20T00:00:00Z\","
			       "\"data\":{\"id\":\"o0\",\"participant\":\"f0\",\"amount\":100,\"currency\":\"USD\"}}"),
		     1);
	fftime_set_now(T0 + 93 * DAY); /* 2027-01-02: a December purchase, delivered late */
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c1\",\"type\":\"conversion\",\"occurred_at\":\"2026-12-28T00:00:00Z\","
			       "\"data\":{\"id\":\"o1\",\"participant\":\"f1\",\"amount\":100,\"currency\":\"USD\"}}"),
		     0, "December had its reward already");
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c2\",\"type\":\"conversion\",\"occurred_at\":\"2027-01-02T00:00:00Z\","
			       "\"data\":{\"id\":\"o2\",\"participant\":\"f2\",\"amount\":100,\"currency\":\"USD\"}}"),
		     1, "2027 has its own");
}

Test(engine, hold_then_release_and_fulfil)
{
	fx_program(&F, "{\"id\":\"h\",\"name\":\"Hold\",\"currency\":\"USD\",\"hold_days\":30,\"rewards\":[{\"to\":"
		       "\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "h", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 100);
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_str_eq(status_of(all, 0), "pending");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "reason")), "hold_period");
	json_decref(all);
	json_t *w = fx_worker(&F, T0 + 29 * DAY);
	cr_assert_eq(json_integer_value(json_object_get(w, "released")), 0);
	json_decref(w);
	w = fx_worker(&F, T0 + 30 * DAY + 1);
	cr_assert_eq(json_integer_value(json_object_get(w, "released")), 1);
	cr_assert_eq(json_integer_value(json_object_get(w, "fulfilled")), 1);
	json_decref(w);
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 1000);
	/* the history tells the whole story */
	all = fx_rewards(&F, NULL, NULL);
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reward_get(F.e, &F.cli, json_string_value(json_object_get(json_array_get(all, 0), "id")), &r, &d),
		     FF_OK);
	json_t *h = json_object_get(r, "history");
	cr_assert_eq(json_array_size(h), 3);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(h, 0), "to")), "pending");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(h, 1), "to")), "approved");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(h, 2), "to")), "fulfilled");
	json_decref(r);
	json_decref(all);
}

Test(engine, monthly_schedule_releases_on_the_first)
{
	/* T0 is 2026-10-01; a conversion on Oct 2 with a monthly schedule waits for Nov 1 */
	fx_program(&F, "{\"id\":\"m\",\"name\":\"Monthly\",\"currency\":\"USD\",\"schedule\":\"monthly\",\"rewards\":"
		       "[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "m", "jessica", "tom");
	fftime_set_now(T0 + DAY);
	fx_conversion(&F, "o1", "tom", 100);
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_str_eq(status_of(all, 0), "pending");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "reason")), "schedule");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "release_at")),
			 "2026-11-01T00:00:00.000Z");
	json_decref(all);
	json_t *w = fx_worker(&F, T0 + 30 * DAY); /* Oct 31 */
	cr_assert_eq(json_integer_value(json_object_get(w, "released")), 0);
	json_decref(w);
	w = fx_worker(&F, T0 + 31 * DAY); /* Nov 1 00:00 */
	cr_assert_eq(json_integer_value(json_object_get(w, "released")), 1);
	json_decref(w);
}

/* jessica's two lots of credit, fulfilled at T0: 1000 of program x expiring after 10
 * days, 700 of program y after 100. */
static void two_expiring_lots(void)
{
	fx_program(&F, "{\"id\":\"x\",\"name\":\"Expiry\",\"currency\":\"USD\",\"expires_days\":10,\"rewards\":[{\"to\":"
		       "\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	fx_program(&F, "{\"id\":\"y\",\"name\":\"Long\",\"currency\":\"USD\",\"expires_days\":100,\"rewards\":[{\"to\":"
		       "\"referrer\",\"type\":\"credit\",\"amount\":700}]}");
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "y", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 100);
	fx_referral(&F, "ref_2", "x", "jessica", "ann");
	fx_conversion(&F, "o2", "ann", 100);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 1700);
}

Test(engine, expiry_and_redeem_soonest_first)
{
	two_expiring_lots();
	/* redeem 600: taken from the lot expiring first (program x, 1000) */
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "jessica", 600, "USD", &out, &d), FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(out, "balance")), 1100);
	json_decref(out);
	/* day 11: x's lot expires with its remaining 400; y's 700 stays */
	json_t *w = fx_worker(&F, T0 + 11 * DAY);
	cr_assert_eq(json_integer_value(json_object_get(w, "expired")), 1);
	json_decref(w);
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 700);
	json_t *ex = fx_rewards(&F, "expired", NULL);
	cr_assert_eq(json_array_size(ex), 1);
	json_decref(ex);
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "jessica", 0, "USD", &out, &d), FF_E_INVALID_AMOUNT);
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "jessica", 10, "XYZ", &out, &d), FF_E_INVALID_CURRENCY);
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "nobody", 10, "USD", &out, &d), FF_E_NOT_FOUND);
}

/* Credit past its expires_at is not spendable, even before a worker pass posted its
 * expiry: the redemption takes only what has not expired. */
Test(engine, redeem_never_spends_expired_credit)
{
	two_expiring_lots();
	/* day 11, no worker pass yet: x's 1000 is past its expiry */
	fftime_set_now(T0 + 11 * DAY);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "jessica", 1000, "USD", &out, &d),
		     FF_E_INSUFFICIENT_BALANCE, "expired credit was spent");
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "jessica", 700, "USD", &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	/* the expiry then takes x's whole lot: nothing of it was spent */
	json_t *w = fx_worker(&F, T0 + 11 * DAY);
	cr_assert_eq(json_integer_value(json_object_get(w, "expired")), 1);
	json_decref(w);
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 0);
	cr_assert_eq(fx_sql_int(&F, "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account = 'expired'"), 1000);
}

Test(engine, state_machine_refuses_other_transitions)
{
	fx_program(&F, "{\"id\":\"r\",\"name\":\"Review\",\"currency\":\"USD\",\"review\":{\"amount_at_least\":1000},"
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000},{\"to\":\"referred\","
		       "\"type\":\"credit\",\"amount\":10}]}");
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "r", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 100);
	json_t *mine = fx_rewards(&F, NULL, "jessica");
	char id[64];
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(json_array_get(mine, 0), "id")));
	cr_assert_str_eq(status_of(mine, 0), "review");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(mine, 0), "reason")), "review:amount");
	json_decref(mine);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_RETRY, NULL, &out, &d), FF_E_INVALID_TRANSITION);
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_APPROVE, NULL, &out, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(json_string_value(json_object_get(out, "status")), "approved");
	json_decref(out);
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_APPROVE, NULL, &out, &d), FF_E_INVALID_TRANSITION);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_CANCEL, "oops", &out, &d), FF_E_INVALID_TRANSITION);
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_REJECT, NULL, &out, &d), FF_E_INVALID_TRANSITION);
	cr_assert_eq(engine_reward_action(F.e, &F.cli, "rwd_nope", REWARD_CANCEL, NULL, &out, &d), FF_E_NOT_FOUND);
	/* the small referred reward never waited for a person */
	json_t *toms = fx_rewards(&F, NULL, "tom");
	cr_assert_str_eq(status_of(toms, 0), "fulfilled");
	json_decref(toms);
	/* a partner key only sees its own rewards */
	struct actor partner = {.role = ROLE_PARTNER};
	snprintf(partner.label, sizeof(partner.label), "key:x");
	snprintf(partner.participant, sizeof(partner.participant), "tom");
	cr_assert_eq(engine_reward_get(F.e, &partner, id, &out, &d), FF_E_NOT_FOUND);
}

Test(engine, last_touch_attribution)
{
	fx_program(&F, "{\"id\":\"lt\",\"name\":\"Last\",\"currency\":\"USD\",\"attribution\":\"last_touch\","
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	fx_participant(&F, "jessica");
	fx_participant(&F, "mark");
	fx_ok(&F, "{\"id\":\"a\",\"type\":\"referral\",\"occurred_at\":\"2026-09-01T00:00:00Z\",\"data\":{\"id\":\"r1\","
		  "\"program\":\"lt\",\"referrer\":\"jessica\",\"referred\":\"tom\"}}");
	fx_ok(&F, "{\"id\":\"b\",\"type\":\"referral\",\"occurred_at\":\"2026-09-05T00:00:00Z\",\"data\":{\"id\":\"r2\","
		  "\"program\":\"lt\",\"referrer\":\"mark\",\"referred\":\"tom\"}}");
	fx_conversion(&F, "o1", "tom", 100);
	json_t *m = fx_rewards(&F, NULL, "mark");
	cr_assert_eq(json_array_size(m), 1);
	json_decref(m);
	json_t *j = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_array_size(j), 0);
	json_decref(j);
}

/* A purchase that occurred before the referral (its event delivered late) was not
 * brought about by it: it is attributed to no referral, under either attribution. */
Test(engine, a_referral_after_the_purchase_does_not_earn_it)
{
	fx_program(&F, "{\"id\":\"ft\",\"name\":\"First\",\"currency\":\"USD\","
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	fx_program(&F, "{\"id\":\"lt\",\"name\":\"Last\",\"currency\":\"USD\",\"attribution\":\"last_touch\","
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	fx_participant(&F, "jessica");
	fx_participant(&F, "mark");
	fx_participant(&F, "tom");
	fx_ok(&F, "{\"id\":\"a\",\"type\":\"referral\",\"occurred_at\":\"2026-09-10T00:00:00Z\",\"data\":{\"id\":\"r1\","
		  "\"program\":\"ft\",\"referrer\":\"jessica\",\"referred\":\"tom\"}}");
	fx_ok(&F, "{\"id\":\"b\",\"type\":\"referral\",\"occurred_at\":\"2026-09-01T00:00:00Z\",\"data\":{\"id\":\"r2\","
		  "\"program\":\"lt\",\"referrer\":\"mark\",\"referred\":\"tom\"}}");
	fx_ok(&F, "{\"id\":\"c\",\"type\":\"referral\",\"occurred_at\":\"2026-09-10T00:00:00Z\",\"data\":{\"id\":\"r3\","
		  "\"program\":\"lt\",\"referrer\":\"jessica\",\"referred\":\"tom\"}}");
	/* bought on the 5th: before r1 (ft) and r3 (lt), after r2 (lt) */
	cr_assert_eq(fx_ok(&F, "{\"id\":\"d\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-05T00:00:00Z\","
			       "\"data\":{\"id\":\"o1\",\"participant\":\"tom\",\"amount\":100,\"currency\":\"USD\"}}"),
		     1);
	json_t *j = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_array_size(j), 0, "jessica's referrals came after the purchase");
	json_decref(j);
	json_t *m = fx_rewards(&F, NULL, "mark");
	cr_assert_eq(json_array_size(m), 1, "last touch among the referrals before the purchase");
	json_decref(m);
	/* a later purchase belongs to the referrals before it again */
	cr_assert_eq(fx_ok(&F, "{\"id\":\"e\",\"type\":\"conversion\",\"occurred_at\":\"2026-09-20T00:00:00Z\","
			       "\"data\":{\"id\":\"o2\",\"participant\":\"tom\",\"amount\":100,\"currency\":\"USD\"}}"),
		     2);
	j = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_array_size(j), 2);
	json_decref(j);

	/* a referral sent without occurred_at took its ingest time, which only bounds when
	 * it happened: a purchase dated a little before that ingest still counts */
	fx_participant(&F, "amy");
	fftime_set_now(T0 + 10 * DAY); /* 2026-10-11 */
	fx_ok(&F, "{\"id\":\"f\",\"type\":\"referral\",\"data\":{\"id\":\"r4\",\"program\":\"ft\",\"referrer\":"
		  "\"jessica\",\"referred\":\"amy\"}}");
	cr_assert_eq(fx_ok(&F, "{\"id\":\"g\",\"type\":\"conversion\",\"occurred_at\":\"2026-10-10T23:59:00Z\","
			       "\"data\":{\"id\":\"o3\",\"participant\":\"amy\",\"amount\":100,\"currency\":\"USD\"}}"),
		     1, "the referral's time is not known to be after the purchase");
}

Test(engine, referral_trigger_and_other_types)
{
	fx_program(&F, "{\"id\":\"signup\",\"name\":\"Signup\",\"currency\":\"USD\",\"trigger\":\"referral\","
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"points\",\"amount\":50},{\"to\":\"referred\","
		       "\"type\":\"custom\",\"sku\":\"TSHIRT\",\"quantity\":1}],\"fulfillment\":{\"custom\":\"manual\","
		       "\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	json_t *res = NULL;
	cr_assert_eq(fx_event(&F, &res, NULL, "{\"id\":\"e\",\"type\":\"referral\",\"data\":{\"program\":\"signup\","
					     "\"referrer\":\"jessica\",\"referred_email\":\"Tom.Smith+x@Example.com\"}}"),
		     FF_OK);
	cr_assert_eq(json_array_size(json_object_get(res, "rewards")), 2);
	json_decref(res);
	json_t *w = fx_worker(&F, T0 + 1000);
	cr_assert_eq(json_integer_value(json_object_get(w, "fulfilled")), 1, "points through the ledger, swag waits");
	json_decref(w);
	cr_assert_eq(fx_balance(&F, "jessica", "POINT"), 50);
	json_t *swag = fx_rewards(&F, "approved", NULL);
	cr_assert_eq(json_array_size(swag), 1);
	json_t *s = json_array_get(swag, 0);
	cr_assert_str_eq(json_string_value(json_object_get(s, "reason")), "awaiting_batch");
	cr_assert_str_eq(json_string_value(json_object_get(s, "fulfiller")), "acme");
	cr_assert_str_eq(json_string_value(json_object_get(s, "sku")), "TSHIRT");
	json_decref(swag);
}

/* GET's text (engine_reward_text) and the list's value (reward_json) are one object:
 * byte for byte what jansson dumps, for every shape of reward. */
Test(engine, reward_text_matches_the_value_byte_for_byte)
{
	fx_program(&F, "{\"id\":\"signup\",\"name\":\"Signup\",\"currency\":\"USD\",\"trigger\":\"referral\","
		       "\"hold_days\":3,\"rewards\":[{\"to\":\"referrer\",\"type\":\"points\",\"amount\":50},"
		       "{\"to\":\"referred\",\"type\":\"custom\",\"sku\":\"T\\\"SHIRT\\n\\u00e9\",\"quantity\":2}],"
		       "\"fulfillment\":{\"custom\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	fx_ok(&F, "{\"id\":\"e\",\"type\":\"referral\",\"data\":{\"program\":\"signup\","
		  "\"referrer\":\"jessica\",\"referred_email\":\"tom@example.com\"}}");
	json_decref(fx_worker(&F, T0 + 4 * DAY));
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_eq(json_array_size(all), 2);
	for (size_t i = 0; i < json_array_size(all); i++) {
		json_t *item = json_array_get(all, i);
		const char *id = json_string_value(json_object_get(item, "id"));
		struct ffbuf b;
		ffbuf_init(&b, 0);
		struct ff_diag d;
		cr_assert_eq(engine_reward_text(F.e, &F.cli, id, &b, &d), FF_OK, "%s", d.message);
		json_t *parsed = json_loadb(b.data, b.len, 0, NULL);
		cr_assert_not_null(parsed, "valid JSON");
		char *canon = json_dumps(parsed, JSON_COMPACT);
		cr_expect_str_eq(b.data, canon, "the text is what jansson would write");
		cr_assert_gt(json_array_size(json_object_get(parsed, "history")), 1);
		json_object_del(parsed, "history");
		char *a = json_dumps(parsed, JSON_COMPACT), *want = json_dumps(item, JSON_COMPACT);
		cr_expect_str_eq(a, want, "GET and the list agree");
		free(a);
		free(want);
		free(canon);
		json_decref(parsed);
		ffbuf_release(&b);
	}
	json_decref(all);
	/* unknown and out-of-scope ids are not found and write nothing */
	struct ffbuf b;
	ffbuf_init(&b, 0);
	struct ff_diag d;
	cr_expect_eq(engine_reward_text(F.e, &F.cli, "rwd_nope", &b, &d), FF_E_NOT_FOUND);
	cr_expect_eq(b.len, 0);
	ffbuf_release(&b);
}

static void add_referrals(struct engine *e, const char *prefix, int n)
{
	char ev[512];
	struct ff_diag d;
	for (int i = 0; i < n; i++) {
		snprintf(ev, sizeof(ev),
			 "{\"id\":\"%s%d\",\"type\":\"referral\",\"data\":{\"program\":\"w\",\"referrer\":"
			 "\"jessica\",\"referred\":\"%s%d\",\"referred_email\":\"%s%d@example.com\"}}",
			 prefix, i, prefix, i, prefix, i);
		struct ingest_item it = {.text = ev, .len = strlen(ev)};
		cr_assert_eq(engine_ingest(e, &F.cli, &it, 1, &d), FF_OK, "%s", d.message);
		cr_assert_eq(it.err, FF_OK, "%s", it.diag.message);
		json_decref(it.result);
	}
}

/* While a writer's checkpointer runs, the process's other connections leave the log to
 * it (they would otherwise copy it themselves past 1,000 pages, in the middle of a
 * request); once it is gone they checkpoint as SQLite does by default. */
Test(engine, other_connections_leave_checkpoints_to_the_writer)
{
	if (strncmp(F.cfg.db_url, "sqlite:", 7))
		return; /* PostgreSQL has no WAL of ours to checkpoint */
	fx_program(&F, "{\"id\":\"w\",\"name\":\"W\",\"currency\":\"USD\",\"rewards\":[{\"to\":"
		       "\"referrer\",\"type\":\"credit\",\"amount\":100}]}");
	fx_participant(&F, "jessica");
	const char *db_path = F.cfg.db_url + 7;
	char wal[4096];
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	struct engine_config wc = F.cfg;
	wc.writer = true;
	wc.checkpoint_pages = 1000000; /* its thread never runs in this test */
	struct engine *w = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_open(&wc, &w, &d), FF_OK, "%s", d.message);
	struct stat before, now, ws;
	cr_assert_eq(stat(db_path, &before), 0);
	/* the fixture's connection writes a log of well over 1,000 pages */
	add_referrals(F.e, "a", 300);
	cr_assert_eq(stat(wal, &ws), 0);
	cr_assert_gt(ws.st_size, 1000 * 4096, "WAL of %lld bytes", (long long)ws.st_size);
	cr_assert_eq(stat(db_path, &now), 0);
	cr_expect_eq(now.st_size, before.st_size, "the database file grew: a checkpoint ran on the fixture's commits");
	engine_close(w);
	/* no writer any more: the next commit past 1,000 pages checkpoints */
	add_referrals(F.e, "b", 1);
	cr_assert_eq(stat(db_path, &now), 0);
	cr_expect_gt(now.st_size, before.st_size, "no checkpoint after the writer closed");
	fx_check_invariants(&F);
}

/* The group-commit writer (cfg.writer): on SQLite its commits return before they are
 * synced (engine_sync() does that) and a background thread checkpoints the WAL into
 * the database file; on PostgreSQL commits are durable already. Either way what it
 * commits is seen by other connections at once. */
Test(engine, writer_defers_sync_and_checkpoints_in_the_background)
{
	bool sqlite = !strncmp(F.cfg.db_url, "sqlite:", 7);
	cr_expect_not(engine_deferred_sync(F.e), "an ordinary engine syncs every commit");
	cr_expect_eq(engine_sync(F.e), 0);
	fx_program(&F, "{\"id\":\"w\",\"name\":\"W\",\"currency\":\"USD\",\"rewards\":[{\"to\":"
		       "\"referrer\",\"type\":\"credit\",\"amount\":100}]}");
	fx_participant(&F, "jessica");
	struct engine_config wc = F.cfg;
	wc.writer = true;
	wc.checkpoint_pages = 1000;
	struct engine *w = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_open(&wc, &w, &d), FF_OK, "%s", d.message);
	cr_expect_eq(engine_deferred_sync(w), sqlite);
	struct stat before;
	const char *db_path = F.cfg.db_url + 7; /* after "sqlite:" */
	if (sqlite)
		cr_assert_eq(stat(db_path, &before), 0);
	/* enough commits to pass the checkpoint threshold (1,000 WAL pages) */
	char ev[512];
	for (int i = 0; i < 800; i++) {
		snprintf(ev, sizeof(ev),
			 "{\"id\":\"r%d\",\"type\":\"referral\",\"data\":{\"program\":\"w\",\"referrer\":"
			 "\"jessica\",\"referred\":\"p%d\",\"referred_email\":\"p%d@example.com\"}}",
			 i, i, i);
		struct ingest_item it = {.text = ev, .len = strlen(ev)};
		cr_assert_eq(engine_ingest(w, &F.cli, &it, 1, &d), FF_OK, "%s", d.message);
		cr_assert_eq(it.err, FF_OK, "%s", it.diag.message);
		json_decref(it.result);
	}
	cr_expect_eq(engine_sync(w), 0);
	/* seen by the fixture's own connection */
	json_t *out = NULL;
	struct page pg = {.limit = 1000};
	cr_assert_eq(engine_participants_list(F.e, &F.cli, NULL, &pg, &out, &d), FF_OK, "%s", d.message);
	cr_expect_eq(json_array_size(json_object_get(out, "data")), 801);
	json_decref(out);
	if (sqlite) {
		/* the checkpointer copies the WAL into the database file by itself */
		struct stat now = before;
		for (int i = 0; i < 200 && now.st_size <= before.st_size; i++) {
			usleep(50 * 1000);
			cr_assert_eq(stat(db_path, &now), 0);
		}
		cr_expect_gt(now.st_size, before.st_size, "the database file grew: a checkpoint ran");
		/* and the log starts over instead of growing for ever under a busy writer
		 * (800 transactions of ~30 pages each would make it about 100 MB; a restart
		 * comes after 2,000 pages, later when the checkpointer is busy just then) */
		char wal[4096];
		snprintf(wal, sizeof(wal), "%s-wal", db_path);
		struct stat ws;
		cr_assert_eq(stat(wal, &ws), 0);
		cr_expect_lt(ws.st_size, 6 * 1000 * 4120, "WAL of %lld bytes", (long long)ws.st_size);
	}
	engine_close(w);
	fx_check_invariants(&F);
}

/* Idempotency-Key records answer for 24 hours (API.md); after that a lookup finds
 * nothing, and the worker pass deletes them (oldest first, 1,000 per transaction),
 * leaving the younger ones. */
static enum idem_state idem_state_of(const char *key)
{
	enum idem_state state;
	int status = 0;
	char *body = NULL;
	cr_assert_eq(engine_idem_lookup(F.e, "fk_admin_x", key, "fp", &state, &status, &body), FF_OK);
	if (state == IDEM_REPLAY)
		cr_expect_str_eq(body, "{\"ok\":true}");
	free(body);
	return state;
}

Test(engine, idempotency_records_expire_and_are_purged)
{
	const int64_t hour = 3600 * INT64_C(1000);
	char key[32];
	cr_assert_eq(engine_tx_begin(F.e), FF_OK);
	for (int i = 0; i < 2500; i++) {
		snprintf(key, sizeof(key), "old-%d", i);
		cr_assert_eq(engine_idem_store(F.e, "fk_admin_x", key, "fp", 200, "{\"ok\":true}"), FF_OK);
	}
	cr_assert_eq(engine_tx_commit(F.e), FF_OK);
	fftime_set_now(T0 + 23 * hour);
	cr_assert_eq(engine_tx_begin(F.e), FF_OK);
	cr_assert_eq(engine_idem_store(F.e, "fk_admin_x", "young", "fp", 200, "{\"ok\":true}"), FF_OK);
	cr_assert_eq(engine_tx_commit(F.e), FF_OK);

	fftime_set_now(T0 + 24 * hour - 1);
	cr_expect_eq(idem_state_of("old-7"), IDEM_REPLAY, "still answers just before 24 h");
	fftime_set_now(T0 + 24 * hour + 1);
	cr_expect_eq(idem_state_of("old-7"), IDEM_NEW, "expired: the key is free again");
	cr_expect_eq(idem_state_of("young"), IDEM_REPLAY);
	cr_expect_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM idempotency"), 2501, "expired, not deleted yet");

	json_decref(fx_worker(&F, T0 + 24 * hour + 1));
	cr_expect_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM idempotency"), 1, "the pass deleted every expired record");
	cr_expect_eq(idem_state_of("young"), IDEM_REPLAY);
	json_decref(fx_worker(&F, T0 + 47 * hour + 1));
	cr_expect_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM idempotency"), 0);
}

/* Two redemptions of the same balance at the same moment on two connections: one
 * passes, the other finds the balance spent (on PostgreSQL the balance row is locked
 * before the check; SQLite's write transactions take turns). */
struct redeem_arg {
	struct engine *e;
	struct actor *a;
	pthread_barrier_t *go;
	int64_t amount;
	enum ff_err err;
	struct ff_diag d;
};

static void *redeem_thread(void *p)
{
	struct redeem_arg *r = p;
	json_t *out = NULL;
	pthread_barrier_wait(r->go);
	r->err = engine_participant_redeem(r->e, r->a, "jessica", r->amount, "USD", &out, &r->d);
	json_decref(out);
	return NULL;
}

Test(engine, concurrent_redemptions_never_overdraw)
{
	fx_program(&F, "{\"id\":\"c\",\"name\":\"C\",\"currency\":\"USD\",\"rewards\":[{\"to\":"
		       "\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	fx_participant(&F, "jessica");
	struct engine *other = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &other, &d), FF_OK, "%s", d.message);
	for (int round = 0; round < 8; round++) {
		char ref[32], buyer[32], conv[32];
		snprintf(ref, sizeof(ref), "ref%d", round);
		snprintf(buyer, sizeof(buyer), "buyer%d", round);
		snprintf(conv, sizeof(conv), "o%d", round);
		fx_referral(&F, ref, "c", "jessica", buyer);
		fx_conversion(&F, conv, buyer, 100);
		json_decref(fx_worker(&F, T0 + 1000));
		int64_t before = fx_balance(&F, "jessica", "USD");
		cr_assert_geq(before, 1000);
		int64_t amount = before / 2 + 1; /* one fits, two do not */
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, 2);
		struct redeem_arg a1 = {.e = F.e, .a = &F.cli, .go = &go, .amount = amount},
				  a2 = {.e = other, .a = &F.cli, .go = &go, .amount = amount};
		pthread_t t1, t2;
		pthread_create(&t1, NULL, redeem_thread, &a1);
		pthread_create(&t2, NULL, redeem_thread, &a2);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		pthread_barrier_destroy(&go);
		bool one_ok = (a1.err == FF_OK) != (a2.err == FF_OK);
		cr_assert(one_ok, "round %d: %d and %d", round, a1.err, a2.err);
		cr_assert(a1.err == FF_E_INSUFFICIENT_BALANCE || a2.err == FF_E_INSUFFICIENT_BALANCE, "%s / %s",
			  a1.d.message, a2.d.message);
		cr_assert_eq(fx_balance(&F, "jessica", "USD"), before - amount);
	}
	engine_close(other);
	fx_check_invariants(&F);
}

/* Addresses people really have pass: international ones (UTF-8), plus signs, subdomains. */
Test(engine, everyday_email_addresses_are_accepted)
{
	const char *ok[] = {"jo@example.com", "jo+shop@mail.example.co.uk", "jos\xc3\xa9@ex\xc3\xa4mple.de", "a@b"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(fx_ok(&F, "{\"id\":\"p%zu\",\"type\":\"participant\",\"data\":{\"id\":\"u%zu\",\"email\":\"%s\"}}",
				   i, i, ok[i]),
			     0, "%s", ok[i]);
}

/* review.amount_at_least is minor units of the program's currency: points are not
 * compared with it; a review.when rule that cannot be evaluated for a context sends the
 * reward to a person instead of letting it through. */
Test(engine, review_compares_the_program_currency_and_fails_safe)
{
	fx_program(&F, "{\"id\":\"pts\",\"name\":\"Points\",\"currency\":\"USD\",\"review\":{\"amount_at_least\":1000},"
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"points\",\"amount\":100000},{\"to\":\"referred\","
		       "\"type\":\"credit\",\"amount\":1000}]}");
	fx_participant(&F, "jessica");
	cr_assert_eq(fx_friend_buys(&F, "pts", "jessica", 0, 100), 2);
	json_t *mine = fx_rewards(&F, NULL, "jessica"), *friend = fx_rewards(&F, NULL, "f0");
	cr_assert_str_neq(json_string_value(json_object_get(json_array_get(mine, 0), "status")), "review",
			  "100000 points are not $1000.00");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(friend, 0), "status")), "review");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(friend, 0), "reason")), "review:amount");
	json_decref(mine);
	json_decref(friend);

	fx_program(&F, "{\"id\":\"err\",\"name\":\"Broken rule\",\"currency\":\"USD\",\"review\":{\"when\":"
		       "{\"missing_some\":[1,{\"var\":\"conversion.attributes.keys\"}]}},\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":500}]}");
	fx_participant(&F, "ann");
	cr_assert_eq(fx_friend_buys(&F, "err", "ann", 1, 100), 1); /* no attributes.keys: the rule errs */
	json_t *anns = fx_rewards(&F, NULL, "ann");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(anns, 0), "status")), "review");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(anns, 0), "reason")), "review:rule");
	json_decref(anns);
}

Test(engine, bad_events_fail_alone_and_store_nothing)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	static const struct {
		const char *text;
		enum ff_err err;
		const char *param;
	} cases[] = {
		{"{oops", FF_E_MALFORMED, ""},
		{"[1,2]", FF_E_INVALID, ""},
		{"{\"id\":\"x1\",\"type\":\"conversion\",\"data\":{},\"extra\":1}", FF_E_UNKNOWN_FIELD, "extra"},
		{"{\"id\":\"x2\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":1,"
		 "\"currency\":\"USD\",\"colour\":\"red\"}}",
		 FF_E_UNKNOWN_FIELD, "data.colour"},
		{"{\"id\":\"x3\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":\"75\","
		 "\"currency\":\"USD\"}}",
		 FF_E_INVALID_AMOUNT, "data.amount"},
		{"{\"id\":\"x4\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":75.5,"
		 "\"currency\":\"USD\"}}",
		 FF_E_INVALID_AMOUNT, "data.amount"},
		{"{\"id\":\"x5\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":-1,"
		 "\"currency\":\"USD\"}}",
		 FF_E_INVALID_AMOUNT, "data.amount"},
		{"{\"id\":\"x6\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":"
		 "99999999999999999999,\"currency\":\"USD\"}}",
		 FF_E_MALFORMED, ""},
		{"{\"id\":\"x7\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":"
		 "1000000000000001,\"currency\":\"USD\"}}",
		 FF_E_INVALID_AMOUNT, "data.amount"},
		{"{\"id\":\"x8\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":1,"
		 "\"currency\":\"XXQ\"}}",
		 FF_E_INVALID_CURRENCY, "data.currency"},
		{"{\"id\":\"x9\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"ghost\",\"amount\":1,"
		 "\"currency\":\"USD\"}}",
		 FF_E_REF_NOT_FOUND, "data.participant"},
		{"{\"id\":\"x10\",\"type\":\"referral\",\"data\":{\"program\":\"nope\",\"referrer\":\"jessica\","
		 "\"referred\":\"z\"}}",
		 FF_E_REF_NOT_FOUND, "data.program"},
		{"{\"id\":\"x11\",\"type\":\"referral\",\"data\":{\"program\":\"give20\",\"referrer\":\"ghost\","
		 "\"referred\":\"z\"}}",
		 FF_E_REF_NOT_FOUND, "data.referrer"},
		{"{\"id\":\"x12\",\"type\":\"refund\",\"data\":{\"conversion\":\"ghost\"}}", FF_E_REF_NOT_FOUND,
		 "data.conversion"},
		{"{\"id\":\"x13\",\"type\":\"teleport\",\"data\":{}}", FF_E_INVALID, "type"},
		{"{\"id\":\"x14\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"country\":\"usa\"}}", FF_E_INVALID,
		 "data.country"},
		{"{\"id\":\"x15\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"status\":1}}", FF_E_INVALID,
		 "data.status"},
		{"{\"id\":\"\",\"type\":\"participant\",\"data\":{\"id\":\"q\"}}", FF_E_INVALID, "id"},
		{"{\"id\":\"x16\",\"type\":\"participant\",\"occurred_at\":\"yesterday\",\"data\":{\"id\":\"q\"}}",
		 FF_E_INVALID, "occurred_at"},
		{"{\"id\":\"x17\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"name\":\"\xff\xfe\"}}",
		 FF_E_INVALID_UTF8, ""},
		{"{\"id\":\"x18\",\"id\":\"x19\",\"type\":\"participant\",\"data\":{\"id\":\"q\"}}", FF_E_MALFORMED, ""},
		/* an address that would grow into a list or a header on its way to SMTP */
		{"{\"id\":\"x20\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"email\":\"x>,<evil@z.example\"}}",
		 FF_E_INVALID, "data.email"},
		{"{\"id\":\"x21\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"email\":\"a b@example.com\"}}",
		 FF_E_INVALID, "data.email"},
		{"{\"id\":\"x22\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"email\":\"jo@.example\"}}",
		 FF_E_INVALID, "data.email"},
		{"{\"id\":\"x23\",\"type\":\"referral\",\"data\":{\"program\":\"give20\",\"referrer\":\"jessica\","
		 "\"referred_email\":\"a;b@example.com\"}}",
		 FF_E_INVALID, "data.referred_email"},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct ingest_item items[32];
	memset(items, 0, sizeof(items));
	for (size_t i = 0; i < n; i++) {
		items[i].text = cases[i].text;
		items[i].len = strlen(cases[i].text);
	}
	/* a good event in the same batch is unaffected */
	const char *good = "{\"id\":\"good\",\"type\":\"conversion\",\"data\":{\"id\":\"o1\",\"participant\":\"tom\","
			   "\"amount\":7500,\"currency\":\"USD\"}}";
	items[n].text = good;
	items[n].len = strlen(good);
	struct ff_diag d;
	cr_assert_eq(engine_ingest(F.e, &F.cli, items, n + 1, &d), FF_OK);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(items[i].err, cases[i].err, "case %zu (%s): got %s: %s", i, cases[i].text,
			     ff_err_code(items[i].err), items[i].diag.message);
		cr_expect_str_eq(items[i].diag.param, cases[i].param, "case %zu param", i);
		cr_expect(items[i].diag.message[0], "case %zu has a message", i);
		cr_expect_null(items[i].result);
	}
	cr_assert_eq(items[n].err, FF_OK, "%s", items[n].diag.message);
	cr_assert_eq(json_array_size(json_object_get(items[n].result, "rewards")), 2);
	json_decref(items[n].result);
	json_t *q = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "q", &q, &d), FF_E_NOT_FOUND, "nothing stored");
	cr_assert_eq(engine_conversion_get(F.e, &F.cli, "o", &q, &d), FF_E_NOT_FOUND, "nothing stored");

	/* a too-large event and a re-sent rejected id */
	size_t big = (1 << 20) + 10;
	char *huge = malloc(big + 1);
	memset(huge, ' ', big);
	huge[big] = '\0';
	struct ingest_item it = {.text = huge, .len = big};
	cr_assert_eq(engine_ingest(F.e, &F.cli, &it, 1, &d), FF_OK);
	cr_assert_eq(it.err, FF_E_TOO_LARGE);
	free(huge);
	/* a rejected event id was not remembered: fixed, it is accepted */
	fx_ok(&F, "{\"id\":\"x9\",\"type\":\"participant\",\"data\":{\"id\":\"ghost\"}}");
}

/* A write whose answer nobody waits for (PostgreSQL pipelines it: store_exec_ahead)
 * and that fails must still fail its own event alone, wherever it sits in a batch,
 * and leave nothing of that event behind. The conversion insert fails for amount 13
 * (a trigger on SQLite, an index expression dividing by zero on PostgreSQL). */
/* An item parsed beforehand (as the HTTP threads do) is ingested from that value, and
 * its text, as received, is what is stored; a text that does not parse fails as it
 * would in the engine. */
Test(engine, preparsed_items_store_their_text)
{
	fx_participant(&F, "jessica");
	const char *text = "{ \"id\" : \"c-pre\", \"type\":\"conversion\",\n \"data\": {\"id\": \"ord-pre\", "
			   "\"participant\": \"jessica\", \"amount\": 1200, \"currency\": \"USD\"} }";
	struct ingest_item it = {.text = text, .len = strlen(text)};
	struct ff_diag d;
	cr_assert_eq(engine_event_parse(it.text, it.len, &it.parsed, &d), FF_OK, "%s", d.message);
	cr_assert_eq(engine_ingest(F.e, &F.cli, &it, 1, &d), FF_OK, "%s", d.message);
	cr_assert_eq(it.err, FF_OK, "%s", it.diag.message);
	cr_assert_str_eq(json_string_value(json_object_get(it.result, "outcome")), "accepted");
	cr_assert_eq(it.parsed->refcount, 1, "the engine kept a reference");
	json_decref(it.parsed);
	json_decref(it.result);
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM events WHERE id = 'c-pre' AND body = '%s'", text);
	cr_assert_eq(fx_sql_int(&F, sql), 1, "the stored body is not the text as received");
	/* what does not parse: the engine's own errors */
	json_t *v = NULL;
	cr_assert_eq(engine_event_parse("{\"id\":", 7, &v, &d), FF_E_MALFORMED);
	cr_assert_null(v);
	cr_assert_eq(engine_event_parse("{\"a\":1,\"a\":2}", 13, &v, &d), FF_E_MALFORMED);
	cr_assert_eq(engine_event_parse("\"\xff\"", 3, &v, &d), FF_E_INVALID_UTF8);
	fx_check_invariants(&F);
}

Test(engine, failed_write_sent_ahead_fails_its_event_alone)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	fx_referral(&F, "ref_2", "give20", "jessica", "ann");
	if (!strncmp(F.cfg.db_url, "postgresql://", 13))
		fx_sql(&F, "CREATE INDEX boom ON conversions ((1 / (amount - 13)))");
	else
		fx_sql(&F, "CREATE TRIGGER boom BEFORE INSERT ON conversions WHEN NEW.amount = 13 "
			   "BEGIN SELECT RAISE(ABORT, 'boom'); END");
	static const char *const texts[] = {
		"{\"id\":\"c1\",\"type\":\"conversion\",\"data\":{\"id\":\"o1\",\"participant\":\"tom\","
		"\"amount\":7500,\"currency\":\"USD\"}}",
		"{\"id\":\"c2\",\"type\":\"conversion\",\"data\":{\"id\":\"o2\",\"participant\":\"tom\","
		"\"amount\":13,\"currency\":\"USD\"}}",
		"{\"id\":\"c3\",\"type\":\"conversion\",\"data\":{\"id\":\"o3\",\"participant\":\"ann\","
		"\"amount\":7500,\"currency\":\"USD\"}}",
		"{\"id\":\"c4\",\"type\":\"conversion\",\"data\":{\"id\":\"o4\",\"participant\":\"ann\","
		"\"amount\":13,\"currency\":\"USD\"}}",
	};
	struct ingest_item items[4];
	memset(items, 0, sizeof(items));
	for (size_t i = 0; i < 4; i++) {
		items[i].text = texts[i];
		items[i].len = strlen(texts[i]);
	}
	struct ff_diag d;
	cr_assert_eq(engine_ingest(F.e, &F.cli, items, 4, &d), FF_OK, "%s", d.message);
	for (size_t i = 0; i < 4; i++) {
		bool bad = i % 2;
		cr_expect_eq(items[i].err, bad ? FF_E_STORE : FF_OK, "event %zu: %s: %s", i, ff_err_code(items[i].err),
			     items[i].diag.message);
		if (!bad)
			cr_expect_eq(json_array_size(json_object_get(items[i].result, "rewards")), 2, "event %zu", i);
		json_decref(items[i].result);
	}
	json_t *q = NULL;
	cr_assert_eq(engine_conversion_get(F.e, &F.cli, "o2", &q, &d), FF_E_NOT_FOUND, "nothing stored");
	cr_assert_eq(engine_conversion_get(F.e, &F.cli, "o4", &q, &d), FF_E_NOT_FOUND, "nothing stored");
	json_t *rw = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_array_size(rw), 2, "only the good events' rewards");
	json_decref(rw);
	/* one event on its own (the single-event path of the HTTP API) */
	json_t *ev = json_loads(texts[3], 0, NULL), *out = NULL;
	cr_assert_eq(engine_ingest_json(F.e, &F.cli, ev, &out, &d), FF_E_STORE);
	json_decref(ev);
	/* the events were not remembered: fixed, they are accepted */
	fx_sql(&F, !strncmp(F.cfg.db_url, "postgresql://", 13) ? "DROP INDEX boom" : "DROP TRIGGER boom");
	fx_ok(&F, "%s", texts[1]);
}

Test(engine, audit_chain_detects_tampering)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	json_t *v = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_audit_verify(F.e, &v, &d), FF_OK);
	cr_assert(json_is_true(json_object_get(v, "ok")));
	json_int_t n = json_integer_value(json_object_get(v, "records"));
	cr_assert_gt(n, 4);
	json_decref(v);
	/* change one record behind the engine's back */
	fx_sql(&F, "UPDATE audit SET actor = 'mallory' WHERE seq = 3");
	cr_assert_eq(engine_audit_verify(F.e, &v, &d), FF_OK);
	cr_assert(json_is_false(json_object_get(v, "ok")));
	cr_assert_str_eq(json_string_value(json_object_get(v, "first_bad")), "3");
	json_decref(v);
	/* put it back; then delete a record: the gap is found */
	fx_sql(&F, "UPDATE audit SET actor = 'cli' WHERE seq = 3");
	cr_assert_eq(engine_audit_verify(F.e, &v, &d), FF_OK);
	cr_assert(json_is_true(json_object_get(v, "ok")));
	json_decref(v);
	fx_sql(&F, "DELETE FROM audit WHERE seq = 2");
	cr_assert_eq(engine_audit_verify(F.e, &v, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(v, "first_bad")), "3");
	json_decref(v);
	/* leave a valid chain for the teardown check: a fresh database */
	fx_close(&F);
	fx_open(&F);
}

/* Each stored hash is SHA-256 over the record's fields as SPEC §9 and audit.c define
 * them: seq, at (in decimal), actor, action, target, detail, prev_hash, each preceded by
 * its length as 8 bytes big-endian. Recomputed here from the rows, independently of
 * audit.c (which verify shares with the writer), so a change in how the writer spells
 * a field (the numbers are formatted by hand) cannot pass unseen. */
Test(engine, audit_hash_is_sha256_of_the_length_prefixed_fields)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	static const char *const cols[] = {"seq", "at", "actor", "action", "target", "detail", "prev_hash", "hash"};
	json_t *col[8];
	for (int c = 0; c < 8; c++) {
		char sql[120];
		snprintf(sql, sizeof(sql), "SELECT %s FROM audit ORDER BY seq", cols[c]);
		col[c] = fx_sql_texts(&F, sql);
	}
	size_t n = json_array_size(col[0]);
	cr_assert_gt(n, 4);
	char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
	for (size_t i = 0; i < n; i++) {
		unsigned char buf[8192];
		size_t len = 0;
		for (int c = 0; c < 7; c++) {
			const char *f = c == 6 ? prev : json_string_value(json_array_get(col[c], i));
			cr_assert(f, "record %zu: %s is null", i + 1, cols[c]);
			uint64_t fl = strlen(f);
			cr_assert_lt(len + 8 + fl, sizeof(buf));
			for (int k = 0; k < 8; k++)
				buf[len++] = (unsigned char)(fl >> (56 - 8 * k));
			memcpy(buf + len, f, fl);
			len += fl;
		}
		char want[65];
		crypto_sha256_hex(buf, len, want);
		cr_assert_str_eq(json_string_value(json_array_get(col[7], i)), want, "record %zu", i + 1);
		cr_assert_str_eq(json_string_value(json_array_get(col[6], i)), prev, "record %zu", i + 1);
		cr_assert_eq(strtoll(json_string_value(json_array_get(col[0], i)), NULL, 10), (long long)(i + 1));
		memcpy(prev, want, sizeof(prev));
	}
	for (int c = 0; c < 8; c++)
		json_decref(col[c]);
}

/* Idle workers wake when another connection commits new work (PostgreSQL
 * LISTEN/NOTIFY); SQLite cannot signal and says so, and the worker polls. A rolled-back
 * transaction and a connection's own commits wake nobody. */
Test(engine, new_work_wakes_idle_workers)
{
	struct engine *w = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &w, &d), FF_OK, "%s", d.message);
	bool pg = !strncmp(F.cfg.db_url, "postgres", 8);
	cr_assert_eq(engine_wait_work(w, 0), pg ? 0 : -1); /* listening from now on */
	fx_program(&F, "{\"id\":\"n\",\"name\":\"Now\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000}]}");
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "n", "jessica", "tom");
	if (pg)
		cr_assert_eq(engine_wait_work(w, 0), 0, "nothing approved yet");
	cr_assert_eq(engine_tx_begin(F.e), FF_OK);
	fx_conversion(&F, "o0", "tom", 100);
	engine_tx_rollback(F.e);
	if (pg)
		cr_assert_eq(engine_wait_work(w, 200), 0, "a rolled-back transaction wakes nobody");
	fx_conversion(&F, "o1", "tom", 100);
	if (pg) {
		cr_assert_eq(engine_wait_work(w, 5000), 1, "an approved reward wakes the worker");
		cr_assert_eq(engine_wait_work(w, 0), 0, "one wake-up per commit");
	}
	json_t *out = fx_worker(&F, T0);
	json_decref(out);
	engine_close(w);
}

/* The participants' contexts an ingest read are kept into the next transaction only
 * while nothing else was written (SQLite's data version): a change by another
 * connection, or by this engine itself, between two conversions is seen by the second.
 * PostgreSQL runs the same steps (its cache never outlives a transaction). */
Test(engine, participant_contexts_follow_changes_between_transactions)
{
	fx_program(&F, "{\"id\":\"us\",\"name\":\"US only\",\"currency\":\"USD\",\"eligibility\":{\"==\":["
		       "{\"var\":\"referrer.country\"},\"US\"]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\","
		       "\"amount\":1000}],\"hold_days\":0}");
	fx_participant(&F, "jessica");
	const char *friends[] = {"tom", "ann", "bob", "eve"};
	for (int i = 0; i < 4; i++) {
		char ref[16];
		snprintf(ref, sizeof(ref), "ref_%d", i);
		fx_referral(&F, ref, "us", "jessica", friends[i]);
	}
	cr_assert_eq(fx_conversion(&F, "o1", "tom", 100), 1, "jessica is in the US");

	/* another connection moves her: the next transaction must not use the kept context */
	struct engine *other;
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &other, &d), FF_OK, "%s", d.message);
	const char *move = "{\"id\":\"move-1\",\"type\":\"participant\",\"data\":{\"id\":\"jessica\","
			   "\"country\":\"CA\"}}";
	struct ingest_item it = {.text = move, .len = strlen(move)};
	cr_assert_eq(engine_ingest(other, &F.cli, &it, 1, &d), FF_OK, "%s", d.message);
	cr_assert_eq(it.err, FF_OK, "%s", it.diag.message);
	json_decref(it.result);
	engine_close(other);
	cr_assert_eq(fx_conversion(&F, "o2", "ann", 100), 0, "a change by another connection is seen");

	/* and back, through this engine: its own write drops the kept context */
	fx_ok(&F, "{\"id\":\"move-2\",\"type\":\"participant\",\"data\":{\"id\":\"jessica\",\"country\":\"US\"}}");
	cr_assert_eq(fx_conversion(&F, "o3", "bob", 100), 1, "this engine's own change is seen");

	/* a change written behind every engine's back (no engine call) is seen too */
	fx_sql(&F, "UPDATE participants SET country = 'FR' WHERE id = 'jessica'");
	cr_assert_eq(fx_conversion(&F, "o4", "eve", 100), 0, "a raw write is seen");
}

/* Close F's engine and open it again with the master key of `byte`s and, unless 0, the
 * previous key of `previous` bytes; F.e stays closed when the open fails. */
static enum ff_err reopen_with_key(uint8_t byte, uint8_t previous, struct ff_diag *d)
{
	engine_close(F.e);
	F.e = NULL;
	memset(F.cfg.master_key, byte, sizeof(F.cfg.master_key));
	char hex[2 * FF_MASTER_KEY_BYTES + 1];
	for (int i = 0; i < FF_MASTER_KEY_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", previous);
	if (previous)
		setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	else
		unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	ff_diag_clear(d);
	enum ff_err err = engine_open(&F.cfg, &F.e, d);
	unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	return err;
}

static int64_t key_checks(void)
{
	return fx_sql_int(&F, "SELECT COUNT(*) FROM meta WHERE key = 'master_key_id'");
}

Test(engine, wrong_master_key_is_refused)
{
	/* the fixture's key is 0xab...: the new, empty database took it */
	cr_assert_eq(key_checks(), 1);
	struct ff_diag d;
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID, "an empty database keeps its first key");
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	fx_participant(&F, "jo");

	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "master_key");
	cr_assert(strstr(d.message, "wrong master key"), "%s", d.message);
	cr_assert(strstr(d.message, "FULFILL_MASTER_KEY") && strstr(d.message, "--master-key-file"),
		  "the message names the settings: %s", d.message);
	cr_assert(strstr(d.message, "t.db.key") || strncmp(F.cfg.db_url, "sqlite:", 7),
		  "and the key file next to a SQLite database: %s", d.message);
	cr_assert_null(F.e);

	/* the database's key as the previous one does not vouch for any other key: no
	 * rotation to it has started (a_rotation_vouches_for_its_keys) */
	cr_assert_eq(reopen_with_key(0xcd, 0xab, &d), FF_E_INVALID);
	cr_assert(strstr(d.message, "rotate-master") && strstr(d.message, "has started"), "%s", d.message);
	cr_assert_null(F.e);
	cr_assert_eq(reopen_with_key(0xab, 0xcd, &d), FF_OK, "%s", d.message);
	json_t *p = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "jo", &p, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(p, "email")), "jo@example.com");
	json_decref(p);
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM participants"), 1, "the refusals wrote nothing");
}

static enum ff_err rotate_to(uint8_t byte, int max_batches, bool *complete, struct ff_diag *d)
{
	uint8_t key[FF_MASTER_KEY_BYTES];
	memset(key, byte, sizeof(key));
	json_t *out = NULL;
	ff_diag_clear(d);
	enum ff_err err = engine_rotate_master_key_steps(F.e, &F.cli, key, 1, max_batches, &out, d);
	*complete = json_is_true(json_object_get(out, "complete"));
	json_decref(out);
	return err;
}

/* A process whose previous key is the recorded one opens with another current key only
 * when a rotation vouches for that key: one to it is under way, or the last completed
 * one moved away from it. */
Test(engine, a_rotation_vouches_for_its_keys)
{
	fx_participant(&F, "jo");
	fx_participant(&F, "bo");
	struct ff_diag d;
	bool complete;
	/* a rotation to 0xcd, interrupted after one row */
	cr_assert_eq(rotate_to(0xcd, 1, &complete, &d), FF_OK, "%s", d.message);
	cr_assert(!complete);
	cr_assert_eq(reopen_with_key(0xcd, 0xab, &d), FF_OK, "the rollout of its key: %s", d.message);
	json_t *p = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "bo", &p, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(p, "email")), "bo@example.com");
	json_decref(p);
	cr_assert_eq(reopen_with_key(0xee, 0xab, &d), FF_E_INVALID, "a key no rotation goes to");
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "the old key alone until it completes: %s", d.message);

	/* completed: the new key, alone or with the old one; the old one with the new one
	 * as previous (the reverse); never a third key, nor the old one alone */
	cr_assert_eq(rotate_to(0xcd, 0, &complete, &d), FF_OK, "%s", d.message);
	cr_assert(complete);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xab, 0xcd, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xee, 0xcd, &d), FF_E_INVALID);
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_E_INVALID);

	/* the catch-up run to the same key keeps the reverse working */
	cr_assert_eq(reopen_with_key(0xcd, 0xab, &d), FF_OK, "%s", d.message);
	cr_assert_eq(rotate_to(0xcd, 0, &complete, &d), FF_OK, "%s", d.message);
	cr_assert(complete);
	cr_assert_eq(reopen_with_key(0xab, 0xcd, &d), FF_OK, "%s", d.message);

	/* a next rotation, to 0xee, started: the key two rotations back is out */
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(rotate_to(0xee, 1, &complete, &d), FF_OK, "%s", d.message);
	cr_assert(!complete);
	cr_assert_eq(reopen_with_key(0xee, 0xcd, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xab, 0xcd, &d), FF_E_INVALID);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
}

Test(engine, database_without_key_check_adopts_the_key_that_opens_it)
{
	fx_participant(&F, "jo");
	/* as a database from before the check: no master_key_id */
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	struct ff_diag d;
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID, "its e-mails do not open with this key");
	cr_assert(strstr(d.message, "wrong master key"), "%s", d.message);
	cr_assert_eq(key_checks(), 0, "a refused key is not adopted");
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(key_checks(), 1, "the key that opens them is");
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID);

	/* in the middle of a rotation (to 0xcd, none of its rows moved yet), the previous
	 * key that opens them is adopted */
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	uint8_t cd[FF_MASTER_KEY_BYTES];
	char cd_id[17];
	memset(cd, 0xcd, sizeof(cd));
	engine_key_id(cd, cd_id);
	char sql[200];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO meta (key, value) VALUES ('master_key_rotation', '{\"key_id\":\"%s\",\"complete\":false}')",
		 cd_id);
	fx_sql(&F, sql);
	cr_assert_eq(reopen_with_key(0xcd, 0xab, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID);

	/* nothing sealed yet: the key given is adopted */
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	fx_sql(&F, "UPDATE participants SET email_enc = NULL, name_enc = NULL");
	fx_sql(&F, "DELETE FROM events"); /* jo's participant event body is sealed too */
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_E_INVALID);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
}

/* A database from before the check whose participants carry no e-mail or name still
 * has sealed values: the participant and referral event bodies, webhook endpoint and
 * connector secrets. A key that opens none of them is not adopted. */
Test(engine, database_without_key_check_refuses_a_key_that_opens_no_sealed_value)
{
	fx_ok(&F, "{\"id\":\"p-anon\",\"type\":\"participant\",\"data\":{\"id\":\"anon\",\"country\":\"US\","
		  "\"currency\":\"USD\"}}");
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM participants WHERE email_enc IS NOT NULL OR name_enc IS NOT NULL"), 0);
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	struct ff_diag d;
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID, "the event body does not open with this key");
	cr_assert_eq(key_checks(), 0, "a refused key is not adopted");
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID);

	/* a webhook endpoint's secret alone */
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	json_t *body = json_loads("{\"url\":\"https://hooks.example.com/x\",\"events\":[\"reward.fulfilled\"]}", 0, NULL);
	json_t *ep = NULL;
	cr_assert_eq(engine_webhook_endpoint_create(F.e, &F.cli, body, &ep, &d), FF_OK, "%s", d.message);
	json_decref(body);
	json_decref(ep);
	fx_sql(&F, "DELETE FROM events");
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID, "the endpoint secret does not open with this key");
	cr_assert_eq(key_checks(), 0);
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
}
