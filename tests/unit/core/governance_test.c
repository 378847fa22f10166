/*
 * governance_test.c - governance and the guards around programs (fraud_fixture.h): bulk
 * review with partial failures, the two-person rule and versions, programs that cannot
 * work refused, simulation against real ingest and with stats as they stood, and the
 * anomaly guard (review, roll back).
 */
#include "core/fraud.h"
#include "fraud_fixture.h"

TestSuite(governance, .init = setup, .fini = teardown);

Test(governance, bulk_review_partial_failures)
{
	fx_program(&F, SIMPLE(",\"review\":{\"always\":true}"));
	person("ann", "ann@example.com", NULL);
	refer("r1", "ann", "b1", NULL, NULL);
	fx_conversion(&F, "o1", "b1", 100);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 2);
	json_t *approve = json_pack("[O, s]", json_object_get(json_array_get(rs, 0), "id"), "rwd_missing");
	json_t *reject = json_pack("[O]", json_object_get(json_array_get(rs, 1), "id"));
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_rewards_review(F.e, &F.cli, approve, reject, "looks fake", &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "approved")), 1);
	cr_assert_eq(json_integer_value(json_object_get(out, "rejected")), 1);
	cr_assert_eq(json_integer_value(json_object_get(out, "failed")), 1);
	json_t *bad = json_array_get(json_object_get(out, "results"), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(bad, "error"), "code")), "not_found");
	json_decref(out);
	/* deciding again is an invalid transition, reported per id */
	cr_assert_eq(engine_rewards_review(F.e, &F.cli, approve, NULL, NULL, &out, &d), FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(out, "failed")), 2);
	json_decref(out);
	json_decref(approve);
	json_decref(reject);
	json_decref(rs);
	json_t *empty = json_array();
	cr_assert_eq(engine_rewards_review(F.e, &F.cli, empty, NULL, NULL, &out, &d), FF_E_INVALID);
	json_decref(empty);
}

