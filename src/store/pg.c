/*
 * pg.c - the PostgreSQL backend of store.h over libpq, selected by a postgres:// URL.
 *
 * The same query texts as SQLite (queries.c): `?` and `?N` placeholders are renumbered
 * to `$N` once, at prepare time, and each statement is prepared once per connection
 * (PQprepare). Parameters travel as text; PostgreSQL infers their types from the
 * statement. A step walks the rows of the whole result, which PQexecPrepared returns at
 * once (result sets here are bounded: lists are paged, work is taken in chunks).
 *
 * Transactions nest as savepoints, like SQLite. Writers of the audit hash chain take a
 * transaction-scoped advisory lock, so concurrent processes append one after another.
 * Migrations run under an advisory lock, so processes starting together migrate once.
 *
 * A connection lost between transactions (server restart, failover) is re-established
 * on the next BEGIN or statement outside a transaction, with a short backoff; a lost
 * connection inside a transaction fails that transaction (the caller retries it whole).
 * Statements are re-prepared on the new connection.
 *
 * Work signals: store_notify_work() marks the transaction, and its COMMIT carries a
 * `NOTIFY fulfill_work`; idle workers LISTEN on that channel (store_wait_work).
 *
 * Writes sent ahead (store_exec_ahead, inside a transaction): the connection enters
 * libpq's pipeline mode and the statement is sent without waiting for its answer. The
 * answers are collected by the next statement that needs one - a read rides in the same
 * pipeline, so the writes before it cost no round trip of their own - or by the next
 * BEGIN/SAVEPOINT/COMMIT/ROLLBACK/lock, which first syncs. A write that failed fails
 * that collecting statement with its own error (the transaction is aborted on the
 * server, as after any failed statement), and store_ahead_failed() says so until the
 * level is rolled back. At most AHEAD_MAX statements wait, so neither side's socket
 * buffer can fill while the other is not reading. A write that must change exactly one
 * row (store_exec_ahead_one) and did not fails the same way, as a serialization
 * failure (40001: retryable). Reads sent ahead (store_prefetch) keep their answer in
 * their statement for its first step; several independent reads thus cost one round
 * trip. FULFILL_PG_STATS=1 prints statements per query id and round trips on close.
 *
 * This file holds the connection, migrations, transactions, locks and work signals;
 * pg_stmt.c the statements and the pipeline; pg_int.h what they share.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fulfill/buf.h"
#include "store/pg_int.h"

#define LOCK_MIGRATE 7302001
#define LOCK_CHAIN 7302002
#define WORK_CHANNEL "fulfill_work"
/* Reconnect attempts between transactions: 50 ms doubling, at most ~1.5 s in total,
 * so a request fails fast (503) while the server is down and recovers when it is up. */
#define RECONNECT_TRIES 5

void store_pg_set_error(struct pg *p, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	/* "current transaction is aborted" says nothing new: keep the error that did it */
	if (state && !strcmp(state, "25P02") && p->sqlstate[0])
		return;
	snprintf(p->sqlstate, sizeof(p->sqlstate), "%s", state ? state : "");
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(p->conn);
	if (!msg || !*msg)
		msg = PQerrorMessage(p->conn);
	snprintf(p->errmsg, sizeof(p->errmsg), "%s", msg ? msg : "unknown error");
	size_t n = strlen(p->errmsg);
	while (n && (p->errmsg[n - 1] == '\n' || p->errmsg[n - 1] == ' '))
		p->errmsg[--n] = '\0';
}

/* Run a statement without parameters; FF_E_STORE on failure. */
enum ff_err store_pg_exec(struct pg *p, const char *sql, struct ff_diag *d)
{
	if (p->ahead && !store_pg_collect(p))
		return ff_fail(d, FF_E_STORE, NULL, "postgres: %s", p->errmsg);
	p->sent_other++;
	p->trips++;
	PGresult *res = PQexec(p->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	enum ff_err err = FF_OK;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		store_pg_set_error(p, res);
		err = ff_fail(d, FF_E_STORE, NULL, "postgres: %s", p->errmsg);
	}
	PQclear(res);
	return err;
}

bool store_pg_connected(struct pg *p)
{
	return p->conn && PQstatus(p->conn) == CONNECTION_OK;
}

