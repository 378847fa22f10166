/*
 * sqlite.c - the SQLite backend of store.h (the embedded default).
 *
 * WAL journal, synchronous=FULL (a committed write survives a power cut), a busy
 * timeout so concurrent processes wait instead of failing, foreign keys on. Statements
 * are prepared on first use and cached per connection. Nested transactions map to
 * SAVEPOINTs. Migrations run at open inside one IMMEDIATE transaction.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

struct store_stmt {
	sqlite3_stmt *stmt;
	struct store *owner;
	bool listed; /* in store.active: stepped to a row since the last store_release() */
};

#define MAX_ACTIVE Q__COUNT

struct store {
	sqlite3 *db;
	int depth;
	int last_rc;
	int last_ext;
	int schema_version;
	struct store_stmt cache[Q__COUNT];
	struct store_stmt *active[MAX_ACTIVE];
	int nactive;
};

static void stmt_reset(struct store_stmt *st)
{
	sqlite3_reset(st->stmt);
}

void store_release(struct store *s)
{
	for (int i = 0; i < s->nactive; i++) {
		sqlite3_reset(s->active[i]->stmt);
		s->active[i]->listed = false;
	}
	s->nactive = 0;
}

static enum ff_err exec_sql(struct store *s, const char *sql, struct ff_diag *d)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		s->last_rc = rc;
		s->last_ext = sqlite3_extended_errcode(s->db);
		enum ff_err e = ff_fail(d, FF_E_STORE, NULL, "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return e;
	}
	return FF_OK;
}

static int read_version(struct store *s)
{
	sqlite3_stmt *st;
	int v = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
			       NULL) != SQLITE_OK)
		return 0; /* no meta table yet */
	if (sqlite3_step(st) == SQLITE_ROW)
		v = atoi((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

static enum ff_err migrate(struct store *s, struct ff_diag *d)
{
	enum ff_err err = exec_sql(s, "BEGIN IMMEDIATE", d);
	if (err)
		return err;
	int v = read_version(s);
	int n = 0;
	while (store_migrations[n])
		n++;
	for (int i = v; i < n; i++) {
		char *sql = store_expand_dialect(store_migrations[i], "INTEGER PRIMARY KEY", "INTEGER");
		err = exec_sql(s, sql, d);
		free(sql);
		if (err)
			goto out;
		char up[160];
		snprintf(up, sizeof(up),
			 "INSERT INTO meta(key, value) VALUES ('schema_version', '%d') "
			 "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
			 i + 1);
		err = exec_sql(s, up, d);
		if (err)
			goto out;
	}
	s->schema_version = n > v ? n : v;
	err = exec_sql(s, "COMMIT", d);
out:
	if (err)
		exec_sql(s, "ROLLBACK", NULL);
	return err;
}

enum ff_err store_open(const char *url, struct store **out, struct ff_diag *d)
{
	const char *path = url;
	if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
		extern enum ff_err store_pg_open(const char *url, struct store **out, struct ff_diag *d);
		return store_pg_open(url, out, d);
	}
	if (strncmp(path, "sqlite:", 7) == 0)
		path += 7;
	if (!*path)
		return ff_fail(d, FF_E_INVALID, "db", "empty database path");
	struct store *s = ff_calloc(1, sizeof(*s));
	int rc = sqlite3_open_v2(path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	enum ff_err err;
	if (rc != SQLITE_OK) {
		err = ff_fail(d, FF_E_STORE, "db", "cannot open %s: %s", path,
			      s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 30000);
	err = exec_sql(s,
		       "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
		       "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000;",
		       d);
	if (err)
		goto fail;
	err = migrate(s, d);
	if (err)
		goto fail;
	*out = s;
	return FF_OK;
fail:
	store_close(s);
	return err;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < Q__COUNT; i++)
		sqlite3_finalize(s->cache[i].stmt);
	sqlite3_close(s->db);
	free(s);
}

enum store_kind store_kind(const struct store *s)
{
	(void)s;
	return STORE_SQLITE;
}

int store_schema_version(struct store *s)
{
	return s->schema_version;
}

const char *store_errmsg(struct store *s)
{
	return sqlite3_errmsg(s->db);
}

enum ff_err store_begin(struct store *s)
{
	char sql[48];
	if (s->depth == 0)
		snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE");
	else
		snprintf(sql, sizeof(sql), "SAVEPOINT sp%d", s->depth);
	enum ff_err err = exec_sql(s, sql, NULL);
	if (!err)
		s->depth++;
	return err;
}

enum ff_err store_commit(struct store *s)
{
	char sql[48];
	if (s->depth <= 0)
		return FF_E_INTERNAL;
	store_release(s);
	if (s->depth == 1)
		snprintf(sql, sizeof(sql), "COMMIT");
	else
		snprintf(sql, sizeof(sql), "RELEASE sp%d", s->depth - 1);
	enum ff_err err = exec_sql(s, sql, NULL);
	if (err) {
		/* a failed COMMIT leaves the transaction open: roll it back */
		store_rollback(s);
		return err;
	}
	s->depth--;
	return FF_OK;
}

void store_rollback(struct store *s)
{
	char sql[64];
	if (s->depth <= 0)
		return;
	store_release(s);
	if (s->depth == 1) {
		if (!sqlite3_get_autocommit(s->db))
			exec_sql(s, "ROLLBACK", NULL);
	} else {
		snprintf(sql, sizeof(sql), "ROLLBACK TO sp%d; RELEASE sp%d", s->depth - 1, s->depth - 1);
		exec_sql(s, sql, NULL);
	}
	s->depth--;
}

int store_depth(const struct store *s)
{
	return s->depth;
}

bool store_retryable(const struct store *s)
{
	return s->last_rc == SQLITE_BUSY || s->last_rc == SQLITE_LOCKED;
}

bool store_unique_violation(const struct store *s)
{
	return s->last_ext == SQLITE_CONSTRAINT_UNIQUE || s->last_ext == SQLITE_CONSTRAINT_PRIMARYKEY;
}

struct store_stmt *store_query(struct store *s, enum store_query q)
{
	struct store_stmt *st = &s->cache[q];
	if (!st->stmt) {
		const char *sql = store_sql[q];
		if (!sql || sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt, NULL) !=
				    SQLITE_OK) {
			fprintf(stderr, "fulfill: cannot prepare query %d: %s\n", (int)q,
				sql ? sqlite3_errmsg(s->db) : "no SQL");
			abort();
		}
		st->owner = s;
	} else {
		stmt_reset(st);
		sqlite3_clear_bindings(st->stmt);
	}
	return st;
}

void store_bind_text(struct store_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st->stmt, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st->stmt, i);
}

