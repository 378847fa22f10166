/*
 * pg_int.h - private to the PostgreSQL backend (src/store/pg*.c): the connection and
 * statement structs and what pg.c (connection, migrations, transactions, locks, work
 * signals, the operation table) and pg_stmt.c (statements: placeholders, prepared
 * statements, binds, rows, the pipeline of statements sent ahead) share. The public
 * face is store.h; store_int.h the backend operation table these fill.
 */
#ifndef FULFILL_STORE_PG_INT_H
#define FULFILL_STORE_PG_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store_int.h"

#define MAX_PARAMS 32
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

/* pg.c: keep the error of `res` (NULL: the connection's) as the store's error. */
void store_pg_set_error(struct pg *p, const PGresult *res);
/* pg.c: run a statement without parameters; FF_E_STORE on failure. */
enum ff_err store_pg_exec(struct pg *p, const char *sql, struct ff_diag *d);
/* pg.c: whether the connection is up; alive(): and the server has not closed it
 * (between transactions); reconnect(): replace a lost connection, with backoff. */
bool store_pg_connected(struct pg *p);
bool store_pg_alive(struct pg *p);
bool store_pg_reconnect(struct pg *p);

/* pg_stmt.c: read the answers of the statements sent ahead; false when one failed. */
bool store_pg_collect(struct pg *p);
/* pg_stmt.c: drop every prepared statement's state (close), or only mark them to be
 * prepared again (a new connection). */
void store_pg_unprepare_all(struct pg *p);
void store_pg_forget_prepared(struct pg *p);

/* pg_stmt.c: the statement operations of store_int.h. */
struct store_stmt *store_pg_query(struct store *s, enum store_query q);
void store_pg_bind_text(struct store_stmt *sst, int i, const char *v);
void store_pg_bind_int(struct store_stmt *st, int i, int64_t v);
void store_pg_bind_null(struct store_stmt *st, int i);
int store_pg_step(struct store_stmt *sst);
const char *store_pg_col_text(struct store_stmt *sst, int c);
int64_t store_pg_col_int(struct store_stmt *st, int c);
bool store_pg_col_null(struct store_stmt *sst, int c);
int store_pg_exec_ahead(struct store_stmt *sst);
int store_pg_exec_ahead_one(struct store_stmt *sst);
void store_pg_prefetch(struct store_stmt *sst);
enum ff_err store_pg_sync(struct store *s);
bool store_pg_ahead_failed(const struct store *s);

#endif
