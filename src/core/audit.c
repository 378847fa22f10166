/*
 * audit.c - the tamper-evident audit log (SPEC §9).
 *
 * Each record is (seq, at, actor, action, target, detail, prev_hash, hash) where
 * hash = SHA-256 over the fields seq, at (decimal), actor, action, target, detail and
 * prev_hash, each preceded by its length (crypto_sha256_fields_hex), and prev_hash is
 * the previous record's hash (64 zeros for the first).
 * detail is stored as canonical JSON text (sorted keys, compact), so the hash input is
 * rebuilt byte for byte from the row. Changing, removing or reordering any record
 * breaks the chain at that record; `audit verify` names the first broken one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/jsonw.h"
#include "fulfill/crypto.h"

static const char genesis[65] = "0000000000000000000000000000000000000000000000000000000000000000";

char *audit_canonical(json_t *v)
{
	if (!v)
		return ff_strdup("{}");
	char *s = jsonw_dumps(v, true);
	if (!s)
		ff_oom();
	return s;
}

/* v in decimal, as "%lld" writes it (without printf's cost: four records per event),
 * at the end of buf; the start of the text. */
static const char *decimal(char buf[24], int64_t v)
{
	char *o = buf + 23;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	*o = '\0';
	do {
		*--o = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--o = '-';
	return o;
}

static void record_hash(int64_t seq, int64_t at, const char *actor, const char *action, const char *target,
			const char *detail, const char *prev, char out[65])
{
	char seqs[24], ats[24];
	const char *fields[] = {decimal(seqs, seq), decimal(ats, at), actor, action, target, detail, prev};
	crypto_sha256_fields_hex(fields, sizeof(fields) / sizeof(fields[0]), out);
}

static enum ff_err load_tail(struct engine *e, struct ff_diag *d)
{
	/* writers of the chain take turns: two transactions must not both extend the
	 * same tail */
	if (store_lock_chain(e->st))
		return core_store_fail(e, d, "audit lock");
	struct store_stmt *st = store_query(e->st, Q_AUDIT_TAIL);
	int rc = store_step(st);
	if (rc < 0)
		return core_store_fail(e, d, "audit tail");
	if (rc == 1) {
		e->audit_seq = store_col_int(st, 0);
		copy_str(e->audit_hash, sizeof(e->audit_hash), store_col_text(st, 1));
	} else {
		e->audit_seq = 0;
		copy_str(e->audit_hash, sizeof(e->audit_hash), genesis);
	}
	e->audit_cached = true;
	return FF_OK;
}

/* A record of a deferring transaction (core_defer), hashed and written at its end. */
struct audit_pending {
	char *actor, *action, *target, *detail;
	int64_t at;
};

static enum ff_err insert_record(struct engine *e, const char *actor, const char *action, const char *target,
				 char *text, int64_t at, struct ff_diag *d);

enum ff_err audit_append(struct engine *e, const char *actor, const char *action, const char *target,
			 json_t *detail, struct ff_diag *d)
{
	return audit_append_text(e, actor, action, target, audit_canonical(detail), d);
}

enum ff_err audit_append_text(struct engine *e, const char *actor, const char *action, const char *target,
			      char *detail, struct ff_diag *d)
{
	enum ff_err err;
	if (e->defer) {
		if (e->audit_npending == e->audit_cap) {
			e->audit_cap = e->audit_cap ? 2 * e->audit_cap : 64;
			e->audit_pending = ff_realloc(e->audit_pending, e->audit_cap * sizeof(*e->audit_pending));
		}
		e->audit_pending[e->audit_npending++] = (struct audit_pending){
			.actor = ff_strdup(actor), .action = ff_strdup(action), .target = ff_strdup(target),
			.detail = detail, .at = fftime_now()};
		return FF_OK;
	}
	if (!e->audit_cached && (err = load_tail(e, d))) {
		free(detail);
		return err;
	}
	return insert_record(e, actor, action, target, detail, fftime_now(), d);
}

enum ff_err audit_lock_deferred(struct engine *e, struct ff_diag *d)
{
	return e->audit_cached ? FF_OK : load_tail(e, d);
}

enum ff_err audit_flush_deferred(struct engine *e, struct ff_diag *d)
{
	enum ff_err err = FF_OK;
	if (e->audit_npending && !e->audit_cached)
		err = load_tail(e, d);
	for (size_t i = 0; i < e->audit_npending && !err; i++) {
		struct audit_pending *r = &e->audit_pending[i];
		err = insert_record(e, r->actor, r->action, r->target, r->detail, r->at, d);
		r->detail = NULL; /* insert_record freed it */
	}
	audit_drop_deferred(e);
	return err;
}

void audit_drop_deferred(struct engine *e)
{
	for (size_t i = 0; i < e->audit_npending; i++) {
		struct audit_pending *r = &e->audit_pending[i];
		free(r->actor);
		free(r->action);
		free(r->target);
		free(r->detail);
	}
	e->audit_npending = 0;
}

/* Append one record after the cached tail; frees `text`. */
static enum ff_err insert_record(struct engine *e, const char *actor, const char *action, const char *target,
				 char *text, int64_t at, struct ff_diag *d)
{
	int64_t seq = e->audit_seq + 1;
	char hash[65];
	record_hash(seq, at, actor, action, target, text, e->audit_hash, hash);
	struct store_stmt *st = store_query(e->st, Q_AUDIT_INSERT);
	store_bind_int(st, 1, seq);
	store_bind_int(st, 2, at);
	store_bind_text(st, 3, actor);
	store_bind_text(st, 4, action);
	store_bind_text(st, 5, target);
	store_bind_text(st, 6, text);
	store_bind_text(st, 7, e->audit_hash);
	store_bind_text(st, 8, hash);
	free(text);
	if (store_exec_ahead(st)) {
		e->audit_cached = false;
		return core_store_fail(e, d, "audit");
	}
	e->audit_seq = seq;
	memcpy(e->audit_hash, hash, sizeof(hash));
	return FF_OK;
}

enum ff_err engine_audit_verify(struct engine *e, json_t **out, struct ff_diag *d)
{
	char prev[65];
	copy_str(prev, sizeof(prev), genesis);
	int64_t expect = 1, n = 0, first_bad = 0;
	struct store_stmt *st = store_query(e->st, Q_AUDIT_ALL);
	int rc;
	while ((rc = store_step(st)) == 1) {
		int64_t seq = store_col_int(st, 0);
		const char *stored_prev = store_col_text(st, 6);
		const char *stored_hash = store_col_text(st, 7);
		char h[65];
		record_hash(seq, store_col_int(st, 1), store_col_text(st, 2), store_col_text(st, 3),
			    store_col_text(st, 4), store_col_text(st, 5), prev, h);
		n++;
		if (seq != expect || !stored_prev || strcmp(stored_prev, prev) || !stored_hash ||
		    strcmp(stored_hash, h)) {
			first_bad = seq;
			break;
		}
		memcpy(prev, h, sizeof(prev));
		expect = seq + 1;
	}
	if (rc < 0)
		return core_done(e, core_store_fail(e, d, "audit verify"));
	if (first_bad) {
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)first_bad);
		*out = json_pack("{s:b, s:I, s:s}", "ok", 0, "records", (json_int_t)(n - 1), "first_bad", id);
	} else {
		*out = json_pack("{s:b, s:I}", "ok", 1, "records", (json_int_t)n);
	}
	return core_done(e, FF_OK);
}

enum ff_err engine_audit_list(struct engine *e, const struct actor *a, const struct page *p, json_t **out,
			      struct ff_diag *d)
{
	int limit = page_limit(p);
	int64_t after = 0;
	if (p && p->starting_after) {
		char *end;
		after = strtoll(p->starting_after, &end, 10);
		if (*end || after < 0)
			return core_done(e, ff_fail(d, FF_E_INVALID, "starting_after",
						    "starting_after must be an audit record id"));
	}
	struct store_stmt *st = store_query(e->st, Q_AUDIT_PAGE);
	store_bind_int(st, 1, after);
	store_bind_int(st, 2, limit + 1);
	json_t *data = json_array();
	while (store_step(st) == 1) {
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)store_col_int(st, 0));
		json_array_append_new(
			data, json_pack("{s:s, s:o, s:s, s:s, s:s, s:o, s:s, s:s}", "id", id, "at",
					json_time(store_col_int(st, 1), true), "actor", store_col_text(st, 2),
					"action", store_col_text(st, 3), "target", store_col_text(st, 4), "detail",
					json_from_text(store_col_text(st, 5), "{}"), "prev_hash",
					store_col_text(st, 6), "hash", store_col_text(st, 7)));
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}
