/*
 * ingest.c - events, the single way in (SPEC §2): parsing and validating event
 * documents, dedup by event id forever, and the four event types. One event is one
 * savepoint inside the caller's transaction: the event row, the referral/conversion,
 * every reward, their ledger postings and audit records commit together or not at all.
 * engine_ingest() runs many events in one transaction (group commit, bulk ingest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/jsonw.h"
#include "core/fraud.h"
#include "core/ingest.h"
#include "fulfill/crypto.h"
#include "fulfill/money.h"

/* ---- validation helpers: every error names its field ---- */

static enum ff_err check_fields(json_t *obj, const char *path, const char *const *allowed, struct ff_diag *d)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		(void)v;
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, k))
				ok = true;
		if (!ok) {
			char p[160];
			snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", k);
			return ff_fail(d, FF_E_UNKNOWN_FIELD, p, "unknown field \"%s\"", p);
		}
	}
	return FF_OK;
}

static bool text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* "data.<k>" into p[160] (as snprintf would, truncated), for the field's error path. */
static void data_path(char p[160], const char *k)
{
	size_t n = strnlen(k, 160 - 6);
	memcpy(p, "data.", 5);
	memcpy(p + 5, k, n);
	p[5 + n] = '\0';
}

/* A string field: *out is borrowed from the document (NULL when absent and optional). */
static enum ff_err str_field(json_t *obj, const char *k, bool required, size_t maxlen, const char **out,
			     struct ff_diag *d)
{
	char p[160];
	data_path(p, k);
	json_t *v = json_object_get(obj, k);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return ff_fail(d, FF_E_INVALID, p, "%s is required", p);
		return FF_OK;
	}
	if (!json_is_string(v))
		return ff_fail(d, FF_E_INVALID, p, "%s must be a string", p);
	size_t n = json_string_length(v);
	if (n == 0 || n > maxlen)
		return ff_fail(d, FF_E_INVALID, p, "%s must be 1 to %zu characters", p, maxlen);
	if (strlen(json_string_value(v)) != n || !text_ok(json_string_value(v)))
		return ff_fail(d, FF_E_INVALID, p, "%s must not contain control characters", p);
	*out = json_string_value(v);
	return FF_OK;
}

static enum ff_err amount_field(json_t *obj, const char *k, bool required, int64_t *out, bool *present,
				struct ff_diag *d)
{
	char p[160];
	data_path(p, k);
	json_t *v = json_object_get(obj, k);
	if (present)
		*present = false;
	if (!v || json_is_null(v)) {
		if (required)
			return ff_fail(d, FF_E_INVALID_AMOUNT, p, "%s is required", p);
		return FF_OK;
	}
	if (!json_is_integer(v))
		return ff_fail(d, FF_E_INVALID_AMOUNT, p, "%s must be an integer count of minor units", p);
	int64_t x = json_integer_value(v);
	if (x < 0)
		return ff_fail(d, FF_E_INVALID_AMOUNT, p, "%s must not be negative", p);
	if (x > MONEY_MAX)
		return ff_fail(d, FF_E_INVALID_AMOUNT, p, "%s is larger than %lld", p, (long long)MONEY_MAX);
	*out = x;
	if (present)
		*present = true;
	return FF_OK;
}

static enum ff_err id_field(json_t *obj, const char *k, bool required, const char **out, struct ff_diag *d)
{
	return str_field(obj, k, required, ID_MAX, out, d);
}

static enum ff_err currency_field(json_t *obj, const char *k, bool required, const char **out, struct ff_diag *d)
{
	enum ff_err err = str_field(obj, k, required, 5, out, d);
	if (err)
		return err;
	if (*out && !money_currency_valid(*out)) {
		char p[160];
		data_path(p, k);
		return ff_fail(d, FF_E_INVALID_CURRENCY, p, "unknown currency \"%s\"", *out);
	}
	return FF_OK;
}

/* One address as people write them (local@domain): one '@', something on each side,
 * and none of the characters that would let it grow into a list or a header on the
 * way to an SMTP server (white space, control characters, < > , ; : " ( ) [ ] \). The
 * quoted local parts RFC 5321 also allows are refused; nobody's sign-up form makes
 * them. */
