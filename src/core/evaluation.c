/*
 * evaluation.c - a referral's latest evaluation in words its referrer may read: the
 * `last_evaluation` of a referral (GET /v1/participants/{id}/referrals,
 * GET /v1/referrals/{id}; participant.c picks which stored explanation is the latest).
 *
 * The explanation the engine stores with a conversion (or with a referral, for programs
 * triggered by referrals: rules.c) holds the referred person's data: the values its
 * clauses saw - the order amount, the country, attributes. The summary keeps only the
 * program's side: the outcome, and for each condition that failed a sentence made from
 * the program's rule alone, that is the variable it reads and the program's own value
 * ("The purchase amount must be at least 50.00 USD"), never the value the purchase or
 * the person had. A fraud rejection says that a check failed, not which one (signals
 * are not shown to partners: docs/api-roles.md). Reasons about rewards name what
 * stopped the referrer's reward (a limit); the referred person's rewards are theirs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/buf.h"
#include "fulfill/jsonw.h"
#include "fulfill/money.h"

#define CHECKS_FAILED "The referral did not pass the program's checks."

enum operand_kind { KIND_PLAIN, KIND_MONEY, KIND_TIME };

/* The variables of the eligibility context (rules_eligibility.c, docs/programs.md) in
 * plain words. */
static const struct {
	const char *var, *words;
	enum operand_kind kind;
} known_vars[] = {
    {"conversion.amount", "the purchase amount", KIND_MONEY},
    {"conversion.net_amount", "the purchase amount after refunds", KIND_MONEY},
    {"conversion.refunded_amount", "the refunded amount", KIND_MONEY},
    {"conversion.currency", "the purchase currency", KIND_PLAIN},
    {"conversion.category", "the purchase category", KIND_PLAIN},
    {"conversion.product", "the product bought", KIND_PLAIN},
    {"conversion.occurred_at", "the purchase date", KIND_TIME},
    {"referral.occurred_at", "the referral date", KIND_TIME},
    {"referral.source", "the referral source", KIND_PLAIN},
    {"referral.code", "the referral code", KIND_PLAIN},
    {"referred.created_at", "the referred person's sign-up date", KIND_TIME},
    {"referrer.created_at", "the referrer's sign-up date", KIND_TIME},
    {"stats.referred_prior_conversions", "the number of the referred person's earlier purchases",
     KIND_PLAIN},
    {"stats.referrer_successful_referrals", "the number of the referrer's successful referrals",
     KIND_PLAIN},
    {"stats.referrer_referrals", "the number of the referrer's referrals", KIND_PLAIN},
    {"stats.referrer_rewards_this_year", "the number of the referrer's rewards this year",
     KIND_PLAIN},
};

/* Any other variable by its owner: "referred.plan" -> "the referred person's plan". */
static const struct {
	const char *prefix, *owner;
} var_owners[] = {
    {"conversion.attributes.", "the purchase's "},
    {"conversion.", "the purchase's "},
    {"referral.", "the referral's "},
    {"referred.attributes.", "the referred person's "},
    {"referred.", "the referred person's "},
    {"referrer.attributes.", "the referrer's "},
    {"referrer.", "the referrer's "},
    {"stats.", ""},
};

