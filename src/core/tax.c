/*
 * tax.c - tax-reportable payouts (SPEC §8): the reportable reward types (cash and
 * gift_card by default), thresholds per country (US $600 by default), the hold that
 * keeps a reward pending with reason tax_form_required while its participant has no
 * tax form and its reportable total this calendar year would reach the threshold, and
 * the 1099-style per-participant report.
 *
 * The hold is decided by tax_form_required() (rules.c calls it when a reward is created)
 * and tax_hold() (the worker's release loop, for rewards that were pending anyway).
 * engine_participant_tax_form() releases held rewards when a form is recorded.
 *
 * "This year's reportable total" counts the participant's reportable rewards that were
 * paid this calendar year (UTC, by fulfilled_at) or are not paid yet (they will be paid
 * this year), excluding cancelled, reversed and expired ones, each converted into the
 * threshold's currency with the fx table. A currency without a rate does not count (the
 * engine cannot value it; docs/finance.md says so) rather than block payouts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/money.h"

static bool scoped(const struct actor *a)
{
	return a->participant[0] || a->fulfiller[0];
}

static bool type_reportable(struct engine *e, const char *type)
{
	/* asked for every reward created: the answer per type is kept for the transaction */
	int t = reward_type_parse(type);
	if (t >= 0 && core_tx_cached(e, e->tax_types_gen))
		return e->tax_reportable[t];
	if (t >= 0 && store_depth(e->st) > 0) {
		for (int i = 0; i < RT__COUNT; i++) {
			struct store_stmt *st = store_query(e->st, Q_TAX_TYPE_REPORTABLE);
			store_bind_text(st, 1, reward_type_names[i]);
			e->tax_reportable[i] = store_step(st) == 1;
		}
		e->tax_types_gen = e->tx_gen;
		return e->tax_reportable[t];
	}
	struct store_stmt *st = store_query(e->st, Q_TAX_TYPE_REPORTABLE);
	store_bind_text(st, 1, type);
	return store_step(st) == 1;
}

/* Threshold of a country: false when it has none. */
static bool threshold_of(struct engine *e, const char *country, int64_t *amount, char currency[8])
{
	if (!country || !*country)
		return false;
	struct store_stmt *st = store_query(e->st, Q_TAX_THRESHOLD_GET);
	store_bind_text(st, 1, country);
	if (store_step(st) != 1)
		return false;
	*amount = store_col_int(st, 0);
	copy_str(currency, 8, store_col_text(st, 1));
	return true;
}

static bool required(struct engine *e, const char *participant, const char *type, int64_t amount,
		     const char *currency, int64_t now, const char *exclude)
{
	if (!participant || !type || !type_reportable(e, type))
		return false;
	struct store_stmt *st = store_query(e->st, Q_TAX_PARTICIPANT);
	store_bind_text(st, 1, participant);
	if (store_step(st) != 1)
		return false;
	char country[8], form[16];
	copy_str(country, sizeof(country), store_col_text(st, 0));
	copy_str(form, sizeof(form), store_col_text(st, 1));
	if (strcmp(form, "none"))
		return false;
	int64_t threshold;
	char tcur[8];
	if (!threshold_of(e, country, &threshold, tcur))
		return false;
	int64_t total = 0, v;
	if (currency && *currency && fx_convert(e, amount, currency, tcur, &v))
		total = money_add_sat(total, v);
	int year = fftime_year(now);
	st = store_query(e->st, Q_TAX_YEAR_TOTALS);
	store_bind_text(st, 1, participant);
	store_bind_text(st, 2, exclude ? exclude : "");
	store_bind_int(st, 3, fftime_year_start(year));
	store_bind_int(st, 4, fftime_year_start(year + 1));
	while (store_step(st) == 1) {
		char cur[8];
		copy_str(cur, sizeof(cur), store_col_text(st, 0));
		if (*cur && fx_convert(e, store_col_int(st, 1), cur, tcur, &v))
			total = money_add_sat(total, v);
	}
	return total >= threshold;
}

bool tax_form_required(struct engine *e, const char *participant, const char *type, int64_t amount,
		       const char *currency, int64_t now)
{
	return required(e, participant, type, amount, currency, now, NULL);
}

