/*
 * redact.c - what a partner key reads of an explanation (SPEC §9, docs/api-roles.md):
 * the rule, each clause's result and the outcome, without the other party's values.
 * The sentences are made again from each clause's rule and stored values (rules_eligibility.c's
 * rules_comparison_text), showing only the partner's own and the program's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define CHECKS_NOT_PASSED "the referral did not pass the program's checks"
#define CURRENCY_DIFFERS "the conversion currency differs from the program currency"

/* Whose values the variables of the context (this file's opening comment) hold: the
 * referrer's, the referred person's (their purchase too), or both parties' (the
 * referral itself, which both may read, without its fraud signals). A variable under
 * none of these (the whole context, "stats", "referral.signals") is nobody's to show. A
 * prefix ending in '.' or '_' matches the start of a name, any other one whole path
 * segments ("referrer" and "referrer.country"). */
static const struct {
	const char *prefix, *party;
} var_parties[] = {
    {"referral.signals", NULL},	     {"referral.", "both"},    {"referrer", "referrer"},
    {"stats.referrer_", "referrer"}, {"referred", "referred"}, {"conversion", "referred"},
    {"stats.referred_", "referred"},
};

static bool var_is_partys(const char *var, const char *party)
{
	for (size_t i = 0; i < sizeof(var_parties) / sizeof(var_parties[0]); i++) {
		const char *prefix = var_parties[i].prefix, *owner = var_parties[i].party;
		size_t n = strlen(prefix);
		bool open = prefix[n - 1] == '.' || prefix[n - 1] == '_';
		if (strncmp(var, prefix, n) || (!open && var[n] && var[n] != '.'))
			continue;
		return owner && (!strcmp(owner, "both") || !strcmp(owner, party));
	}
	return false;
}

/* A clause as `party` may read it: its rule and result stay, a value that is not the
 * party's own (nor the program's: a value written in the rule) goes, from `values`
 * (all of it: it is positional), from the sentence ("conversion.amount >= 5000: true")
 * and as the clause's `value` unless that is the boolean its result says. */
static void clause_for_party(json_t *clause, const char *party)
{
	json_t *value = json_object_get(clause, "value");
	if (value && !json_is_boolean(value))
		json_object_del(clause, "value");
	const char *op;
	json_t *args = rules_comparison_args(json_object_get(clause, "rule"), &op);
	bool shown[2] = {false, false};
	for (size_t i = 0; args && i < 2; i++) {
		json_t *operand = json_array_get(args, i);
		const char *var = rules_var_name(operand);
		shown[i] = var ? var_is_partys(var, party) : rules_is_literal(operand);
	}
	if (json_object_get(clause, "text")) {
		json_t *text =
		    args ? rules_comparison_text(op, args, json_object_get(clause, "values"), shown,
					   json_is_true(json_object_get(clause, "result")))
			 : NULL;
		/* no sentence rather than the one with the values */
		if (!text || json_object_set_new(clause, "text", text))
			json_object_del(clause, "text");
	}
	/* `values` goes even from a clause without a sentence: explain_clause keeps them
	 * when its sentence could not be made (a long value cut inside a UTF-8 character) */
	if (!shown[0] || !shown[1])
		json_object_del(clause, "values");
}

/* A reward of the explanation as `party` may read it (new reference): the other
 * party's says what the program gives them (to, type), not how it went (amount, status,
 * reason, its id); the party's own loses a fraud check's finding that stopped it and,
 * but for the one who bought, the purchase amount a percent reward was computed on. */
static json_t *reward_for_party(json_t *entry, const char *party)
{
	const char *to = json_string_value(json_object_get(entry, "to"));
	if (!to || strcmp(to, party))
		return json_pack("{s:O?, s:O?}", "to", json_object_get(entry, "to"), "type",
				 json_object_get(entry, "type"));
	const char *computed = json_string_value(json_object_get(entry, "computed"));
	if (computed && strcmp(party, "referred")) {
		long long bp, base, max;
		int got = sscanf(computed, "%lld bp of %lld, at most %lld", &bp, &base, &max);
		char how[200];
		if (got >= 2) {
			rules_computed_text(how, sizeof(how), bp, "the purchase amount", got == 3, max);
			json_object_set_new(entry, "computed", json_string(how));
		} else {
			json_object_del(entry, "computed");
		}
	}
	if (json_is_true(json_object_get(entry, "capped")) && !rules_capped_by_limit(entry))
		json_object_set_new(entry, "reason", json_string(CHECKS_NOT_PASSED));
	return json_incref(entry);
}

void rules_redact_for_partner(const struct actor *a, json_t *expl, const char *party)
{
	if (!a->participant[0] || !json_is_object(expl))
		return;
	if (json_object_get(expl, "signals"))
		json_object_set_new(expl, "signals", json_array());
	json_object_del(expl, "anomaly"); /* the program's payouts across referrers */
	if (strcmp(party, "referrer")) {  /* the referrer's count of referrals and its limits */
		json_object_del(expl, "tier");
		json_object_del(expl, "limits");
	}
	size_t i;
	json_t *each;
	json_t *clauses = json_object_get(expl, "clauses");
	json_array_foreach(clauses, i, each) clause_for_party(each, party);
	const char *outcome = json_string_value(json_object_get(expl, "outcome"));
	json_t *failed = json_object_get(expl, "failed");
	if (failed && outcome && !strcmp(outcome, "rejected")) {
		json_object_set_new(expl, "failed", json_pack("[s]", CHECKS_NOT_PASSED));
	} else if (failed && outcome && !strcmp(outcome, "not_eligible")) {
		/* the sentences of the clauses as the party reads them, then rules_apply's
		 * notes: the one there is names the conversion's currency, the buyer's own */
		bool buyer = !strcmp(party, "referred");
		json_t *lines = rules_failed_lines(clauses);
		for (size_t k = json_array_size(lines); k < json_array_size(failed); k++) {
			json_t *note = json_array_get(failed, k);
			json_array_append_new(lines, buyer ? json_incref(note)
							   : json_string(CURRENCY_DIFFERS));
		}
		json_object_set_new(expl, "failed", lines);
	}
	json_t *rewards = json_object_get(expl, "rewards");
	json_array_foreach(rewards, i, each)
	    json_array_set_new(rewards, i, reward_for_party(each, party));
	json_array_foreach(json_object_get(expl, "programs"), i, each)
	    rules_redact_for_partner(a, each, party);
}