/* A comparison, its mirror (for a value written before the variable), its words. */
static const struct {
	const char *op, *mirror, *words, *time_words;
} comparisons[] = {
    {"==", "==", "must be", "must be"},
    {"===", "===", "must be", "must be"},
    {"!=", "!=", "must not be", "must not be"},
    {"!==", "!==", "must not be", "must not be"},
    {">=", "<=", "must be at least", "must be on or after"},
    {">", "<", "must be more than", "must be after"},
    {"<=", ">=", "must be at most", "must be on or before"},
    {"<", ">", "must be less than", "must be before"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static enum operand_kind add_var(struct ffbuf *b, const char *var)
{
	for (size_t i = 0; i < COUNT(known_vars); i++)
		if (!strcmp(var, known_vars[i].var)) {
			ffbuf_adds(b, known_vars[i].words);
			return known_vars[i].kind;
		}
	const char *rest = var;
	for (size_t i = 0; i < COUNT(var_owners); i++) {
		size_t n = strlen(var_owners[i].prefix);
		if (!strncmp(var, var_owners[i].prefix, n) && var[n]) {
			ffbuf_adds(b, var_owners[i].owner);
			rest = var + n;
			break;
		}
	}
	for (const char *p = rest; *p; p++)
		ffbuf_add(b, *p == '_' || *p == '.' ? " " : p, 1);
	return KIND_PLAIN;
}

static void add_literal(struct ffbuf *b, json_t *v, enum operand_kind kind, const char *currency)
{
	char text[48];
	if (json_is_array(v)) {
		size_t i;
		json_t *each;
		json_array_foreach(v, i, each)
		{
			if (i)
				ffbuf_adds(b, i + 1 == json_array_size(v) ? " or " : ", ");
			add_literal(b, each, kind, currency);
		}
	} else if (kind == KIND_MONEY && json_is_integer(v) && currency &&
		   money_exponent(currency) >= 0) {
		ffbuf_addf(b, "%s %s",
			   money_format(json_integer_value(v), currency, text, sizeof(text)),
			   currency);
	} else if (kind == KIND_TIME && json_is_integer(v)) {
		ffbuf_adds(b, fftime_format(json_integer_value(v), text, sizeof(text)));
	} else {
		char *s = jsonw_dumps(v, false);
		ffbuf_adds(b, s ? s : "null");
		free(s);
	}
}

/* The sentence of a rule of a common shape: a variable compared with the program's
 * value, between two values, one of a list, set or not. False for any other shape. */
static bool describe_rule(struct ffbuf *b, json_t *rule, const char *currency)
{
	if (!json_is_object(rule) || json_object_size(rule) != 1)
		return false;
	void *it = json_object_iter(rule);
	const char *op = json_object_iter_key(it);
	json_t *args = json_object_iter_value(it);
	json_t *one = json_is_array(args) ? json_array_get(args, 0) : args;
	size_t n = json_is_array(args) ? json_array_size(args) : 1;
	const char *var;
	if ((!strcmp(op, "!") || !strcmp(op, "!!")) && n == 1 && (var = rules_var_name(one))) {
		add_var(b, var);
		ffbuf_adds(b, op[1] ? " must be set" : " must not be set");
		return true;
	}
	json_t *a0 = json_array_get(args, 0), *a1 = json_array_get(args, 1),
	       *a2 = json_array_get(args, 2);
	if ((!strcmp(op, "<") || !strcmp(op, "<=")) && n == 3 && (var = rules_var_name(a1)) &&
	    rules_is_literal(a0) && rules_is_literal(a2)) {
		enum operand_kind kind = add_var(b, var);
		ffbuf_adds(b, " must be between ");
		add_literal(b, a0, kind, currency);
		ffbuf_adds(b, " and ");
		add_literal(b, a2, kind, currency);
		return true;
	}
	if (!strcmp(op, "in") && n == 2) {
		bool list = (var = rules_var_name(a0)) && json_is_array(a1) && rules_is_literal(a1);
		if (!list && !((var = rules_var_name(a1)) && json_is_string(a0)))
			return false;
		enum operand_kind kind = add_var(b, var);
		ffbuf_adds(b, list ? " must be one of " : " must include ");
		add_literal(b, list ? a1 : a0, kind, currency);
		return true;
	}
	if (n != 2)
		return false;
	bool mirrored = !(var = rules_var_name(a0));
	json_t *value = mirrored ? a0 : a1;
	if (mirrored && !(var = rules_var_name(a1)))
		return false;
	if (!rules_is_literal(value))
		return false;
	for (size_t i = 0; i < COUNT(comparisons); i++) {
		if (strcmp(op, comparisons[i].op))
			continue;
		for (size_t j = 0; mirrored && j < COUNT(comparisons); j++)
			if (!strcmp(comparisons[j].op, comparisons[i].mirror)) {
				i = j;
				break;
			}
		enum operand_kind kind = add_var(b, var);
		bool equality = comparisons[i].op[0] == '=' || comparisons[i].op[0] == '!';
		if (json_is_null(value) && equality) { /* == null: not set; != null: set */
			ffbuf_adds(b, comparisons[i].op[0] == '!' ? " must be set"
								  : " must not be set");
			return true;
		}
		ffbuf_addf(b, " %s ",
			   kind == KIND_TIME ? comparisons[i].time_words : comparisons[i].words);
		add_literal(b, value, kind, currency);
		return true;
	}
	return false;
}

/* The distinct variables a rule reads, in order. */
static void collect_vars(json_t *rule, json_t *names)
{
	const char *var = rules_var_name(rule);
	size_t i;
	json_t *each;
	if (var) {
		json_array_foreach(names, i, each)
		{
			if (!strcmp(json_string_value(each), var))
				return;
		}
		json_array_append_new(names, json_string(var));
		return;
	}
	if (json_is_array(rule)) {
		json_array_foreach(rule, i, each) collect_vars(each, names);
	} else if (json_is_object(rule)) {
		const char *k;
		json_object_foreach(rule, k, each) collect_vars(each, names);
	}
}

/* Adds `b`'s text as a sentence (capital first letter, full stop), once. Releases b. */
static void add_reason(json_t *reasons, struct ffbuf *b)
{
	if (b->len && b->data[b->len - 1] != '.')
		ffbuf_adds(b, ".");
	if (b->len && b->data[0] >= 'a' && b->data[0] <= 'z')
		b->data[0] = (char)(b->data[0] - 'a' + 'A');
	size_t i;
	json_t *each;
	bool seen = false;
	json_array_foreach(reasons, i, each)
	{
		seen = seen || !strcmp(json_string_value(each), b->data ? b->data : "");
	}
	if (!seen && b->len)
		json_array_append_new(reasons, json_string(b->data));
	ffbuf_release(b);
}

static void add_text(json_t *reasons, const char *text)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	ffbuf_adds(&b, text);
	add_reason(reasons, &b);
}

static void clause_reason(json_t *clause, const char *currency, json_t *reasons)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	json_t *rule = json_object_get(clause, "rule");
	if (json_object_get(clause, "error")) {
		ffbuf_adds(&b, "A condition of the program could not be checked");
	} else if (!describe_rule(&b, rule, currency)) {
		ffbuf_reset(&b);
		json_t *names = json_array();
		collect_vars(rule, names);
		ffbuf_adds(&b, "A condition of the program");
		size_t i;
		json_t *each;
		json_array_foreach(names, i, each)
		{
			if (i == 3)
				break;
			bool last = i + 1 == json_array_size(names) || i == 2;
			ffbuf_adds(&b, i == 0 ? " on " : last ? " and " : ", ");
			add_var(&b, json_string_value(each));
		}
		ffbuf_adds(&b, " was not met");
		json_decref(names);
	}
	add_reason(reasons, &b);
}

