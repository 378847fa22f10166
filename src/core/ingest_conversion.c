/*
 * ingest_conversion.c - the conversion and refund events (SPEC §2): a purchase judged
 * against the buyer's referrals (first or last touch per program) and each program's
 * rules, its rewards made; a refund recorded and handed to refund.c. ingest.c validates
 * the envelope, dedups the event and calls these in the event's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/jsonw.h"
#include "core/fraud.h"
#include "core/ingest.h"
#include "core/ingest_int.h"
#include "fulfill/crypto.h"
#include "fulfill/money.h"

/* ---- conversion ---- */

char *conversion_created_detail(int64_t amount, const char *currency, const char *participant,
				const json_t *rewards)
{
	struct ffbuf b;
	struct jsonw w;
	ffbuf_init(&b, 0);
	jsonw_init(&w, &b);
	jsonw_object_open(&w, NULL);
	jsonw_int(&w, "amount", amount);
	jsonw_string(&w, "currency", currency);
	jsonw_string(&w, "participant", participant);
	jsonw_value(&w, "rewards", rewards, true);
	jsonw_object_close(&w);
	return ffbuf_detach(&b, NULL);
}

enum ff_err ingest_ev_conversion(struct engine *e, const struct actor *a, const char *event_id, json_t *data,
				 int64_t occurred, int64_t now, json_t *result, struct ff_diag *d)
{
	static const char *const fields[] = {"id", "participant", "amount", "currency", "category",
					     "product", "attributes", NULL};
	enum ff_err err = ingest_check_fields(data, "data", fields, d);
	if (err)
		return err;
	const char *id, *participant, *currency, *category, *product;
	int64_t amount = 0;
	if ((err = ingest_id_field(data, "id", true, &id, d)) || (err = ingest_id_field(data, "participant", true, &participant, d)) ||
	    (err = ingest_amount_field(data, "amount", true, &amount, NULL, d)) ||
	    (err = ingest_currency_field(data, "currency", true, &currency, d)) ||
	    (err = ingest_str_field(data, "category", false, 128, &category, d)) ||
	    (err = ingest_str_field(data, "product", false, 128, &product, d)))
		return err;
	json_t *attrs = json_object_get(data, "attributes");
	if (attrs && !json_is_null(attrs) && !json_is_object(attrs))
		return ff_fail(d, FF_E_INVALID, "data.attributes", "data.attributes must be an object");
	/* three independent reads; on PostgreSQL they travel together */
	struct store_stmt *exists = store_query(e->st, Q_CONVERSION_EXISTS);
	store_bind_text(exists, 1, id);
	store_prefetch(exists);
	struct store_stmt *st = store_query(e->st, Q_REFERRALS_OF_REFERRED);
	store_bind_text(st, 1, participant);
	store_prefetch(st);
	if (!participant_exists(e, participant))
		return ff_fail(d, FF_E_REF_NOT_FOUND, "data.participant", "no participant %s", participant);
	if (store_step(exists) == 1)
		return ff_fail(d, FF_E_CONFLICT, "data.id", "conversion %s exists already", id);

	json_t *conv = json_object();
	jset(conv, "id", json_string(id));
	jset(conv, "amount", json_integer(amount));
	jset(conv, "net_amount", json_integer(amount));
	jset(conv, "refunded_amount", json_integer(0));
	jset(conv, "currency", json_string(currency));
	jset(conv, "category", jstr_or_null(category));
	jset(conv, "product", jstr_or_null(product));
	jset(conv, "occurred_at", json_integer(occurred));
	jset(conv, "attributes", json_is_object(attrs) ? json_incref(attrs) : json_object());
	/* attribution: among this person's referrals that are open or already earned (in
	 * time order), per program the first (first touch) or the last (last touch); the
	 * whole rows, which the eligibility context is made of. A referral that occurred
	 * after the purchase (the conversion event delivered late) did not bring it about:
	 * it is not a candidate (docs/programs.md) - when its time was given. A referral
	 * event without occurred_at took its ingest time (occurred_at = created_at), which
	 * only bounds when it happened: it keeps the benefit of the doubt, or a referral
	 * queued for a minute would lose the purchase its friend made meanwhile. */
	json_t *rewards = json_object_get(result, "rewards");
	json_t *firsts = json_object(), *lasts = json_object();
	bool later_only = false;
	while (store_step(st) == 1) {
		const char *prog = store_col_text(st, 1);
		if (store_col_int(st, 9) > occurred && store_col_int(st, 9) != store_col_int(st, 13)) {
			later_only = true;
			continue;
		}
		json_t *row = referral_row_copy(st);
		if (!json_object_get(firsts, prog))
			json_object_set(firsts, prog, row);
		json_object_set_new(lasts, prog, row);
	}
	json_t *explanations = json_array();
	const char *key;
	json_t *first;
	char conv_referral[ID_MAX + 1] = "", conv_program[ID_MAX + 1] = "";
	int conv_version = 0;
	json_t *conv_ctx = NULL;
	/* every evaluated program's context: a refund re-evaluates each program's rewards
	 * against what that program saw (conversion_context) */
	json_t *ctxs = json_object();
	json_object_foreach(firsts, key, first)
	{
		const struct program *p = program_active(e, key);
		if (!p || p->trigger_referral)
			continue;
		json_t *row = p->last_touch ? json_object_get(lasts, key) : first;
		const char *ref = json_string_value(json_array_get(row, 0));
		char referrer[ID_MAX + 1];
		copy_str(referrer, sizeof(referrer), json_string_value(json_array_get(row, 2)));
		bool successful;
		json_t *ctx = rules_context_of(e, p, row, conv, &successful);
		struct rule_input in = {.prog = p, .ctx = ctx, .referral = ref, .referrer = referrer,
					.referred = participant, .referral_successful = successful,
					.conversion = id, .conversion_amount = amount, .conversion_currency = currency,
					.now = now, .actor = a->label};
		json_t *expl = NULL;
		size_t before = json_array_size(rewards);
		err = rules_apply(e, &in, rewards, &expl, d);
		if (err) {
			json_decref(ctx);
			break;
		}
		json_array_append_new(explanations, expl);
		json_object_set(ctxs, p->id, ctx);
		bool earned = json_array_size(rewards) > before;
		if (earned && (err = ingest_mark_successful(e, ref, successful, a->label, now, d))) {
			json_decref(ctx);
			break;
		}
		/* the conversion records the program that rewarded it (or the first evaluated) */
		if (!conv_program[0] || earned) {
			copy_str(conv_referral, sizeof(conv_referral), ref);
			copy_str(conv_program, sizeof(conv_program), p->id);
			conv_version = p->version;
			json_decref(conv_ctx);
			conv_ctx = json_incref(ctx);
		}
		json_decref(ctx);
	}
	json_decref(lasts);
	json_decref(firsts);
	if (err) {
		json_decref(explanations);
		json_decref(conv);
		json_decref(conv_ctx);
		json_decref(ctxs);
		return err;
	}
	if (json_object_size(ctxs) > 1) {
		/* several programs: their contexts differ (referral, referrer, stats) */
		json_decref(conv_ctx);
		conv_ctx = json_pack("{s:o}", "by_program", ctxs);
	} else {
		json_decref(ctxs);
	}
	json_t *expl;
	if (json_array_size(explanations) == 0) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "participant %s has no open referral in an active program triggered by conversions%s",
			 participant, later_only ? " that occurred before this conversion" : "");
		expl = json_pack("{s:s, s:s, s:b, s:[s]}", "object", "explanation", "outcome", "no_referral", "eligible",
				 0, "failed", msg);
	} else if (json_array_size(explanations) == 1) {
		expl = json_incref(json_array_get(explanations, 0));
	} else {
		expl = json_pack("{s:s, s:s, s:O}", "object", "explanation", "outcome", "multiple_programs", "programs",
				 explanations);
	}
	json_decref(explanations);
	char *expl_text = jsonw_dumps(expl, false);
	char *ctx_text = conv_ctx ? jsonw_dumps(conv_ctx, false) : NULL;
	char *attr_text = jsonw_dumps(json_object_get(conv, "attributes"), true);
	json_decref(expl);
	json_decref(conv_ctx);
	json_decref(conv);
	st = store_query(e->st, Q_CONVERSION_INSERT);
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, participant);
	store_bind_int(st, 3, amount);
	store_bind_text(st, 4, currency);
	store_bind_text(st, 5, category);
	store_bind_text(st, 6, product);
	store_bind_text(st, 7, attr_text);
	store_bind_int(st, 8, occurred);
	store_bind_text(st, 9, conv_referral[0] ? conv_referral : NULL);
	store_bind_text(st, 10, conv_program[0] ? conv_program : NULL);
	store_bind_int_or_null(st, 11, conv_version, !conv_version);
	store_bind_text(st, 12, ctx_text);
	store_bind_text(st, 13, expl_text);
	store_bind_text(st, 14, event_id);
	store_bind_int(st, 15, now);
	err = store_exec_ahead(st) ? core_store_fail(e, d, "conversion") : FF_OK;
	free(expl_text);
	free(ctx_text);
	free(attr_text);
	if (!err) {
		err = audit_append_text(e, a->label, "conversion.created", id,
					conversion_created_detail(amount, currency, participant, rewards), d);
	}
	jset(result, "conversion", json_string(id));
	return err;
}

