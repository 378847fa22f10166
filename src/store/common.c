/*
 * common.c - the public face of store.h: picks the backend from the URL and dispatches
 * every call through the backend's operation table; plus dialect expansion.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fulfill/buf.h"
#include "fulfill/log.h"
#include "store/store_int.h"

enum ff_err store_open(const char *url, struct store **out, struct ff_diag *d)
{
	if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
		return store_pg_open(url, out, d);
	const char *path = url;
	if (!strncmp(path, "sqlite:", 7))
		path += 7;
	if (!*path)
		return ff_fail(d, FF_E_INVALID, "db", "empty database path");
	return store_sqlite_open(path, out, d);
}

/* The process's view of its storage (store_storage_fault()). */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static bool fault_on;
static char fault_msg[256];

static void note_fault(struct store *s)
{
	if (!s->ops->storage_fault || !s->ops->storage_fault(s))
		return;
	pthread_mutex_lock(&fault_lock);
	fault_on = true;
	snprintf(fault_msg, sizeof(fault_msg), "%s", s->ops->errmsg(s));
	pthread_mutex_unlock(&fault_lock);
}

static void clear_fault(void)
{
	pthread_mutex_lock(&fault_lock);
	fault_on = false;
	pthread_mutex_unlock(&fault_lock);
}

