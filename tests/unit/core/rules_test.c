/*
 * rules_test.c - what a partner key reads of an explanation (rules_redact_for_partner):
 * the other party's values leave each clause's values and sentence and the `failed`
 * lines, its own and the program's stay; the other party's rewards say only what the
 * program gives; fraud findings, the anomaly guard's figures and (for the referred
 * person) the referrer's tier and limits go; multi-program explanations likewise; staff
 * read the explanation unchanged.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"

/* JSON written with ' for " (the explanations below are easier to read that way). */
static json_t *json_of(const char *text)
{
	char *s = strdup(text);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_error_t e;
	json_t *v = json_loads(s, 0, &e);
	cr_assert(v, "%s: %s", e.text, s);
	free(s);
	return v;
}

static const struct actor partner = {.role = ROLE_PARTNER, .participant = "alice"};

/* As rules_apply stores it: a purchase of 987.65, the friend's reward in review for a
 * tax form, one of the referrer's rewards stopped by a limit, one by a fraud check. */
static const char rewarded[] =
    "{'object':'explanation','program':'p','program_version':1,'trigger':'conversion',"
    "'referral':'ref_1','conversion':'ord_1','clauses':["
    "{'rule':{'>=':[{'var':'conversion.amount'},5000]},'result':true,'value':true,"
    " 'text':'conversion.amount (98765) >= 5000: true','values':[98765,5000]},"
    "{'rule':{'==':[{'var':'referrer.country'},{'var':'referred.country'}]},'result':false,"
    " 'value':false,'text':'referrer.country (\\'US\\') == referred.country (\\'FR\\'): false',"
    " 'values':['US','FR']},"
    "{'rule':{'<=':[{'-':[{'var':'conversion.occurred_at'},{'var':'referral.occurred_at'}]},"
    " 2592000000]},'result':true,'value':true,'text':'86400001 <= 2592000000: true',"
    " 'values':[86400001,2592000000]},"
    "{'rule':{'var':'conversion.attributes.coupon'},'result':true,'value':'SECRET-COUPON'},"
    "{'rule':{'>=':[{'var':'stats.referrer_successful_referrals'},2]},'result':true,"
    " 'value':true,'text':'stats.referrer_successful_referrals (3) >= 2: true','values':[3,2]},"
    "{'rule':{'!=':[{'var':'referral.source'},'spam']},'result':true,'value':true,"
    " 'text':'referral.source (\\'newsletter\\') != \\'spam\\': true',"
    " 'values':['newsletter','spam']}],"
    "'rewards':["
    "{'to':'referrer','type':'credit','amount':9876,'computed':'1000 bp of 98765',"
    " 'reward':'rwd_1','status':'approved','reason':'awaiting_fulfillment'},"
    "{'to':'referrer','type':'cash','capped':true,"
    " 'reason':'referrer_rewards_per_year limit 5 reached (5 used): reward not created'},"
    "{'to':'referrer','type':'cash','capped':true,"
    " 'reason':'the referrer\\'s rewards this period would reach 70000, above 50000'},"
    "{'to':'referred','type':'credit','amount':9877,'computed':'1000 bp of 98765, at most 33333',"
    " 'reward':'rwd_2','status':'pending','reason':'tax_form_required'}],"
    "'signals':[{'signal':'velocity','detail':'21 referrals within 24 hours','action':'review'}],"
    "'eligible':true,'tier':{'successful_referral_number':3,'from':null},"
    "'limits':[{'limit':'referrer_rewards_per_year','value':5,'used':5,'applied':1}],"
    "'anomaly':{'rate_new_sum':123456},'outcome':'rewarded','this_reward':'rwd_1'}";

static const char *text_of(json_t *expl, size_t clause)
{
	return json_string_value(
	    json_object_get(json_array_get(json_object_get(expl, "clauses"), clause), "text"));
}

static json_t *values_of(json_t *expl, size_t clause)
{
	return json_object_get(json_array_get(json_object_get(expl, "clauses"), clause), "values");
}

static json_t *reward_of(json_t *expl, size_t i)
{
	return json_array_get(json_object_get(expl, "rewards"), i);
}

