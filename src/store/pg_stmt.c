/*
 * pg_stmt.c - the statements of the PostgreSQL backend: `?` / `?N` placeholders
 * renumbered to `$N`, each statement prepared once per connection, parameters bound as
 * text, rows stepped through a whole result, and the pipeline of statements sent ahead
 * (store_exec_ahead, store_prefetch) with its collection. The connection, transactions
 * and the operation table are in pg.c, which says how the pipeline fits the
 * transactions; pg_int.h holds what both share.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/buf.h"
#include "store/pg_int.h"

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

void store_pg_unprepare_all(struct pg *p)
{
	for (int i = 0; i < Q__COUNT; i++) {
		stmt_clear(&p->cache[i]);
		p->cache[i].prepared = false;
		p->cache[i].pending = false;
	}
}

/* A new connection knows none of the old one's prepared statements; the bindings of
 * the statement about to run are kept. */
void store_pg_forget_prepared(struct pg *p)
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

struct store_stmt *store_pg_query(struct store *s, enum store_query q)
{
	struct pg *p = PG(s);
	struct pg_stmt *st = &p->cache[q];
	st->base.owner = s;
	if (st->pending)
		store_pg_collect(p); /* its answer must not land on the new bindings */
	stmt_clear(st);
	return &st->base;
}

void store_pg_bind_text(struct store_stmt *sst, int i, const char *v)
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

void store_pg_bind_int(struct store_stmt *st, int i, int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	store_pg_bind_text(st, i, buf);
}

void store_pg_bind_null(struct store_stmt *st, int i)
{
	store_pg_bind_text(st, i, NULL);
}

static bool prepare(struct pg *p, enum store_query q, struct pg_stmt *st)
{
	if (p->ahead && !store_pg_collect(p))
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
		store_pg_set_error(p, res);
	PQclear(res);
	if (ok) {
		st->prepared = true;
		st->nparams = n;
	}
	return ok;
}

/* Queue statement `st` (prepared as `name`) in the pipeline, entering pipeline mode
 * if needed; a `read` keeps its answer in st->res when it is collected. False when it
 * could not be sent (the connection is gone). */
static bool send_ahead(struct pg *p, const char *name, struct pg_stmt *st, bool read, bool one)
{
	if (PQpipelineStatus(p->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(p->conn)) {
		store_pg_set_error(p, NULL);
		return false;
	}
	if (!PQsendQueryPrepared(p->conn, name, st->nparams, (const char *const *)st->params, NULL, NULL, 0)) {
		store_pg_set_error(p, NULL);
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
bool store_pg_collect(struct pg *p)
{
	int n = p->ahead, idx = 0;
	bool ok = true, synced = false;
	p->ahead = 0;
	p->trips++; /* the whole pipeline is one round trip */
	if (PQpipelineSync(p->conn) != 1) {
		store_pg_set_error(p, NULL);
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
				store_pg_set_error(p, res);
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
			store_pg_set_error(p, NULL);
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

void store_pg_prefetch(struct store_stmt *sst)
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
		store_pg_collect(p);
}

static int exec_ahead(struct store_stmt *sst, bool one)
{
	struct pg_stmt *st = PSTMT(sst);
	struct pg *p = PG(sst->owner);
	enum store_query q = (enum store_query)(st - p->cache);
	/* outside a transaction there is nobody to report a late error to */
	if (sst->owner->depth == 0 || !p->conn) {
		if (store_pg_step(sst) < 0)
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
	if (p->ahead >= AHEAD_MAX && !store_pg_collect(p))
		return -1;
	return 0;
}

int store_pg_exec_ahead(struct store_stmt *sst)
{
	return exec_ahead(sst, false);
}

int store_pg_exec_ahead_one(struct store_stmt *sst)
{
	return exec_ahead(sst, true);
}

enum ff_err store_pg_sync(struct store *s)
{
	struct pg *p = PG(s);
	if (p->ahead && !store_pg_collect(p))
		return FF_E_STORE;
	return p->ahead_failed ? FF_E_STORE : FF_OK;
}

bool store_pg_ahead_failed(const struct store *s)
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
		store_pg_set_error(p, res);
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

int store_pg_step(struct store_stmt *sst)
{
	struct pg_stmt *st = PSTMT(sst);
	struct pg *p = PG(sst->owner);
	if (!st->res && st->pending) {
		/* sent ahead by store_prefetch: its answer comes with the others */
		store_pg_collect(p);
		if (!st->res)
			return -1;
	}
	if (!st->res) {
		enum store_query q = (enum store_query)(st - p->cache);
		/* outside a transaction a lost connection is replaced before the statement */
		if (sst->owner->depth == 0 && !store_pg_alive(p) && !store_pg_reconnect(p))
			return -1;
		if (!st->prepared && !prepare(p, q, st))
			return -1;
		char name[16];
		snprintf(name, sizeof(name), "q%d", (int)q);
		p->sent[q]++;
		if (p->ahead) {
			/* the statements sent ahead and this one: one round trip */
			if (!send_ahead(p, name, st, true, false) || !store_pg_collect(p) || !st->res)
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

const char *store_pg_col_text(struct store_stmt *sst, int c)
{
	struct pg_stmt *st = PSTMT(sst);
	if (!st->res || st->row < 0 || PQgetisnull(st->res, st->row, c))
		return NULL;
	return PQgetvalue(st->res, st->row, c);
}

int64_t store_pg_col_int(struct store_stmt *st, int c)
{
	const char *v = store_pg_col_text(st, c);
	return v ? strtoll(v, NULL, 10) : 0;
}

bool store_pg_col_null(struct store_stmt *sst, int c)
{
	struct pg_stmt *st = PSTMT(sst);
	return !st->res || st->row < 0 || PQgetisnull(st->res, st->row, c);
}