/* Between transactions: has the server closed this connection (restart, failover,
 * idle timeout)? A closing server sends its goodbye and EOF, which a non-blocking read
 * picks up (and libpq marks the connection bad), so the statement about to be sent
 * goes to a new connection instead of failing. */
bool store_pg_alive(struct pg *p)
{
	/* the first read may return the goodbye message, the second then sees the EOF */
	for (int i = 0; i < 2 && store_pg_connected(p); i++)
		PQconsumeInput(p->conn);
	return store_pg_connected(p);
}

static enum ff_err connect_db(struct pg *p, struct ff_diag *d)
{
	if (p->conn)
		PQfinish(p->conn);
	store_pg_forget_prepared(p);
	p->listening = false;
	p->ahead = 0;
	p->ahead_failed = false;
	p->conn = PQconnectdb(p->url);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		snprintf(p->errmsg, sizeof(p->errmsg), "%s", PQerrorMessage(p->conn));
		return ff_fail(d, FF_E_UNAVAILABLE, "db", "cannot connect to PostgreSQL: %s", p->errmsg);
	}
	return store_pg_exec(p, "SET client_min_messages = warning; SET TIME ZONE 'UTC'", d);
}

/* Between transactions only: replace a lost connection, retrying with backoff. */
bool store_pg_reconnect(struct pg *p)
{
	for (int attempt = 0; attempt < RECONNECT_TRIES; attempt++) {
		if (attempt)
			usleep(50000u << (attempt - 1));
		if (!connect_db(p, NULL))
			return true;
	}
	snprintf(p->sqlstate, sizeof(p->sqlstate), "08006");
	return false;
}

static enum ff_err migrate(struct pg *p, struct ff_diag *d)
{
	enum ff_err err = store_pg_exec(p, "BEGIN", d);
	if (err)
		return err;
	/* another process that holds the lock is migrating (minutes, for a big database):
	 * say so once, then wait for it - the lock has no timeout */
	char lock[80];
	snprintf(lock, sizeof(lock), "SELECT pg_try_advisory_xact_lock(%d)", LOCK_MIGRATE);
	PGresult *res = PQexec(p->conn, lock);
	bool taken = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!taken) {
		store_note_migration_wait("the PostgreSQL database");
		snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d)", LOCK_MIGRATE);
		if ((err = store_pg_exec(p, lock, d)))
			goto out;
	}
	int v = 0;
	res = PQexec(p->conn, "SELECT to_regclass('meta') IS NOT NULL");
	bool has_meta = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (has_meta) {
		res = PQexec(p->conn, "SELECT value FROM meta WHERE key = 'schema_version'");
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			v = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	int n = 0;
	while (store_migrations[n])
		n++;
	if (v > n) {
		err = store_newer_schema(v, n, d);
		goto out;
	}
	for (int i = v; i < n; i++) {
		char *sql = store_expand_dialect(store_migrations[i], "BIGSERIAL PRIMARY KEY", "BIGINT");
		err = store_pg_exec(p, sql, d);
		free(sql);
		if (err)
			goto out;
		char up[200];
		snprintf(up, sizeof(up),
			 "INSERT INTO meta(key, value) VALUES ('schema_version', '%d') "
			 "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			 i + 1);
		if ((err = store_pg_exec(p, up, d)))
			goto out;
	}
	p->base.schema_version = n;
	err = store_pg_exec(p, "COMMIT", d);
out:
	if (err)
		store_pg_exec(p, "ROLLBACK", NULL);
	return err;
}

static void print_stats(const struct pg *p)
{
	int64_t total = p->sent_other;
	for (int i = 0; i < Q__COUNT; i++)
		total += p->sent[i];
	fprintf(stderr, "pg: %lld round trips, %lld statements (%lld without a query id: begin, commit, locks)\n",
		(long long)p->trips, (long long)total, (long long)p->sent_other);
	for (int i = 0; i < Q__COUNT; i++)
		if (p->sent[i])
			fprintf(stderr, "  %8lld  q%d %.90s\n", (long long)p->sent[i], i, store_sql[i]);
}

static void pg_close(struct store *s)
{
	struct pg *p = PG(s);
	if (p->stats)
		print_stats(p);
	store_pg_unprepare_all(p);
	if (p->conn)
		PQfinish(p->conn);
	free(p->url);
	free(p);
}

static const char *pg_errmsg(struct store *s)
{
	return PG(s)->errmsg;
}

static enum ff_err pg_begin(struct store *s)
{
	struct pg *p = PG(s);
	char sql[48];
	if (s->depth == 0) {
		/* between transactions a lost connection can be replaced safely */
		if (!store_pg_alive(p) && !store_pg_reconnect(p))
			return FF_E_UNAVAILABLE;
		p->chain_depth = 0;
		p->notify_pending = false;
		snprintf(sql, sizeof(sql), "BEGIN");
	} else {
		snprintf(sql, sizeof(sql), "SAVEPOINT sp%d", s->depth);
	}
	enum ff_err err = store_pg_exec(p, sql, NULL);
	/* a restarted server is noticed by the first command after it: BEGIN is safe to
	 * send again on a new connection */
	if (err && s->depth == 0 && !store_pg_connected(p) && store_pg_reconnect(p))
		err = store_pg_exec(p, sql, NULL);
	if (!err)
		s->depth++;
	return err;
}

static void pg_release(struct store *s)
{
	struct pg *p = PG(s);
	if (p->ahead)
		store_pg_collect(p);
	for (int i = 0; i < Q__COUNT; i++) {
		if (p->cache[i].res) {
			PQclear(p->cache[i].res);
			p->cache[i].res = NULL;
			p->cache[i].row = -1;
			p->cache[i].nrows = 0;
		}
	}
}

static void pg_rollback(struct store *s)
{
	struct pg *p = PG(s);
	char sql[96];
	if (s->depth <= 0)
		return;
	pg_release(s);
	if (p->ahead)
		store_pg_collect(p); /* their errors do not matter any more */
	p->ahead_failed = false;
	if (s->depth == 1) {
		if (store_pg_connected(p))
			store_pg_exec(p, "ROLLBACK", NULL);
		p->notify_pending = false;
	} else {
		snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT sp%d; RELEASE SAVEPOINT sp%d", s->depth - 1,
			 s->depth - 1);
		store_pg_exec(p, sql, NULL);
	}
	if (p->chain_depth >= s->depth)
		p->chain_depth = 0;
	s->depth--;
}

