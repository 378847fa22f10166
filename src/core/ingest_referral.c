/*
 * ingest_referral.c - the participant and referral events (SPEC §2): a participant's
 * create or update, a referral's validation and recording with its fraud signals, and
 * the rewards a referral earns by itself (programs whose trigger is the referral).
 * ingest.c validates the envelope, dedups the event and calls these in the event's
 * transaction.
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

/* ---- participant ---- */

enum ff_err ingest_ev_participant(struct engine *e, const struct actor *a, json_t *data, int64_t now,
				  json_t *result, struct ff_diag *d)
{
	static const char *const fields[] = {"id", "email", "name", "country", "currency", "status",
					     "tax_form", "attributes", "device_id", "ip", NULL};
	enum ff_err err = ingest_check_fields(data, "data", fields, d);
	if (err)
		return err;
	struct participant_in in = {0};
	if ((err = ingest_id_field(data, "id", true, &in.id, d)) || (err = ingest_str_field(data, "email", false, 320, &in.email, d)) ||
	    (err = ingest_str_field(data, "name", false, 200, &in.name, d)) ||
	    (err = ingest_str_field(data, "country", false, 2, &in.country, d)) ||
	    (err = ingest_currency_field(data, "currency", false, &in.currency, d)) ||
	    (err = ingest_str_field(data, "status", false, 16, &in.status, d)) ||
	    (err = ingest_str_field(data, "tax_form", false, 16, &in.tax_form, d)) ||
	    (err = ingest_str_field(data, "device_id", false, 200, &in.device_id, d)) ||
	    (err = ingest_str_field(data, "ip", false, 64, &in.ip, d)))
		return err;
	if (in.email && !ingest_email_ok(in.email))
		return ff_fail(d, FF_E_INVALID, "data.email", "data.email is not an e-mail address");
	if (in.country && (strlen(in.country) != 2 || in.country[0] < 'A' || in.country[0] > 'Z' ||
			   in.country[1] < 'A' || in.country[1] > 'Z'))
		return ff_fail(d, FF_E_INVALID, "data.country", "data.country must be an ISO 3166-1 alpha-2 code (\"US\")");
	if (in.status && strcmp(in.status, "active") && strcmp(in.status, "inactive") && strcmp(in.status, "blocked"))
		return ff_fail(d, FF_E_INVALID, "data.status", "data.status must be active, inactive or blocked");
	if (in.tax_form && strcmp(in.tax_form, "none") && strcmp(in.tax_form, "w9") && strcmp(in.tax_form, "w8ben"))
		return ff_fail(d, FF_E_INVALID, "data.tax_form", "data.tax_form must be none, w9 or w8ben");
	json_t *attrs = json_object_get(data, "attributes");
	if (attrs && !json_is_null(attrs) && !json_is_object(attrs))
		return ff_fail(d, FF_E_INVALID, "data.attributes", "data.attributes must be an object");
	in.attributes = json_is_object(attrs) ? attrs : NULL;
	(void)result;
	return participant_upsert(e, &in, a->label, now, d);
}

/* ---- referral ---- */

static enum ff_err evaluate_referral_trigger(struct engine *e, const struct actor *a, const char *referral,
					     int64_t now, json_t *out_ids, struct ff_diag *d);

