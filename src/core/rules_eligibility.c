/*
 * rules_eligibility.c - eligibility (SPEC §3): the context a program's JsonLogic sees,
 * its stats, and the eligibility rule judged clause by clause into an explanation whose
 * sentences say what each clause compared with the values the rule saw. rules.c decides
 * the rewards of an eligible referral or conversion.
 *
 * The context a program's JsonLogic sees:
 *   conversion.{id, amount, net_amount, refunded_amount, currency, category, product,
 *               occurred_at, attributes.*}   (absent for referral-triggered programs)
 *   referral.{id, program, code, source, affiliate, occurred_at, status, signals}
 *   referrer.*, referred.*  participant fields (id, country, currency, status,
 *               tax_form, has_email, created_at) and attributes (both as .attributes.X
 *               and .X)
 *   stats.{referrer_successful_referrals, referrer_referrals, referrer_rewards_this_year,
 *          referred_prior_conversions}   (computed only for programs whose rules read
 *          stats; the referrer's successful referrals also for programs with tiers)
 * Times in the context are integer milliseconds since the epoch.
 *
 * The explanation holds the values the rules saw. A partner key reads it without the
 * other party's (rules_redact_for_partner, redact.c): the sentences are
 * made again from each clause's rule and stored values, showing only its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/jsonw.h"
#include "core/fraud.h"
#include "core/ingest.h"
#include "fulfill/crypto.h"
#include "fulfill/jsonlogic.h"
#include "fulfill/money.h"

static int64_t count_query(struct engine *e, enum store_query q, const char *a, const char *b)
{
	struct store_stmt *st = store_query(e->st, q);
	store_bind_text(st, 1, a);
	if (b)
		store_bind_text(st, 2, b);
	return store_step(st) == 1 ? store_col_int(st, 0) : 0;
}

json_t *referral_row_copy(struct store_stmt *st)
{
	json_t *row = json_array();
	for (int c = 0; c < REFERRAL_NCOLS; c++) {
		const char *v = store_col_text(st, c);
		json_array_append_new(row, v ? json_string(v) : json_null());
	}
	return row;
}

json_t *rules_context(struct engine *e, const struct program *p, struct store_stmt *rs, json_t *conversion,
		      bool *out_successful)
{
	/* copied before running other queries */
	json_t *row = referral_row_copy(rs);
	json_t *ctx = rules_context_of(e, p, row, conversion, out_successful);
	json_decref(row);
	return ctx;
}

json_t *rules_context_of(struct engine *e, const struct program *p, json_t *row, json_t *conversion,
			 bool *out_successful)
{
#define COL(c) json_string_value(json_array_get(row, c))
	const char *id = COL(0), *referrer = COL(2), *referred = COL(3);
	json_t *ref = json_object();
	jset(ref, "id", json_string(id));
	jset(ref, "program", json_string(COL(1)));
	jset(ref, "code", jstr_or_null(COL(4)));
	jset(ref, "source", jstr_or_null(COL(5)));
	jset(ref, "affiliate", jstr_or_null(COL(6)));
	jset(ref, "occurred_at", json_integer(COL(9) ? strtoll(COL(9), NULL, 10) : 0));
	jset(ref, "status", json_string(COL(10)));
	jset(ref, "signals", json_from_text(COL(12), "[]"));
	*out_successful = !strcmp(COL(10), "successful");
#undef COL
	json_t *ctx = json_object();
	jset(ctx, "referral", ref);
	json_t *rr = participant_context(e, referrer);
	jset(ctx, "referrer", rr ? rr : json_object());
	json_t *rd = participant_context(e, referred);
	jset(ctx, "referred", rd ? rd : json_object());
	if (conversion)
		json_object_set(ctx, "conversion", conversion);
	jset(ctx, "stats", json_object());
	rules_fill_stats(e, p, ctx, NULL);
	return ctx;
}

/* A count as of `at` (rules_fill_stats). */
static int64_t count_at(struct engine *e, enum store_query q, const char *who, const char *program,
			const struct stats_at *at)
{
	struct store_stmt *st = store_query(e->st, q);
	store_bind_text(st, 1, who);
	if (q == Q_SIM_STATS_PRIOR_CONVERSIONS) {
		store_bind_int(st, 2, at->conversion_seq);
	} else {
		store_bind_text(st, 2, program);
		store_bind_int(st, 3, at->ingested_at);
		if (q == Q_SIM_STATS_REFERRER_SUCCESSFUL)
			store_bind_text(st, 4, at->referral ? at->referral : "");
	}
	int64_t n = store_step(st) == 1 ? store_col_int(st, 0) : 0;
	/* its own referral counted as it was then (it may have succeeded by this very
	 * conversion, which the count above cannot tell from its time) */
	if (q == Q_SIM_STATS_REFERRER_SUCCESSFUL && at->referral_successful)
		n++;
	return n;
}

