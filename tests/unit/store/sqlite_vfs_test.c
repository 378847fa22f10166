/*
 * sqlite_vfs_test.c - unit tests for src/store/sqlite_vfs.c, the VFS that gathers a WAL
 * transaction's frame writes. A writer connection opened through it and a reader
 * opened through SQLite's default VFS (which reads the WAL file itself) must agree
 * after every commit: small and large transactions, transactions larger than the
 * buffer and than the page cache (spilled frames, frames rewritten in place), rolled
 * back ones, checkpoints that restart the WAL from its header, page sizes from 1 KiB to
 * 64 KiB (the WAL header encodes 65536 as 1), and a reader thread running while the
 * writer commits must never see a transaction in part.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_vfs.h"
#include "testutil.h"

static sqlite3 *open_db(const char *path, const char *vfs)
{
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK,
		     "open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
	sqlite3_busy_timeout(db, 10000);
	return db;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
}

static void totals(sqlite3 *db, long long *count, long long *bytes)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*), total(length(v)) FROM t", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	*count = sqlite3_column_int64(st, 0);
	*bytes = (long long)sqlite3_column_double(st, 1);
	sqlite3_finalize(st);
}

/* Insert n rows of `len` bytes each in the writer's open transaction. */
static void insert_rows(sqlite3 *db, int n, int len)
{
	char sql[300];
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)"
		 " INSERT INTO t(v) SELECT printf('%%.*c', %d, char(97 + abs(random()) %% 26)) FROM s",
		 n, len);
	exec(db, sql);
}

static void writer_and_reader_agree(int page_size)
{
	char *dir = tu_tempdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/vfs.db", dir);
	cr_assert_not_null(lite_vfs_name());
	sqlite3 *w = open_db(path, lite_vfs_name());
	char sql[400];
	snprintf(sql, sizeof(sql),
		 "PRAGMA page_size=%d; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		 " PRAGMA cache_size=-256; PRAGMA wal_autocheckpoint=0;"
		 " CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v);",
		 page_size);
	exec(w, sql);
	sqlite3 *r = open_db(path, NULL); /* the default VFS: reads what is in the file */
	long long count = 0, bytes = 0;
	for (int tx = 1; tx <= 60; tx++) {
		int n = tx % 15 == 0 ? 4000 : tx % 4 + 1; /* some larger than the cache and the buffer */
		int len = tx % 15 == 0 ? 3000 : 50 + tx * 37;
		exec(w, "BEGIN");
		insert_rows(w, n, len);
		if (tx % 10 == 0) {
			/* pages written again after they went to the WAL in this transaction */
			exec(w, "UPDATE t SET v = upper(v) WHERE k % 7 = 0");
		}
		if (tx % 9 == 0) {
			exec(w, "ROLLBACK");
		} else {
			exec(w, "COMMIT");
			count += n;
			bytes += (long long)n * len;
		}
		long long c, b;
		totals(r, &c, &b);
		cr_assert_eq(c, count, "page size %d, transaction %d: %lld rows, %lld expected", page_size, tx, c,
			     count);
		cr_assert_eq(b, bytes, "page size %d, transaction %d", page_size, tx);
		if (tx % 20 == 0)
			exec(r, "PRAGMA wal_checkpoint(TRUNCATE)"); /* the next commit writes a new WAL header */
	}
	sqlite3_close(r);
	sqlite3_close(w);
	/* and from the file alone */
	r = open_db(path, NULL);
	long long c, b;
	totals(r, &c, &b);
	cr_expect_eq(c, count);
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(r, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(r);
	tu_rmtree(dir);
	free(dir);
}

Test(sqlite_vfs, every_commit_is_in_the_file_at_4k_pages) { writer_and_reader_agree(4096); }
Test(sqlite_vfs, every_commit_is_in_the_file_at_1k_pages) { writer_and_reader_agree(1024); }
Test(sqlite_vfs, every_commit_is_in_the_file_at_64k_pages) { writer_and_reader_agree(65536); }

struct reader {
	const char *path;
	atomic_bool stop;
	long long reads, torn;
};

static void *read_loop(void *arg)
{
	struct reader *rd = arg;
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(rd->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_busy_timeout(db, 10000);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT count(*), total(x) FROM u", -1, &st, NULL);
	while (!atomic_load(&rd->stop)) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			/* every transaction adds a pair of rows whose x add up to zero */
			if (sqlite3_column_int64(st, 0) % 2 != 0 || sqlite3_column_double(st, 1) != 0.0)
				rd->torn++;
			rd->reads++;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return NULL;
}

Test(sqlite_vfs, a_concurrent_reader_never_sees_part_of_a_transaction)
{
	char *dir = tu_tempdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/pairs.db", dir);
	sqlite3 *w = open_db(path, lite_vfs_name());
	exec(w, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		"CREATE TABLE u(k INTEGER PRIMARY KEY, x INTEGER, pad TEXT)");
	struct reader rd = {.path = path};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, read_loop, &rd), 0);
	sqlite3_stmt *ins;
	cr_assert_eq(sqlite3_prepare_v2(w, "INSERT INTO u(x, pad) VALUES (?, printf('%.*c', ?, 'p'))", -1, &ins, NULL),
		     SQLITE_OK);
	for (int i = 1; i <= 1500; i++) {
		exec(w, "BEGIN");
		for (int sign = 1; sign >= -1; sign -= 2) {
			sqlite3_bind_int(ins, 1, sign * i);
			sqlite3_bind_int(ins, 2, (i * 131) % 5000);
			cr_assert_eq(sqlite3_step(ins), SQLITE_DONE);
			sqlite3_reset(ins);
		}
		exec(w, "COMMIT");
	}
	atomic_store(&rd.stop, true);
	pthread_join(t, NULL);
	sqlite3_finalize(ins);
	sqlite3_close(w);
	cr_expect_gt(rd.reads, 0);
	cr_expect_eq(rd.torn, 0, "%lld of %lld reads saw part of a transaction", rd.torn, rd.reads);
	tu_rmtree(dir);
	free(dir);
}
