/*
 * sqlite_pcache_test.c - unit tests for src/store/sqlite_pcache.c: SQLite's page cache
 * with the locking page's number (where B-tree splits park a page while they reorder
 * new pages) kept below every truncation limit, so that a commit's truncation to the
 * database size does not walk the whole cache. Each test runs in a process of its own
 * (Criterion), so the cache is installed before SQLite is initialized.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/sqlite_pcache.h"
#include "testutil.h"

/* The parked page survives a truncation below it (pcache1 alone would drop it, and
 * remember its number as the largest key until the next such truncation), is found
 * again under its number, and moves on to a real number like any other page. */
static void parked_page_is_kept_apart(int page_size)
{
	cr_assert_eq(lite_pcache_install(), 0);
	sqlite3_pcache_methods2 m;
	cr_assert_eq(sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &m), SQLITE_OK);
	cr_assert_eq(sqlite3_initialize(), SQLITE_OK);
	unsigned parking = 0x40000000u / (unsigned)page_size + 1;
	sqlite3_pcache *c = m.xCreate(page_size, 64, 1);
	cr_assert_not_null(c);
	m.xCachesize(c, 100);
	sqlite3_pcache_page *low = m.xFetch(c, 5, 2);
	sqlite3_pcache_page *parked = m.xFetch(c, parking, 2);
	cr_assert(low && parked && low != parked);
	cr_assert_eq(m.xFetch(c, parking, 0), parked);
	m.xUnpin(c, parked, 0); /* (a page is pinned or not: one unpin each) */
	m.xUnpin(c, low, 0);
	m.xTruncate(c, 10); /* the database has 9 pages */
	cr_assert_eq(m.xFetch(c, parking, 0), parked, "the parked page is not a page past the end");
	cr_assert_eq(m.xFetch(c, 5, 0), low);
	m.xRekey(c, parked, parking, 7);
	cr_assert_null(m.xFetch(c, parking, 0));
	cr_assert_eq(m.xFetch(c, 7, 0), parked);
	m.xUnpin(c, parked, 0);
	m.xUnpin(c, low, 0);
	m.xTruncate(c, 7); /* pages 7 and up go, page 5 stays */
	cr_assert_null(m.xFetch(c, 7, 0));
	cr_assert_eq(m.xFetch(c, 5, 0), low);
	m.xUnpin(c, low, 0);
	m.xDestroy(c);
}

Test(sqlite_pcache, parked_page_is_kept_apart_at_4k_pages) { parked_page_is_kept_apart(4096); }
Test(sqlite_pcache, parked_page_is_kept_apart_at_1k_pages) { parked_page_is_kept_apart(1024); }

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
}

/* Random inserts into indexes split pages all the time, and the splits reorder page
 * numbers through the parked page: the database stays consistent, across commits and
 * rollbacks, with a cache smaller than the transactions. */
Test(sqlite_pcache, splits_keep_the_database_consistent)
{
	cr_assert_eq(lite_pcache_install(), 0);
	char *dir = tu_tempdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/pc.db", dir);
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	exec(db, "PRAGMA journal_mode=WAL; PRAGMA cache_size=-512;"
		 " CREATE TABLE t(k INTEGER PRIMARY KEY, a TEXT, b TEXT); CREATE INDEX t_a ON t(a);"
		 " CREATE INDEX t_b ON t(b, a);");
	long long rows = 0;
	for (int tx = 1; tx <= 40; tx++) {
		exec(db, "BEGIN");
		exec(db, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500)"
			 " INSERT INTO t(a, b) SELECT hex(randomblob(12)), hex(randomblob(40)) FROM s");
		if (tx % 7 == 0) {
			exec(db, "ROLLBACK");
		} else {
			exec(db, "COMMIT");
			rows += 500;
		}
	}
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM t INDEXED BY t_b", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_eq(sqlite3_column_int64(st, 0), rows);
	sqlite3_finalize(st);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
	tu_rmtree(dir);
	free(dir);
}
