/*
 * keyrotation.c - `fulfill keys rotate-master` (SPEC security): every value sealed with
 * the master key re-sealed under a new one, in resumable batches, then the database's
 * key check moved to the new key (engine.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/core.h"
#include "core/ingest.h"
#include "fulfill/crypto.h"

/* ---- master key rotation ----
 *
 * Participants and the blocklist record the key that sealed each row (key_id) and are
 * re-sealed a batch per transaction until none is left under another key. The other
 * values sealed with the master key are walked in primary-key order after a cursor:
 * event bodies, queued e-mails and stored idempotent responses a batch per transaction
 * like participants, with the cursors kept in meta (ROTATE_STATE) so that an
 * interrupted run resumes where it stopped; connector and webhook endpoint secrets, a
 * few rows, whole in the transaction that completes the rotation. A value that already
 * opens with the new key is left as it is, so any run, resumed or repeated, with any
 * batch size, writes each value at most once. */

#define ROTATE_BATCH 500
#define ROTATE_STATE CORE_ROTATE_STATE

/* A kind of sealed value walked by a cursor (queries.c, Q_ROTATE_*): `select` binds the
 * cursor's columns and then a LIMIT, and returns the cursor's columns, the sealed value
 * and a name for errors; `update` binds the new sealed value, the old one and the
 * cursor. `cursor` has a letter per cursor column: i (integer) or t (text). */
struct sealed_kind {
	const char *name; /* the result's field, and the cursor's in ROTATE_STATE */
	const char *what; /* in errors */
	enum store_query select, update;
	const char *cursor;
	bool at_completion; /* a few rows: re-sealed whole by the completing transaction */
};

static const struct sealed_kind sealed_kinds[] = {
	{"events", "event", Q_ROTATE_EVENTS, Q_ROTATE_EVENT_SET, "i", false},
	{"notifications", "notification", Q_ROTATE_NOTIFICATIONS, Q_ROTATE_NOTIFICATION_SET, "i", false},
	{"idempotency", "idempotency record", Q_ROTATE_IDEMPOTENCY, Q_ROTATE_IDEMPOTENCY_SET, "tt", false},
	{"connectors", "connector", Q_ROTATE_CONNECTORS, Q_ROTATE_CONNECTOR_SET, "t", true},
	{"webhook_endpoints", "webhook endpoint", Q_ROTATE_WH_ENDPOINTS, Q_ROTATE_WH_ENDPOINT_SET, "t", true},
};
#define SEALED_KINDS (sizeof(sealed_kinds) / sizeof(sealed_kinds[0]))

/* The start of a walk: before every row. */
static json_t *cursor_start(const struct sealed_kind *k)
{
	json_t *c = json_array();
	for (const char *t = k->cursor; *t; t++)
		json_array_append_new(c, *t == 'i' ? json_integer(0) : json_string(""));
	return c;
}

static void bind_cursor(struct store_stmt *st, int first, json_t *cursor)
{
	size_t i;
	json_t *v;
	json_array_foreach(cursor, i, v)
	{
		if (json_is_integer(v))
			store_bind_int(st, first + (int)i, json_integer_value(v));
		else
			store_bind_text(st, first + (int)i, json_string_value(v));
	}
}

/* The rotation's cursors (ROTATE_STATE: {key_id, complete, <kind>: cursor...}) for a
 * rotation to new_id: where an interrupted run to the same key stopped, else the start
 * (a first run, or a run after a completed one: it looks at every row again, for
 * values a process still on the old key sealed meanwhile). New reference. */
enum ff_err core_rotation_state(struct engine *e, json_t **out, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_META_GET);
	store_bind_text(st, 1, ROTATE_STATE);
	int rc = store_step(st);
	*out = rc == 1 ? json_loads(store_col_text(st, 0), 0, NULL) : NULL;
	store_release(e->st);
	return rc < 0 ? core_store_fail(e, d, "master key rotation state") : FF_OK;
}