enum ff_err ingest_ev_referral(struct engine *e, const struct actor *a, const char *event_id, json_t *data,
			       int64_t occurred, int64_t now, json_t *result, struct ff_diag *d)
{
	static const char *const fields[] = {"id",	   "program", "referrer", "referred", "referred_email",
					     "code",	   "source",  "channel",  "affiliate", "ip",
					     "device_id", NULL};
	enum ff_err err = ingest_check_fields(data, "data", fields, d);
	if (err)
		return err;
	const char *id, *program, *referrer, *referred, *email, *code, *source, *channel, *affiliate, *ip, *device;
	if ((err = ingest_id_field(data, "id", false, &id, d)) || (err = ingest_id_field(data, "program", true, &program, d)) ||
	    (err = ingest_id_field(data, "referrer", true, &referrer, d)) ||
	    (err = ingest_id_field(data, "referred", false, &referred, d)) ||
	    (err = ingest_str_field(data, "referred_email", false, 320, &email, d)) ||
	    (err = ingest_str_field(data, "code", false, 128, &code, d)) ||
	    (err = ingest_str_field(data, "source", false, 64, &source, d)) ||
	    (err = ingest_str_field(data, "channel", false, 64, &channel, d)) ||
	    (err = ingest_str_field(data, "affiliate", false, 128, &affiliate, d)) ||
	    (err = ingest_str_field(data, "ip", false, 64, &ip, d)) || (err = ingest_str_field(data, "device_id", false, 200, &device, d)))
		return err;
	if (!source)
		source = channel;
	if (!referred && !email)
		return ff_fail(d, FF_E_INVALID, "data.referred", "data.referred or data.referred_email is required");
	if (email && !ingest_email_ok(email))
		return ff_fail(d, FF_E_INVALID, "data.referred_email", "data.referred_email is not an e-mail address");
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_GET);
	store_bind_text(st, 1, program);
	if (store_step(st) != 1)
		return ff_fail(d, FF_E_REF_NOT_FOUND, "data.program", "no program %s", program);
	if (!participant_exists(e, referrer))
		return ff_fail(d, FF_E_REF_NOT_FOUND, "data.referrer", "no participant %s", referrer);
	char ref_id[ID_MAX + 1], who[ID_MAX + 1];
	if (id)
		copy_str(ref_id, sizeof(ref_id), id);
	else
		snprintf(ref_id, sizeof(ref_id), "ref_%s", event_id);
	st = store_query(e->st, Q_REFERRAL_EXISTS);
	store_bind_text(st, 1, ref_id);
	if (store_step(st) == 1)
		return ff_fail(d, FF_E_CONFLICT, "data.id", "referral %s exists already", ref_id);
	/* the referred person: by id, else by e-mail, else a new participant */
	if (referred) {
		copy_str(who, sizeof(who), referred);
	} else if (!participant_find_by_email(e, email, who, sizeof(who))) {
		char h[65];
		participant_email_hash(e, email, h);
		snprintf(who, sizeof(who), "p_%.24s", h);
	}
	if (!strcmp(who, referrer))
		return ff_fail(d, FF_E_INVALID, "data.referred", "a participant cannot refer themselves");
	if (!participant_exists(e, who) || email || ip || device) {
		struct participant_in in = {.id = who, .email = email, .device_id = device, .ip = ip};
		if (participant_exists(e, who) && email) {
			/* never overwrite a known person's e-mail from someone else's referral */
			in.email = NULL;
		}
		if ((err = participant_upsert(e, &in, a->label, now, d)))
			return err;
	}
	/* fraud signals, by the program's active version's settings */
	json_t *signals = json_array();
	const struct program *p = program_active(e, program);
	if (p) {
		struct referral_facts facts = {.referrer = referrer, .referred = who, .referred_email = email,
					       .ip = ip, .device_id = device, .occurred_at = occurred};
		if ((err = fraud_referral_signals(e, p, &facts, signals))) {
			json_decref(signals);
			return err;
		}
	}
	const char *reject = fraud_first(signals, "reject");
	char reason[900] = ""; /* a signal and its detail (a blocklist one names two domains) */
	if (reject) {
		size_t i;
		json_t *sv;
		json_array_foreach(signals, i, sv) if (!strcmp(json_string_value(json_object_get(sv, "signal")), reject))
			snprintf(reason, sizeof(reason), "%s: %s", reject, json_string_value(json_object_get(sv, "detail")));
	}
	char *signals_text = jsonw_dumps(signals, false);
	st = store_query(e->st, Q_REFERRAL_INSERT);
	store_bind_text(st, 13, reject ? "rejected" : "pending");
	store_bind_text(st, 14, signals_text);
	store_bind_text(st, 15, reject ? reason : NULL);
	free(signals_text);
	store_bind_text(st, 1, ref_id);
	store_bind_text(st, 2, program);
	store_bind_text(st, 3, referrer);
	store_bind_text(st, 4, who);
	store_bind_text(st, 5, code);
	store_bind_text(st, 6, source);
	store_bind_text(st, 7, affiliate);
	store_bind_text(st, 8, ip);
	store_bind_text(st, 9, device);
	store_bind_int(st, 10, occurred);
	store_bind_text(st, 11, event_id);
	store_bind_int(st, 12, now);
	if (store_exec_ahead(st)) {
		json_decref(signals);
		return core_store_fail(e, d, "referral");
	}
	json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:O}", "program", program, "referrer", referrer, "referred",
				   who, "status", reject ? "rejected" : "pending", "signals", signals);
	err = audit_append(e, a->label, reject ? "referral.rejected" : "referral.created", ref_id, detail, d);
	json_decref(detail);
	if (err) {
		json_decref(signals);
		return err;
	}
	json_object_set_new(result, "referral", json_string(ref_id));
	if (json_array_size(signals))
		json_object_set(result, "signals", signals);
	if (reject) {
		/* rejected: no reward ever; the referral's explanation says why */
		json_object_set_new(result, "referral_status", json_string("rejected"));
		json_t *expl = json_pack("{s:s, s:s, s:b, s:O, s:[s]}", "object", "explanation", "outcome", "rejected",
					 "eligible", 0, "signals", signals, "failed", reason);
		char *text = jsonw_dumps(expl, false);
		json_decref(expl);
		st = store_query(e->st, Q_REFERRAL_SET_EXPLANATION);
		store_bind_text(st, 1, text);
		store_bind_text(st, 2, ref_id);
		err = store_exec_ahead(st) ? core_store_fail(e, d, "referral explanation") : FF_OK;
		free(text);
		json_decref(signals);
		return err;
	}
	json_decref(signals);
	return evaluate_referral_trigger(e, a, ref_id, now, json_object_get(result, "rewards"), d);
}

