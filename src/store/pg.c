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
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fulfill/buf.h"
#include "store/store_int.h"

#define MAX_PARAMS 32
#define LOCK_MIGRATE 7302001
#define LOCK_CHAIN 7302002
#define WORK_CHANNEL "fulfill_work"
/* Reconnect attempts between transactions: 50 ms doubling, at most ~1.5 s in total,
 * so a request fails fast (503) while the server is down and recovers when it is up. */
#define RECONNECT_TRIES 5
#define AHEAD_MAX 256

struct pg_stmt {
	struct store_stmt base;
	bool prepared;
	int nparams;
	char *params[MAX_PARAMS];
	bool set[MAX_PARAMS];
	PGresult *res;
	bool pending; /* sent ahead (store_prefetch); the answer is not read yet */
	int row;   /* current row, -1 before the first step */
	int nrows;
};

struct pg {
	struct store base;
	PGconn *conn;
	char *url;
	char sqlstate[6];
	char errmsg[512];
	int64_t changes;
	int64_t total_changes; /* rows written by INSERT/UPDATE/DELETE */
	/* the savepoint level that took the chain lock (0: not held): rolling that level
	 * back releases the lock, releasing it hands the lock to the level above */
	int chain_depth;
	bool notify_pending; /* the transaction created work: COMMIT sends NOTIFY */
	bool listening;	     /* LISTEN fulfill_work issued on this connection */
	int ahead;	     /* statements sent in pipeline mode whose answers are not read yet */
	struct {
		struct pg_stmt *st; /* a read's statement (its answer is kept), or NULL */
		bool one;	    /* a write that must change exactly one row */
	} queue[AHEAD_MAX];  /* per statement in the pipeline */
	bool ahead_failed;   /* one of them failed: this transaction level is lost */
	/* FULFILL_PG_STATS=1: statements sent per query id, statements without one
	 * (BEGIN, COMMIT, savepoints, locks) and round trips (a pipeline is one), printed
	 * to stderr on close */
	bool stats;
	int64_t sent[Q__COUNT], sent_other, trips;
	struct pg_stmt cache[Q__COUNT];
};

#define PG(s) ((struct pg *)(s))
#define PSTMT(st) ((struct pg_stmt *)(st))

static void set_error(struct pg *p, const PGresult *res)
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
static bool collect(struct pg *p);

static enum ff_err pg_exec(struct pg *p, const char *sql, struct ff_diag *d)
{
	if (p->ahead && !collect(p))
		return ff_fail(d, FF_E_STORE, NULL, "postgres: %s", p->errmsg);
	p->sent_other++;
	p->trips++;
	PGresult *res = PQexec(p->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	enum ff_err err = FF_OK;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		set_error(p, res);
		err = ff_fail(d, FF_E_STORE, NULL, "postgres: %s", p->errmsg);
	}
	PQclear(res);
	return err;
}

/* Rewrite `?` / `?N` placeholders to `$N` (outside string literals). As in SQLite, a
 * bare `?` is one more than the largest number so far. */
static char *renumber(const char *sql, int *out_nparams)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	int max = 0;
	bool quoted = false;
	for (const char *c = sql; *c; c++) {
		if (*c == '\'')
			quoted = !quoted;
		if (*c != '?' || quoted) {
			ffbuf_add(&b, c, 1);
			continue;
		}
		int n;
		if (c[1] >= '0' && c[1] <= '9') {
			n = 0;
			while (c[1] >= '0' && c[1] <= '9')
				n = n * 10 + (*++c - '0');
		} else {
			n = max + 1;
		}
		if (n > max)
			max = n;
		ffbuf_addf(&b, "$%d", n);
	}
	*out_nparams = max;
	return ffbuf_detach(&b, NULL);
}

static void stmt_clear(struct pg_stmt *st)
{
	for (int i = 0; i < MAX_PARAMS; i++) {
		free(st->params[i]);
		st->params[i] = NULL;
		st->set[i] = false;
	}
	PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	st->nrows = 0;
}

