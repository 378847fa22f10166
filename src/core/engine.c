/*
 * engine.c - the engine handle: configuration, opening the store, transactions owned
 * by core functions, roles and actors, and small JSON helpers the core files share.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "fulfill/crypto.h"

static const char *const role_names[ROLE__COUNT] = {
	[ROLE_ADMIN] = "admin",	      [ROLE_OPERATOR] = "operator", [ROLE_FINANCE] = "finance",
	[ROLE_AUDITOR] = "auditor",   [ROLE_INGEST] = "ingest",	    [ROLE_FULFILLER] = "fulfiller",
	[ROLE_PARTNER] = "partner",
};

const char *role_name(enum role r)
{
	if ((int)r < 0 || r >= ROLE__COUNT)
		return NULL;
	return role_names[r];
}

int role_parse(const char *s)
{
	for (int i = 0; s && i < ROLE__COUNT; i++)
		if (!strcmp(s, role_names[i]))
			return i;
	return -1;
}

void actor_cli(struct actor *out)
{
	memset(out, 0, sizeof(*out));
	out->role = ROLE_ADMIN;
	copy_str(out->label, sizeof(out->label), "cli");
}

void engine_config_init(struct engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	copy_str(cfg->db_url, sizeof(cfg->db_url), "sqlite:fulfill.db");
	cfg->max_body = 10 << 20;
}

/* The file of a SQLite database URL ("sqlite:PATH" or a bare path); NULL for PostgreSQL. */
static const char *sqlite_path(const char *url)
{
	if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
		return NULL;
	return strncmp(url, "sqlite:", 7) ? url : url + 7;
}

static enum ff_err read_key_file(const char *path, uint8_t key[FF_MASTER_KEY_BYTES], struct ff_diag *d)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return ff_fail(d, FF_E_INVALID, "master_key_file", "cannot read key file %s: %s", path,
			       strerror(errno));
	char buf[130] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (crypto_master_key_parse(buf, key))
		return ff_fail(d, FF_E_INVALID, "master_key_file", "key file %s must hold 64 hex digits", path);
	return FF_OK;
}