Test(governance, two_person_rule_and_versions)
{
	struct actor alice = {.role = ROLE_ADMIN}, bob = {.role = ROLE_ADMIN};
	snprintf(alice.label, sizeof(alice.label), "key:alice");
	snprintf(bob.label, sizeof(bob.label), "key:bob");
	json_t *doc = json_loads(SIMPLE(""), 0, NULL), *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_put(F.e, &alice, "p", doc, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	cr_assert_eq(engine_program_activate(F.e, &alice, "p", 1, &out, &d), FF_E_VERSION_NOT_APPROVED);
	cr_assert_eq(engine_program_approve(F.e, &alice, "p", 1, &out, &d), FF_E_SAME_AUTHOR);
	cr_assert_eq(engine_program_approve(F.e, &bob, "p", 1, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	cr_assert_eq(engine_program_activate(F.e, &alice, "p", 1, &out, &d), FF_OK);
	json_decref(out);
	/* a cosmetic change may be approved by its author */
	json_object_set_new(doc, "name", json_string("Renamed"));
	cr_assert_eq(engine_program_put(F.e, &alice, "p", doc, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_program_approve(F.e, &alice, "p", 2, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	/* an amount change may not */
	json_object_set_new(json_array_get(json_object_get(doc, "rewards"), 0), "amount", json_integer(100000));
	cr_assert_eq(engine_program_put(F.e, &alice, "p", doc, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_program_approve(F.e, &alice, "p", 3, &out, &d), FF_E_SAME_AUTHOR);
	cr_assert_eq(engine_program_diff(F.e, &alice, "p", 1, 3, &out, &d), FF_OK);
	json_t *changes = json_object_get(out, "changes");
	cr_assert_eq(json_array_size(changes), 2);
	cr_assert(json_is_true(json_object_get(out, "changes_economics")));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(changes, 1), "path")), "/rewards/0/amount");
	json_decref(out);
	cr_assert_eq(engine_program_rollback(F.e, &alice, "p", 3, &out, &d), FF_E_VERSION_NOT_APPROVED);
	cr_assert_eq(engine_program_rollback(F.e, &alice, "p", 1, &out, &d), FF_E_CONFLICT, "1 is already active");
	cr_assert_eq(engine_program_activate(F.e, &alice, "p", 2, &out, &d), FF_OK);
	json_decref(out);
	cr_assert_eq(engine_program_rollback(F.e, &alice, "p", 1, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "active_version")), 1);
	json_decref(out);
	json_decref(doc);
	/* bad documents name the field */
	json_t *bad = json_loads("{\"id\":\"p\",\"name\":\"x\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
				 "\"type\":\"credit\",\"amout\":1}]}",
				 0, NULL);
	cr_assert_eq(engine_program_put(F.e, &alice, "p", bad, &out, &d), FF_E_UNKNOWN_FIELD);
	cr_assert_str_eq(d.param, "rewards[0].amout");
	json_decref(bad);
}

/* A document that compiles but could never work as written is refused when saved,
 * with the field at fault. */
Test(governance, programs_that_cannot_work_are_refused)
{
	static const struct {
		const char *doc, *param;
	} bad[] = {
	    /* the literal null is false: nobody would ever qualify */
	    {"{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"eligibility\":null,\"rewards\":[{\"to\":"
	     "\"referrer\",\"type\":\"credit\",\"amount\":1000}]}",
	     "eligibility"},
	    /* a percentage of a purchase that a referral does not have: always 0 */
	    {"{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"trigger\":\"referral\",\"rewards\":[{\"to\":"
	     "\"referrer\",\"type\":\"credit\",\"percent_bp\":1000}]}",
	     "rewards[0].percent_bp"},
	    {"{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"trigger\":\"referral\",\"rewards\":[{\"to\":"
	     "\"referrer\",\"type\":\"credit\",\"amount\":100}],\"tiers\":[{\"from\":3,\"to\":\"referred\",\"type\":"
	     "\"credit\",\"percent_bp\":500}]}",
	     "tiers[0].percent_bp"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *doc = json_loads(bad[i].doc, 0, NULL), *out = NULL;
		struct ff_diag d;
		cr_assert_not_null(doc);
		cr_assert_eq(engine_program_put(F.e, &F.cli, "p", doc, &out, &d), FF_E_INVALID, "%zu", i);
		cr_assert_str_eq(d.param, bad[i].param);
		json_decref(doc);
	}
	/* what works stays allowed: no eligibility at all, a percentage on conversions */
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"percent_bp\":1000}]}");
	fx_program(&F, "{\"id\":\"s\",\"name\":\"S\",\"currency\":\"USD\",\"trigger\":\"referral\",\"rewards\":"
		       "[{\"to\":\"referrer\",\"type\":\"percent_discount\",\"percent_bp\":1000,\"pool\":\"x\"}]}");
}

Test(governance, simulate_matches_real_ingest_on_the_active_version)
{
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"
		       "\"conversion.amount\"},5000]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000},"
		       "{\"to\":\"referred\",\"type\":\"credit\",\"percent_bp\":1000}],\"tiers\":[{\"from\":2,\"to\":"
		       "\"referrer\",\"type\":\"credit\",\"amount\":2500}],\"limits\":{\"referrer_rewards_per_year\":3}}");
	person("ann", "ann@example.com", NULL);
	long long amounts[] = {6000, 4000, 7000, 9000, 12000, 5000};
	for (int i = 0; i < 6; i++) {
		char ref[24], who[24], o[24];
		snprintf(ref, sizeof(ref), "r%d", i);
		snprintf(who, sizeof(who), "f%d", i);
		snprintf(o, sizeof(o), "o%d", i);
		refer(ref, "ann", who, NULL, NULL);
		fftime_set_now(T0 + i * 1000);
		fx_conversion(&F, o, who, amounts[i]);
	}
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_simulate(F.e, &F.cli, "p", 1, T0 - DAY, T0 + DAY, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "conversions")), 6);
	cr_assert(json_equal(json_object_get(out, "simulated"), json_object_get(out, "actual")), "%s",
		  json_dumps(out, 0));
	cr_assert_eq(json_array_size(json_object_get(out, "changes")), 0);
	json_decref(out);
	/* a draft with a different amount shows the difference, and nothing is stored */
	json_t *doc = NULL;
	cr_assert_eq(engine_program_version(F.e, &F.cli, "p", 1, &doc, &d), FF_OK);
	json_t *v2 = json_deep_copy(json_object_get(doc, "document"));
	json_decref(doc);
	json_object_set_new(json_array_get(json_object_get(v2, "rewards"), 0), "amount", json_integer(1500));
	cr_assert_eq(engine_program_put(F.e, &F.cli, "p", v2, &out, &d), FF_OK);
	json_decref(out);
	json_decref(v2);
	json_t *before = fx_rewards(&F, NULL, NULL);
	cr_assert_eq(engine_program_simulate(F.e, &F.cli, "p", 2, T0 - DAY, T0 + DAY, &out, &d), FF_OK, "%s", d.message);
	cr_assert_not(json_equal(json_object_get(out, "simulated"), json_object_get(out, "actual")));
	cr_assert_gt(json_array_size(json_object_get(out, "changes")), 0);
	json_decref(out);
	json_t *after = fx_rewards(&F, NULL, NULL);
	cr_assert(json_equal(before, after), "simulation leaves no trace");
	json_decref(before);
	json_decref(after);
}

/* A draft that reads stats the active version did not (so the stored contexts lack
 * them) is simulated with the stats as they stood at each conversion, as real ingest
 * would have seen them: not counting the conversion itself, later purchases or later
 * successful referrals. Program q, the draft made active, is the real ingest. */
