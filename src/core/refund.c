/*
 * refund.c - what a refund does to the rewards of its conversion (SPEC.md section 2,
 * "refund"): each program that rewarded the conversion judges its own rewards again on
 * the net amount, over the context it saw at the conversion; a reward that no longer
 * qualifies is cancelled (not yet paid) or reversed (paid: a clawback), a percentage
 * reward shrinks pro rata. ingest.c validates and records the refund event and calls
 * refund_apply(); batch.c and the connectors call it again for rewards that were held
 * (in a closed batch, or with an unknown delivery outcome) when the refund came.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

json_t *conversion_context(const char *text, const char *program)
{
	json_t *ctx = json_from_text(text, NULL);
	json_t *by = json_object_get(ctx, "by_program");
	if (!json_is_object(by))
		return json_is_object(ctx) ? ctx : (json_decref(ctx), NULL);
	json_t *mine = json_incref(json_object_get(by, program));
	json_decref(ctx);
	return json_is_object(mine) ? mine : (json_decref(mine), NULL);
}

/* Whether the rewards of `program` at `version` still qualify for a conversion whose
 * net amount is `net`, by that program's eligibility over the context it saw at the
 * conversion (`ctx_text`, conversion_context) with the amounts after refunds. -1 when
 * the version or its context cannot be read. */
static int still_eligible(struct engine *e, const char *ctx_text, const char *program, int version,
			  int64_t amount, int64_t refunded, struct ff_diag *d)
{
	const struct program *p = program_version_get(e, program, version);
	json_t *ctx = conversion_context(ctx_text, program);
	if (!p || !ctx) {
		json_decref(ctx);
		return -1;
	}
	int64_t net = amount - refunded;
	json_t *conv = json_object_get(ctx, "conversion");
	json_object_set_new(conv, "amount", json_integer(net));
	json_object_set_new(conv, "net_amount", json_integer(net));
	json_object_set_new(conv, "refunded_amount", json_integer(refunded));
	bool ok = net > 0;
	json_t *clauses = NULL;
	if (ok)
		rules_eligible(p, ctx, &ok, &clauses, d);
	json_decref(clauses);
	json_decref(ctx);
	return ok;
}

enum ff_err refund_apply(struct engine *e, const char *conversion, const char *reason, int64_t now,
			 const char *actor, json_t *out_changed, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_CONVERSION_GET);
	store_bind_text(st, 1, conversion);
	if (store_step(st) != 1)
		return ff_fail(d, FF_E_REF_NOT_FOUND, "data.conversion", "no conversion %s", conversion);
	int64_t amount = store_col_int(st, 2), refunded = store_col_int(st, 8);
	int64_t net = amount - refunded;
	if (store_col_null(st, 10) || refunded == 0)
		return FF_OK; /* earned nothing, or nothing refunded: nothing to undo */
	char last_reason[16];
	if (!reason) { /* applied later: the reason of the conversion's last refund */
		copy_str(last_reason, sizeof(last_reason), store_col_null(st, 15) ? "refund" : store_col_text(st, 15));
		reason = last_reason;
	}
	char program[ID_MAX + 1];
	copy_str(program, sizeof(program), store_col_text(st, 10));
	int version = (int)store_col_int(st, 11);
	char *ctx_text = ff_strdup(store_col_text(st, 14) ? store_col_text(st, 14) : "{}");
	/* each program that rewarded the conversion judges its own rewards (a conversion
	 * can earn in several programs, each with its own eligibility) */
	int conv_ok = still_eligible(e, ctx_text, program, version, amount, refunded, d);
	if (conv_ok < 0) {
		free(ctx_text);
		return ff_fail(d, FF_E_INTERNAL, NULL, "program %s version %d of conversion %s is missing", program,
			       version, conversion);
	}

	json_t *ids = core_texts_of(e, Q_REWARD_IDS_BY_CONVERSION, conversion);
	enum ff_err err = FF_OK;
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		struct reward r;
		if ((err = reward_load(e, json_string_value(v), &r, d)))
			break;
		int r_ok = conv_ok;
		if (strcmp(r.program, program) || r.program_version != version) {
			r_ok = still_eligible(e, ctx_text, r.program, (int)r.program_version, amount, refunded, d);
			if (r_ok < 0) /* a conversion stored before contexts were kept per program */
				r_ok = conv_ok;
		}
		bool ok = r_ok;
		bool paid = !strcmp(r.status, "fulfilled") || !strcmp(r.status, "reconciled");
		bool open = !strcmp(r.status, "pending") || !strcmp(r.status, "review") ||
			    !strcmp(r.status, "approved") || !strcmp(r.status, "failed");
		if (!paid && !open)
			continue; /* cancelled, reversed, expired, or issuing (left to the worker) */
		enum batch_hold hold = batch_hold_of(e, &r);
		if (hold == BATCH_LOCKED)
			continue; /* being paid: engine_batch_fulfill applies the refund afterwards */
		if (reward_outcome_unknown(&r))
			continue; /* maybe paid: the answer that settles it applies the refund (connector.c) */
		if (hold == BATCH_OPEN && (!ok || (r.has_rate && rules_percent_amount(net, r.rate_bp, r.has_max,
											   r.max_amount) < r.amount)) &&
		    (err = batch_release_reward(e, &r, d)))
			break; /* a reward that changes leaves its open batch */
		if (!ok) {
			if (paid && !strcmp(r.connector, "ledger") &&
			    (err = ledger_clawback(e, &r, r.amount, now, d)))
				break;
			err = reward_transition(e, &r, paid ? "reversed" : "cancelled", reason, actor, d);
			if (err)
				break;
			json_array_append_new(out_changed, json_pack("{s:s, s:s}", "reward", r.id, "status", r.status));
			continue;
		}
		if (!r.has_rate)
			continue; /* fixed amounts do not change */
		int64_t next = rules_percent_amount(net, r.rate_bp, r.has_max, r.max_amount);
		if (next >= r.amount)
			continue;
		int64_t diff = r.amount - next;
		if (paid && !strcmp(r.connector, "ledger") && (err = ledger_clawback(e, &r, diff, now, d)))
			break;
		json_t *detail = json_pack("{s:I, s:I, s:s}", "from", (json_int_t)r.amount, "to", (json_int_t)next,
					   "reason", reason);
		r.amount = next;
		r.updated_at = now;
		err = reward_update(e, &r, d);
		if (!err)
			err = audit_append(e, actor, "reward.adjusted", r.id, detail, d);
		json_decref(detail);
		if (err)
			break;
		json_array_append_new(out_changed, json_pack("{s:s, s:s, s:I}", "reward", r.id, "status", r.status,
							     "amount", (json_int_t)r.amount));
	}
	json_decref(ids);
	free(ctx_text);
	return err;
}