enum ff_err engine_config_load_key(struct engine_config *cfg, const char *key_file, struct ff_diag *d)
{
	crypto_init();
	const char *env = getenv("FULFILL_MASTER_KEY");
	if (env && *env) {
		if (crypto_master_key_parse(env, cfg->master_key))
			return ff_fail(d, FF_E_INVALID, "FULFILL_MASTER_KEY",
				       "FULFILL_MASTER_KEY must be 64 hex digits");
		cfg->has_master_key = true;
		return FF_OK;
	}
	if (key_file && *key_file) {
		enum ff_err err = read_key_file(key_file, cfg->master_key, d);
		cfg->has_master_key = !err;
		return err;
	}
	const char *path = sqlite_path(cfg->db_url);
	if (!path)
		return ff_fail(d, FF_E_INVALID, "master_key",
			       "PostgreSQL needs a master key: set FULFILL_MASTER_KEY or --master-key-file");
	char kp[1100];
	snprintf(kp, sizeof(kp), "%s.key", path);
	if (access(kp, F_OK) == 0) {
		enum ff_err err = read_key_file(kp, cfg->master_key, d);
		cfg->has_master_key = !err;
		return err;
	}
	struct stat sb;
	if (stat(path, &sb) == 0 && sb.st_size > 0)
		return ff_fail(d, FF_E_INVALID, "master_key",
			       "the database %s exists but its key file %s is missing: set FULFILL_MASTER_KEY or "
			       "--master-key-file to the key it was created with (a new key could not read its "
			       "e-mails and names)",
			       path, kp);
	uint8_t key[FF_MASTER_KEY_BYTES];
	crypto_random_bytes(key, sizeof(key));
	char hex[2 * FF_MASTER_KEY_BYTES + 2];
	for (int i = 0; i < FF_MASTER_KEY_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[2 * FF_MASTER_KEY_BYTES] = '\n';
	hex[2 * FF_MASTER_KEY_BYTES + 1] = '\0';
	int fd = open(kp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		if (errno == EEXIST) /* another process created it first */
			return engine_config_load_key(cfg, kp, d);
		return ff_fail(d, FF_E_INVALID, "master_key", "cannot create key file %s: %s", kp, strerror(errno));
	}
	ssize_t w = write(fd, hex, strlen(hex));
	fsync(fd);
	close(fd);
	if (w != (ssize_t)strlen(hex))
		return ff_fail(d, FF_E_INVALID, "master_key", "cannot write key file %s", kp);
	fprintf(stderr,
		"{\"level\":\"warn\",\"msg\":\"no master key given: created %s (mode 0600); keep it with "
		"your backups, without it e-mails and names cannot be read\"}\n",
		kp);
	memcpy(cfg->master_key, key, sizeof(key));
	cfg->has_master_key = true;
	return FF_OK;
}

/* ---- the master key check ----
 *
 * meta.master_key_id holds the key id (engine_key_id: a keyed hash of a fixed label,
 * which tells keys apart without telling anything about them) of the key the database's
 * e-mails and names are sealed with. Every open compares it with the key given, so that
 * a wrong key is refused instead of quietly leaving names out and sealing and hashing new
 * rows under another key (the same person would become a new participant). The previous
 * key of a rotation being rolled out passes too; the rotation's last transaction moves
 * the value to the new key (governance.c). */

#define KEY_CHECK "master_key_id"

/* The refusal, with the way out: which settings hold the key, and where it was. */
static enum ff_err key_refused(const struct engine *e, const char *why, struct ff_diag *d)
{
	char where[1200] = "";
	const char *path = sqlite_path(e->cfg.db_url);
	if (path)
		snprintf(where, sizeof(where), "; with neither set, the file %s.key next to the database", path);
	return ff_fail(d, FF_E_INVALID, "master_key",
		       "wrong master key: %s. Set master_key (FULFILL_MASTER_KEY) or master_key_file "
		       "(--master-key-file, FULFILL_MASTER_KEY_FILE) to the key the database was used with (the "
		       "same key or key file as before%s); while a `keys rotate-master` is rolled out, the old "
		       "key goes in master_key_previous (FULFILL_MASTER_KEY_PREVIOUS)",
		       why, where);
}

/* meta.master_key_id into out ("" when there is none). */
static enum ff_err key_check_read(struct engine *e, char out[17], struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_META_GET);
	store_bind_text(st, 1, KEY_CHECK);
	int rc = store_step(st);
	copy_str(out, 17, rc == 1 ? store_col_text(st, 0) : "");
	store_release(e->st);
	return rc < 0 ? core_store_fail(e, d, "master key check") : FF_OK;
}

/* A database without master_key_id (new, or from before the check) takes the id of the
 * key its sealed values open with: the current key's, or the previous key's (a rotation
 * under way), or the current key's when nothing is sealed yet. A value that opens with
 * neither is refused, and nothing is written. Another process may adopt at the same
 * time: the first value written stays (the caller reads it back). */
static enum ff_err key_check_adopt(struct engine *e, const char *previous_id, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_SEALED_SAMPLE);
	int rc = store_step(st);
	if (rc < 0)
		return core_store_fail(e, d, "master key check");
	const char *adopt = e->key_id;
	const char *sealed = rc == 1 ? store_col_text(st, 0) : NULL;
	if (sealed) {
		char *plain = crypto_open(e->cfg.master_key, sealed);
		if (!plain && e->has_previous_key && (plain = crypto_open(e->previous_key, sealed)))
			adopt = previous_id;
		bool opens = plain != NULL;
		free(plain);
		if (!opens) {
			store_release(e->st);
			return key_refused(e, "the database's sealed values do not open with it", d);
		}
	}
	store_release(e->st);
	st = store_query(e->st, Q_META_ADD);
	store_bind_text(st, 1, KEY_CHECK);
	store_bind_text(st, 2, adopt);
	return store_exec(st) ? core_store_fail(e, d, "master key check") : FF_OK;
}