bool store_storage_fault(char *msg, size_t cap)
{
	pthread_mutex_lock(&fault_lock);
	bool on = fault_on;
	if (on && msg && cap)
		snprintf(msg, cap, "%s", fault_msg);
	pthread_mutex_unlock(&fault_lock);
	return on;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

enum store_kind store_kind(const struct store *s) { return s->kind; }
int store_schema_version(struct store *s) { return s->schema_version; }
const char *store_errmsg(struct store *s) { return s->ops->errmsg(s); }
enum ff_err store_begin(struct store *s)
{
	enum ff_err err = s->ops->begin(s);
	if (err)
		note_fault(s);
	else if (s->depth == 1)
		s->tx_changes = store_total_changes(s);
	return err;
}

enum ff_err store_commit(struct store *s)
{
	bool outer = s->depth == 1;
	enum ff_err err = s->ops->commit(s);
	if (err)
		note_fault(s);
	else if (outer && store_total_changes(s) != s->tx_changes && !s->deferred_sync)
		clear_fault(); /* a write reached the disk (a deferred one: store_make_durable) */
	return err;
}
void store_rollback(struct store *s) { s->ops->rollback(s); }
int store_depth(const struct store *s) { return s->depth; }
bool store_retryable(const struct store *s) { return s->ops->retryable(s); }
bool store_unique_violation(const struct store *s) { return s->ops->unique_violation(s); }
struct store_stmt *store_query(struct store *s, enum store_query q) { return s->ops->query(s, q); }
void store_bind_text(struct store_stmt *st, int i, const char *v) { st->owner->ops->bind_text(st, i, v); }
void store_bind_int(struct store_stmt *st, int i, int64_t v) { st->owner->ops->bind_int(st, i, v); }
void store_bind_null(struct store_stmt *st, int i) { st->owner->ops->bind_null(st, i); }
int store_step(struct store_stmt *st)
{
	int rc = st->owner->ops->step(st);
	if (rc < 0)
		note_fault(st->owner);
	return rc;
}
const char *store_col_text(struct store_stmt *st, int c) { return st->owner->ops->col_text(st, c); }
int64_t store_col_int(struct store_stmt *st, int c) { return st->owner->ops->col_int(st, c); }
bool store_col_null(struct store_stmt *st, int c) { return st->owner->ops->col_null(st, c); }
int64_t store_changes(struct store *s) { return s->ops->changes(s); }
int64_t store_total_changes(struct store *s) { return s->ops->total_changes(s); }
int64_t store_data_version(struct store *s) { return s->ops->data_version ? s->ops->data_version(s) : -1; }
void store_release(struct store *s) { s->ops->release(s); }
enum ff_err store_lock_chain(struct store *s) { return s->ops->lock_chain(s); }
void store_notify_work(struct store *s) { if (s->ops->notify_work) s->ops->notify_work(s); }
int store_wait_work(struct store *s, int timeout_ms) { return s->ops->wait_work ? s->ops->wait_work(s, timeout_ms) : -1; }
void store_make_writer(struct store *s, int checkpoint_pages) { if (s->ops->make_writer) s->ops->make_writer(s, checkpoint_pages); }
bool store_deferred_sync(const struct store *s) { return s->deferred_sync; }
bool store_read_only(struct store *s) { return s->ops->read_only && s->ops->read_only(s); }
int store_make_durable(struct store *s)
{
	if (!s->deferred_sync || !s->ops->make_durable)
		return 0;
	int rc = s->ops->make_durable(s);
	pthread_mutex_lock(&fault_lock);
	if (rc) {
		fault_on = true;
		snprintf(fault_msg, sizeof(fault_msg), "the disk refused to sync the write-ahead log");
	} else {
		fault_on = false;
	}
	pthread_mutex_unlock(&fault_lock);
	return rc;
}

void store_bind_int_or_null(struct store_stmt *st, int i, int64_t v, bool is_null)
{
	if (is_null)
		store_bind_null(st, i);
	else
		store_bind_int(st, i, v);
}

enum ff_err store_exec(struct store_stmt *st)
{
	return store_step(st) < 0 ? FF_E_STORE : FF_OK;
}

enum ff_err store_exec_ahead(struct store_stmt *st)
{
	const struct store_ops *ops = st->owner->ops;
	if (!ops->exec_ahead)
		return store_exec(st);
	return ops->exec_ahead(st) < 0 ? FF_E_STORE : FF_OK;
}

enum ff_err store_exec_ahead_one(struct store_stmt *st)
{
	const struct store_ops *ops = st->owner->ops;
	int rc = 0;
	if (ops->exec_ahead_one)
		rc = ops->exec_ahead_one(st);
	else if (store_exec(st))
		rc = -1;
	else if (store_changes(st->owner) != 1)
		rc = 1;
	return rc < 0 ? FF_E_STORE : rc ? FF_E_CONFLICT : FF_OK;
}

void store_prefetch(struct store_stmt *st)
{
	if (st->owner->ops->prefetch)
		st->owner->ops->prefetch(st);
}

enum ff_err store_sync(struct store *s)
{
	return s->ops->sync ? s->ops->sync(s) : FF_OK;
}

bool store_ahead_failed(const struct store *s)
{
	return s->ops->ahead_failed && s->ops->ahead_failed(s);
}

enum ff_err store_run(struct store *s, enum store_query q)
{
	return store_exec(store_query(s, q));
}

enum ff_err store_newer_schema(int found, int known, struct ff_diag *d)
{
	return ff_fail(d, FF_E_STORE, "db",
		       "the database's schema is version %d, newer than this fulfill's (%d): a newer fulfill "
		       "migrated it; run that version (or restore a backup taken before the upgrade)",
		       found, known);
}

void store_note_migration_wait(const char *db)
{
	log_msg("warn", "waiting for another process's migration of %s to finish", db);
}

char *store_expand_query(const char *sql, const char *lock)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	const char *m;
	while ((m = strchr(sql, '@'))) {
		ffbuf_add(&b, sql, (size_t)(m - sql));
		if (!strncmp(m, "@LOCK@", 6)) {
			ffbuf_adds(&b, lock);
			sql = m + 6;
		} else if (!strncmp(m, "@FOR_UPDATE@", 12)) {
			/* a row lock that waits, where the dialect has row locks */
			ffbuf_adds(&b, *lock ? " FOR UPDATE" : "");
			sql = m + 12;
		} else {
			ffbuf_add(&b, "@", 1);
			sql = m + 1;
		}
	}
	ffbuf_adds(&b, sql);
	return ffbuf_detach(&b, NULL);
}

char *store_expand_dialect(const char *sql, const char *seq, const char *integer)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	const char *p = sql;
	while (*p) {
		if (strncmp(p, "@SEQ@", 5) == 0) {
			ffbuf_adds(&b, seq);
			p += 5;
		} else if (strncmp(p, "@INT@", 5) == 0) {
			ffbuf_adds(&b, integer);
			p += 5;
		} else {
			ffbuf_add(&b, p, 1);
			p++;
		}
	}
	return ffbuf_detach(&b, NULL);
}
