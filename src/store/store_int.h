/*
 * store_int.h - private to src/store: the backend operation table and the pieces both
 * backends share. A backend's connection struct starts with `struct store` and its
 * statement struct with `struct store_stmt`, so the public functions in store.c can
 * dispatch through `ops` (the SQLite btree.h/btreeInt.h split, curl's vtls/ idea).
 */
#ifndef FULFILL_STORE_INT_H
#define FULFILL_STORE_INT_H

#include "store/store.h"

struct store_ops {
	void (*close)(struct store *s);
	const char *(*errmsg)(struct store *s);
	enum ff_err (*begin)(struct store *s);
	enum ff_err (*commit)(struct store *s);
	void (*rollback)(struct store *s);
	bool (*retryable)(const struct store *s);
	bool (*unique_violation)(const struct store *s);
	struct store_stmt *(*query)(struct store *s, enum store_query q);
	void (*bind_text)(struct store_stmt *st, int i, const char *v);
	void (*bind_int)(struct store_stmt *st, int i, int64_t v);
	void (*bind_null)(struct store_stmt *st, int i);
	int (*step)(struct store_stmt *st);
	const char *(*col_text)(struct store_stmt *st, int c);
	int64_t (*col_int)(struct store_stmt *st, int c);
	bool (*col_null)(struct store_stmt *st, int c);
	int64_t (*changes)(struct store *s);
	int64_t (*total_changes)(struct store *s);
	void (*release)(struct store *s);
	enum ff_err (*lock_chain)(struct store *s);
	void (*notify_work)(struct store *s);
	int (*wait_work)(struct store *s, int timeout_ms);
	void (*make_writer)(struct store *s, int checkpoint_pages); /* optional */
	int (*make_durable)(struct store *s); /* optional: NULL = commits are durable */
	/* did the last failure come from the storage under the database (disk full, read-only
	 * file system, I/O error), as opposed to a conflict or a bad statement? */
	bool (*storage_fault)(const struct store *s);
	/* optional: the database was opened read-only (SQLite falls back to that, without
	 * an error, when the file cannot be opened for writing) */
	bool (*read_only)(struct store *s);
	int64_t (*data_version)(struct store *s); /* optional: NULL = none (-1) */
	/* optional (NULL: run at once, nothing pending, never failed ahead) */
	int (*exec_ahead)(struct store_stmt *st);
	int (*exec_ahead_one)(struct store_stmt *st); /* 1: ran at once, not one row */
	void (*prefetch)(struct store_stmt *st);
	enum ff_err (*sync)(struct store *s);
	bool (*ahead_failed)(const struct store *s);
};

/* The common head of every backend's connection. */
struct store {
	const struct store_ops *ops;
	enum store_kind kind;
	int depth;          /* transaction nesting: 0 none, 1 transaction, >1 savepoints */
	int schema_version;
	bool deferred_sync; /* commits return before they are durable: see store_sync() */
	int64_t tx_changes; /* store_total_changes() when the outermost transaction began */
};

/* The common head of every backend's statement. */
struct store_stmt {
	struct store *owner;
};

/* NULL-terminated list of migration scripts; migration N is store_migrations[N-1]. */
extern const char *const store_migrations[];
/* SQL text per query id. */
extern const char *const store_sql[Q__COUNT];

/* Replace the @LOCK@ marker of a query with `lock` (claims that skip what others hold)
 * and @FOR_UPDATE@ with a waiting row lock, " FOR UPDATE", when `lock` is not empty
 * (nothing on SQLite, whose write transactions hold the whole database); caller frees. */
char *store_expand_query(const char *sql, const char *lock);
/* The refusal of a database whose schema (`found`) is newer than the last migration
 * this build knows (`known`): a newer fulfill migrated it, and this one would read and
 * write it without the columns and meanings it now has. Nothing is changed. */
enum ff_err store_newer_schema(int found, int known, struct ff_diag *d);
/* Another process holds the migration lock (it is migrating the database, which may
 * take minutes): say once on stderr (a warn log line) that this one waits for it. */
void store_note_migration_wait(const char *db);
/* Expand @SEQ@/@INT@ in a migration for a dialect; caller frees. */
char *store_expand_dialect(const char *sql, const char *seq, const char *integer);

enum ff_err store_sqlite_open(const char *path, struct store **out, struct ff_diag *d);
enum ff_err store_pg_open(const char *url, struct store **out, struct ff_diag *d);

#endif