bool tax_form_required_for(struct engine *e, const struct reward *r, int64_t now)
{
	return r->has_amount && required(e, r->participant, r->type, r->amount, r->currency, now, r->id);
}

enum ff_err tax_hold(struct engine *e, struct reward *r, const char *actor, int64_t now, bool *out_held,
		     struct ff_diag *d)
{
	*out_held = false;
	if (strcmp(r->status, "pending") || !r->has_amount ||
	    !required(e, r->participant, r->type, r->amount, r->currency, now, r->id))
		return FF_OK;
	char was[96];
	copy_str(was, sizeof(was), r->reason);
	copy_str(r->reason, sizeof(r->reason), "tax_form_required");
	r->updated_at = now;
	enum ff_err err = reward_update(e, r, d);
	if (err)
		return err;
	struct store_stmt *st = store_query(e->st, Q_HISTORY_INSERT);
	store_bind_text(st, 1, r->id);
	store_bind_text(st, 2, "pending");
	store_bind_text(st, 3, "pending");
	store_bind_text(st, 4, actor);
	store_bind_text(st, 5, "tax_form_required");
	store_bind_int(st, 6, now);
	if (store_exec(st))
		return core_store_fail(e, d, "reward history");
	json_t *detail = json_pack("{s:s, s:s}", "from_reason", was, "reason", "tax_form_required");
	err = audit_append(e, actor, "reward.held", r->id, detail, d);
	json_decref(detail);
	if (!err) /* the "tax form needed" e-mail (outbox.c) */
		err = outbox_reward_changed(e, r, "pending", "pending", d);
	if (!err)
		*out_held = true;
	return err;
}

enum ff_err tax_release(struct engine *e, struct reward *r, const char *actor, int64_t now, struct ff_diag *d)
{
	const char *why;
	const char *to = reward_release_status(r, now, &why);
	if (strcmp(to, "pending"))
		return reward_transition(e, r, to, why, actor, d);
	copy_str(r->reason, sizeof(r->reason), why); /* its hold or payout day is still to come */
	r->updated_at = now;
	return reward_update(e, r, d);
}

/* Every reward held for a tax form, judged again at `now`: the ones whose total no
 * longer reaches the threshold go on. In the caller's transaction. */
static enum ff_err recheck_held(struct engine *e, const char *actor, int64_t now, int64_t *released,
				struct ff_diag *d)
{
	json_t *ids = json_array();
	enum ff_err err = core_collect_ids(e, store_query(e->st, Q_REWARDS_TAX_HELD), ids, "tax holds", d);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		struct reward r;
		if (err || (err = reward_load(e, json_string_value(v), &r, d)))
			break;
		if (strcmp(r.status, "pending") || strcmp(r.reason, "tax_form_required") ||
		    tax_form_required_for(e, &r, now))
			continue;
		if ((err = tax_release(e, &r, actor, now, d)))
			break;
		(*released)++;
	}
	json_decref(ids);
	return err;
}

enum ff_err tax_holds_recheck(struct engine *e, const char *actor, int64_t now, int64_t *released,
			      struct ff_diag *d)
{
	/* the hold weighs the total of the year the reward is judged in: one held in
	 * December for that year's total is paid, and reported, in the next year, whose
	 * total starts again from what is paid (or due) in it */
	static const char key[] = "tax_holds_year";
	char year[16];
	snprintf(year, sizeof(year), "%d", fftime_year(now));
	struct store_stmt *st = store_query(e->st, Q_META_GET);
	store_bind_text(st, 1, key);
	if (store_step(st) == 1 && store_col_text(st, 0) && !strcmp(store_col_text(st, 0), year))
		return FF_OK; /* done for this year */
	enum ff_err err = core_begin(e, d);
	if (err)
		return err;
	st = store_query(e->st, Q_META_ADD);
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, "0");
	if (store_exec(st)) {
		err = core_store_fail(e, d, "tax holds year");
		goto end;
	}
	/* the row lock makes one worker (of several) do it */
	st = store_query(e->st, Q_META_ADVANCE);
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, year);
	if (store_exec(st))
		err = core_store_fail(e, d, "tax holds year");
	else if (store_changes(e->st) == 1)
		err = recheck_held(e, actor, now, released, d);
end:
	return core_end(e, err, d);
}