static enum ff_err pg_commit(struct store *s)
{
	struct pg *p = PG(s);
	if (s->depth <= 0)
		return FF_E_INTERNAL;
	if ((p->ahead && !store_pg_collect(p)) || p->ahead_failed) {
		/* a write sent ahead failed: its error stays the one reported */
		pg_rollback(s);
		return FF_E_STORE;
	}
	if (PQtransactionStatus(p->conn) == PQTRANS_INERROR) {
		/* a statement failed and nobody rolled back: the transaction is lost */
		snprintf(p->errmsg, sizeof(p->errmsg), "transaction aborted by an earlier error");
		pg_rollback(s);
		return FF_E_STORE;
	}
	char sql[64];
	if (s->depth == 1 && p->notify_pending)
		snprintf(sql, sizeof(sql), "NOTIFY " WORK_CHANNEL "; COMMIT");
	else if (s->depth == 1)
		snprintf(sql, sizeof(sql), "COMMIT");
	else
		snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT sp%d", s->depth - 1);
	enum ff_err err = store_pg_exec(p, sql, NULL);
	if (err) {
		pg_rollback(s);
		return err;
	}
	if (s->depth == 1)
		p->notify_pending = false;
	if (p->chain_depth >= s->depth)
		p->chain_depth = s->depth - 1;
	s->depth--;
	return FF_OK;
}

static bool pg_retryable(const struct store *s)
{
	const struct pg *p = (const struct pg *)s;
	return !strcmp(p->sqlstate, "40001") || !strcmp(p->sqlstate, "40P01") || !strncmp(p->sqlstate, "08", 2) ||
	       (p->conn && PQstatus(p->conn) != CONNECTION_OK);
}

/* 53xxx insufficient resources (53100 disk full), 58xxx system errors (58030 I/O). Not
 * a read-only server (25006): a report server on a standby (docs/scaling.md) refuses
 * writes by design and stays ready for its reads. */