static enum ff_err rotation_state(struct engine *e, const char *new_id, json_t **out, struct ff_diag *d)
{
	json_t *state;
	enum ff_err err = core_rotation_state(e, &state, d);
	if (err)
		return err;
	const char *to = json_string_value(json_object_get(state, "key_id"));
	bool same_key = json_is_object(state) && to && !strcmp(to, new_id);
	if (!same_key || json_is_true(json_object_get(state, "complete"))) {
		/* a new start; a run after a completed one to the same key keeps where that
		 * one moved from (engine.c, key_check_rotation) */
		json_t *from = same_key ? json_incref(json_object_get(state, "from_key_id")) : NULL;
		json_decref(state);
		state = json_pack("{s:s, s:b}", "key_id", new_id, "complete", false);
		if (json_is_string(from))
			json_object_set(state, "from_key_id", from);
		json_decref(from);
	}
	for (size_t i = 0; i < SEALED_KINDS; i++)
		if (!json_is_array(json_object_get(state, sealed_kinds[i].name)))
			json_object_set_new(state, sealed_kinds[i].name, cursor_start(&sealed_kinds[i]));
	*out = state;
	return FF_OK;
}

static enum ff_err rotation_state_save(struct engine *e, json_t *state, struct ff_diag *d)
{
	char *text = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_stmt *st = store_query(e->st, Q_META_SET);
	store_bind_text(st, 1, ROTATE_STATE);
	store_bind_text(st, 2, text);
	enum ff_err err = store_exec(st) ? core_store_fail(e, d, "rotation") : FF_OK;
	free(text);
	return err;
}

/* Up to `batch` values of kind k after `cursor`, which moves past them: each one that
 * does not open with new_key yet is opened with the current key (or the previous one)
 * and sealed with new_key. *read: the rows read (0: the walk is over); *resealed
 * counts the values written. A value that is not sealed at all (an event body stored
 * before bodies were sealed) stays as it is. */
static enum ff_err reseal_batch(struct engine *e, const struct sealed_kind *k, const uint8_t new_key[FF_MASTER_KEY_BYTES],
				json_t *cursor, int batch, size_t *read, int64_t *resealed, struct ff_diag *d)
{
	int ncur = (int)strlen(k->cursor);
	struct store_stmt *st = store_query(e->st, k->select);
	bind_cursor(st, 1, cursor);
	store_bind_int(st, ncur + 1, batch);
	json_t *rows = json_array();
	int rc;
	while ((rc = store_step(st)) == 1) {
		json_t *at = json_array();
		for (int c = 0; c < ncur; c++)
			json_array_append_new(at, k->cursor[c] == 'i' ? json_integer(store_col_int(st, c))
								       : json_string(store_col_text(st, c)));
		json_array_append_new(rows, json_pack("{s:o, s:s?, s:s}", "at", at, "sealed", store_col_text(st, ncur),
						      "name", store_col_text(st, ncur + 1)));
	}
	enum ff_err err = rc < 0 ? core_store_fail(e, d, "rotation") : FF_OK;
	*read = json_array_size(rows);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		if (err)
			break;
		json_t *at = json_object_get(row, "at");
		json_array_clear(cursor);
		json_array_extend(cursor, at);
		const char *sealed = json_string_value(json_object_get(row, "sealed"));
		char *plain = crypto_is_sealed(sealed) ? crypto_open(new_key, sealed) : NULL;
		if (plain || !crypto_is_sealed(sealed)) {
			free(plain);
			continue; /* sealed with the new key already, or not sealed */
		}
		if (!(plain = core_unseal(e, sealed))) {
			err = ff_fail(d, FF_E_INVALID, "master_key", "%s %s opens with neither the current nor the new key",
				      k->what, json_string_value(json_object_get(row, "name")));
			break;
		}
		char *enc = crypto_seal(new_key, plain);
		free(plain);
		st = store_query(e->st, k->update);
		store_bind_text(st, 1, enc);
		store_bind_text(st, 2, sealed);
		bind_cursor(st, 3, at);
		if (store_exec_ahead(st))
			err = core_store_fail(e, d, "rotation");
		free(enc);
		(*resealed)++;
	}
	json_decref(rows);
	return err;
}

/* Every value of kind k, batch after batch in the caller's transaction. */
static enum ff_err reseal_all(struct engine *e, const struct sealed_kind *k, const uint8_t new_key[FF_MASTER_KEY_BYTES],
			      int batch, int64_t *resealed, struct ff_diag *d)
{
	json_t *cursor = cursor_start(k);
	size_t read;
	enum ff_err err;
	while (!(err = reseal_batch(e, k, new_key, cursor, batch, &read, resealed, d)) && read)
		;
	json_decref(cursor);
	return err;
}