/*
 * A process whose previous key is the recorded one may run on another current key only
 * when a rotation vouches for it: one to that key is under way (the rollout started
 * before the rotation completed), or the last completed rotation moved away from it
 * (the old key current and the new one previous, as docs/configuration.md allows; a
 * run after the completed one, to the same key, keeps that).
 * Without this, any key at all would open the database next to the right previous key,
 * and a mistyped new key would seal and hash new rows that nothing else reads. A
 * rotation completed by a version that did not record where it moved from vouches as
 * before. *ok tells.
 */
static enum ff_err key_check_rotation(struct engine *e, bool *ok, struct ff_diag *d)
{
	json_t *state;
	enum ff_err err = core_rotation_state(e, &state, d);
	if (err)
		return err;
	const char *to = json_string_value(json_object_get(state, "key_id"));
	const char *from = json_string_value(json_object_get(state, "from_key_id"));
	bool complete = json_is_true(json_object_get(state, "complete"));
	*ok = (!complete && to && !strcmp(to, e->key_id)) || (from && !strcmp(from, e->key_id)) ||
	      (complete && !json_object_get(state, "from_key_id"));
	json_decref(state);
	return FF_OK;
}

static enum ff_err key_check(struct engine *e, struct ff_diag *d)
{
	char stored[17], previous_id[17] = "";
	if (e->has_previous_key)
		engine_key_id(e->previous_key, previous_id);
	enum ff_err err = key_check_read(e, stored, d);
	if (!err && !stored[0] && !(err = key_check_adopt(e, previous_id, d)))
		err = key_check_read(e, stored, d);
	if (err)
		return err;
	if (!strcmp(stored, e->key_id))
		return FF_OK;
	char why[300];
	if (previous_id[0] && !strcmp(stored, previous_id)) {
		bool ok = false;
		if ((err = key_check_rotation(e, &ok, d)) || ok)
			return err;
		snprintf(why, sizeof(why),
			 "the previous key is the database's, but no `keys rotate-master` to this key (id %s) has "
			 "started, nor did the last one move away from it: run the rotation with the database's key "
			 "first",
			 e->key_id);
		return key_refused(e, why, d);
	}
	snprintf(why, sizeof(why), "the database is sealed with the key whose id is %s, this key's id is %s",
		 stored, e->key_id);
	return key_refused(e, why, d);
}

char *core_unseal(struct engine *e, const char *sealed)
{
	if (!sealed)
		return NULL;
	char *plain = crypto_open(e->cfg.master_key, sealed);
	if (!plain && e->has_previous_key)
		plain = crypto_open(e->previous_key, sealed);
	return plain;
}

enum ff_err core_key_check_move(struct engine *e, const char key_id[17], char from[17], struct ff_diag *d)
{
	enum ff_err err = key_check_read(e, from, d);
	if (err)
		return err;
	struct store_stmt *st = store_query(e->st, Q_META_SET);
	store_bind_text(st, 1, KEY_CHECK);
	store_bind_text(st, 2, key_id);
	return store_exec(st) ? core_store_fail(e, d, "master key check") : FF_OK;
}

enum ff_err engine_open(const struct engine_config *cfg, struct engine **out, struct ff_diag *d)
{
	crypto_init();
	struct engine *e = ff_calloc(1, sizeof(*e));
	e->cfg = *cfg;
	core_tx_forget(e);
	engine_key_id(cfg->master_key, e->key_id);
	const char *prev = getenv("FULFILL_MASTER_KEY_PREVIOUS");
	if (prev && *prev && !crypto_master_key_parse(prev, e->previous_key))
		e->has_previous_key = true;
	enum ff_err err = store_open(cfg->db_url, &e->st, d);
	if (!err && !cfg->key_checked && (err = key_check(e, d)))
		store_close(e->st);
	if (err) {
		free(e);
		return err;
	}
	if (cfg->writer)
		store_make_writer(e->st, cfg->checkpoint_pages);
	*out = e;
	return FF_OK;
}

bool engine_deferred_sync(const struct engine *e) { return store_deferred_sync(e->st); }

int engine_sync(struct engine *e) { return store_make_durable(e->st); }