void rules_fill_stats(struct engine *e, const struct program *p, json_t *ctx, const struct stats_at *at)
{
	json_t *stats = json_object_get(ctx, "stats");
	if (!json_is_object(stats)) {
		stats = json_object();
		json_object_set_new(ctx, "stats", stats);
	}
	const char *referrer = json_string_value(json_object_get(json_object_get(ctx, "referrer"), "id"));
	const char *referred = json_string_value(json_object_get(json_object_get(ctx, "referred"), "id"));
	if (!referrer || !referred)
		return;
	if ((p->uses_stats || p->ntiers) && !json_object_get(stats, "referrer_successful_referrals"))
		json_object_set_new(stats, "referrer_successful_referrals",
				    json_integer(at ? count_at(e, Q_SIM_STATS_REFERRER_SUCCESSFUL, referrer, p->id, at)
						    : count_query(e, Q_STATS_REFERRER_SUCCESSFUL, referrer, p->id)));
	if (!p->uses_stats || json_object_get(stats, "referrer_referrals"))
		return;
	struct store_stmt *st = store_query(e->st, Q_STATS_REFERRER_REWARDS_SINCE);
	store_bind_text(st, 1, referrer);
	store_bind_text(st, 2, p->id);
	/* the year the reward would be earned in, as the limits count it: the purchase's
	 * (occurred_at, never later than its ingest), not the one it is ingested in */
	int64_t when = at ? at->ingested_at : fftime_now();
	json_t *occurred = json_object_get(json_object_get(ctx, "conversion"), "occurred_at");
	if (json_is_integer(occurred) && json_integer_value(occurred) < when)
		when = json_integer_value(occurred);
	int year = fftime_year(when);
	store_bind_int(st, 3, fftime_year_start(year));
	store_bind_text(st, 4, p->currency);
	store_bind_int(st, 5, fftime_year_start(year + 1));
	int64_t rewards_year = store_step(st) == 1 ? store_col_int(st, 0) : 0;
	json_object_set_new(stats, "referrer_referrals",
			    json_integer(at ? count_at(e, Q_SIM_STATS_REFERRER_REFERRALS, referrer, p->id, at)
					    : count_query(e, Q_STATS_REFERRER_REFERRALS, referrer, p->id)));
	json_object_set_new(stats, "referrer_rewards_this_year", json_integer(rewards_year));
	json_object_set_new(stats, "referred_prior_conversions",
			    json_integer(at ? count_at(e, Q_SIM_STATS_PRIOR_CONVERSIONS, referred, NULL, at)
					    : count_query(e, Q_STATS_PRIOR_CONVERSIONS, referred, NULL)));
}

const char *rules_var_name(json_t *operand)
{
	json_t *v = json_is_object(operand) && json_object_size(operand) == 1
			? json_object_get(operand, "var")
			: NULL;
	if (json_is_array(v))
		v = json_array_get(v, 0);
	return json_string_value(v);
}

bool rules_is_literal(json_t *v)
{
	size_t i;
	json_t *each;
	json_array_foreach(v, i, each)
	{
		if (json_is_object(each) || json_is_array(each))
			return false;
	}
	return !json_is_object(v);
}

/* The two operands of a clause that compares two things ({"op": [a, b]}), with the
 * operator in *out_op; NULL for a clause of any other shape. Borrowed. */
json_t *rules_comparison_args(json_t *clause, const char **out_op)
{
	if (!json_is_object(clause) || json_object_size(clause) != 1)
		return NULL;
	json_t *args = json_object_iter_value(json_object_iter(clause));
	*out_op = json_object_iter_key(json_object_iter(clause));
	return json_is_array(args) && json_array_size(args) == 2 ? args : NULL;
}

/* Ends `s`, which snprintf may have cut, before a UTF-8 character it holds only part of
 * (a sentence must stay UTF-8 to be a JSON string). */
static void utf8_trim(char *s)
{
	size_t len = strlen(s), start = len;
	while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
		start--;
	if (start == 0)
		return;
	unsigned char lead = (unsigned char)s[start - 1];
	size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
	if (len - (start - 1) < need)
		s[start - 1] = '\0';
}

