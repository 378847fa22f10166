/*
 * sqlite.c - the SQLite backend of store.h (the embedded default).
 *
 * WAL journal, synchronous=FULL (a committed write survives a power cut), a busy
 * timeout so concurrent processes wait instead of failing, foreign keys on. Statements
 * are prepared on first use and cached per connection. Nested transactions map to
 * SAVEPOINTs; the outermost is BEGIN IMMEDIATE, so writers serialize at the start of a
 * transaction rather than failing at its first write. Migrations run at open inside one
 * IMMEDIATE transaction, so concurrent processes migrate once; a process that finds
 * another one migrating waits for it (begin_migration) rather than failing after the
 * busy timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sqlite_pcache.h"
#include "store/sqlite_vfs.h"
#include "store/store_int.h"

/* The copy of one bound text parameter. SQLite is given a pointer into it
 * (SQLITE_STATIC) instead of copying the text into memory of its own at every bind
 * (SQLITE_TRANSIENT: a malloc and a free per bound value); the buffer is kept for the
 * next execution and grows to the longest value bound there. */
struct lite_param {
	char *text;
	size_t cap;
};

/* Values longer than this are bound as SQLITE_TRANSIENT rather than kept. */
#define PARAM_KEEP_MAX 65536

struct lite_stmt {
	struct store_stmt base;
	sqlite3_stmt *stmt;
	struct lite_param *params; /* sqlite3_bind_parameter_count() of them, or NULL */
	bool listed; /* in lite.active: stepped to a row since the last release */
};

/* The background checkpointer of a writer connection (store_make_writer). */
struct checkpointer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t idle; /* signalled when a run ends (running goes false) */
	bool due, stop;
	bool running;	  /* a checkpoint of the thread's is under way */
	int pages;	  /* WAL size that calls for a checkpoint */
	sqlite3 *db;	  /* its own connection */
	const char *path; /* the database's (the writer's string) */
};

struct lite {
	struct store base;
	sqlite3 *db;
	char *path;
	struct checkpointer *ckpt; /* NULL unless store_make_writer() */
	int wal_fd;		   /* store_make_durable(): our own descriptor of PATH-wal, or -1 */
	dev_t wal_dev;
	ino_t wal_ino;
	int last_rc;
	int last_ext;
	struct lite_stmt cache[Q__COUNT];
	struct lite_stmt *active[Q__COUNT];
	int nactive;
};

#define LITE(s) ((struct lite *)(s))
#define LSTMT(st) ((struct lite_stmt *)(st))

static void lite_release(struct store *s)
{
	struct lite *l = LITE(s);
	for (int i = 0; i < l->nactive; i++) {
		sqlite3_reset(l->active[i]->stmt);
		l->active[i]->listed = false;
	}
	l->nactive = 0;
}