/* One batch of participants (each re-sealed, its e-mail re-hashed); *read: rows read. */
static enum ff_err rotate_participants(struct engine *e, const uint8_t new_key[FF_MASTER_KEY_BYTES],
				       const char *new_id, int batch, size_t *read, int64_t *count, struct ff_diag *d)
{
	enum ff_err err = FF_OK;
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANTS_TO_ROTATE);
	store_bind_text(st, 1, new_id);
	store_bind_int(st, 2, batch);
	json_t *rows = json_array();
	while (store_step(st) == 1)
		json_array_append_new(rows, json_pack("{s:s, s:s?, s:s?}", "id", store_col_text(st, 0), "email",
						      store_col_text(st, 1), "name", store_col_text(st, 2)));
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		char *email = core_unseal(e, json_string_value(json_object_get(row, "email")));
		char *name = core_unseal(e, json_string_value(json_object_get(row, "name")));
		char *email_enc = email ? crypto_seal(new_key, email) : NULL;
		char *name_enc = name ? crypto_seal(new_key, name) : NULL;
		char hash[65] = "";
		if (email)
			email_hash_with(new_key, email, hash);
		bool lost = (json_is_string(json_object_get(row, "email")) && !email) ||
			    (json_is_string(json_object_get(row, "name")) && !name);
		participant_cache_drop(e, json_string_value(json_object_get(row, "id")));
		st = store_query(e->st, Q_PARTICIPANT_REKEY);
		store_bind_text(st, 1, email_enc);
		store_bind_text(st, 2, hash[0] ? hash : NULL);
		store_bind_text(st, 3, name_enc);
		store_bind_text(st, 4, new_id);
		store_bind_text(st, 5, json_string_value(json_object_get(row, "id")));
		free(email);
		free(name);
		free(email_enc);
		free(name_enc);
		if (lost) {
			err = ff_fail(d, FF_E_INVALID, "master_key",
				      "participant %s opens with neither the current nor the new key",
				      json_string_value(json_object_get(row, "id")));
			break;
		}
		if (store_exec(st)) {
			err = core_store_fail(e, d, "rotation");
			break;
		}
		(*count)++;
	}
	*read = json_array_size(rows);
	json_decref(rows);
	return err;
}

/* One batch of blocklisted e-mails (re-sealed and re-hashed); *read: rows read. */
static enum ff_err rotate_blocklist(struct engine *e, const uint8_t new_key[FF_MASTER_KEY_BYTES], const char *new_id,
				    int batch, size_t *read, int64_t *count, struct ff_diag *d)
{
	enum ff_err err = FF_OK;
	struct store_stmt *st = store_query(e->st, Q_BLOCKLIST_TO_ROTATE);
	store_bind_text(st, 1, new_id);
	store_bind_int(st, 2, batch);
	json_t *bl = json_array();
	while (store_step(st) == 1)
		json_array_append_new(bl, json_pack("{s:s, s:s?}", "value", store_col_text(st, 1), "enc",
						    store_col_text(st, 2)));
	size_t i;
	json_t *row;
	json_array_foreach(bl, i, row)
	{
		char *email = core_unseal(e, json_string_value(json_object_get(row, "enc")));
		if (!email) {
			/* it cannot be re-hashed without the address, and left as is it would be
			 * read again by every batch: the rotation would never end */
			err = ff_fail(d, FF_E_INVALID, "master_key",
				      "a blocklisted e-mail (hash %.16s) opens with neither the current nor the new key",
				      json_string_value(json_object_get(row, "value")));
			break;
		}
		char hash[65];
		email_hash_with(new_key, email, hash);
		char *enc = crypto_seal(new_key, email);
		free(email);
		st = store_query(e->st, Q_BLOCKLIST_REKEY);
		store_bind_text(st, 1, hash);
		store_bind_text(st, 2, enc);
		store_bind_text(st, 3, new_id);
		store_bind_text(st, 4, json_string_value(json_object_get(row, "value")));
		free(enc);
		if (store_exec(st)) {
			err = core_store_fail(e, d, "rotation");
			break;
		}
		(*count)++;
	}
	*read = json_array_size(bl);
	json_decref(bl);
	return err;
}

