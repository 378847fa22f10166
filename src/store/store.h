/*
 * store.h - the storage interface of fulfill: the operations the core needs, filled by
 * a SQLite backend (sqlite.c) and a PostgreSQL backend (pg.c, pg_stmt.c).
 *
 * The core never writes SQL. It names a query by its id (enum store_query, the table in
 * queries.c holds the SQL, one dialect-neutral text per query, with `?` placeholders
 * that pg_stmt.c renumbers to $n), binds parameters, and steps through rows. Statements are
 * prepared once per connection and cached. Transactions nest: the outermost
 * store_begin() starts a transaction, inner ones are savepoints, so a core function can
 * own its transaction and still run inside a caller's (group commit, idempotency).
 *
 * A `struct store` is one connection: not thread-safe; one per thread.
 */
#ifndef FULFILL_STORE_H
#define FULFILL_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "fulfill/error.h"
#include "store/queries.h"

struct store;
struct store_stmt;

enum store_kind { STORE_SQLITE, STORE_PG };

/* Open `url` ("sqlite:PATH", a bare path, or "postgres://..."/"postgresql://...") and
 * apply pending migrations. */
enum ff_err store_open(const char *url, struct store **out, struct ff_diag *d);
/* Close the connection; accepts NULL. */
void store_close(struct store *s);
enum store_kind store_kind(const struct store *s);
/* Schema version after migrations. */
int store_schema_version(struct store *s);
/* The last error text of the connection (for logs; never shown to API callers). */
const char *store_errmsg(struct store *s);

/* Transactions (nestable). store_rollback() undoes the innermost level only. */
enum ff_err store_begin(struct store *s);
enum ff_err store_commit(struct store *s);
void store_rollback(struct store *s);
int store_depth(const struct store *s);
/* true when the last failure was a transient conflict worth retrying (busy, PG 40001). */
bool store_retryable(const struct store *s);
/* The storage under the database, as the last writes of this process found it: true,
 * with the error in `msg`, while the last write that failed for the storage's sake
 * (disk full, read-only file system, I/O error, a sync the disk refused) has not been
 * followed by one that committed; any connection, any thread. /readyz asks this. */
bool store_storage_fault(char *msg, size_t cap);
/* true when this connection cannot write at all: a SQLite file this process may only
 * read (its owner or mode, a read-only file system). */
bool store_read_only(struct store *s);
/* true when the last failure was a unique-constraint violation. */
bool store_unique_violation(const struct store *s);

/* The cached prepared statement for `q`, reset and with its bindings cleared. Valid
 * until the next store_query() of the same id. Aborts on a query that cannot be
 * prepared (a programming error). */
struct store_stmt *store_query(struct store *s, enum store_query q);
/* Bind parameter `i` (1-based). A NULL text binds SQL NULL. */
void store_bind_text(struct store_stmt *st, int i, const char *v);
void store_bind_int(struct store_stmt *st, int i, int64_t v);
void store_bind_null(struct store_stmt *st, int i);
/* Bind an int, or NULL when `is_null`. */
void store_bind_int_or_null(struct store_stmt *st, int i, int64_t v, bool is_null);
/* Step: 1 a row is ready, 0 done, -1 error (store_errmsg). */
int store_step(struct store_stmt *st);
/* Run a statement that returns no rows; FF_E_STORE on failure. */
enum ff_err store_exec(struct store_stmt *st);
/* Run a write whose answer the caller does not need now (an INSERT of a history row,
 * an audit record, a posting). Inside a transaction on PostgreSQL it is sent without
 * waiting (libpq pipeline mode) and its answer is read with the next statement that
 * waits for one: a write that failed makes that statement (a step, store_exec,
 * store_begin, store_commit, store_sync) fail with the write's own error, and
 * store_ahead_failed() is true until the level is rolled back; the transaction is lost
 * either way. store_changes() is not set by it; store_total_changes() counts it as one
 * row at once. Elsewhere (SQLite, autocommit) it is store_exec(). FF_E_STORE when it
 * failed at once. */
