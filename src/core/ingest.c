/*
 * ingest.c - events, the single way in (SPEC §2): parsing and validating event
 * documents, dedup by event id forever, and the four event types. One event is one
 * savepoint inside the caller's transaction: the event row, the referral/conversion,
 * every reward, their ledger postings and audit records commit together or not at all.
 * engine_ingest() runs many events in one transaction (group commit, bulk ingest).
 *
 * This file holds the fields' validation helpers, the envelope of one event and the
 * loop over many; the event types' handlers are in ingest_referral.c (participant,
 * referral) and ingest_conversion.c (conversion, refund), sharing ingest_int.h.
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

/* ---- validation helpers: every error names its field ---- */

enum ff_err ingest_check_fields(json_t *obj, const char *path, const char *const *allowed, struct ff_diag *d)
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
enum ff_err ingest_str_field(json_t *obj, const char *k, bool required, size_t maxlen, const char **out,
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

enum ff_err ingest_amount_field(json_t *obj, const char *k, bool required, int64_t *out, bool *present,
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

enum ff_err ingest_id_field(json_t *obj, const char *k, bool required, const char **out, struct ff_diag *d)
{
	return ingest_str_field(obj, k, required, ID_MAX, out, d);
}

enum ff_err ingest_currency_field(json_t *obj, const char *k, bool required, const char **out, struct ff_diag *d)
{
	enum ff_err err = ingest_str_field(obj, k, required, 5, out, d);
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
bool ingest_email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || at[1] == '.' || at[strlen(at) - 1] == '.')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("<>,;:\"()[]\\", *p))
			return false;
	return true;
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
	enum ff_err err = ingest_check_fields(ev, "", fields, d);
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
		err = ingest_ev_participant(e, a, data, now, result, d);
	else if (!strcmp(type, "referral"))
		err = ingest_ev_referral(e, a, id, data, occurred, now, result, d);
	else if (!strcmp(type, "conversion"))
		err = ingest_ev_conversion(e, a, id, data, occurred, now, result, d);
	else if (!strcmp(type, "refund"))
		err = ingest_ev_refund(e, a, data, now, result, d);
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
