/*
 * evaluation_test.c - a referral's last evaluation in its referrer's words
 * (evaluation.c): each rule shape it puts in a sentence, the program's values formatted
 * (money, times), the fallback for other shapes, limits, fraud rejections, and that the
 * values the clauses saw never reach the sentences.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"

/* The reasons of a not-eligible explanation whose one clause, `rule`, failed. */
static json_t *reasons_of(const char *rule, const char *currency)
{
	json_t *r = json_loads(rule, 0, NULL);
	cr_assert(r, "rule %s", rule);
	json_t *expl = json_pack("{s:s, s:s, s:b, s:s, s:[{s:o, s:b, s:i, s:s}], s:[s]}", "outcome",
				 "not_eligible", "referral", "ref_1", "eligible", 0, "trigger",
				 "conversion", "clauses", "rule", r, "result", 0, "value", 4321,
				 "text", "conversion.amount (4321) >= 5000: false", "failed",
				 "conversion.amount (4321) >= 5000: false");
	json_t *s = evaluation_summary(expl, "ref_1", currency, 0, true);
	json_decref(expl);
	cr_assert(s);
	json_t *reasons = json_incref(json_object_get(s, "reasons"));
	json_decref(s);
	return reasons;
}

static void expect(const char *rule, const char *currency, const char *want)
{
	json_t *reasons = reasons_of(rule, currency);
	cr_assert_eq(json_array_size(reasons), 1, "%s", rule);
	const char *got = json_string_value(json_array_get(reasons, 0));
	cr_assert_str_eq(got, want, "%s", rule);
	cr_assert_null(strstr(got, "4321"), "the value the clause saw stays out: %s", got);
	json_decref(reasons);
}

Test(evaluation, rule_shapes_in_words)
{
	expect("{\">=\": [{\"var\": \"conversion.amount\"}, 5000]}", "USD",
	       "The purchase amount must be at least 50.00 USD.");
	expect("{\"<=\": [5000, {\"var\": \"conversion.amount\"}]}", "JPY",
	       "The purchase amount must be at least 5000 JPY.");
	expect("{\">\": [{\"var\": \"conversion.net_amount\"}, 999]}", NULL,
	       "The purchase amount after refunds must be more than 999.");
	expect("{\"<\": [{\"var\": \"conversion.occurred_at\"}, 1767225600000]}", "USD",
	       "The purchase date must be before 2026-01-01T00:00:00.000Z.");
	expect("{\"<=\": [1000, {\"var\": \"conversion.amount\"}, 20000]}", "USD",
	       "The purchase amount must be between 10.00 USD and 200.00 USD.");
	expect("{\"in\": [{\"var\": \"conversion.category\"}, [\"shoes\", \"bags\", \"hats\"]]}",
	       "USD", "The purchase category must be one of \"shoes\", \"bags\" or \"hats\".");
	expect("{\"in\": [\"vip\", {\"var\": \"referred.tags\"}]}", "USD",
	       "The referred person's tags must include \"vip\".");
	expect("{\"==\": [{\"var\": \"stats.referred_prior_conversions\"}, 0]}", "USD",
	       "The number of the referred person's earlier purchases must be 0.");
	expect("{\"!=\": [{\"var\": \"referred.attributes.plan_name\"}, \"free\"]}", "USD",
	       "The referred person's plan name must not be \"free\".");
	expect("{\"!=\": [{\"var\": \"referral.code\"}, null]}", "USD",
	       "The referral code must be set.");
	expect("{\"!\": {\"var\": \"conversion.attributes.trial\"}}", "USD",
	       "The purchase's trial must not be set.");
	expect("{\"!!\": [{\"var\": [\"referral.source\", \"\"]}]}", "USD",
	       "The referral source must be set.");
}

Test(evaluation, other_shapes_name_what_they_read)
{
	expect(
	    "{\"<=\": [{\"-\": [{\"var\": \"conversion.occurred_at\"}, {\"var\": "
	    "\"referral.occurred_at\"}]}, "
	    "2592000000]}",
	    "USD",
	    "A condition of the program on the purchase date and the referral date was not met.");
	expect("{\"or\": [true, false]}", "USD", "A condition of the program was not met.");
}

Test(evaluation, currency_limits_rejections_and_other_referrals)
{
	json_t *expl = json_loads(
	    "{\"outcome\":\"not_eligible\",\"eligible\":false,\"referral\":\"r\",\"clauses\":[],"
	    "\"failed\":[\"conversion currency EUR differs from the program currency USD\"]}",
	    0, NULL);
	json_t *s = evaluation_summary(expl, "r", "USD", 0, true);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "reasons"), 0)),
			 "The purchase was not in the program's currency (USD).");
	cr_assert(!tu_json_mentions(s, "EUR"));
	json_decref(s);
	cr_assert_null(evaluation_summary(expl, "another", "USD", 0, true),
		       "an explanation of another referral");
	json_decref(expl);

	expl =
	    json_loads("{\"outcome\":\"capped\",\"eligible\":true,\"referral\":\"r\",\"trigger\":"
		       "\"conversion\","
		       "\"rewards\":[{\"to\":\"referrer\",\"capped\":true,\"reason\":\"referrer_"
		       "amount_per_month "
		       "limit 50000 reached (49000 used): reward not "
		       "created\"},{\"to\":\"referrer\",\"capped\":true,"
		       "\"reason\":\"the referrer's rewards this period would reach 9, above 1\"},"
		       "{\"to\":\"referred\",\"skipped\":\"computed amount is zero\"}],"
		       "\"limits\":[{\"limit\":\"referrer_amount_per_month\",\"value\":50000,"
		       "\"used\":49000}]}",
		       0, NULL);
	s = evaluation_summary(expl, "r", "USD", 0, true);
	json_t *want = json_pack(
	    "[s, s]",
	    "The program's limit of 500.00 USD in rewards per month for each referrer was reached.",
	    "The referral did not pass the program's checks.");
	cr_assert(json_equal(json_object_get(s, "reasons"), want));
	cr_assert(!tu_json_mentions(s, "49000"));
	json_decref(want);
	json_decref(s);
	/* the referred person's key: what stopped the referrer's rewards is the referrer's */
	s = evaluation_summary(expl, "r", "USD", 0, false);
	cr_assert_str_eq(json_string_value(json_object_get(s, "outcome")), "capped");
	cr_assert_eq(json_array_size(json_object_get(s, "reasons")), 0);
	cr_assert(!tu_json_mentions(s, "500.00") && !tu_json_mentions(s, "checks"));
	json_decref(s);
	json_decref(expl);

	/* a conversion evaluated under several programs: the entry of this referral */
	expl = json_loads("{\"outcome\":\"multiple_programs\",\"programs\":[{\"referral\":\"a\","
			  "\"outcome\":\"rewarded\","
			  "\"eligible\":true,\"rewards\":[]},{\"referral\":\"b\",\"outcome\":"
			  "\"rejected\",\"eligible\":false,"
			  "\"failed\":[\"fraud signal velocity rejects this referral\"]}]}",
			  0, NULL);
	s = evaluation_summary(expl, "b", "USD", 0, true);
	cr_assert_str_eq(json_string_value(json_object_get(s, "outcome")), "rejected");
	cr_assert(!tu_json_mentions(s, "velocity"));
	json_decref(s);
	cr_assert_null(evaluation_summary(expl, NULL, "USD", 0, true),
		       "multiple_programs is no referral's own outcome");
	json_decref(expl);
}