static enum ff_err exec_sql(struct lite *l, const char *sql, struct ff_diag *d)
{
	char *msg = NULL;
	int rc = sqlite3_exec(l->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		l->last_rc = rc;
		l->last_ext = sqlite3_extended_errcode(l->db);
		enum ff_err e = ff_fail(d, FF_E_STORE, NULL, "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return e;
	}
	return FF_OK;
}

static int read_version(struct lite *l)
{
	sqlite3_stmt *st;
	int v = 0;
	if (sqlite3_prepare_v2(l->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0; /* no meta table yet */
	if (sqlite3_step(st) == SQLITE_ROW)
		v = atoi((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* The database in WAL mode (it stays so once set). Turning a rollback-journal file
 * into WAL - a new database, one loaded from a `.dump` or restored from `VACUUM INTO`
 * (whose copy is a rollback-journal file) - reads it under a shared lock, then needs
 * the write lock. SQLite answers SQLITE_BUSY at once, without the busy handler, to a
 * connection that holds a read lock and finds the write lock taken (waiting could
 * deadlock), so a process opening the file while another writes it, or two processes
 * opening it at once, failed with "database is locked". Try again after a short pause
 * instead, within the busy timeout, until the file is in WAL mode. */
static enum ff_err wal_mode(struct lite *l, struct ff_diag *d)
{
	for (int waited = 0;; waited += 10) {
		enum ff_err err = exec_sql(l, "PRAGMA journal_mode=WAL", d);
		if (!err || (l->last_rc != SQLITE_BUSY && l->last_rc != SQLITE_LOCKED) || waited >= 30000)
			return err;
		usleep(10000);
	}
}

/* The busy timeout of every statement: a writer waits this long for another's
 * transaction before failing with "database is locked". */
#define BUSY_MS 30000
/* A migration's write lock: an ordinary transaction of another process ends well
 * within NOTICE_MS; one that holds the lock longer is taken to be that process's own
 * migration (a schema change of a big database can take minutes), which this one waits
 * for, saying so once, up to MIGRATION_WAIT_MS. */
#define MIGRATION_NOTICE_MS 2000
#define MIGRATION_WAIT_MS (60 * 60 * 1000)

static enum ff_err begin_migration(struct lite *l, struct ff_diag *d)
{
	sqlite3_busy_timeout(l->db, MIGRATION_NOTICE_MS);
	enum ff_err err = exec_sql(l, "BEGIN IMMEDIATE", d);
	if (err && l->last_rc == SQLITE_BUSY) {
		store_note_migration_wait(l->path);
		sqlite3_busy_timeout(l->db, MIGRATION_WAIT_MS);
		err = exec_sql(l, "BEGIN IMMEDIATE", d);
		if (err && l->last_rc == SQLITE_BUSY)
			err = ff_fail(d, FF_E_STORE, "db",
				      "%s: another process has held the database for more than %d minutes "
				      "(a migration?); this one gave up waiting for it",
				      l->path, MIGRATION_WAIT_MS / 60000);
	}
	sqlite3_busy_timeout(l->db, BUSY_MS);
	return err;
}

static enum ff_err migrate(struct lite *l, struct ff_diag *d)
{
	int n = 0;
	while (store_migrations[n])
		n++;
	/* read first, without the write lock (WAL: a reader does not wait for a writer):
	 * a database at this build's version opens even while another process writes it */
	int v = read_version(l);
	if (v > n)
		return store_newer_schema(v, n, d);
	if (v == n) {
		l->base.schema_version = n;
		return FF_OK;
	}
	enum ff_err err = begin_migration(l, d);
	if (err)
		return err;
	v = read_version(l); /* again under the lock: another process may have migrated since */
	if (v > n) {
		err = store_newer_schema(v, n, d);
		goto out;
	}
	for (int i = v; i < n; i++) {
		char *sql = store_expand_dialect(store_migrations[i], "INTEGER PRIMARY KEY", "INTEGER");
		err = exec_sql(l, sql, d);
		free(sql);
		if (err)
			goto out;
		char up[160];
		snprintf(up, sizeof(up),
			 "INSERT INTO meta(key, value) VALUES ('schema_version', '%d') "
			 "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
			 i + 1);
		if ((err = exec_sql(l, up, d)))
			goto out;
	}
	l->base.schema_version = n;
	err = exec_sql(l, "COMMIT", d);
out:
	if (err)
		exec_sql(l, "ROLLBACK", NULL);
	return err;
}

static void checkpointer_stop(struct lite *l);

static void lite_close(struct store *s)
{
	struct lite *l = LITE(s);
	checkpointer_stop(l);
	if (l->wal_fd >= 0)
		close(l->wal_fd);
	free(l->path);
	for (int i = 0; i < Q__COUNT; i++) {
		struct lite_stmt *st = &l->cache[i];
		if (st->params)
			for (int p = 0, n = sqlite3_bind_parameter_count(st->stmt); p < n; p++)
				free(st->params[p].text);
		free(st->params);
		sqlite3_finalize(st->stmt);
	}
	sqlite3_close(l->db);
	free(l);
}

static const char *lite_errmsg(struct store *s)
{
	return sqlite3_errmsg(LITE(s)->db);
}

static enum ff_err lite_begin(struct store *s)
{
	char sql[48];
	if (s->depth == 0) {
		/* a read left unfinished outside a transaction (a check before it) keeps its
		 * snapshot; once another connection has committed, BEGIN IMMEDIATE on a stale
		 * snapshot fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait): let it go */
		lite_release(s);
		snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE");
	} else
		snprintf(sql, sizeof(sql), "SAVEPOINT sp%d", s->depth);
	enum ff_err err = exec_sql(LITE(s), sql, NULL);
	if (!err)
		s->depth++;
	return err;
}

static void lite_rollback(struct store *s)
{
	char sql[64];
	if (s->depth <= 0)
		return;
	lite_release(s);
	if (s->depth == 1) {
		if (!sqlite3_get_autocommit(LITE(s)->db))
			exec_sql(LITE(s), "ROLLBACK", NULL);
	} else {
		snprintf(sql, sizeof(sql), "ROLLBACK TO sp%d; RELEASE sp%d", s->depth - 1, s->depth - 1);
		exec_sql(LITE(s), sql, NULL);
	}
	s->depth--;
}

static enum ff_err lite_commit(struct store *s)
{
	char sql[48];
	if (s->depth <= 0)
		return FF_E_INTERNAL;
	lite_release(s);
	if (s->depth == 1)
		snprintf(sql, sizeof(sql), "COMMIT");
	else
		snprintf(sql, sizeof(sql), "RELEASE sp%d", s->depth - 1);
	enum ff_err err = exec_sql(LITE(s), sql, NULL);
	if (err) {
		/* a failed COMMIT leaves the transaction open: roll it back */
		lite_rollback(s);
		return err;
	}
	s->depth--;
	return FF_OK;
}

static bool lite_storage_fault(const struct store *s)
{
	int rc = ((const struct lite *)s)->last_rc & 0xff;
	return rc == SQLITE_FULL || rc == SQLITE_IOERR || rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN;
}

static bool lite_read_only(struct store *s)
{
	return sqlite3_db_readonly(LITE(s)->db, "main") == 1;
}

static bool lite_retryable(const struct store *s)
{
	const struct lite *l = (const struct lite *)s;
	return l->last_rc == SQLITE_BUSY || l->last_rc == SQLITE_LOCKED;
}

static bool lite_unique_violation(const struct store *s)
{
	const struct lite *l = (const struct lite *)s;
	return l->last_ext == SQLITE_CONSTRAINT_UNIQUE || l->last_ext == SQLITE_CONSTRAINT_PRIMARYKEY;
}

static struct store_stmt *lite_query(struct store *s, enum store_query q)
{
	struct lite *l = LITE(s);
	struct lite_stmt *st = &l->cache[q];
	if (!st->stmt) {
		char *sql = store_sql[q] ? store_expand_query(store_sql[q], "") : NULL;
		if (!sql ||
		    sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt, NULL) != SQLITE_OK) {
			fprintf(stderr, "fulfill: cannot prepare query %d: %s\n", (int)q,
				sql ? sqlite3_errmsg(l->db) : "no SQL");
			abort();
		}
		free(sql);
		st->base.owner = s;
	} else {
		sqlite3_reset(st->stmt);
		sqlite3_clear_bindings(st->stmt);
	}
	return &st->base;
}

static void lite_bind_text(struct store_stmt *sst, int i, const char *v)
{
	struct lite_stmt *st = LSTMT(sst);
	if (!v) {
		sqlite3_bind_null(st->stmt, i);
		return;
	}
	size_t len = strlen(v);
	int n = sqlite3_bind_parameter_count(st->stmt);
	if (len >= PARAM_KEEP_MAX || i < 1 || i > n) {
		sqlite3_bind_text64(st->stmt, i, v, len, SQLITE_TRANSIENT, SQLITE_UTF8);
		return;
	}
	if (!st->params)
		st->params = ff_calloc((size_t)n, sizeof(*st->params));
	struct lite_param *p = &st->params[i - 1];
	if (p->cap < len + 1) {
		size_t cap = len + 1 < 64 ? 64 : len + 1;
		/* the old text may still be bound to this parameter: it is replaced below
		 * before the statement runs again */
		free(p->text);
		p->text = ff_malloc(cap);
		p->cap = cap;
	}
	memcpy(p->text, v, len + 1);
	sqlite3_bind_text64(st->stmt, i, p->text, len, SQLITE_STATIC, SQLITE_UTF8);
}

static void lite_bind_int(struct store_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(LSTMT(st)->stmt, i, v);
}

static void lite_bind_null(struct store_stmt *st, int i)
{
	sqlite3_bind_null(LSTMT(st)->stmt, i);
}

static int lite_step(struct store_stmt *sst)
{
	struct lite_stmt *st = LSTMT(sst);
	struct lite *l = LITE(sst->owner);
	int rc = sqlite3_step(st->stmt);
	if (rc == SQLITE_ROW) {
		/* remember it: a statement left on a row holds a read snapshot open */
		if (!st->listed && l->nactive < Q__COUNT) {
			st->listed = true;
			l->active[l->nactive++] = st;
		}
		return 1;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st->stmt);
		l->last_rc = SQLITE_OK; /* store_retryable()/unique_violation() describe the last step */
		l->last_ext = SQLITE_OK;
		return 0;
	}
	l->last_rc = rc;
	l->last_ext = sqlite3_extended_errcode(l->db);
	sqlite3_reset(st->stmt);
	return -1;
}

static const char *lite_col_text(struct store_stmt *st, int c)
{
	return (const char *)sqlite3_column_text(LSTMT(st)->stmt, c);
}

static int64_t lite_col_int(struct store_stmt *st, int c)
{
	return sqlite3_column_int64(LSTMT(st)->stmt, c);
}

static bool lite_col_null(struct store_stmt *st, int c)
{
	return sqlite3_column_type(LSTMT(st)->stmt, c) == SQLITE_NULL;
}

static int64_t lite_changes(struct store *s)
{
	return sqlite3_changes64(LITE(s)->db);
}

static int64_t lite_total_changes(struct store *s)
{
	return sqlite3_total_changes64(LITE(s)->db);
}

static int64_t lite_data_version(struct store *s)
{
	unsigned int v = 0;
	if (sqlite3_file_control(LITE(s)->db, "main", SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK)
		return -1;
	return v;
}

static enum ff_err lite_lock_chain(struct store *s)
{
	(void)s; /* BEGIN IMMEDIATE holds the write lock for the whole transaction */
	return FF_OK;
}

/* ---- the writer's background checkpointer ----
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL threshold,
 * on the committing connection: the writer thread of group commit copied pages into
 * the database file while every request of the next group waited. A writer connection
 * instead reports its WAL size after each commit (sqlite3_wal_hook): past CKPT_PAGES a
 * thread with its own connection runs a PASSIVE checkpoint (it never blocks the writer
 * or readers; synchronous=FULL there, so the database file is synced before the WAL is
 * reused); past twice that the writer copies what is left itself, so that the log can
 * start again from its beginning (see writer_wal_hook).
 *
 * The threshold is 25,000 pages (100 MB), not SQLite's 1,000: the pages every group
 * writes (the ends of the id indexes, the participant and referrer index pages of busy
 * referrers) are copied once per checkpoint, however often they were rewritten in
 * between, so a longer interval copies far less. Measured on 2 cores with 64 clients,
 * sustained: 3,270 events/s at 1,000 pages, 3,860 at 25,000 (bench/README.md). The WAL
 * then stays under about 200 MB.
 *
 * Every other connection in the process gets shared_wal_hook instead of SQLite's
 * automatic checkpoint: while a writer's checkpointer runs for the same database, it
 * leaves the log to that thread (otherwise a worker's or a request's commit would copy
 * up to 100 MB itself) until the log passes twice the threshold, where it copies the
 * rest itself as the writer does; without a checkpointer it checkpoints at SQLite's
 * default 1,000 pages as before. */

enum {
	CKPT_PAGES = 25000,
	AUTO_CKPT_PAGES = 1000, /* SQLite's default automatic threshold */
};

/* The writer's checkpointer other connections of this process hand the log to. */
static pthread_mutex_t ckpt_registry = PTHREAD_MUTEX_INITIALIZER;
static struct checkpointer *ckpt_running;

static void checkpointer_wake(struct checkpointer *c)
{
	pthread_mutex_lock(&c->lock);
	c->due = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static int shared_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	const struct lite *l = arg;
	pthread_mutex_lock(&ckpt_registry);
	struct checkpointer *c = ckpt_running && !strcmp(ckpt_running->path, l->path) ? ckpt_running : NULL;
	int due = c ? c->pages : AUTO_CKPT_PAGES;
	/* past twice the writer's threshold this connection copies the rest itself, as
	 * the writer does (writer_wal_hook): with the writer idle and others writing, the
	 * thread's checkpoints alone would never let the log restart */
	bool here = pages >= (c ? 2 * due : due);
	if (c && pages >= due && !here)
		checkpointer_wake(c);
	pthread_mutex_unlock(&ckpt_registry);
	if (here)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
	pthread_setname_np(pthread_self(), "ff-checkpoint"); /* top -H, perf */
	struct checkpointer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->due && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop)
			break;
		c->due = false;
		c->running = true;
		pthread_mutex_unlock(&c->lock);
		int log = 0, done = 0;
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		pthread_mutex_lock(&c->lock);
		c->running = false;
		pthread_cond_broadcast(&c->idle);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int writer_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct checkpointer *c = arg;
	(void)name;
	if (pages >= 2 * c->pages) {
		/* the thread has copied most of the log by now; the writer copies the rest,
		 * which no other write can follow, so the log is restarted from its start
		 * by the next transaction (a PASSIVE checkpoint that runs beside a writer
		 * never sees the end of the log, and the log would grow for ever). While the
		 * thread holds the checkpoint lock that copy is refused (SQLITE_BUSY): the
		 * writer waits for the thread's run to end and copies then. Without the wait,
		 * a thread slowed down by a busy disk (its fsync) let the log grow past this
		 * bound by as much as the writer wrote meanwhile; with it, the writer's
		 * requests wait instead: back-pressure. */
		if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_BUSY) {
			pthread_mutex_lock(&c->lock);
			while (c->running && !c->stop)
				pthread_cond_wait(&c->idle, &c->lock);
			pthread_mutex_unlock(&c->lock);
			sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		}
	} else if (pages >= c->pages) {
		checkpointer_wake(c);
	}
	return SQLITE_OK;
}

static void checkpointer_stop(struct lite *l)
{
	struct checkpointer *c = l->ckpt;
	if (!c)
		return;
	pthread_mutex_lock(&ckpt_registry);
	if (ckpt_running == c)
		ckpt_running = NULL;
	pthread_mutex_unlock(&ckpt_registry);
	sqlite3_wal_hook(l->db, NULL, NULL);
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->idle);
	free(c);
	l->ckpt = NULL;
	sqlite3_wal_hook(l->db, shared_wal_hook, l); /* back to what other connections do */
}

static void lite_make_writer(struct store *s, int checkpoint_pages)
{
	struct lite *l = LITE(s);
	/* the file read through a memory map: no read() and copy per page the cache
	 * misses, about 10% of the writer's CPU per event in bench/http_bench.py. The page
	 * cache stays at the 16 MB of every connection: with the map, a larger one only
	 * made each commit longer (SQLite walked its whole page hash then, 64 MB measured
	 * about 5% slower; sqlite_pcache.c now spares commits that walk) */
	sqlite3_exec(l->db, "PRAGMA mmap_size=2147483648", NULL, NULL, NULL);
	if (l->ckpt || !strcmp(l->path, ":memory:"))
		return;
	struct checkpointer *c = ff_calloc(1, sizeof(*c));
	c->pages = checkpoint_pages > 0 ? checkpoint_pages : CKPT_PAGES;
	if (sqlite3_open_v2(l->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, lite_vfs_name()) != SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(c->db);
		free(c);
		return; /* SQLite's automatic checkpoints stay on */
	}
	sqlite3_busy_timeout(c->db, 5000);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->idle, NULL);
	if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
		sqlite3_close(c->db);
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		pthread_cond_destroy(&c->idle);
		free(c);
		return;
	}
	l->ckpt = c;
	c->path = l->path;
	sqlite3_wal_hook(l->db, writer_wal_hook, c); /* replaces shared_wal_hook */
	pthread_mutex_lock(&ckpt_registry);
	if (!ckpt_running)
		ckpt_running = c;
	pthread_mutex_unlock(&ckpt_registry);
	/* commits append to the WAL without syncing it; store_make_durable() does, once for
	 * everything committed meanwhile (the checkpointer syncs the WAL before copying
	 * from it, and the database file after) */
	if (sqlite3_exec(l->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) == SQLITE_OK)
		s->deferred_sync = true;
}