static void limit_reason(json_t *limit, const char *currency, json_t *reasons)
{
	const char *key = json_string_value(json_object_get(limit, "limit"));
	json_t *value = json_object_get(limit, "value");
	struct ffbuf b;
	ffbuf_init(&b, 0);
	bool amount = key && !strncmp(key, "referrer_amount_per_", 20);
	const char *period = key ? strstr(key, "_per_") : NULL;
	if (!period || !json_is_integer(value)) {
		ffbuf_adds(&b, "A limit of the program on the referrer's rewards was reached");
	} else {
		ffbuf_adds(&b, "The program's limit of ");
		add_literal(&b, value, amount ? KIND_MONEY : KIND_PLAIN, currency);
		const char *what = " rewards";
		if (amount)
			what = " in rewards";
		else if (json_integer_value(value) == 1)
			what = " reward";
		ffbuf_addf(&b, "%s per %s for each referrer was reached", what, period + 5);
	}
	add_reason(reasons, &b);
}

/* The entry of `expl` that evaluated `referral`: itself, or one of the programs of a
 * conversion evaluated under several. NULL referral: the referral's own explanation. */
static json_t *entry_for(json_t *expl, const char *referral)
{
	if (!referral)
		return expl;
	const char *r = json_string_value(json_object_get(expl, "referral"));
	if (r && !strcmp(r, referral))
		return expl;
	size_t i;
	json_t *each;
	json_array_foreach(json_object_get(expl, "programs"), i, each)
	{
		r = json_string_value(json_object_get(each, "referral"));
		if (r && !strcmp(r, referral))
			return each;
	}
	return NULL;
}