Test(rules, a_referrer_reads_no_value_of_the_referred_person)
{
	json_t *expl = json_of(rewarded);
	rules_redact_for_partner(&partner, expl, "referrer");
	cr_assert_str_eq(text_of(expl, 0), "conversion.amount >= 5000: true");
	cr_assert_null(values_of(expl, 0));
	cr_assert_str_eq(text_of(expl, 1), "referrer.country (\"US\") == referred.country: false");
	cr_assert_null(values_of(expl, 1));
	cr_assert_str_eq(
	    text_of(expl, 2),
	    "{\"-\":[{\"var\":\"conversion.occurred_at\"},{\"var\":\"referral.occurred_at\"}]} "
	    "<= 2592000000: true");
	cr_assert_null(
	    json_object_get(json_array_get(json_object_get(expl, "clauses"), 3), "value"),
	    "a clause's value that is not its result");
	cr_assert_str_eq(text_of(expl, 4), "stats.referrer_successful_referrals (3) >= 2: true");
	json_t *own = json_pack("[i, i]", 3, 2);
	cr_assert(json_equal(values_of(expl, 4), own), "the referrer's own values");
	json_decref(own);
	cr_assert_str_eq(text_of(expl, 5), "referral.source (\"newsletter\") != \"spam\": true");
	json_t *clause = json_array_get(json_object_get(expl, "clauses"), 1);
	cr_assert(json_is_false(json_object_get(clause, "result")));
	cr_assert(json_is_object(json_object_get(clause, "rule")));

	cr_assert_str_eq(json_string_value(json_object_get(reward_of(expl, 0), "computed")),
			 "1000 bp of the purchase amount");
	cr_assert_eq(json_integer_value(json_object_get(reward_of(expl, 0), "amount")), 9876);
	cr_assert_str_eq(json_string_value(json_object_get(reward_of(expl, 1), "reason")),
			 "referrer_rewards_per_year limit 5 reached (5 used): reward not created");
	cr_assert_str_eq(json_string_value(json_object_get(reward_of(expl, 2), "reason")),
			 "the referral did not pass the program's checks");
	json_t *theirs = json_pack("{s:s, s:s}", "to", "referred", "type", "credit");
	cr_assert(json_equal(reward_of(expl, 3), theirs),
		  "the friend's reward: what the program gives");
	json_decref(theirs);

	cr_assert_eq(json_array_size(json_object_get(expl, "signals")), 0);
	cr_assert_null(json_object_get(expl, "anomaly"));
	cr_assert(json_object_get(expl, "tier") &&
		      json_array_size(json_object_get(expl, "limits")) == 1,
		  "the referrer's own tier and limits");
	cr_assert_str_eq(json_string_value(json_object_get(expl, "outcome")), "rewarded");
	for (const char *const *s =
		 (const char *const[]){"98765", "FR", "86400001", "SECRET-COUPON",
				       "tax_form_required", "9877", "33333", "velocity", "123456",
				       NULL};
	     *s; s++)
		cr_assert(!tu_json_mentions(expl, *s), "%s stays out", *s);
	json_decref(expl);
}

Test(rules, the_referred_person_reads_its_own_values_and_not_the_referrers)
{
	json_t *expl = json_of(rewarded);
	rules_redact_for_partner(&partner, expl, "referred");
	cr_assert_str_eq(text_of(expl, 0), "conversion.amount (98765) >= 5000: true");
	cr_assert_str_eq(text_of(expl, 1), "referrer.country == referred.country (\"FR\"): false");
	cr_assert_str_eq(text_of(expl, 4), "stats.referrer_successful_referrals >= 2: true");
	cr_assert_str_eq(json_string_value(json_object_get(reward_of(expl, 3), "computed")),
			 "1000 bp of 98765, at most 33333", "its own purchase");
	cr_assert_str_eq(json_string_value(json_object_get(reward_of(expl, 3), "reason")),
			 "tax_form_required");
	json_t *theirs = json_pack("{s:s, s:s}", "to", "referrer", "type", "credit");
	cr_assert(json_equal(reward_of(expl, 0), theirs));
	json_decref(theirs);
	cr_assert_null(json_object_get(expl, "tier"));
	cr_assert_null(json_object_get(expl, "limits"));
	for (const char *const *s =
		 (const char *const[]){"\"US\"", "(3)", "referrer_rewards_per_year", "70000", NULL};
	     *s; s++)
		cr_assert(!tu_json_mentions(expl, *s), "%s stays out", *s);
	json_decref(expl);
}