/*
 * fdatasync() of the WAL through a descriptor of our own (fsync works on the file,
 * whichever descriptor names it). The WAL lives as long as a connection is open, and
 * this process keeps one; should it have been replaced all the same (checked by
 * inode), the new one is opened; when there is none, everything was checkpointed into
 * the database file, which the checkpoint synced.
 */
static int lite_make_durable(struct store *s)
{
	struct lite *l = LITE(s);
	char wal[4096];
	struct stat now;
	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", l->path) >= sizeof(wal))
		return -1;
	if (stat(wal, &now) != 0)
		return errno == ENOENT ? 0 : -1;
	if (l->wal_fd < 0 || now.st_dev != l->wal_dev || now.st_ino != l->wal_ino) {
		if (l->wal_fd >= 0)
			close(l->wal_fd);
		l->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
		if (l->wal_fd < 0)
			return errno == ENOENT ? 0 : -1;
		struct stat opened;
		if (fstat(l->wal_fd, &opened) != 0)
			return -1;
		l->wal_dev = opened.st_dev;
		l->wal_ino = opened.st_ino;
	}
	return fdatasync(l->wal_fd) == 0 ? 0 : -1;
}

static const struct store_ops lite_ops = {
	.close = lite_close,
	.errmsg = lite_errmsg,
	.begin = lite_begin,
	.commit = lite_commit,
	.rollback = lite_rollback,
	.retryable = lite_retryable,
	.storage_fault = lite_storage_fault,
	.read_only = lite_read_only,
	.unique_violation = lite_unique_violation,
	.query = lite_query,
	.bind_text = lite_bind_text,
	.bind_int = lite_bind_int,
	.bind_null = lite_bind_null,
	.step = lite_step,
	.col_text = lite_col_text,
	.col_int = lite_col_int,
	.col_null = lite_col_null,
	.changes = lite_changes,
	.total_changes = lite_total_changes,
	.release = lite_release,
	.lock_chain = lite_lock_chain,
	.make_writer = lite_make_writer,
	.make_durable = lite_make_durable,
	.data_version = lite_data_version,
};

/* Process-wide settings, before the first connection: no memory statistics (they take
 * a global mutex on every allocation of every connection). */
static void lite_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	lite_pcache_install();
}

enum ff_err store_sqlite_open(const char *path, struct store **out, struct ff_diag *d)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, lite_configure);
	struct lite *l = ff_calloc(1, sizeof(*l));
	l->path = ff_strdup(path);
	l->wal_fd = -1;
	l->base.ops = &lite_ops;
	l->base.kind = STORE_SQLITE;
	int rc = sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 lite_vfs_name());
	enum ff_err err;
	if (rc != SQLITE_OK) {
		err = ff_fail(d, FF_E_STORE, "db", "cannot open %s: %s", path,
			      l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(l->db, BUSY_MS);
	sqlite3_wal_hook(l->db, shared_wal_hook, l); /* replaces the automatic checkpoint */
	if ((err = wal_mode(l, d)))
		goto fail;
	err = exec_sql(l,
		       "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
		       "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000; PRAGMA secure_delete=OFF;",
		       d);
	if (err)
		goto fail;
	if ((err = migrate(l, d)))
		goto fail;
	*out = &l->base;
	return FF_OK;
fail:
	lite_close(&l->base);
	return err;
}
