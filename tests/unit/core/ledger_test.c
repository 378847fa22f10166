/*
 * ledger_test.c - the money after a reward, through the engine's public API on a real
 * database (engine_fixture.h): refunds (cancel before payout, reverse + clawback after,
 * percent rewards shrunk pro rata, each program judging its own rewards), expiry and
 * redemption soonest-expiring first, and concurrent redemptions that never overdraw; the
 * ledger and audit invariants after every test.
 */
#include <pthread.h>

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

TestSuite(ledger, .init = setup, .fini = teardown);

Test(ledger, refund_before_payout_cancels)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 7500);
	fx_ok(&F, "{\"id\":\"rf1\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\",\"reason\":\"chargeback\"}}");
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_eq(json_array_size(all), 2);
	cr_assert_str_eq(fx_status_of(all, 0), "cancelled");
	cr_assert_str_eq(fx_status_of(all, 1), "cancelled");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "reason")), "chargeback");
	json_decref(all);
	json_t *w = fx_worker(&F, T0 + 1000);
	cr_assert_eq(json_integer_value(json_object_get(w, "fulfilled")), 0);
	json_decref(w);
	cr_assert_eq(fx_balance(&F, "jessica", "USD"), 0);
}

Test(ledger, refund_after_payout_reverses_with_clawback)
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
	cr_assert_str_eq(fx_status_of(all, 0), "reversed");
	cr_assert_str_eq(fx_status_of(all, 1), "reversed");
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

Test(ledger, refund_too_large_is_rejected_and_changes_nothing)
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

Test(ledger, percent_reward_shrinks_pro_rata)
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
	cr_assert_str_eq(fx_status_of(all, 0), "fulfilled");
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
Test(ledger, refund_judges_each_programs_rewards_by_its_own_rules)
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
		cr_assert_str_eq(fx_status_of(j, i), "cancelled", "big's reward %zu no longer qualifies", i);
		cr_assert_str_eq(fx_status_of(a, i), "approved", "small's reward %zu still qualifies", i);
	}
	json_decref(j);
	json_decref(a);
	/* the rest refunded: nothing qualifies any more */
	fx_ok(&F, "{\"id\":\"rf3\",\"type\":\"refund\",\"data\":{\"conversion\":\"o1\"}}");
	a = fx_rewards(&F, "approved", "ann");
	cr_assert_eq(json_array_size(a), 1, "zoe's reward stays, tom's is cancelled");
	json_decref(a);
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

Test(ledger, expiry_and_redeem_soonest_first)
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
Test(ledger, redeem_never_spends_expired_credit)
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

Test(ledger, concurrent_redemptions_never_overdraw)
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