/* "conversion.amount (4000)" for a var, the JSON of its value for anything else. An
 * operand whose value is not `shown`: a var by its name alone, anything else by its
 * rule ("5000", or the expression it computes). */
static void describe_operand(json_t *rule, json_t *value, bool shown, char *out, size_t n)
{
	const char *var = rules_var_name(rule);
	if (var && !shown) {
		snprintf(out, n, "%s", var);
		return;
	}
	char *vs = jsonw_dumps(!shown ? rule : value ? value : json_null(), false);
	if (var)
		snprintf(out, n, "%s (%s)", var, vs ? vs : "null");
	else
		snprintf(out, n, "%s", vs ? vs : "null");
	free(vs);
	utf8_trim(out);
}

/* The sentence of a comparison clause: "conversion.amount (7500) >= 5000: true", from
 * its operands `args`, the values they had (`values`, [a, b]) and which of those to show. */
json_t *rules_comparison_text(const char *op, json_t *args, json_t *values, const bool shown[2],
			       bool ok)
{
	char side[2][256], text[600];
	for (size_t i = 0; i < 2; i++)
		describe_operand(json_array_get(args, i), json_array_get(values, i), shown[i],
				 side[i], sizeof(side[i]));
	snprintf(text, sizeof(text), "%s %s %s: %s", side[0], op, side[1], ok ? "true" : "false");
	utf8_trim(text);
	return json_string(text);
}

static json_t *explain_clause(json_t *clause, json_t *ctx, bool *out_ok, struct ff_diag *d, enum ff_err *err)
{
	json_t *res = NULL;
	*err = jsonlogic_apply(clause, ctx, &res, d);
	bool ok = !*err && jsonlogic_truthy(res);
	*out_ok = ok;
	json_t *entry = json_object();
	jset(entry, "rule", json_incref(clause));
	jset(entry, "result", json_boolean(ok));
	if (*err) {
		jset(entry, "error", json_string(d->message));
		return entry;
	}
	jset(entry, "value", res);
	/* a binary comparison gets a readable sentence */
	const char *op;
	json_t *args = rules_comparison_args(clause, &op);
	if (args) {
		static const bool every[2] = {true, true};
		json_t *va = NULL, *vb = NULL;
		struct ff_diag tmp;
		jsonlogic_apply(json_array_get(args, 0), ctx, &va, &tmp);
		jsonlogic_apply(json_array_get(args, 1), ctx, &vb, &tmp);
		json_t *values = json_array();
		json_array_append_new(values, va ? va : json_null());
		json_array_append_new(values, vb ? vb : json_null());
		jset(entry, "text", rules_comparison_text(op, args, values, every, ok));
		jset(entry, "values", values);
	}
	return entry;
}

enum ff_err rules_eligible(const struct program *p, json_t *ctx, bool *out_ok, json_t **out_clauses,
			   struct ff_diag *d)
{
	json_t *clauses = json_array();
	*out_ok = true;
	enum ff_err err = FF_OK;
	json_t *rule = p->eligibility;
	if (!rule || json_is_true(rule)) {
		*out_clauses = clauses;
		return FF_OK;
	}
	json_t *and = json_is_object(rule) && json_object_size(rule) == 1 ? json_object_get(rule, "and") : NULL;
	if (and && json_is_array(and)) {
		size_t i;
		json_t *c;
		json_array_foreach(and, i, c)
		{
			bool ok;
			json_array_append_new(clauses, explain_clause(c, ctx, &ok, d, &err));
			if (err)
				break;
			if (!ok)
				*out_ok = false;
		}
	} else {
		bool ok;
		json_array_append_new(clauses, explain_clause(rule, ctx, &ok, d, &err));
		*out_ok = ok;
	}
	if (err) {
		/* a rule that fails to evaluate makes nobody eligible; the explanation says why */
		*out_ok = false;
		err = FF_OK;
	}
	*out_clauses = clauses;
	return err;
}

/* The `failed` lines of an explanation that was not eligible, one a clause that failed:
 * its sentence (explain_clause). The notes (a conversion not in the program's
 * currency) come after them. New reference. */
json_t *rules_failed_lines(json_t *clauses)
{
	json_t *failed = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(clauses, i, c) if (!json_is_true(json_object_get(c, "result")))
	{
		json_t *t = json_object_get(c, "text");
		json_array_append_new(failed, t ? json_incref(t)
						: json_string("a rule clause evaluated to false"));
	}
	return failed;
}