Test(rules, failed_lines_and_rejections_read_as_reasons_without_values)
{
	const char *text =
	    "{'object':'explanation','outcome':'multiple_programs','programs':["
	    "{'object':'explanation','outcome':'not_eligible','eligible':false,'referral':'ref_1','"
	    "clauses':["
	    " {'rule':{'>=':[{'var':'conversion.amount'},5000]},'result':false,'value':false,"
	    "  'text':'conversion.amount (4321) >= 5000: false','values':[4321,5000]},"
	    " {'rule':{'or':[{'var':'conversion.attributes.vip'},false]},'result':false,'value':"
	    "null}],"
	    " 'failed':['conversion.amount (4321) >= 5000: false','a rule clause evaluated to "
	    "false',"
	    "  'conversion currency EUR differs from the program currency USD']},"
	    "{'object':'explanation','outcome':'rejected','eligible':false,'referral':'ref_2',"
	    " 'signals':[{'signal':'blocklist','detail':'the referred\\'s e-mail domain x.test is "
	    "blocklisted',"
	    "  'action':'reject'}],'failed':['blocklist: the referred\\'s e-mail domain x.test is "
	    "blocklisted']}]}";
	json_t *expl = json_of(text);
	rules_redact_for_partner(&partner, expl, "referrer");
	json_t *programs = json_object_get(expl, "programs");
	json_t *want = json_pack("[s, s, s]", "conversion.amount >= 5000: false",
				 "a rule clause evaluated to false",
				 "the conversion currency differs from the program currency");
	cr_assert(json_equal(json_object_get(json_array_get(programs, 0), "failed"), want));
	json_decref(want);
	want = json_pack("[s]", "the referral did not pass the program's checks");
	cr_assert(json_equal(json_object_get(json_array_get(programs, 1), "failed"), want));
	json_decref(want);
	cr_assert_eq(json_array_size(json_object_get(json_array_get(programs, 1), "signals")), 0);
	cr_assert(!tu_json_mentions(expl, "4321") && !tu_json_mentions(expl, "EUR") && !tu_json_mentions(expl, "x.test"));
	json_decref(expl);

	/* the one who bought reads the purchase's own */
	expl = json_of(text);
	rules_redact_for_partner(&partner, expl, "referred");
	want = json_pack("[s, s, s]", "conversion.amount (4321) >= 5000: false",
			 "a rule clause evaluated to false",
			 "conversion currency EUR differs from the program currency USD");
	cr_assert(json_equal(
	    json_object_get(json_array_get(json_object_get(expl, "programs"), 0), "failed"), want));
	json_decref(want);
	json_decref(expl);
}

Test(rules, staff_read_every_value)
{
	json_t *expl = json_of(rewarded), *copy = json_of(rewarded);
	struct actor staff = {.role = ROLE_AUDITOR};
	rules_redact_for_partner(&staff, expl, "referrer");
	cr_assert(json_equal(expl, copy));
	rules_redact_for_partner(&partner, NULL, "referrer");
	json_decref(expl);
	json_decref(copy);
}

/* A value too long for a clause's sentence, cut inside a UTF-8 character: staff read
 * the sentence cut before that character, and its values; a partner neither. Rows
 * stored before the sentence was cut that way hold the values without a sentence:
 * those go all the same. */
Test(rules, values_without_a_sentence_go_too)
{
	char bio[401] = "";
	for (int i = 0; i < 200; i++)
		strcat(bio, "\xc3\xa9"); /* e-acute */
	json_t *ctx = json_pack("{s:{s:{s:s}}}", "referred", "attributes", "bio", bio);
	struct program p;
	memset(&p, 0, sizeof(p));
	p.eligibility = json_of("{'==':[{'var':'referred.attributes.bio'},'x']}");
	bool ok = true;
	json_t *clauses = NULL;
	struct ff_diag d;
	cr_assert_eq(rules_eligible(&p, ctx, &ok, &clauses, &d), FF_OK);
	cr_assert(!ok);
	const char *text = json_string_value(json_object_get(json_array_get(clauses, 0), "text"));
	cr_assert(text, "the sentence, cut before a whole character");
	cr_assert_eq(strncmp(text, "referred.attributes.bio (\"\xc3\xa9", 28), 0, "%s", text);
	json_t *expl = json_pack("{s:s, s:o}", "outcome", "not_eligible", "clauses", clauses);
	rules_redact_for_partner(&partner, expl, "referrer");
	cr_assert(!tu_json_mentions(expl, "\xc3\xa9"), "the friend's value stays out");
	cr_assert_str_eq(json_string_value(json_object_get(
			     json_array_get(json_object_get(expl, "clauses"), 0), "text")),
			 "referred.attributes.bio == \"x\": false");
	json_decref(expl);

	/* stored without a sentence */
	expl =
	    json_pack("{s:s, s:[{s:O, s:b, s:b, s:[s, s]}]}", "outcome", "not_eligible", "clauses",
		      "rule", p.eligibility, "result", 0, "value", 0, "values", bio, "x");
	rules_redact_for_partner(&partner, expl, "referrer");
	cr_assert(!tu_json_mentions(expl, "\xc3\xa9"), "the friend's value stays out");
	json_decref(expl);
	json_decref(p.eligibility);
	json_decref(ctx);
}