Test(governance, simulate_computes_missing_stats_as_they_stood)
{
	static const char *const v2 = "\"currency\":\"USD\",\"eligibility\":{\"==\":[{\"var\":"
				      "\"stats.referred_prior_conversions\"},0]},\"rewards\":[{\"to\":\"referrer\",\"type\":"
				      "\"credit\",\"amount\":1000}],\"tiers\":[{\"from\":2,\"to\":\"referrer\",\"type\":"
				      "\"credit\",\"amount\":2500}]}";
	char doc[1024];
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000}]}");
	snprintf(doc, sizeof(doc), "{\"id\":\"q\",\"name\":\"Q\",%s", v2);
	fx_program(&F, doc);
	person("ann", "ann@example.com", NULL);
	person("bob", "bob@example.com", NULL);
	for (int i = 0; i < 3; i++) {
		fftime_set_now(T0 + i * 10000);
		fx_ok(&F, "{\"id\":\"rp%d\",\"type\":\"referral\",\"data\":{\"id\":\"rp%d\",\"program\":\"p\","
			  "\"referrer\":\"ann\",\"referred\":\"f%d\"}}", i, i, i);
		fx_ok(&F, "{\"id\":\"rq%d\",\"type\":\"referral\",\"data\":{\"id\":\"rq%d\",\"program\":\"q\","
			  "\"referrer\":\"bob\",\"referred\":\"g%d\"}}", i, i, i);
		for (int k = 0; k < 2; k++) { /* a first and a second purchase each */
			fftime_set_now(T0 + i * 10000 + 1000 + k * 1000);
			char o[32], who[16];
			snprintf(o, sizeof(o), "op%d_%d", i, k);
			snprintf(who, sizeof(who), "f%d", i);
			fx_conversion(&F, o, who, 5000);
			snprintf(o, sizeof(o), "oq%d_%d", i, k);
			snprintf(who, sizeof(who), "g%d", i);
			fx_conversion(&F, o, who, 5000);
		}
	}
	/* real ingest under the draft's rules: three first purchases, 10 + 25 + 25 */
	json_t *bob = fx_rewards(&F, NULL, "bob");
	int64_t real = 0;
	size_t i;
	json_t *each;
	json_array_foreach(bob, i, each) real += json_integer_value(json_object_get(each, "amount"));
	cr_assert_eq(json_array_size(bob), 3);
	cr_assert_eq(real, 6000);
	json_decref(bob);
	/* the same rules as a draft of p, simulated over p's history */
	snprintf(doc, sizeof(doc), "{\"id\":\"p\",\"name\":\"P\",%s", v2);
	json_t *d2 = json_loads(doc, 0, NULL), *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_put(F.e, &F.cli, "p", d2, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	json_decref(d2);
	cr_assert_eq(engine_program_simulate(F.e, &F.cli, "p", 2, T0 - DAY, T0 + DAY, &out, &d), FF_OK, "%s", d.message);
	json_t *sim = json_object_get(out, "simulated");
	cr_assert_eq(json_integer_value(json_object_get(sim, "rewards")), 3, "%s", json_dumps(out, 0));
	json_t *usd = json_array_get(json_object_get(sim, "amounts"), 0);
	cr_assert_eq(json_integer_value(json_object_get(usd, "amount")), real, "%s", json_dumps(out, 0));
	json_decref(out);
}

Test(governance, anomaly_guard_catches_a_mistyped_amount)
{
	fx_program(&F, SIMPLE(""));
	person("ann", "ann@example.com", NULL);
	for (int i = 0; i < 3; i++) {
		char ref[24], who[24], o[24];
		snprintf(ref, sizeof(ref), "a%d", i);
		snprintf(who, sizeof(who), "g%d", i);
		snprintf(o, sizeof(o), "oa%d", i);
		refer(ref, "ann", who, NULL, NULL);
		fx_conversion(&F, o, who, 100);
	}
	/* version 2: the referrer amount typed x100 */
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\",\"type\":"
		       "\"credit\",\"amount\":100000},{\"to\":\"referred\",\"type\":\"credit\",\"amount\":500}]}");
	refer("b0", "ann", "h0", NULL, NULL);
	fx_conversion(&F, "ob0", "h0", 100);
	json_t *rs = fx_rewards(&F, "review", NULL);
	cr_assert_eq(json_array_size(rs), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rs, 0), "reason")), "review:anomaly");
	json_decref(rs);
	/* the anomaly is audited */
	json_t *au = NULL;
	struct ff_diag d;
	struct page pg = {.limit = 1000};
	cr_assert_eq(engine_audit_list(F.e, &F.cli, &pg, &au, &d), FF_OK);
	char *text = json_dumps(au, 0);
	cr_assert_not_null(strstr(text, "program.anomaly"));
	free(text);
	json_decref(au);
}

Test(governance, anomaly_guard_can_roll_back)
{
	fx_program(&F, SIMPLE(",\"anomaly\":{\"action\":\"rollback\"}"));
	person("ann", "ann@example.com", NULL);
	refer("a0", "ann", "g0", NULL, NULL);
	fx_conversion(&F, "oa0", "g0", 100);
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"anomaly\":{\"action\":\"rollback\"},"
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":100000}]}");
	refer("b0", "ann", "h0", NULL, NULL);
	fx_conversion(&F, "ob0", "h0", 100);
	json_t *p = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_get(F.e, &F.cli, "p", &p, &d), FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(p, "active_version")), 1, "rolled back automatically");
	json_decref(p);
	refer("c0", "ann", "k0", NULL, NULL);
	fx_conversion(&F, "oc0", "k0", 100);
	json_t *mine = fx_rewards(&F, NULL, "ann");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(mine, 2), "amount")), 1000);
	json_decref(mine);
}
