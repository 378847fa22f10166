/*
 * governance.c - decisions people make about rewards and programs (SPEC §3, §7, §9):
 * bulk review in one transaction, and simulating a program version against past events
 * before anyone activates it. Re-encrypting under a new master key: keyrotation.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/ingest.h"

/* ---- bulk review ---- */

static void review_one(struct engine *e, const struct actor *a, const char *id, bool approve, const char *reason,
		       json_t *results, int64_t *ok)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_reward_action(e, a, id, approve ? REWARD_APPROVE : REWARD_REJECT, reason, &out, &d);
	if (!err) {
		(*ok)++;
		json_array_append_new(results, json_pack("{s:s, s:b, s:s, s:O}", "id", id, "ok", 1, "decision",
							 approve ? "approve" : "reject", "status",
							 json_object_get(out, "status")));
		json_decref(out);
	} else {
		json_array_append_new(results,
				      json_pack("{s:s, s:b, s:s, s:{s:s, s:s}}", "id", id, "ok", 0, "decision",
						approve ? "approve" : "reject", "error", "code", ff_err_code(err), "message",
						d.message));
	}
}

static enum ff_err check_ids(json_t *ids, const char *name, struct ff_diag *d)
{
	if (!ids || json_is_null(ids))
		return FF_OK;
	if (!json_is_array(ids) || json_array_size(ids) > 1000)
		return ff_fail(d, FF_E_INVALID, name, "%s must be an array of at most 1000 reward ids", name);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > ID_MAX) {
			char p[48];
			snprintf(p, sizeof(p), "%s[%zu]", name, i);
			return ff_fail(d, FF_E_INVALID, p, "%s must be a reward id", p);
		}
	}
	return FF_OK;
}

enum ff_err engine_rewards_review(struct engine *e, const struct actor *a, json_t *approve, json_t *reject,
				  const char *reason, json_t **out, struct ff_diag *d)
{
	enum ff_err err;
	if ((err = check_ids(approve, "approve", d)) || (err = check_ids(reject, "reject", d)))
		return core_done(e, err);
	if (json_array_size(approve) + json_array_size(reject) == 0)
		return core_done(e, ff_fail(d, FF_E_INVALID, "approve", "name at least one reward to approve or reject"));
	if ((err = core_begin(e, d)))
		return core_done(e, err);
	json_t *results = json_array();
	int64_t approved = 0, rejected = 0;
	size_t i;
	json_t *v;
	/* each decision is its own savepoint inside the one transaction */
	json_array_foreach(approve, i, v) review_one(e, a, json_string_value(v), true, reason, results, &approved);
	json_array_foreach(reject, i, v) review_one(e, a, json_string_value(v), false, reason, results, &rejected);
	err = core_end(e, FF_OK, d);
	if (err) {
		json_decref(results);
		return core_done(e, err);
	}
	int64_t failed = (int64_t)json_array_size(results) - approved - rejected;
	*out = json_pack("{s:s, s:o, s:I, s:I, s:I}", "object", "review_result", "results", results, "approved",
			 (json_int_t)approved, "rejected", (json_int_t)rejected, "failed", (json_int_t)failed);
	return core_done(e, FF_OK);
}

/* ---- simulation ---- */

static void add_amount(json_t *amounts, const char *currency, int64_t amount)
{
	json_t *cur = json_object_get(amounts, currency);
	json_object_set_new(amounts, currency, json_integer(json_integer_value(cur) + amount));
}

static json_t *amounts_array(json_t *amounts)
{
	json_t *arr = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(amounts, k, v)
		json_array_append_new(arr, json_pack("{s:s, s:O}", "currency", k, "amount", v));
	return arr;
}

/* Totals of rewards (ids) as {"rewards":N,"amounts":[...]}; counted by type for the
 * ones without an amount (coupons, swag). */
static json_t *totals(struct engine *e, json_t *ids)
{
	json_t *amounts = json_object();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		struct reward r;
		if (reward_load(e, json_string_value(v), &r, NULL))
			continue;
		if (r.has_amount && r.currency[0])
			add_amount(amounts, r.currency, r.amount);
	}
	json_t *o = json_pack("{s:I, s:o}", "rewards", (json_int_t)json_array_size(ids), "amounts", amounts_array(amounts));
	json_decref(amounts);
	return o;
}