void engine_key_id(const uint8_t key[FF_MASTER_KEY_BYTES], char out[17])
{
	char hex[65];
	crypto_keyed_hash_hex(key, "fulfill-key-id", 14, hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

void engine_close(struct engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < PROGRAM_CACHE; i++)
		if (e->program_used[i])
			program_release(&e->programs[i]);
	json_decref(e->webhooks);
	json_decref(e->participants);
	json_decref(e->participants_old);
	audit_drop_deferred(e);
	ledger_drop_deferred(e);
	free(e->audit_pending);
	free(e->balance_pending);
	store_close(e->st);
	free(e);
}

int engine_schema_version(struct engine *e)
{
	return store_schema_version(e->st);
}

/* A restarted database server is noticed by the first statement after it, which fails;
 * the second runs on a new connection (the store reconnects outside transactions). */
bool engine_ping(struct engine *e)
{
	bool ok = false;
	for (int attempt = 0; attempt < 2 && !ok; attempt++) {
		struct store_stmt *st = store_query(e->st, Q_PING);
		ok = store_step(st) == 1;
		store_release(e->st);
		if (store_depth(e->st) > 0)
			break;
	}
	return ok;
}

bool engine_writable(struct engine *e, char *msg, size_t cap)
{
	if (!store_storage_fault(msg, cap))
		return true;
	if (store_depth(e->st) > 0)
		return false;
	bool ok = !store_begin(e->st);
	if (ok) {
		struct store_stmt *st = store_query(e->st, Q_PROBE_WRITE);
		char now[24];
		snprintf(now, sizeof(now), "%lld", (long long)fftime_now());
		store_bind_text(st, 1, now);
		ok = !store_exec(st);
	}
	if (ok)
		ok = !store_commit(e->st); /* a commit that wrote clears the fault */
	else if (store_depth(e->st) > 0)
		store_rollback(e->st);
	store_release(e->st);
	if (!ok)
		store_storage_fault(msg, cap); /* the probe's own error, when it was the storage's */
	return ok;
}

bool engine_read_only(struct engine *e) { return store_read_only(e->st); }

int engine_wait_work(struct engine *e, int timeout_ms)
{
	return store_wait_work(e->st, timeout_ms);
}

void core_redact_for_partner(const struct actor *a, json_t *o)
{
	if (!a->participant[0] || !json_is_object(o))
		return;
	if (json_object_get(o, "signals"))
		json_object_set_new(o, "signals", json_array());
	json_object_set_new(o, "ip", json_null());
	json_object_set_new(o, "device_id", json_null());
	/* "signal: detail": which check refused the referral stays (the partner's why),
	 * what it matched (a blocklisted domain, the shared device) goes with the signals */
	const char *why = json_string_value(json_object_get(o, "rejection_reason"));
	const char *colon = why ? strchr(why, ':') : NULL;
	if (colon)
		json_object_set_new(o, "rejection_reason", json_stringn(why, (size_t)(colon - why)));
}

/* ---- transactions ---- */

json_t *core_texts_of(struct engine *e, enum store_query q, const char *arg)
{
	struct store_stmt *st = store_query(e->st, q);
	store_bind_text(st, 1, arg);
	json_t *out = json_array();
	while (store_step(st) == 1)
		json_array_append_new(out, json_string(store_col_text(st, 0)));
	return out;
}

void core_tx_forget(struct engine *e)
{
	e->blocklist_gen = e->webhooks_gen = e->tax_types_gen = e->participants_gen = -1;
	e->participants_dv = -1;
	for (size_t i = 0; i < sizeof(e->active) / sizeof(e->active[0]); i++)
		e->active[i].gen = -1;
}

enum ff_err core_begin(struct engine *e, struct ff_diag *d)
{
	bool top = store_depth(e->st) == 0;
	if (top) {
		e->audit_cached = false; /* another process may have appended meanwhile */
		e->tx_gen++;
	}
	if (store_begin(e->st))
		return core_store_fail(e, d, "begin");
	if (top)
		participant_cache_carry(e);
	return FF_OK;
}

void core_defer(struct engine *e)
{
	assert(store_depth(e->st) == 1);
	e->defer = true;
}

/* A deferring transaction's waiting writes, just before its commit. */
static enum ff_err flush_deferred(struct engine *e, struct ff_diag *d)
{
	enum ff_err err = FF_OK;
	if (e->audit_npending)
		err = audit_lock_deferred(e, d);
	if (!err)
		err = ledger_flush_deferred(e, d);
	if (!err)
		err = audit_flush_deferred(e, d);
	return err;
}

enum ff_err core_end(struct engine *e, enum ff_err err, struct ff_diag *d)
{
	if (e->defer) {
		/* nested levels are not supported: what waits belongs to the top level */
		assert(store_depth(e->st) == 1);
		if (!err)
			err = flush_deferred(e, d);
		e->defer = false;
		audit_drop_deferred(e);
		ledger_drop_deferred(e);
	}
	if (err) {
		/* a write sent ahead that failed is what made everything after it fail */
		if (store_ahead_failed(e->st))
			err = core_store_fail(e, d, "write");
		store_rollback(e->st);
		e->audit_cached = false;
		/* a version saved in what was rolled back may be saved again under the same
		 * number with another document: forget the compiled ones */
		for (int i = 0; i < PROGRAM_CACHE; i++)
			if (e->program_used[i]) {
				program_release(&e->programs[i]);
				e->program_used[i] = false;
			}
		core_tx_forget(e);
		return err;
	}
	bool top = store_depth(e->st) == 1;
	if (store_commit(e->st)) {
		e->audit_cached = false;
		core_tx_forget(e);
		return core_store_fail(e, d, "commit");
	}
	if (top)
		participant_cache_committed(e);
	return FF_OK;
}

enum ff_err engine_tx_begin(struct engine *e)
{
	return core_begin(e, NULL);
}

enum ff_err engine_tx_commit(struct engine *e)
{
	return core_end(e, FF_OK, NULL);
}

void engine_tx_rollback(struct engine *e)
{
	core_end(e, FF_E_INTERNAL, NULL);
}

bool core_retryable(struct engine *e, enum ff_err err)
{
	return err == FF_E_UNAVAILABLE || ((err == FF_E_STORE || err == FF_E_CONFLICT) && store_retryable(e->st));
}

void core_retry_pause(int attempt)
{
	uint32_t r;
	crypto_random_bytes(&r, sizeof(r));
	unsigned ceiling = 2000u << (attempt < 6 ? attempt : 6); /* 2 ms .. 128 ms */
	usleep(ceiling / 2 + r % ceiling);
}

enum ff_err core_store_fail(struct engine *e, struct ff_diag *d, const char *what)
{
	return ff_fail(d, store_retryable(e->st) ? FF_E_UNAVAILABLE : FF_E_STORE, NULL, "storage error (%s): %s",
		       what, store_errmsg(e->st));
}

enum ff_err core_collect_ids(struct engine *e, struct store_stmt *st, json_t *ids, const char *what,
			     struct ff_diag *d)
{
	int rc;
	while ((rc = store_step(st)) == 1)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	return rc < 0 ? core_store_fail(e, d, what) : FF_OK;
}

enum ff_err core_done(struct engine *e, enum ff_err err)
{
	if (store_depth(e->st) == 0)
		store_release(e->st);
	return err;
}

/* ---- helpers ---- */

void copy_str(char *dst, size_t n, const char *s)
{
	if (!n)
		return;
	if (!s)
		s = "";
	size_t len = strlen(s);
	if (len >= n)
		len = n - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

const char *text_or_null(const char *s) { return s && *s ? s : NULL; }

json_t *json_time(int64_t ms, bool has)
{
	if (!has)
		return json_null();
	char buf[32];
	return json_string(fftime_format(ms, buf, sizeof(buf)));
}

json_t *json_from_text(const char *text, const char *def)
{
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	if (!v && def)
		v = json_loads(def, JSON_DECODE_ANY, NULL);
	return v ? v : json_null();
}

int page_limit(const struct page *p)
{
	if (!p || p->limit <= 0)
		return 100;
	return p->limit > 1000 ? 1000 : p->limit;
}

json_t *list_json(json_t *data, int limit)
{
	bool more = json_array_size(data) > (size_t)limit;
	if (more)
		json_array_remove(data, json_array_size(data) - 1);
	return json_pack("{s:s, s:o, s:b}", "object", "list", "data", data, "has_more", more);
}
