/*
 * keys.c - API keys (SPEC §9) and idempotency records (API.md).
 *
 * A key is "fk_<role>_<32 random base62><4 checksum>": the checksum rejects typos
 * before any lookup, and only its SHA-256 is stored. The public prefix names the key in
 * logs, audit records and revocation. Idempotency records keep the first response to a
 * (key prefix, Idempotency-Key) for 24 hours, written in the same transaction as the
 * effect they describe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/crypto.h"

#include <sodium.h>

#define IDEM_TTL_MS (24 * 3600 * INT64_C(1000))

enum ff_err engine_key_create(struct engine *e, const struct actor *a, const char *role, const char *name,
			      const char *participant, const char *fulfiller, json_t **out, struct ff_diag *d)
{
	int r = role_parse(role);
	if (r < 0)
		return core_done(e, ff_fail(d, FF_E_INVALID, "role",
					    "role must be admin, operator, finance, auditor, ingest, fulfiller or partner"));
	if (r == ROLE_PARTNER && (!participant || !*participant))
		return core_done(e, ff_fail(d, FF_E_INVALID, "participant", "a partner key needs a participant"));
	if (r == ROLE_FULFILLER && (!fulfiller || !*fulfiller))
		return core_done(e, ff_fail(d, FF_E_INVALID, "fulfiller", "a fulfiller key needs a fulfiller"));
	if (r != ROLE_PARTNER && participant && *participant)
		return core_done(e, ff_fail(d, FF_E_INVALID, "participant", "only partner keys take a participant"));
	if (r != ROLE_FULFILLER && fulfiller && *fulfiller)
		return core_done(e, ff_fail(d, FF_E_INVALID, "fulfiller", "only fulfiller keys take a fulfiller"));
	if (name && strlen(name) > 200)
		return core_done(e, ff_fail(d, FF_E_INVALID, "name", "name is longer than 200 characters"));
	if (r == ROLE_PARTNER && !participant_exists(e, participant))
		return core_done(e, ff_fail(d, FF_E_REF_NOT_FOUND, "participant", "no participant %s", participant));
	char key[96], prefix[48], hash[65];
	crypto_api_key_new(role, key, sizeof(key));
	crypto_api_key_prefix(key, prefix, sizeof(prefix));
	crypto_api_key_hash(key, hash);
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	int64_t now = fftime_now();
	struct store_stmt *st = store_query(e->st, Q_KEY_INSERT);
	store_bind_text(st, 1, prefix);
	store_bind_text(st, 2, hash);
	store_bind_text(st, 3, role);
	store_bind_text(st, 4, name && *name ? name : NULL);
	store_bind_text(st, 5, participant && *participant ? participant : NULL);
	store_bind_text(st, 6, fulfiller && *fulfiller ? fulfiller : NULL);
	store_bind_int(st, 7, now);
	if (store_exec(st))
		err = core_store_fail(e, d, "api key");
	if (!err) {
		json_t *detail = json_pack("{s:s, s:s?, s:s?, s:s?}", "role", role, "name", name, "participant",
					   participant, "fulfiller", fulfiller);
		err = audit_append(e, a->label, "api_key.created", prefix, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (!err)
		*out = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o}", "object", "api_key", "key", key,
				 "prefix", prefix, "role", role, "name", name && *name ? name : NULL, "participant",
				 participant && *participant ? participant : NULL, "fulfiller",
				 fulfiller && *fulfiller ? fulfiller : NULL, "created_at", json_time(now, true));
	sodium_memzero(key, sizeof(key));
	return core_done(e, err);
}

enum ff_err engine_key_revoke(struct engine *e, const struct actor *a, const char *prefix, json_t **out,
			      struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct store_stmt *st = store_query(e->st, Q_KEY_REVOKE);
	store_bind_int(st, 1, fftime_now());
	store_bind_text(st, 2, prefix);
	if (store_exec(st))
		err = core_store_fail(e, d, "api key");
	else if (store_changes(e->st) == 0)
		err = ff_fail(d, FF_E_NOT_FOUND, NULL, "no active api key %s", prefix);
	if (!err)
		err = audit_append(e, a->label, "api_key.revoked", prefix, NULL, d);
	err = core_end(e, err, d);
	if (!err)
		*out = json_pack("{s:s, s:s, s:b}", "object", "api_key", "prefix", prefix, "revoked", 1);
	return core_done(e, err);
}

enum ff_err engine_key_authenticate(struct engine *e, const char *key, struct actor *out)
{
	char role[16];
	if (!key || !crypto_api_key_check(key, role, sizeof(role)))
		return FF_E_UNAUTHORIZED;
	char hash[65];
	crypto_api_key_hash(key, hash);
	struct store_stmt *st = store_query(e->st, Q_KEY_BY_HASH);
	store_bind_text(st, 1, hash);
	enum ff_err err = FF_E_UNAUTHORIZED;
	int rc = store_step(st);
	if (rc < 0) /* cannot tell: not "unauthorized" (a 503 while the database is away) */
		return core_done(e, store_retryable(e->st) ? FF_E_UNAVAILABLE : FF_E_STORE);
	if (rc == 1 && store_col_null(st, 4)) {
		int r = role_parse(store_col_text(st, 1));
		if (r >= 0 && !strcmp(store_col_text(st, 1), role)) {
			memset(out, 0, sizeof(*out));
			out->role = (enum role)r;
			copy_str(out->key_prefix, sizeof(out->key_prefix), store_col_text(st, 0));
			snprintf(out->label, sizeof(out->label), "key:%s", out->key_prefix);
			copy_str(out->participant, sizeof(out->participant), store_col_text(st, 2));
			copy_str(out->fulfiller, sizeof(out->fulfiller), store_col_text(st, 3));
			err = FF_OK;
		}
	}
	return core_done(e, err);
}

