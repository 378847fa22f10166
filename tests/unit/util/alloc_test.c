/*
 * alloc_test.c - unit tests for src/util/alloc.c: every size gets a block at least as
 * large, freed blocks come back for the same size class, a class keeps no more than its
 * byte budget and hands its overflow to other threads through a bounded shared pool,
 * block sizes agree with malloc_usable_size(), blocks cross freely between the cache and plain malloc/free and between
 * threads, realloc keeps the contents, and SQLite and jansson run on the cache once
 * installed. Under AddressSanitizer the cache is compiled out (everything passes
 * through to malloc), so the tests that observe caching skip themselves there.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/alloc.h"

/* Does this build cache at all? (a freed small block is kept) */
static bool caching(void)
{
	size_t before = ff_alloc_cached();
	ff_free_small(ff_alloc_small(40));
	bool kept = ff_alloc_cached() > before;
	ff_free_small(ff_alloc_small(40)); /* leave the count as it was */
	return kept;
}

Test(alloc, every_size_gets_a_block_at_least_that_large)
{
	for (size_t n = 0; n <= 2100; n++) {
		unsigned char *p = ff_alloc_small(n);
		cr_assert_not_null(p);
		cr_assert_geq(ff_alloc_size(p), n, "size %zu", n);
		memset(p, 0xab, n);
		ff_free_small(p);
	}
	/* and again, now that the small classes hold freed blocks of every size */
	for (size_t n = 2100; n-- > 0;) {
		unsigned char *p = ff_alloc_small(n);
		cr_assert_geq(ff_alloc_size(p), n, "size %zu", n);
		memset(p, 0xcd, n);
		ff_free_small(p);
	}
	ff_free_small(NULL);
}

Test(alloc, a_freed_block_serves_the_next_request_of_its_class)
{
	if (!caching())
		cr_skip_test("the cache is compiled out in this build");
	void *a = ff_alloc_small(100);
	ff_free_small(a);
	/* 97..112 bytes share a's class */
	void *b = ff_alloc_small(112);
	cr_expect_eq(b, a);
	void *c = ff_alloc_small(97);
	cr_expect_neq(c, a);
	ff_free_small(b);
	ff_free_small(c);
}

Test(alloc, a_class_keeps_no_more_than_its_budget)
{
	if (!caching())
		cr_skip_test("the cache is compiled out in this build");
	enum { SIZE = 512, BUDGET = ALLOC_CLASS_BYTES / SIZE, N = BUDGET + 2 * ALLOC_BATCH + 10 };
	void *blocks[N];
	for (int i = 0; i < N; i++)
		blocks[i] = ff_alloc_small(SIZE);
	size_t before = ff_alloc_cached(), pooled = ff_alloc_pooled();
	for (int i = 0; i < N; i++)
		ff_free_small(blocks[i]);
	/* the budget, and less than a batch of overflow waiting to move; two whole
	 * batches went to the shared pool */
	size_t kept = ff_alloc_cached() - before;
	cr_expect_leq(kept, BUDGET + ALLOC_BATCH - 1);
	cr_expect_geq(kept, BUDGET - 1);
	cr_expect_eq(ff_alloc_pooled() - pooled, 2 * ALLOC_BATCH);
}

struct handoff {
	size_t size;
	int n;
	void **blocks;
};

static void *free_them(void *arg)
{
	struct handoff *h = arg;
	for (int i = 0; i < h->n; i++)
		ff_free_small(h->blocks[i]);
	return NULL;
}

static void *take_one(void *arg)
{
	struct handoff *h = arg;
	h->blocks[0] = ff_alloc_small(h->size);
	return NULL;
}

Test(alloc, one_threads_overflow_feeds_another_thread)
{
	if (!caching())
		cr_skip_test("the cache is compiled out in this build");
	/* what the writer frees beyond its budget, an HTTP thread that is short of
	 * blocks gets back, a batch at a time, before it asks malloc */
	enum { SIZE = 1000, N = ALLOC_CLASS_BYTES / SIZE + 3 * ALLOC_BATCH };
	void **blocks = calloc(N, sizeof(void *));
	for (int i = 0; i < N; i++)
		blocks[i] = ff_alloc_small(SIZE);
	struct handoff h = {SIZE, N, blocks};
	pthread_t t;
	size_t pooled = ff_alloc_pooled();
	cr_assert_eq(pthread_create(&t, NULL, free_them, &h), 0);
	pthread_join(t, NULL);
	cr_assert_geq(ff_alloc_pooled() - pooled, 2 * ALLOC_BATCH);
	void *from_pool = NULL;
	struct handoff taker = {SIZE, 1, &from_pool};
	size_t before = ff_alloc_pooled();
	cr_assert_eq(pthread_create(&t, NULL, take_one, &taker), 0);
	pthread_join(t, NULL);
	cr_expect_eq(ff_alloc_pooled(), before - ALLOC_BATCH);
	bool seen = false;
	for (int i = 0; i < N && !seen; i++)
		seen = blocks[i] == from_pool;
	cr_expect(seen, "the block came from the freed ones");
	ff_free_small(from_pool);
	free(blocks);
}