enum ff_err engine_tax_settings(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "tax settings are not in this key's scope"));
	json_t *thr = json_array(), *types = json_array();
	struct store_stmt *st = store_query(e->st, Q_TAX_THRESHOLD_LIST);
	while (store_step(st) == 1)
		json_array_append_new(thr, json_pack("{s:s, s:I, s:s}", "country", store_col_text(st, 0), "amount",
						     (json_int_t)store_col_int(st, 1), "currency",
						     store_col_text(st, 2)));
	st = store_query(e->st, Q_TAX_TYPES_LIST);
	while (store_step(st) == 1)
		json_array_append_new(types, json_string(store_col_text(st, 0)));
	*out = json_pack("{s:s, s:o, s:o}", "object", "tax_settings", "thresholds", thr, "reportable_types", types);
	return core_done(e, FF_OK);
}

enum ff_err engine_tax_threshold_set(struct engine *e, const struct actor *a, const char *country, int64_t amount,
				     const char *currency, json_t **out, struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "tax settings are not in this key's scope"));
	if (!country || strlen(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' ||
	    country[1] > 'Z')
		return core_done(e, ff_fail(d, FF_E_INVALID, "country", "country must be ISO 3166-1 alpha-2 (\"US\")"));
	if (amount < 0 || amount > MONEY_MAX)
		return core_done(e, ff_fail(d, FF_E_INVALID_AMOUNT, "amount", "amount must be 0..%lld minor units",
					    (long long)MONEY_MAX));
	if (amount && (!currency || !money_currency_valid(currency) || !strcmp(currency, "POINT")))
		return core_done(e, ff_fail(d, FF_E_INVALID_CURRENCY, "currency", "currency must be an ISO 4217 code"));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct store_stmt *st;
	if (amount) {
		st = store_query(e->st, Q_TAX_THRESHOLD_SET);
		store_bind_text(st, 1, country);
		store_bind_int(st, 2, amount);
		store_bind_text(st, 3, currency);
		store_bind_int(st, 4, fftime_now());
	} else {
		st = store_query(e->st, Q_TAX_THRESHOLD_DELETE);
		store_bind_text(st, 1, country);
	}
	if (store_exec(st))
		err = core_store_fail(e, d, "tax threshold");
	/* a threshold raised or removed lifts the holds it no longer justifies, now */
	int64_t released = 0;
	if (!err)
		err = recheck_held(e, a->label, fftime_now(), &released, d);
	if (!err) {
		json_t *detail = json_pack("{s:I, s:s?}", "amount", (json_int_t)amount, "currency", amount ? currency : NULL);
		err = audit_append(e, a->label, "tax.threshold_set", country, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	return engine_tax_settings(e, a, out, d);
}

enum ff_err engine_tax_reportable_types_set(struct engine *e, const struct actor *a, json_t *types, json_t **out,
					    struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "tax settings are not in this key's scope"));
	if (!json_is_array(types))
		return core_done(e, ff_fail(d, FF_E_INVALID, "reportable_types", "reportable_types must be an array"));
	size_t i;
	json_t *v;
	json_array_foreach(types, i, v)
	{
		if (!json_is_string(v) || reward_type_parse(json_string_value(v)) < 0)
			return core_done(e, ff_fail(d, FF_E_INVALID, "reportable_types",
						    "reportable_types[%zu] is not a reward type", i));
	}
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	core_tx_forget(e);
	if (store_run(e->st, Q_TAX_TYPES_CLEAR))
		err = core_store_fail(e, d, "reportable types");
	json_array_foreach(types, i, v)
	{
		if (err)
			break;
		struct store_stmt *st = store_query(e->st, Q_TAX_TYPE_ADD);
		store_bind_text(st, 1, json_string_value(v));
		if (store_exec(st))
			err = core_store_fail(e, d, "reportable types");
	}
	/* so does a type that is no longer reportable */
	int64_t released = 0;
	if (!err)
		err = recheck_held(e, a->label, fftime_now(), &released, d);
	if (!err) {
		json_t *detail = json_pack("{s:O}", "reportable_types", types);
		err = audit_append(e, a->label, "tax.reportable_types_set", "tax", detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	return engine_tax_settings(e, a, out, d);
}

static json_t *str_or_null(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_incref(v) : json_null();
}

enum ff_err engine_report_tax(struct engine *e, const struct actor *a, int year, json_t **out, struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "the tax report is not in this key's scope"));
	if (year < 1970 || year > 9998)
		return core_done(e, ff_fail(d, FF_E_INVALID, "year", "year must be 1970..9998"));
	json_t *rows = json_array();
	struct store_stmt *st = store_query(e->st, Q_TAX_REPORT);
	store_bind_int(st, 1, fftime_year_start(year));
	store_bind_int(st, 2, fftime_year_start(year + 1));
	int rc;
	while ((rc = store_step(st)) == 1) {
		char buf[48];
		money_format(store_col_int(st, 2), store_col_text(st, 1), buf, sizeof(buf));
		/* rewards with an amount but no currency (a coupon's face value): null */
		json_array_append_new(rows,
				      json_pack("{s:s, s:s?, s:I, s:s, s:I}", "participant",
						store_col_text(st, 0), "currency",
						text_or_null(store_col_text(st, 1)), "amount",
						(json_int_t)store_col_int(st, 2), "amount_decimal",
						buf, "rewards", (json_int_t)store_col_int(st, 3)));
	}
	if (rc < 0) {
		json_decref(rows);
		return core_done(e, core_store_fail(e, d, "tax report"));
	}
	/* per participant: details, threshold, and the year's total in the threshold's currency */
	json_t *people = json_object();
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r)
	{
		const char *pid = json_string_value(json_object_get(r, "participant"));
		json_t *p = json_object_get(people, pid);
		if (!p) {
			json_t *pj = participant_json(e, pid);
			p = json_object();
			json_object_set_new(p, "name", pj ? str_or_null(pj, "name") : json_null());
			json_object_set_new(p, "email", pj ? str_or_null(pj, "email") : json_null());
			json_object_set_new(p, "country", pj ? str_or_null(pj, "country") : json_null());
			json_object_set_new(p, "tax_form", pj ? str_or_null(pj, "tax_form") : json_string("none"));
			json_decref(pj);
			int64_t thr;
			char tcur[8];
			const char *country = json_string_value(json_object_get(p, "country"));
			if (threshold_of(e, country, &thr, tcur)) {
				json_object_set_new(p, "threshold", json_integer(thr));
				json_object_set_new(p, "threshold_currency", json_string(tcur));
			} else {
				json_object_set_new(p, "threshold", json_null());
				json_object_set_new(p, "threshold_currency", json_null());
			}
			json_object_set_new(p, "total", json_integer(0));
			json_object_set_new(people, pid, p);
		}
		const char *tcur = json_string_value(json_object_get(p, "threshold_currency"));
		const char *cur = json_string_value(json_object_get(r, "currency"));
		int64_t v;
		if (tcur && cur &&
		    fx_convert(e, json_integer_value(json_object_get(r, "amount")), cur, tcur, &v))
			json_object_set_new(p, "total",
					    json_integer(money_add_sat(json_integer_value(json_object_get(p, "total")), v)));
	}
	json_array_foreach(rows, i, r)
	{
		json_t *p = json_object_get(people, json_string_value(json_object_get(r, "participant")));
		json_t *thr = json_object_get(p, "threshold");
		bool reached = json_is_integer(thr) &&
			       json_integer_value(json_object_get(p, "total")) >= json_integer_value(thr);
		const char *form = json_string_value(json_object_get(p, "tax_form"));
		json_object_set(r, "name", json_object_get(p, "name"));
		json_object_set(r, "email", json_object_get(p, "email"));
		json_object_set(r, "country", json_object_get(p, "country"));
		json_object_set(r, "tax_form", json_object_get(p, "tax_form"));
		json_object_set(r, "threshold", thr);
		json_object_set(r, "threshold_currency", json_object_get(p, "threshold_currency"));
		json_object_set_new(r, "threshold_reached", json_boolean(reached));
		json_object_set_new(r, "form_missing", json_boolean(reached && (!form || !strcmp(form, "none"))));
	}
	json_decref(people);
	json_t *cols = json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s]", "participant", "name", "email", "country", "tax_form",
				 "currency", "amount", "amount_decimal", "rewards", "threshold", "threshold_currency",
				 "threshold_reached", "form_missing");
	*out = json_pack("{s:s, s:i, s:o, s:o}", "object", "report.tax", "year", year, "columns", cols, "data", rows);
	return core_done(e, FF_OK);
}