void store_bind_int(struct store_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st->stmt, i, v);
}

void store_bind_null(struct store_stmt *st, int i)
{
	sqlite3_bind_null(st->stmt, i);
}

void store_bind_int_or_null(struct store_stmt *st, int i, int64_t v, bool is_null)
{
	if (is_null)
		sqlite3_bind_null(st->stmt, i);
	else
		sqlite3_bind_int64(st->stmt, i, v);
}

int store_step(struct store_stmt *st)
{
	int rc = sqlite3_step(st->stmt);
	if (rc == SQLITE_ROW) {
		struct store *s = st->owner;
		if (!st->listed && s->nactive < MAX_ACTIVE) {
			st->listed = true;
			s->active[s->nactive++] = st;
		}
		return 1;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st->stmt);
		return 0;
	}
	st->owner->last_rc = rc;
	st->owner->last_ext = sqlite3_extended_errcode(st->owner->db);
	sqlite3_reset(st->stmt);
	return -1;
}

enum ff_err store_exec(struct store_stmt *st)
{
	int rc = store_step(st);
	if (rc < 0)
		return FF_E_STORE;
	sqlite3_reset(st->stmt);
	return FF_OK;
}

const char *store_col_text(struct store_stmt *st, int c)
{
	return (const char *)sqlite3_column_text(st->stmt, c);
}

int64_t store_col_int(struct store_stmt *st, int c)
{
	return sqlite3_column_int64(st->stmt, c);
}

bool store_col_null(struct store_stmt *st, int c)
{
	return sqlite3_column_type(st->stmt, c) == SQLITE_NULL;
}

int64_t store_changes(struct store *s)
{
	return sqlite3_changes64(s->db);
}

enum ff_err store_run(struct store *s, enum store_query q)
{
	return store_exec(store_query(s, q));
}