enum ff_err store_exec_ahead(struct store_stmt *st);
/* store_exec_ahead() of an UPDATE or DELETE that must change exactly one row (the
 * caller holds the row's lock, or is the only writer). When it changed another number,
 * the transaction is lost as if the write had failed, with a retryable error (a lost
 * race: PostgreSQL's serialization failure); FF_E_CONFLICT when that is known at once
 * (SQLite, autocommit). */
enum ff_err store_exec_ahead_one(struct store_stmt *st);
/* A read whose bindings are final and whose rows are wanted soon: on PostgreSQL,
 * inside a transaction, it is sent now (pipeline) and answered with the next round
 * trip, so several independent reads cost one; step it as usual afterwards, and do not
 * bind it again. Elsewhere it runs at its first step. */
void store_prefetch(struct store_stmt *st);
/* Wait for every write sent ahead; FF_E_STORE when one failed (store_errmsg). */
enum ff_err store_sync(struct store *s);
/* A write sent ahead in the current transaction level failed: whatever failed after it
 * failed because of it, and store_errmsg()/store_retryable() describe that write. */
bool store_ahead_failed(const struct store *s);
/* Column `c` (0-based) of the current row. Text is NULL for SQL NULL and valid until
 * the next step. */
const char *store_col_text(struct store_stmt *st, int c);
int64_t store_col_int(struct store_stmt *st, int c);
bool store_col_null(struct store_stmt *st, int c);
/* Reset every statement that still holds a row, ending its read snapshot. The
 * engine calls this at the end of each public call; commit/rollback do it too. */
void store_release(struct store *s);
/* Serialize writers of the audit hash chain: called before reading the chain's tail in
 * a write transaction (SQLite: BEGIN IMMEDIATE already does; PostgreSQL: a transaction
 * advisory lock). */
enum ff_err store_lock_chain(struct store *s);
/* The current transaction created work for workers (approved rewards, outbox rows):
 * its commit wakes idle workers (PostgreSQL: NOTIFY fulfill_work, sent with the COMMIT,
 * so a rolled-back transaction wakes nobody). No-op outside a transaction and on
 * SQLite. */
void store_notify_work(struct store *s);
/* Outside a transaction: wait up to `timeout_ms` for work signalled by another
 * connection. 1 woken, 0 timed out (or interrupted by a signal), -1 when the backend
 * cannot signal (SQLite) or the connection failed: the caller sleeps instead. */
int store_wait_work(struct store *s, int timeout_ms);
/* This connection is its process's busy writer (the HTTP group-commit thread). On
 * SQLite: the file read through a memory map; WAL checkpoints handed to a background thread with a
 * connection of its own (synchronous=FULL there), each time the WAL passes
 * `checkpoint_pages` (0: 25,000), for every connection of the process to that database;
 * and commits that only append to the
 * WAL (synchronous=NORMAL), made durable by store_make_durable(), so that the writer goes on
 * with the next group while the disk syncs the last one. No effect on PostgreSQL,
 * whose commits are durable when they return. */
void store_make_writer(struct store *s, int checkpoint_pages);
/* Whether commits on this connection return before they are durable (a writer on
 * SQLite): the caller must store_make_durable() before telling anyone that they
 * happened. */
bool store_deferred_sync(const struct store *s);
/* Make every transaction committed on this connection so far durable (fdatasync of
 * SQLite's WAL). 0, or -1 when the disk refused (nothing may then be reported as
 * stored). Unlike every other call here it may run on another thread than the one
 * using the connection. 0 at once where commits are durable already. */
int store_make_durable(struct store *s);
/* Rows inserted, updated or deleted by this connection so far (SELECTs do not count):
 * a difference tells whether a piece of work wrote anything. */
int64_t store_total_changes(struct store *s);
/* Rows changed by the last statement run. */
int64_t store_changes(struct store *s);
/* A number that changes whenever the database changes, through this connection or any
 * other (SQLite's SQLITE_FCNTL_DATA_VERSION), read inside a transaction or just after
 * one; -1 where the backend has none (PostgreSQL). Equal values around a stretch of
 * time mean that nothing at all was written meanwhile. */
int64_t store_data_version(struct store *s);

/* Convenience: run `q` with no parameters or `n` text parameters; no rows. */
enum ff_err store_run(struct store *s, enum store_query q);

#endif