Test(alloc, the_shared_pool_is_bounded)
{
	if (!caching())
		cr_skip_test("the cache is compiled out in this build");
	enum { SIZE = 1024, N = ALLOC_CLASS_BYTES / SIZE + 2 * ALLOC_POOL_BYTES / SIZE };
	void **blocks = calloc(N, sizeof(void *));
	for (int i = 0; i < N; i++)
		blocks[i] = ff_alloc_small(SIZE);
	size_t pooled = ff_alloc_pooled();
	for (int i = 0; i < N; i++)
		ff_free_small(blocks[i]);
	cr_expect_leq(ff_alloc_pooled() - pooled, ALLOC_POOL_BYTES / SIZE);
	cr_expect_geq(ff_alloc_pooled() - pooled, ALLOC_POOL_BYTES / SIZE - ALLOC_BATCH);
	free(blocks);
}

static void *sizes_here(void *arg)
{
	int *bad = arg;
	for (size_t n = 1; n < 5000; n += 7) {
		void *p = malloc(n);
		*bad += ff_alloc_size(p) != malloc_usable_size(p);
		free(p);
	}
	return NULL;
}

Test(alloc, block_sizes_agree_with_malloc_usable_size)
{
	/* on the main arena, on another thread's arena, and for mmapped blocks */
	int bad = 0;
	sizes_here(&bad);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, sizes_here, &bad), 0);
	pthread_join(t, NULL);
	for (size_t n = 100000; n < 5000000; n *= 3) {
		void *p = malloc(n);
		bad += ff_alloc_size(p) != malloc_usable_size(p);
		free(p);
	}
	cr_expect_eq(bad, 0);
	cr_expect_eq(ff_alloc_size(NULL), 0);
}

Test(alloc, blocks_cross_between_the_cache_and_malloc)
{
	/* a malloc block into the cache, and out again */
	char *m = malloc(64);
	cr_assert_not_null(m);
	ff_free_small(m);
	char *p = ff_alloc_small(60);
	strcpy(p, "from the cache");
	/* a cache block released with plain free() */
	free(p);
	/* a large block (no class) both ways */
	char *big = ff_alloc_small(1 << 20);
	memset(big, 1, 1 << 20);
	ff_free_small(big);
	big = malloc(5000);
	ff_free_small(big);
}

Test(alloc, realloc_keeps_the_contents)
{
	char *p = ff_realloc_small(NULL, 10);
	memcpy(p, "0123456789", 10);
	char *q = ff_realloc_small(p, 8); /* shrinking keeps the block */
	cr_expect_eq(q, p);
	q = ff_realloc_small(q, 3000);
	cr_expect_eq(memcmp(q, "0123456789", 10), 0);
	cr_expect_geq(ff_alloc_size(q), 3000);
	ff_free_small(q);
}

static void *alloc_many(void *out)
{
	void **blocks = out;
	for (int i = 0; i < 100; i++)
		blocks[i] = ff_alloc_small(24 + (size_t)i);
	/* and leave some freed blocks behind in this thread's cache, which its exit
	 * hands back to malloc */
	for (int i = 0; i < 100; i++)
		ff_free_small(ff_alloc_small(200));
	return NULL;
}

Test(alloc, blocks_of_another_thread_are_freed_here)
{
	void *blocks[100];
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, alloc_many, blocks), 0);
	pthread_join(t, NULL);
	size_t before = ff_alloc_cached();
	for (int i = 0; i < 100; i++)
		ff_free_small(blocks[i]);
	if (caching())
		cr_expect_eq(ff_alloc_cached(), before + 100);
}

Test(alloc, sqlite_and_jansson_run_on_it)
{
	cr_assert_eq(ff_alloc_install(), 0);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
				  "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);"
				  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
				  " INSERT INTO t SELECT i, printf('%.*c', i, 'x') FROM n;"
				  "CREATE INDEX t_v ON t(v);",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT sum(length(v)), count(*) FROM t WHERE v >= 'x'", -1, &st, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_eq(sqlite3_column_int64(st, 0), 2000 * 2001 / 2);
	cr_expect_eq(sqlite3_column_int(st, 1), 2000);
	sqlite3_finalize(st);
	sqlite3_close(db);

	json_t *o = json_pack("{s:s, s:[i, i, i], s:{s:b}}", "a", "text", "b", 1, 2, 3, "c", "d", 1);
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	cr_expect_str_eq(s, "{\"a\":\"text\",\"b\":[1,2,3],\"c\":{\"d\":true}}");
	free(s); /* plain free() of jansson's text stays correct */
	json_decref(o);
}