static bool pg_storage_fault(const struct store *s)
{
	const char *state = ((const struct pg *)s)->sqlstate;
	return !strncmp(state, "53", 2) || !strncmp(state, "58", 2);
}

static bool pg_unique_violation(const struct store *s)
{
	return !strcmp(((const struct pg *)s)->sqlstate, "23505");
}

static int64_t pg_changes(struct store *s)
{
	return PG(s)->changes;
}

static int64_t pg_total_changes(struct store *s)
{
	return PG(s)->total_changes;
}

static enum ff_err pg_lock_chain(struct store *s)
{
	struct pg *p = PG(s);
	if (p->chain_depth || s->depth == 0)
		return FF_OK;
	char sql[64];
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d)", LOCK_CHAIN);
	enum ff_err err = store_pg_exec(p, sql, NULL);
	if (!err)
		p->chain_depth = s->depth;
	return err;
}

static void pg_notify_work(struct store *s)
{
	if (s->depth > 0)
		PG(s)->notify_pending = true;
}

/* Drain the notifications libpq has read; true when one came from another session
 * (our own NOTIFY describes work this process has just done). */
static bool take_notifies(struct pg *p)
{
	bool woken = false;
	int self = PQbackendPID(p->conn);
	PGnotify *n;
	while ((n = PQnotifies(p->conn))) {
		if (n->be_pid != self)
			woken = true;
		PQfreemem(n);
	}
	return woken;
}

static int pg_wait_work(struct store *s, int timeout_ms)
{
	struct pg *p = PG(s);
	if (s->depth > 0)
		return -1;
	if (!store_pg_connected(p) && !store_pg_reconnect(p))
		return -1;
	if (!p->listening) {
		if (store_pg_exec(p, "LISTEN " WORK_CHANNEL, NULL))
			return -1;
		p->listening = true;
	}
	if (PQconsumeInput(p->conn) && take_notifies(p))
		return 1;
	struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
	if (pfd.fd < 0)
		return -1;
	int rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -1;
	if (rc == 0)
		return 0;
	if (!PQconsumeInput(p->conn)) {
		store_pg_set_error(p, NULL);
		return -1; /* the connection is gone; the next statement reconnects */
	}
	return take_notifies(p) ? 1 : 0;
}

static const struct store_ops pg_ops = {
	.close = pg_close,
	.errmsg = pg_errmsg,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.retryable = pg_retryable,
	.storage_fault = pg_storage_fault,
	.unique_violation = pg_unique_violation,
	.query = store_pg_query,
	.bind_text = store_pg_bind_text,
	.bind_int = store_pg_bind_int,
	.bind_null = store_pg_bind_null,
	.step = store_pg_step,
	.col_text = store_pg_col_text,
	.col_int = store_pg_col_int,
	.col_null = store_pg_col_null,
	.changes = pg_changes,
	.total_changes = pg_total_changes,
	.release = pg_release,
	.lock_chain = pg_lock_chain,
	.notify_work = pg_notify_work,
	.wait_work = pg_wait_work,
	.exec_ahead = store_pg_exec_ahead,
	.exec_ahead_one = store_pg_exec_ahead_one,
	.prefetch = store_pg_prefetch,
	.sync = store_pg_sync,
	.ahead_failed = store_pg_ahead_failed,
};

enum ff_err store_pg_open(const char *url, struct store **out, struct ff_diag *d)
{
	struct pg *p = ff_calloc(1, sizeof(*p));
	p->base.ops = &pg_ops;
	p->base.kind = STORE_PG;
	p->url = ff_strdup(url);
	const char *stats = getenv("FULFILL_PG_STATS");
	p->stats = stats && *stats && strcmp(stats, "0");
	for (int i = 0; i < Q__COUNT; i++)
		p->cache[i].row = -1;
	enum ff_err err = FF_OK;
	/* a server that is still starting gets a few chances */
	for (int attempt = 0; attempt < 5; attempt++) {
		err = connect_db(p, d);
		if (!err || err != FF_E_UNAVAILABLE)
			break;
		usleep(200000u << attempt);
	}
	if (!err)
		err = migrate(p, d);
	if (err) {
		pg_close(&p->base);
		return err;
	}
	*out = &p->base;
	return FF_OK;
}