enum ff_err engine_idem_lookup(struct engine *e, const char *scope, const char *key, const char *fingerprint,
			       enum idem_state *out_state, int *out_status, char **out_body)
{
	struct store_stmt *st = store_query(e->st, Q_IDEM_GET);
	store_bind_text(st, 1, scope);
	store_bind_text(st, 2, key);
	store_bind_int(st, 3, fftime_now() - IDEM_TTL_MS);
	int rc = store_step(st);
	if (rc < 0)
		return core_done(e, FF_E_STORE);
	if (rc == 0) {
		*out_state = IDEM_NEW;
		return core_done(e, FF_OK);
	}
	if (strcmp(store_col_text(st, 0), fingerprint)) {
		*out_state = IDEM_REUSED;
		return core_done(e, FF_OK);
	}
	/* stored sealed: a response may hold a new API key or webhook secret */
	char *body = core_unseal(e, store_col_text(st, 2));
	if (!body)
		return core_done(e, FF_E_STORE);
	*out_state = IDEM_REPLAY;
	*out_status = (int)store_col_int(st, 1);
	*out_body = body;
	return core_done(e, FF_OK);
}

enum ff_err engine_idem_store(struct engine *e, const char *scope, const char *key, const char *fingerprint,
			      int status, const char *body)
{
	int64_t now = fftime_now();
	/* an expired record under the same key makes room for the new one */
	struct store_stmt *st = store_query(e->st, Q_IDEM_DELETE_EXPIRED_KEY);
	store_bind_text(st, 1, scope);
	store_bind_text(st, 2, key);
	store_bind_int(st, 3, now - IDEM_TTL_MS);
	if (store_exec(st))
		return FF_E_STORE;
	char *sealed = crypto_seal(e->cfg.master_key, body);
	st = store_query(e->st, Q_IDEM_INSERT);
	store_bind_text(st, 1, scope);
	store_bind_text(st, 2, key);
	store_bind_text(st, 3, fingerprint);
	store_bind_int(st, 4, status);
	store_bind_text(st, 5, sealed);
	store_bind_int(st, 6, now);
	free(sealed);
	if (store_exec(st))
		return store_unique_violation(e->st) ? FF_E_IDEM_IN_USE : FF_E_STORE;
	return FF_OK;
}

enum ff_err idem_purge(struct engine *e, int64_t now, int64_t *out, struct ff_diag *d)
{
	/* 1,000 per transaction (the query's LIMIT), oldest first, so that a large backlog
	 * neither holds one long transaction nor delays the rest of the pass for long */
	enum { ROUNDS = 20 };
	*out = 0;
	/* a read first: a pass (every second) with nothing expired takes no write lock */
	struct store_stmt *any = store_query(e->st, Q_IDEM_EXPIRED_ANY);
	store_bind_int(any, 1, now - IDEM_TTL_MS);
	bool expired = store_step(any) == 1;
	core_done(e, FF_OK); /* the read is over before any transaction */
	if (!expired)
		return FF_OK;
	for (int i = 0; i < ROUNDS; i++) {
		enum ff_err err = core_begin(e, d);
		if (err)
			return err;
		struct store_stmt *st = store_query(e->st, Q_IDEM_PURGE);
		store_bind_int(st, 1, now - IDEM_TTL_MS);
		int64_t n = store_exec(st) ? -1 : store_changes(e->st);
		if ((err = core_end(e, n < 0 ? core_store_fail(e, d, "idempotency records") : FF_OK, d)))
			return err;
		*out += n;
		if (n < 1000)
			break;
	}
	return FF_OK;
}