static void unprepare_all(struct pg *p)
{
	for (int i = 0; i < Q__COUNT; i++) {
		stmt_clear(&p->cache[i]);
		p->cache[i].prepared = false;
		p->cache[i].pending = false;
	}
}

/* A new connection knows none of the old one's prepared statements; the bindings of
 * the statement about to run are kept. */
static void forget_prepared(struct pg *p)
{
	for (int i = 0; i < Q__COUNT; i++) {
		PQclear(p->cache[i].res);
		p->cache[i].res = NULL;
		p->cache[i].row = -1;
		p->cache[i].nrows = 0;
		p->cache[i].prepared = false;
		p->cache[i].pending = false;
	}
}

static bool connected(struct pg *p)
{
	return p->conn && PQstatus(p->conn) == CONNECTION_OK;
}

/* Between transactions: has the server closed this connection (restart, failover,
 * idle timeout)? A closing server sends its goodbye and EOF, which a non-blocking read
 * picks up (and libpq marks the connection bad), so the statement about to be sent
 * goes to a new connection instead of failing. */
static bool alive(struct pg *p)
{
	/* the first read may return the goodbye message, the second then sees the EOF */
	for (int i = 0; i < 2 && connected(p); i++)
		PQconsumeInput(p->conn);
	return connected(p);
}

static enum ff_err connect_db(struct pg *p, struct ff_diag *d)
{
	if (p->conn)
		PQfinish(p->conn);
	forget_prepared(p);
	p->listening = false;
	p->ahead = 0;
	p->ahead_failed = false;
	p->conn = PQconnectdb(p->url);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		snprintf(p->errmsg, sizeof(p->errmsg), "%s", PQerrorMessage(p->conn));
		return ff_fail(d, FF_E_UNAVAILABLE, "db", "cannot connect to PostgreSQL: %s", p->errmsg);
	}
	return pg_exec(p, "SET client_min_messages = warning; SET TIME ZONE 'UTC'", d);
}

/* Between transactions only: replace a lost connection, retrying with backoff. */
static bool reconnect(struct pg *p)
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
	enum ff_err err = pg_exec(p, "BEGIN", d);
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
		if ((err = pg_exec(p, lock, d)))
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
		err = pg_exec(p, sql, d);
		free(sql);
		if (err)
			goto out;
		char up[200];
		snprintf(up, sizeof(up),
			 "INSERT INTO meta(key, value) VALUES ('schema_version', '%d') "
			 "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			 i + 1);
		if ((err = pg_exec(p, up, d)))
			goto out;
	}
	p->base.schema_version = n;
	err = pg_exec(p, "COMMIT", d);
out:
	if (err)
		pg_exec(p, "ROLLBACK", NULL);
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
	unprepare_all(p);
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
		if (!alive(p) && !reconnect(p))
			return FF_E_UNAVAILABLE;
		p->chain_depth = 0;
		p->notify_pending = false;
		snprintf(sql, sizeof(sql), "BEGIN");
	} else {
		snprintf(sql, sizeof(sql), "SAVEPOINT sp%d", s->depth);
	}
	enum ff_err err = pg_exec(p, sql, NULL);
	/* a restarted server is noticed by the first command after it: BEGIN is safe to
	 * send again on a new connection */
	if (err && s->depth == 0 && !connected(p) && reconnect(p))
		err = pg_exec(p, sql, NULL);
	if (!err)
		s->depth++;
	return err;
}