/* ---- refund ---- */

enum ff_err ingest_ev_refund(struct engine *e, const struct actor *a, json_t *data, int64_t now, json_t *result,
			     struct ff_diag *d)
{
	static const char *const fields[] = {"conversion", "amount", "reason", "id", NULL};
	enum ff_err err = ingest_check_fields(data, "data", fields, d);
	if (err)
		return err;
	const char *conversion, *reason, *rid;
	int64_t amount = 0;
	bool has_amount;
	if ((err = ingest_id_field(data, "conversion", true, &conversion, d)) ||
	    (err = ingest_amount_field(data, "amount", false, &amount, &has_amount, d)) ||
	    (err = ingest_str_field(data, "reason", false, 16, &reason, d)) || (err = ingest_id_field(data, "id", false, &rid, d)))
		return err;
	if (!reason)
		reason = "refund";
	if (strcmp(reason, "refund") && strcmp(reason, "chargeback"))
		return ff_fail(d, FF_E_INVALID, "data.reason", "data.reason must be \"refund\" or \"chargeback\"");
	struct store_stmt *st = store_query(e->st, Q_CONVERSION_GET);
	store_bind_text(st, 1, conversion);
	if (store_step(st) != 1)
		return ff_fail(d, FF_E_REF_NOT_FOUND, "data.conversion", "no conversion %s", conversion);
	int64_t total = store_col_int(st, 2), refunded = store_col_int(st, 8);
	int64_t left = total - refunded;
	if (!has_amount)
		amount = left;
	if (has_amount && amount == 0)
		return ff_fail(d, FF_E_INVALID_AMOUNT, "data.amount",
			       "data.amount must be a positive integer (minor units)");
	if (left <= 0)
		return ff_fail(d, FF_E_INVALID_AMOUNT, "data.amount",
			       "conversion %s is fully refunded already", conversion);
	if (amount > left)
		return ff_fail(d, FF_E_INVALID_AMOUNT, "data.amount",
			       "refund of %lld is more than the %lld left of conversion %s", (long long)amount,
			       (long long)left, conversion);
	st = store_query(e->st, Q_CONVERSION_ADD_REFUND);
	store_bind_int(st, 1, amount);
	store_bind_text(st, 2, reason);
	store_bind_text(st, 3, conversion);
	if (store_exec(st))
		return core_store_fail(e, d, "refund");
	json_t *detail = json_pack("{s:I, s:s}", "amount", (json_int_t)amount, "reason", reason);
	err = audit_append(e, a->label, "conversion.refunded", conversion, detail, d);
	json_decref(detail);
	if (err)
		return err;
	json_t *changed = json_array();
	err = refund_apply(e, conversion, reason, now, a->label, changed, d);
	json_object_set_new(result, "changed", changed);
	return err;
}