static bool email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || at[1] == '.' || at[strlen(at) - 1] == '.')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("<>,;:\"()[]\\", *p))
			return false;
	return true;
}

/* ---- participant ---- */

static enum ff_err ev_participant(struct engine *e, const struct actor *a, json_t *data, int64_t now,
				  json_t *result, struct ff_diag *d)
{
	static const char *const fields[] = {"id", "email", "name", "country", "currency", "status",
					     "tax_form", "attributes", "device_id", "ip", NULL};
	enum ff_err err = check_fields(data, "data", fields, d);
	if (err)
		return err;
	struct participant_in in = {0};
	if ((err = id_field(data, "id", true, &in.id, d)) || (err = str_field(data, "email", false, 320, &in.email, d)) ||
	    (err = str_field(data, "name", false, 200, &in.name, d)) ||
	    (err = str_field(data, "country", false, 2, &in.country, d)) ||
	    (err = currency_field(data, "currency", false, &in.currency, d)) ||
	    (err = str_field(data, "status", false, 16, &in.status, d)) ||
	    (err = str_field(data, "tax_form", false, 16, &in.tax_form, d)) ||
	    (err = str_field(data, "device_id", false, 200, &in.device_id, d)) ||
	    (err = str_field(data, "ip", false, 64, &in.ip, d)))
		return err;
	if (in.email && !email_ok(in.email))
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

static enum ff_err ev_referral(struct engine *e, const struct actor *a, const char *event_id, json_t *data,
			       int64_t occurred, int64_t now, json_t *result, struct ff_diag *d)
{
	static const char *const fields[] = {"id",	   "program", "referrer", "referred", "referred_email",
					     "code",	   "source",  "channel",  "affiliate", "ip",
					     "device_id", NULL};
	enum ff_err err = check_fields(data, "data", fields, d);
	if (err)
		return err;
	const char *id, *program, *referrer, *referred, *email, *code, *source, *channel, *affiliate, *ip, *device;
	if ((err = id_field(data, "id", false, &id, d)) || (err = id_field(data, "program", true, &program, d)) ||
	    (err = id_field(data, "referrer", true, &referrer, d)) ||
	    (err = id_field(data, "referred", false, &referred, d)) ||
	    (err = str_field(data, "referred_email", false, 320, &email, d)) ||
	    (err = str_field(data, "code", false, 128, &code, d)) ||
	    (err = str_field(data, "source", false, 64, &source, d)) ||
	    (err = str_field(data, "channel", false, 64, &channel, d)) ||
	    (err = str_field(data, "affiliate", false, 128, &affiliate, d)) ||
	    (err = str_field(data, "ip", false, 64, &ip, d)) || (err = str_field(data, "device_id", false, 200, &device, d)))
		return err;
	if (!source)
		source = channel;
	if (!referred && !email)
		return ff_fail(d, FF_E_INVALID, "data.referred", "data.referred or data.referred_email is required");
	if (email && !email_ok(email))
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
static enum ff_err mark_successful(struct engine *e, const char *referral, bool was_successful, const char *actor,
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
		err = mark_successful(e, referral, successful, a->label, now, d);
	return err;
}

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

static enum ff_err ev_conversion(struct engine *e, const struct actor *a, const char *event_id, json_t *data,
				 int64_t occurred, int64_t now, json_t *result, struct ff_diag *d)
{
	static const char *const fields[] = {"id", "participant", "amount", "currency", "category",
					     "product", "attributes", NULL};
	enum ff_err err = check_fields(data, "data", fields, d);
	if (err)
		return err;
	const char *id, *participant, *currency, *category, *product;
	int64_t amount = 0;
	if ((err = id_field(data, "id", true, &id, d)) || (err = id_field(data, "participant", true, &participant, d)) ||
	    (err = amount_field(data, "amount", true, &amount, NULL, d)) ||
	    (err = currency_field(data, "currency", true, &currency, d)) ||
	    (err = str_field(data, "category", false, 128, &category, d)) ||
	    (err = str_field(data, "product", false, 128, &product, d)))
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
		if (earned && (err = mark_successful(e, ref, successful, a->label, now, d))) {
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

static enum ff_err ev_refund(struct engine *e, const struct actor *a, json_t *data, int64_t now, json_t *result,
			     struct ff_diag *d)
{
	static const char *const fields[] = {"conversion", "amount", "reason", "id", NULL};
	enum ff_err err = check_fields(data, "data", fields, d);
	if (err)
		return err;
	const char *conversion, *reason, *rid;
	int64_t amount = 0;
	bool has_amount;
	if ((err = id_field(data, "conversion", true, &conversion, d)) ||
	    (err = amount_field(data, "amount", false, &amount, &has_amount, d)) ||
	    (err = str_field(data, "reason", false, 16, &reason, d)) || (err = id_field(data, "id", false, &rid, d)))
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

/* ---- one event ---- */

enum ff_err engine_event_parse(const char *text, size_t len, json_t **out, struct ff_diag *d)
{
	if (len > EVENT_MAX)
		return ff_fail(d, FF_E_TOO_LARGE, NULL, "event is %zu bytes; the limit is %d", len, EVENT_MAX);
	json_error_t jerr;
	json_t *ev = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!ev) {
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			return ff_fail(d, FF_E_INVALID_UTF8, NULL, "event is not valid UTF-8");
		return ff_fail(d, FF_E_MALFORMED, NULL, "malformed JSON at line %d column %d: %s", jerr.line,
			       jerr.column, jerr.text);
	}
	*out = ev;
	return FF_OK;
}

/* `raw` is the event's text as received (stored as is), or NULL to store a
 * serialization of `ev`. */
static enum ff_err ingest_one(struct engine *e, const struct actor *a, json_t *ev, const char *raw, size_t raw_len,
			      json_t **out, bool *dup, struct ff_diag *d)
{
	static const char *const fields[] = {"id", "type", "occurred_at", "data", NULL};
	*dup = false;
	if (!json_is_object(ev))
		return ff_fail(d, FF_E_INVALID, NULL, "an event must be a JSON object");
	enum ff_err err = check_fields(ev, "", fields, d);
	if (err)
		return err;
	json_t *idv = json_object_get(ev, "id"), *typev = json_object_get(ev, "type");
	json_t *data = json_object_get(ev, "data"), *occ = json_object_get(ev, "occurred_at");
	if (!json_is_string(idv) || !json_string_length(idv) || json_string_length(idv) > ID_MAX ||
	    !text_ok(json_string_value(idv)))
		return ff_fail(d, FF_E_INVALID, "id", "id must be a string of 1 to %d characters", ID_MAX);
	if (!json_is_string(typev))
		return ff_fail(d, FF_E_INVALID, "type", "type must be participant, referral, conversion or refund");
	if (!json_is_object(data))
		return ff_fail(d, FF_E_INVALID, "data", "data must be an object");
	const char *id = json_string_value(idv), *type = json_string_value(typev);
	int64_t now = fftime_now(), occurred = now;
	if (occ && !json_is_null(occ)) {
		if (!json_is_string(occ) || fftime_parse(json_string_value(occ), &occurred))
			return ff_fail(d, FF_E_INVALID, "occurred_at", "occurred_at must be an RFC 3339 time");
	}
	/* Writers of events serialize here, before the dedup check: every event appends to
	 * the audit chain anyway, and holding its lock from the start means the check, the
	 * limits and the counters below see every event committed before this one; two
	 * servers handed the same event apply it once (SQLite: BEGIN IMMEDIATE already). */
	if (store_lock_chain(e->st))
		return core_store_fail(e, d, "audit lock");
	/* dedup forever: the same id answers what it answered the first time */
	struct store_stmt *st = store_query(e->st, Q_EVENT_GET);
	store_bind_text(st, 1, id);
	int rc = store_step(st);
	if (rc < 0)
		return core_store_fail(e, d, "event");
	if (rc == 1) {
		json_t *prev = json_from_text(store_col_text(st, 0), "{}");
		json_object_set_new(prev, "outcome", json_string("duplicate"));
		*out = prev;
		*dup = true;
		return FF_OK;
	}
	json_t *result = json_object();
	jset(result, "id", json_string(id));
	jset(result, "type", json_string(type));
	jset(result, "outcome", json_string("accepted"));
	jset(result, "rewards", json_array());
	if (!strcmp(type, "participant"))
		err = ev_participant(e, a, data, now, result, d);
	else if (!strcmp(type, "referral"))
		err = ev_referral(e, a, id, data, occurred, now, result, d);
	else if (!strcmp(type, "conversion"))
		err = ev_conversion(e, a, id, data, occurred, now, result, d);
	else if (!strcmp(type, "refund"))
		err = ev_refund(e, a, data, now, result, d);
	else
		err = ff_fail(d, FF_E_INVALID, "type", "unknown event type \"%s\"", type);
	if (!err) {
		char *res = jsonw_dumps(result, false);
		char *body = raw ? NULL : jsonw_dumps(ev, true);
		if (raw) {
			body = ff_malloc(raw_len + 1);
			memcpy(body, raw, raw_len);
			body[raw_len] = '\0';
		}
		if (!strcmp(type, "participant") || !strcmp(type, "referral")) {
			/* these carry e-mails and names: kept sealed like the participant row */
			char *sealed = crypto_seal(e->cfg.master_key, body);
			free(body);
			body = sealed;
		}
		st = store_query(e->st, Q_EVENT_INSERT);
		store_bind_text(st, 1, id);
		store_bind_text(st, 2, type);
		store_bind_text(st, 3, res);
		store_bind_int(st, 4, occurred);
		store_bind_int(st, 5, now);
		store_bind_text(st, 6, body);
		/* sent ahead: a unique violation (the same event committed by another
		 * transaction meanwhile) then fails the event later, as a conflict that runs
		 * again (ingest_item) */
		if (store_exec_ahead(st))
			err = store_unique_violation(e->st)
				      ? ff_fail(d, FF_E_CONFLICT, "id", "event %s is being ingested concurrently", id)
				      : core_store_fail(e, d, "event");
		free(res);
		free(body);
	}
	if (err) {
		json_decref(result);
		return err;
	}
	*out = result;
	return FF_OK;
}

/* ingest_one() of `ev`, then the idempotency record of the item when it carries one. */
static enum ff_err ingest_recorded(struct engine *e, const struct actor *a, json_t *ev, json_t *parsed,
				   struct ingest_item *it)
{
	bool dup;
	enum ff_err err = ingest_one(e, a, ev, parsed ? NULL : it->text, it->len, &it->result, &dup, &it->diag);
	if (!err && it->idem_scope) {
		char *body = jsonw_dumps(it->result, false);
		err = engine_idem_store(e, it->idem_scope, it->idem_key, it->idem_fingerprint, 200, body);
		free(body);
		if (err)
			ff_fail(&it->diag, err, NULL, "could not store the idempotency record");
	}
	return err;
}

/* One event in its own savepoint; on success also the idempotency record. Returns true
 * when the event lost a race with another transaction (deadlock, serialization
 * failure, unique violation): it left nothing behind and may run again.
 *
 * Without `savepoint` (the optimistic first round) the event runs directly in the
 * chunk's transaction: a savepoint makes SQLite copy every page an event touches into
 * a sub-journal, several times the cost of the event itself. An event rejected before
 * it wrote anything (validation, unknown references: nearly every rejection) needs no
 * undo; one that failed after writing sets *out_dirty, and the caller rolls the whole
 * chunk back and runs it again with a savepoint per event. */
static bool ingest_item(struct engine *e, const struct actor *a, struct ingest_item *it, json_t *parsed,
			bool savepoint, bool *out_dirty)
{
	ff_diag_clear(&it->diag);
	it->result = NULL;
	bool conflict = false;
	json_t *ev = parsed ? json_incref(parsed) : json_incref(it->parsed);
	enum ff_err err = ev ? FF_OK : engine_event_parse(it->text, it->len, &ev, &it->diag);
	if (!err && !savepoint) {
		int64_t before = store_total_changes(e->st);
		err = ingest_recorded(e, a, ev, parsed, it);
		/* a write sent ahead by an earlier event may be what failed here */
		if (store_ahead_failed(e->st)) {
			err = core_store_fail(e, &it->diag, "write");
			*out_dirty = true;
		}
		if (err && (store_total_changes(e->st) != before || err == FF_E_STORE || err == FF_E_UNAVAILABLE ||
			    err == FF_E_INTERNAL || err == FF_E_IDEM_IN_USE || store_unique_violation(e->st)))
			*out_dirty = true;
		if (err && it->result) {
			json_decref(it->result);
			it->result = NULL;
		}
		json_decref(ev);
		it->err = err;
		return false;
	}
	if (!err)
		err = core_begin(e, &it->diag);
	if (!err) {
		err = ingest_recorded(e, a, ev, parsed, it);
		/* the event's writes sent ahead are answered here, so that one that failed
		 * fails this event alone (and a lost race runs again) */
		if (!err ? store_sync(e->st) != FF_OK : store_ahead_failed(e->st))
			err = core_store_fail(e, &it->diag, "write");
		/* judged before the rollback, which clears the store's last error */
		conflict = err && (store_unique_violation(e->st) || core_retryable(e, err));
		err = core_end(e, err, &it->diag);
		if (err && it->result) {
			json_decref(it->result);
			it->result = NULL;
		}
	}
	json_decref(ev);
	it->err = err;
	return conflict;
}

/* Run the events in one transaction. Events that lost a race run again in a new
 * transaction once this one committed (by then the other side has committed or rolled
 * back: a second delivery of the same event now answers "duplicate" with the first's
 * result); a transaction that failed as a whole for a transient reason runs again
 * whole. Both at most CORE_TX_RETRIES times. `parsed` is the one event of a
 * single-item call, or NULL. */
static enum ff_err ingest_rounds(struct engine *e, const struct actor *a, struct ingest_item *items, size_t n,
				 json_t *parsed, struct ff_diag *d)
{
	bool *again = ff_calloc(n ? n : 1, sizeof(bool));
	for (size_t i = 0; i < n; i++)
		again[i] = true;
	enum ff_err err = FF_OK;
	/* first optimistically without savepoints; see ingest_item */
	err = core_begin(e, d);
	if (!err) {
		bool dirty = false;
		for (size_t i = 0; i < n && !dirty; i++)
			ingest_item(e, a, &items[i], parsed, false, &dirty);
		/* the last event's writes sent ahead are answered before the commit: one that
		 * failed is that event's failure, judged like any other */
		if (!dirty && store_sync(e->st))
			dirty = true;
		if (!dirty) {
			err = core_end(e, FF_OK, d);
			if (!err || !core_retryable(e, err)) {
				free(again);
				return err;
			}
		} else {
			core_end(e, FF_E_INTERNAL, NULL); /* undo the chunk: it runs again below */
		}
		for (size_t i = 0; i < n; i++) {
			json_decref(items[i].result);
			items[i].result = NULL;
		}
	}
	err = FF_OK;
	for (int round = 0;; round++) {
		bool conflicts = false;
		err = core_begin(e, d);
		if (!err) {
			for (size_t i = 0; i < n; i++)
				if (again[i])
					conflicts |= again[i] = ingest_item(e, a, &items[i], parsed, true, NULL);
			err = core_end(e, FF_OK, d);
		}
		if (round == CORE_TX_RETRIES)
			break;
		if (err && core_retryable(e, err)) {
			/* nothing of it was stored: every event again */
			for (size_t i = 0; i < n; i++) {
				json_decref(items[i].result);
				items[i].result = NULL;
				again[i] = true;
			}
		} else if (err || !conflicts) {
			break;
		}
		core_retry_pause(round);
	}
	free(again);
	return err;
}

enum ff_err engine_ingest(struct engine *e, const struct actor *a, struct ingest_item *items, size_t n,
			  struct ff_diag *d)
{
	enum ff_err err = ingest_rounds(e, a, items, n, NULL, d);
	if (err) {
		/* the whole transaction is gone: nothing of it was stored */
		for (size_t i = 0; i < n; i++) {
			json_decref(items[i].result);
			items[i].result = NULL;
			items[i].err = err;
			ff_fail(&items[i].diag, err, NULL, "%s", d ? d->message : "transaction failed");
		}
	}
	return core_done(e, err);
}

enum ff_err engine_ingest_json(struct engine *e, const struct actor *a, json_t *event, json_t **out,
			       struct ff_diag *d)
{
	struct ingest_item it = {0};
	enum ff_err err = ingest_rounds(e, a, &it, 1, event, d);
	if (!err && it.err) {
		if (d)
			*d = it.diag;
		err = it.err;
	}
	if (!err)
		*out = it.result;
	else
		json_decref(it.result);
	return core_done(e, err);
}