/* `was_successful`: the referral's status as read in this transaction. Writers of
 * events hold the audit chain lock from their first statement (ingest_one), so no other
 * ingest can have changed it since; nothing else makes a referral successful. */
enum ff_err ingest_mark_successful(struct engine *e, const char *referral, bool was_successful, const char *actor,
				   int64_t now, struct ff_diag *d)
{
	if (was_successful)
		return FF_OK;
	struct store_stmt *st = store_query(e->st, Q_REFERRAL_SET_STATUS);
	store_bind_text(st, 1, "successful");
	store_bind_int(st, 2, now);
	store_bind_text(st, 3, referral);
	if (store_exec_ahead(st))
		return core_store_fail(e, d, "referral status");
	return audit_append(e, actor, "referral.successful", referral, NULL, d);
}

static enum ff_err evaluate_referral_trigger(struct engine *e, const struct actor *a, const char *referral,
					     int64_t now, json_t *out_ids, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_REFERRAL_GET);
	store_bind_text(st, 1, referral);
	if (store_step(st) != 1)
		return core_store_fail(e, d, "referral");
	char program[ID_MAX + 1], referrer[ID_MAX + 1], referred[ID_MAX + 1];
	copy_str(program, sizeof(program), store_col_text(st, 1));
	copy_str(referrer, sizeof(referrer), store_col_text(st, 2));
	copy_str(referred, sizeof(referred), store_col_text(st, 3));
	json_t *row = referral_row_copy(st);
	const struct program *p = program_active(e, program);
	if (!p || !p->trigger_referral) {
		json_decref(row);
		return FF_OK;
	}
	bool successful;
	json_t *ctx = rules_context_of(e, p, row, NULL, &successful);
	json_decref(row);
	struct rule_input in = {.prog = p, .ctx = ctx, .referral = referral, .referrer = referrer,
				.referred = referred, .referral_successful = successful, .now = now,
				.actor = a->label};
	json_t *expl = NULL;
	size_t before = json_array_size(out_ids);
	enum ff_err err = rules_apply(e, &in, out_ids, &expl, d);
	json_decref(ctx);
	if (!err) {
		char *text = jsonw_dumps(expl, false);
		st = store_query(e->st, Q_REFERRAL_SET_EXPLANATION);
		store_bind_text(st, 1, text);
		store_bind_text(st, 2, referral);
		if (store_exec_ahead(st))
			err = core_store_fail(e, d, "referral explanation");
		free(text);
	}
	json_decref(expl);
	if (!err && json_array_size(out_ids) > before)
		err = ingest_mark_successful(e, referral, successful, a->label, now, d);
	return err;
}