static void pg_release(struct store *s)
{
	struct pg *p = PG(s);
	if (p->ahead)
		collect(p);
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
		collect(p); /* their errors do not matter any more */
	p->ahead_failed = false;
	if (s->depth == 1) {
		if (connected(p))
			pg_exec(p, "ROLLBACK", NULL);
		p->notify_pending = false;
	} else {
		snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT sp%d; RELEASE SAVEPOINT sp%d", s->depth - 1,
			 s->depth - 1);
		pg_exec(p, sql, NULL);
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
	if ((p->ahead && !collect(p)) || p->ahead_failed) {
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
	enum ff_err err = pg_exec(p, sql, NULL);
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

static struct store_stmt *pg_query(struct store *s, enum store_query q)
{
	struct pg *p = PG(s);
	struct pg_stmt *st = &p->cache[q];
	st->base.owner = s;
	if (st->pending)
		collect(p); /* its answer must not land on the new bindings */
	stmt_clear(st);
	return &st->base;
}

static void pg_bind_text(struct store_stmt *sst, int i, const char *v)
{
	struct pg_stmt *st = PSTMT(sst);
	if (i < 1 || i > MAX_PARAMS)
		abort();
	free(st->params[i - 1]);
	st->params[i - 1] = v ? strdup(v) : NULL;
	if (v && !st->params[i - 1])
		ff_oom();
	st->set[i - 1] = true;
}

static void pg_bind_int(struct store_stmt *st, int i, int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	pg_bind_text(st, i, buf);
}

static void pg_bind_null(struct store_stmt *st, int i)
{
	pg_bind_text(st, i, NULL);
}

static bool prepare(struct pg *p, enum store_query q, struct pg_stmt *st)
{
	if (p->ahead && !collect(p))
		return false;
	int n = 0;
	char *expanded = store_expand_query(store_sql[q], " FOR UPDATE SKIP LOCKED");
	char *sql = renumber(expanded, &n);
	free(expanded);
	char name[16];
	snprintf(name, sizeof(name), "q%d", (int)q);
	PGresult *res = PQprepare(p->conn, name, sql, n, NULL);
	free(sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		set_error(p, res);
	PQclear(res);
	if (ok) {
		st->prepared = true;
		st->nparams = n;
	}
	return ok;
}

static int pg_step(struct store_stmt *sst);

/* Queue statement `st` (prepared as `name`) in the pipeline, entering pipeline mode
 * if needed; a `read` keeps its answer in st->res when it is collected. False when it
 * could not be sent (the connection is gone). */
static bool send_ahead(struct pg *p, const char *name, struct pg_stmt *st, bool read, bool one)
{
	if (PQpipelineStatus(p->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(p->conn)) {
		set_error(p, NULL);
		return false;
	}
	if (!PQsendQueryPrepared(p->conn, name, st->nparams, (const char *const *)st->params, NULL, NULL, 0)) {
		set_error(p, NULL);
		p->ahead_failed = true;
		return false;
	}
	p->queue[p->ahead].st = read ? st : NULL;
	p->queue[p->ahead++].one = one;
	st->pending = read;
	return true;
}

/* Sync the pipeline and read every answer in it; leave pipeline mode. A read's answer
 * goes to its statement (st->res), a write's only counts its rows. False when a
 * statement failed: p->sqlstate/errmsg hold the first error, and ahead_failed is set;
 * the statements after it have no answer. A broken connection is closed (the next
 * BEGIN reconnects). */
static bool collect(struct pg *p)
{
	int n = p->ahead, idx = 0;
	bool ok = true, synced = false;
	p->ahead = 0;
	p->trips++; /* the whole pipeline is one round trip */
	if (PQpipelineSync(p->conn) != 1) {
		set_error(p, NULL);
		ok = false;
	}
	while (ok || PQstatus(p->conn) == CONNECTION_OK) {
		PGresult *res = PQgetResult(p->conn);
		if (!res) {
			/* the end of one statement's answer; past the last one and no sync
			 * in sight, the connection is gone */
			if (++idx > n + 1 || PQstatus(p->conn) != CONNECTION_OK) {
				snprintf(p->sqlstate, sizeof(p->sqlstate), "08006");
				snprintf(p->errmsg, sizeof(p->errmsg), "connection lost in a pipeline");
				ok = false;
				break;
			}
			continue;
		}
		ExecStatusType rs = PQresultStatus(res);
		if (rs == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			synced = true;
			break;
		}
		struct pg_stmt *reader = idx < n ? p->queue[idx].st : NULL;
		bool one = idx < n && p->queue[idx].one;
		if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
			const char *cmd = PQcmdStatus(res), *tuples = PQcmdTuples(res);
			int64_t rows = tuples && *tuples ? strtoll(tuples, NULL, 10) : 0;
			bool wrote = cmd && (!strncmp(cmd, "INSERT", 6) || !strncmp(cmd, "UPDATE", 6) ||
					     !strncmp(cmd, "DELETE", 6));
			if (reader) {
				p->changes = rows;
				p->total_changes += wrote ? rows : 0;
				if (ok) {
					reader->res = res;
					reader->nrows = PQntuples(res);
					reader->row = -1;
					continue;
				}
			} else if (wrote) {
				p->total_changes += rows - 1; /* counted as one when sent */
			}
			if (one && rows != 1 && ok) {
				/* the row changed since it was read: a lost race, run again */
				snprintf(p->sqlstate, sizeof(p->sqlstate), "40001");
				snprintf(p->errmsg, sizeof(p->errmsg),
					 "a write sent ahead expected one row and changed %lld", (long long)rows);
				ok = false;
			}
		} else if (rs != PGRES_PIPELINE_ABORTED) {
			if (ok)
				set_error(p, res);
			ok = false;
		} else {
			ok = false; /* skipped after the error above */
		}
		PQclear(res);
	}
	for (int i = 0; i < n; i++)
		if (p->queue[i].st)
			p->queue[i].st->pending = false;
	if (!synced || !PQexitPipelineMode(p->conn)) {
		if (ok)
			set_error(p, NULL);
		ok = false;
		PQfinish(p->conn); /* out of step with the server: start over */
		p->conn = NULL;
		snprintf(p->sqlstate, sizeof(p->sqlstate), "08006");
	}
	if (ok)
		p->sqlstate[0] = '\0';
	else
		p->ahead_failed = true;
	return ok;
}

static void pg_prefetch(struct store_stmt *sst)
{
	struct pg_stmt *st = PSTMT(sst);
	struct pg *p = PG(sst->owner);
	enum store_query q = (enum store_query)(st - p->cache);
	/* outside a transaction, or with the transaction lost, it runs at its step */
	if (sst->owner->depth == 0 || !p->conn || p->ahead_failed || st->res || st->pending)
		return;
	if (!st->prepared && !prepare(p, q, st))
		return;
	char name[16];
	snprintf(name, sizeof(name), "q%d", (int)q);
	p->sent[q]++;
	if (send_ahead(p, name, st, true, false) && p->ahead >= AHEAD_MAX)
		collect(p);
}

static int exec_ahead(struct store_stmt *sst, bool one)
{
	struct pg_stmt *st = PSTMT(sst);
	struct pg *p = PG(sst->owner);
	enum store_query q = (enum store_query)(st - p->cache);
	/* outside a transaction there is nobody to report a late error to */
	if (sst->owner->depth == 0 || !p->conn) {
		if (pg_step(sst) < 0)
			return -1;
		return one && p->changes != 1 ? 1 : 0;
	}
	if (p->ahead_failed)
		return 0; /* the transaction is lost already; the next sync says so */
	if (!st->prepared && !prepare(p, q, st))
		return -1;
	char name[16];
	snprintf(name, sizeof(name), "q%d", (int)q);
	p->sent[q]++;
	if (!send_ahead(p, name, st, false, one))
		return -1;
	/* counted as written now, corrected when the answer is read: a caller comparing
	 * store_total_changes() sees that something may have been written */
	p->total_changes++;
	stmt_clear(st);
	if (p->ahead >= AHEAD_MAX && !collect(p))
		return -1;
	return 0;
}

static int pg_exec_ahead(struct store_stmt *sst)
{
	return exec_ahead(sst, false);
}

static int pg_exec_ahead_one(struct store_stmt *sst)
{
	return exec_ahead(sst, true);
}

static enum ff_err pg_sync(struct store *s)
{
	struct pg *p = PG(s);
	if (p->ahead && !collect(p))
		return FF_E_STORE;
	return p->ahead_failed ? FF_E_STORE : FF_OK;
}

static bool pg_ahead_failed(const struct store *s)
{
	return PG(s)->ahead_failed;
}

/* Run statement `st` (prepared as `name`) at once and keep its result; false on
 * failure (p->sqlstate/errmsg). */
static bool exec_now(struct pg *p, const char *name, struct pg_stmt *st)
{
	if (p->ahead_failed)
		return false; /* keeps the error of the write that failed */
	p->trips++;
	PGresult *res = PQexecPrepared(p->conn, name, st->nparams, (const char *const *)st->params, NULL, NULL, 0);
	ExecStatusType rs = PQresultStatus(res);
	if (rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK) {
		set_error(p, res);
		PQclear(res);
		return false;
	}
	p->sqlstate[0] = '\0';
	const char *tuples = PQcmdTuples(res);
	p->changes = tuples && *tuples ? strtoll(tuples, NULL, 10) : 0;
	const char *cmd = PQcmdStatus(res);
	if (cmd && (!strncmp(cmd, "INSERT", 6) || !strncmp(cmd, "UPDATE", 6) || !strncmp(cmd, "DELETE", 6)))
		p->total_changes += p->changes;
	st->res = res;
	st->nrows = PQntuples(res);
	st->row = -1;
	return true;
}

static int pg_step(struct store_stmt *sst)
{
	struct pg_stmt *st = PSTMT(sst);
	struct pg *p = PG(sst->owner);
	if (!st->res && st->pending) {
		/* sent ahead by store_prefetch: its answer comes with the others */
		collect(p);
		if (!st->res)
			return -1;
	}
	if (!st->res) {
		enum store_query q = (enum store_query)(st - p->cache);
		/* outside a transaction a lost connection is replaced before the statement */
		if (sst->owner->depth == 0 && !alive(p) && !reconnect(p))
			return -1;
		if (!st->prepared && !prepare(p, q, st))
			return -1;
		char name[16];
		snprintf(name, sizeof(name), "q%d", (int)q);
		p->sent[q]++;
		if (p->ahead) {
			/* the statements sent ahead and this one: one round trip */
			if (!send_ahead(p, name, st, true, false) || !collect(p) || !st->res)
				return -1;
		} else if (!exec_now(p, name, st)) {
			return -1;
		}
	}
	if (st->row + 1 < st->nrows) {
		st->row++;
		return 1;
	}
	return 0;
}

static const char *pg_col_text(struct store_stmt *sst, int c)
{
	struct pg_stmt *st = PSTMT(sst);
	if (!st->res || st->row < 0 || PQgetisnull(st->res, st->row, c))
		return NULL;
	return PQgetvalue(st->res, st->row, c);
}

static int64_t pg_col_int(struct store_stmt *st, int c)
{
	const char *v = pg_col_text(st, c);
	return v ? strtoll(v, NULL, 10) : 0;
}

static bool pg_col_null(struct store_stmt *sst, int c)
{
	struct pg_stmt *st = PSTMT(sst);
	return !st->res || st->row < 0 || PQgetisnull(st->res, st->row, c);
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
	enum ff_err err = pg_exec(p, sql, NULL);
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
	if (!connected(p) && !reconnect(p))
		return -1;
	if (!p->listening) {
		if (pg_exec(p, "LISTEN " WORK_CHANNEL, NULL))
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
		set_error(p, NULL);
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
	.query = pg_query,
	.bind_text = pg_bind_text,
	.bind_int = pg_bind_int,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.col_text = pg_col_text,
	.col_int = pg_col_int,
	.col_null = pg_col_null,
	.changes = pg_changes,
	.total_changes = pg_total_changes,
	.release = pg_release,
	.lock_chain = pg_lock_chain,
	.notify_work = pg_notify_work,
	.wait_work = pg_wait_work,
	.exec_ahead = pg_exec_ahead,
	.exec_ahead_one = pg_exec_ahead_one,
	.prefetch = pg_prefetch,
	.sync = pg_sync,
	.ahead_failed = pg_ahead_failed,
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
