/*
 * engine_test.c - end-to-end scenarios of the engine core through its public API on a
 * real SQLite file: attribution, eligibility, explanations, tiers, limits, holds,
 * schedules, the state machine, connections and the writer, idempotency records, work
 * signals, and the ledger and audit invariants after every scenario. Refunds, expiry
 * and redeem are in ledger_test.c, events' validation in ingest_test.c, the audit chain
 * in audit_test.c, the master key in keyrotation_test.c.
 */
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
	cr_assert_str_eq(fx_status_of(all, 0), "pending");
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
	cr_assert_str_eq(fx_status_of(all, 0), "pending");
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
	cr_assert_str_eq(fx_status_of(mine, 0), "review");
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
	cr_assert_str_eq(fx_status_of(toms, 0), "fulfilled");
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