enum ff_err engine_program_simulate(struct engine *e, const struct actor *a, const char *id, int version,
				    int64_t from, int64_t to, json_t **out, struct ff_diag *d)
{
	if (to <= from)
		return core_done(e, ff_fail(d, FF_E_INVALID, "to", "\"to\" must be after \"from\""));
	const struct program *p = program_version_get(e, id, version);
	if (!p)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "program %s has no version %d", id, version));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	/* what the window actually produced, then take it away inside the transaction so
	 * limits and tiers see the same history the real ingest saw */
	json_t *actual_ids = json_array(), *sim_ids = json_array(), *changes = json_array();
	json_t *conversions = json_array();
	struct store_stmt *st = store_query(e->st, Q_SIM_CONVERSIONS);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, from);
	store_bind_int(st, 3, to);
	while (store_step(st) == 1)
		json_array_append_new(conversions,
				      json_pack("{s:s, s:s, s:I, s:s, s:s, s:s?, s:I, s:I}", "id", store_col_text(st, 0),
						"participant", store_col_text(st, 1), "amount", (json_int_t)store_col_int(st, 2),
						"currency", store_col_text(st, 3), "referral", store_col_text(st, 4), "context",
						store_col_text(st, 5), "seq", (json_int_t)store_col_int(st, 6), "created_at",
						(json_int_t)store_col_int(st, 7)));
	size_t i;
	json_t *c;
	json_array_foreach(conversions, i, c)
	{
		st = store_query(e->st, Q_REWARD_IDS_BY_CONVERSION);
		store_bind_text(st, 1, json_string_value(json_object_get(c, "id")));
		json_t *mine = json_array();
		while (store_step(st) == 1)
			json_array_append_new(mine, json_string(store_col_text(st, 0)));
		json_array_extend(actual_ids, mine);
		json_object_set_new(c, "actual", totals(e, mine));
		json_decref(mine);
	}
	json_t *actual = totals(e, actual_ids);
	size_t k;
	json_t *rid;
	json_array_foreach(actual_ids, k, rid)
	{
		st = store_query(e->st, Q_SIM_DELETE_REWARD);
		store_bind_text(st, 1, json_string_value(rid));
		if (store_exec(st)) {
			err = core_store_fail(e, d, "simulation");
			break;
		}
	}
	struct actor sim = *a;
	copy_str(sim.label, sizeof(sim.label), "simulation");
	json_array_foreach(conversions, i, c)
	{
		if (err)
			break;
		const char *ctx_text = json_string_value(json_object_get(c, "context"));
		json_t *ctx = conversion_context(ctx_text, id);
		if (!json_is_object(ctx)) {
			json_decref(ctx);
			continue;
		}
		/* stats the simulated version reads but the stored context lacks are
		 * computed as they stood when the conversion was ingested (not as they are
		 * now: the conversion itself, and everything after it, would count), and
		 * the rewards among them against the window's history as rebuilt so far */
		json_t *ref = json_object_get(ctx, "referral");
		json_t *rr = json_object_get(ctx, "referrer");
		struct stats_at at = {
			.conversion_seq = json_integer_value(json_object_get(c, "seq")),
			.ingested_at = json_integer_value(json_object_get(c, "created_at")),
			.referral = json_string_value(json_object_get(ref, "id")),
			.referral_successful = !strcmp(json_string_value(json_object_get(ref, "status")) ?: "", "successful"),
		};
		rules_fill_stats(e, p, ctx, &at);
		struct rule_input in = {
			.prog = p,
			.ctx = ctx,
			.referral = json_string_value(json_object_get(ref, "id")),
			.referrer = json_string_value(json_object_get(rr, "id")),
			.referred = json_string_value(json_object_get(c, "participant")),
			.referral_successful = !strcmp(json_string_value(json_object_get(ref, "status")) ?: "", "successful"),
			.conversion = json_string_value(json_object_get(c, "id")),
			.conversion_amount = json_integer_value(json_object_get(c, "amount")),
			.conversion_currency = json_string_value(json_object_get(c, "currency")),
			.now = json_integer_value(json_object_get(json_object_get(ctx, "conversion"), "occurred_at")),
			.actor = "simulation",
		};
		if (!in.referral || !in.referrer) {
			json_decref(ctx);
			continue;
		}
		json_t *ids = json_array(), *expl = NULL;
		err = rules_apply(e, &in, ids, &expl, d);
		json_decref(expl);
		json_decref(ctx);
		if (err) {
			json_decref(ids);
			break;
		}
		json_t *before = json_incref(json_object_get(c, "actual"));
		json_t *after = totals(e, ids);
		if (!json_equal(before, after) && json_array_size(changes) < 100)
			json_array_append_new(changes, json_pack("{s:O, s:O, s:O}", "conversion", json_object_get(c, "id"),
								 "actual", before, "simulated", after));
		json_decref(before);
		json_decref(after);
		json_array_extend(sim_ids, ids);
		json_decref(ids);
	}
	json_t *simulated = err ? NULL : totals(e, sim_ids);
	/* nothing of it stays */
	core_end(e, FF_E_INTERNAL, NULL);
	if (!err)
		*out = json_pack("{s:s, s:s, s:i, s:o, s:o, s:I, s:o, s:o, s:o}", "object", "simulation", "program", id,
				 "version", version, "from", json_time(from, true), "to", json_time(to, true), "conversions",
				 (json_int_t)json_array_size(conversions), "simulated", simulated, "actual", actual,
				 "changes", changes);
	else {
		json_decref(actual);
		json_decref(changes);
	}
	json_decref(conversions);
	json_decref(actual_ids);
	json_decref(sim_ids);
	return core_done(e, err);
}