enum ff_err engine_rotate_master_key(struct engine *e, const struct actor *a,
				     const uint8_t new_key[FF_MASTER_KEY_BYTES], json_t **out, struct ff_diag *d)
{
	return engine_rotate_master_key_steps(e, a, new_key, ROTATE_BATCH, 0, out, d);
}

enum ff_err engine_rotate_master_key_steps(struct engine *e, const struct actor *a,
					   const uint8_t new_key[FF_MASTER_KEY_BYTES], int batch, int max_batches,
					   json_t **out, struct ff_diag *d)
{
	int batches = 0;
	bool complete = false;
	char new_id[17];
	engine_key_id(new_key, new_id);
	int64_t participants = 0, blocked = 0, resealed[SEALED_KINDS] = {0};
	json_t *state = NULL;
	enum ff_err err = FF_OK;
	/* old rows open with the current key; rows a previous, interrupted run already
	 * rotated open with the new one */
	bool saved_prev = e->has_previous_key;
	uint8_t saved_key[FF_MASTER_KEY_BYTES];
	memcpy(saved_key, e->previous_key, sizeof(saved_key));
	/* A run from a process that already has the new key as its current one (the re-run
	 * after a rollout, the old key as its previous) opens old rows with that previous key. */
	if (sodium_memcmp(e->cfg.master_key, new_key, FF_MASTER_KEY_BYTES) != 0) {
		memcpy(e->previous_key, new_key, FF_MASTER_KEY_BYTES);
		e->has_previous_key = true;
	}
	for (;;) {
		if ((err = core_begin(e, d)))
			break;
		json_decref(state);
		state = NULL;
		size_t n = 0, read = 0;
		err = rotation_state(e, new_id, &state, d);
		if (!err)
			err = rotate_participants(e, new_key, new_id, batch, &read, &participants, d);
		n += read;
		if (!err)
			err = rotate_blocklist(e, new_key, new_id, batch, &read, &blocked, d);
		n += read;
		for (size_t k = 0; !err && k < SEALED_KINDS; k++) {
			if (sealed_kinds[k].at_completion)
				continue;
			err = reseal_batch(e, &sealed_kinds[k], new_key, json_object_get(state, sealed_kinds[k].name),
					   batch, &read, &resealed[k], d);
			n += read;
		}
		if (!err && n == 0) {
			/* every row is sealed with the new key: the few secrets too, and from
			 * now on it is the one that opens the database (with the old one only
			 * as the previous key) */
			for (size_t k = 0; !err && k < SEALED_KINDS; k++)
				if (sealed_kinds[k].at_completion)
					err = reseal_all(e, &sealed_kinds[k], new_key, batch, &resealed[k], d);
			json_object_set_new(state, "complete", json_true());
			char from[17] = "";
			if (!err)
				err = core_key_check_move(e, new_id, from, d);
			if (!err && from[0] && strcmp(from, new_id))
				json_object_set_new(state, "from_key_id", json_string(from));
			if (!err)
				err = rotation_state_save(e, state, d);
			json_t *detail = json_pack("{s:s}", "key_id", new_id);
			if (!err)
				err = audit_append(e, a->label, "master_key.rotated", new_id, detail, d);
			json_decref(detail);
			err = core_end(e, err, d);
			complete = true;
			break;
		}
		if (!err)
			err = rotation_state_save(e, state, d);
		/* each batch commits: an interrupted rotation resumes where it stopped */
		if ((err = core_end(e, err, d)))
			break;
		if (max_batches && ++batches >= max_batches)
			break; /* stopped early on purpose (tests of an interrupted rotation) */
	}
	json_decref(state);
	memcpy(e->previous_key, saved_key, sizeof(saved_key));
	e->has_previous_key = saved_prev;
	if (!err) {
		*out = json_pack("{s:s, s:I, s:I, s:s, s:b}", "object", "key_rotation", "participants",
				 (json_int_t)participants, "blocklist", (json_int_t)blocked, "key_id", new_id, "complete",
				 complete);
		for (size_t k = 0; k < SEALED_KINDS; k++)
			json_object_set_new(*out, sealed_kinds[k].name, json_integer(resealed[k]));
	}
	return core_done(e, err);
}