json_t *evaluation_summary(json_t *expl, const char *referral, const char *currency, int64_t at,
			   bool referrers)
{
	json_t *entry = entry_for(expl, referral);
	const char *outcome = json_string_value(json_object_get(entry, "outcome"));
	static const char *const outcomes[] = {"rewarded", "capped", "not_eligible", "rejected"};
	size_t o = 0;
	while (outcome && o < COUNT(outcomes) && strcmp(outcome, outcomes[o]))
		o++;
	if (!outcome || o == COUNT(outcomes))
		return NULL;
	bool eligible = json_is_true(json_object_get(entry, "eligible"));
	json_t *reasons = json_array();
	size_t i;
	json_t *each;
	if (!strcmp(outcome, "rejected")) {
		add_text(reasons, CHECKS_FAILED);
	} else if (!eligible) {
		size_t failed = 0;
		json_array_foreach(json_object_get(entry, "clauses"), i, each)
		{
			if (json_is_true(json_object_get(each, "result")))
				continue;
			failed++;
			clause_reason(each, currency, reasons);
		}
		/* rules.c lists in `failed` a line per failed clause, then its notes: the one
		 * note there is says that the purchase was not in the program's currency */
		if (json_array_size(json_object_get(entry, "failed")) > failed) {
			struct ffbuf b;
			ffbuf_init(&b, 0);
			ffbuf_adds(&b, "The purchase was not in the program's currency");
			if (currency)
				ffbuf_addf(&b, " (%s)", currency);
			add_reason(reasons, &b);
		}
		if (!json_array_size(reasons))
			add_text(reasons, "A condition of the program was not met.");
	} else if (referrers) {
		/* eligible: what kept the referrer's rewards from being made. rules.c lists the
		 * limit that stopped a reward (rules_capped_by_limit) in `limits`, in the same
		 * order. */
		size_t next_limit = 0;
		json_array_foreach(json_object_get(entry, "rewards"), i, each)
		{
			const char *to = json_string_value(json_object_get(each, "to"));
			json_t *limit =
			    rules_capped_by_limit(each)
				? json_array_get(json_object_get(entry, "limits"), next_limit++)
				: NULL;
			if (json_object_get(each, "reward") || !to || strcmp(to, "referrer"))
				continue;
			if (limit)
				limit_reason(limit, currency, reasons);
			else if (json_object_get(each, "skipped"))
				add_text(reasons, "The referrer's reward came to zero.");
			else if (json_is_true(json_object_get(each, "capped")))
				add_text(reasons, CHECKS_FAILED);
		}
	}
	const char *trigger = json_string_value(json_object_get(entry, "trigger"));
	return json_pack("{s:o, s:s, s:s, s:b, s:o}", "at", json_time(at, true), "trigger",
			 trigger && !strcmp(trigger, "conversion") ? "conversion" : "referral",
			 "outcome", outcome, "eligible", eligible, "reasons", reasons);
}
