/*
 * alloc.c - the per-thread small-block cache of alloc.h.
 *
 * Each thread has one singly linked free list per 16-byte size class, threaded through
 * the first word of the freed blocks. A block is filed under the class its usable size
 * covers (rounded down), so any block of class k holds at least 16k bytes, and a request
 * for n bytes takes class ceil(n / 16). Large blocks and everything under
 * AddressSanitizer go to malloc and free directly.
 *
 * Blocks flow between threads: the HTTP threads parse events that the writer frees, the
 * writer builds results that the HTTP threads free. A thread that frees more of a class
 * than it allocates fills its list; the overflow collects in a spill list, and every
 * ALLOC_BATCH blocks of it move, as one batch, to a shared pool of that class, where a
 * thread whose list ran dry takes a whole batch before it asks malloc. One lock per
 * batch, not per block; without the pool the overflow went through free() into another
 * thread's arena (glibc's locked slow path and its consolidation: about a third of the
 * HTTP threads' CPU in bench/README.md's profile). The pool keeps at most
 * ALLOC_POOL_BYTES per class; beyond that a batch goes back to free().
 */
#include <malloc.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fulfill/alloc.h"
#include "fulfill/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_PASS_THROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_PASS_THROUGH 1
#endif
#endif

#define CLASS_SIZE 16
#define CLASSES 64 /* blocks up to 1 KiB */

struct free_block {
	struct free_block *next;
	struct free_block *next_batch; /* the first block of a batch in the pool */
};

struct thread_cache {
	struct free_block *head[CLASSES + 1];
	uint32_t count[CLASSES + 1];
	struct free_block *spill[CLASSES + 1]; /* overflow of a full class, < ALLOC_BATCH */
	uint32_t spilled[CLASSES + 1];
	bool registered; /* the exit destructor is set for this thread */
};

static _Thread_local struct thread_cache cache;

#ifndef ALLOC_PASS_THROUGH
static struct {
	pthread_mutex_t lock;
	struct free_block *batches;
	_Atomic uint32_t n;
} pool[CLASSES + 1];
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_init(void)
{
	for (int c = 0; c <= CLASSES; c++)
		pthread_mutex_init(&pool[c].lock, NULL);
}

static uint32_t pool_max(size_t c) { return ALLOC_POOL_BYTES / (c * CLASS_SIZE * ALLOC_BATCH); }

/* A batch of ALLOC_BATCH blocks of class c, or NULL. */
static struct free_block *pool_take(size_t c)
{
	/* a peek without the lock: at worst one malloc() too many */
	if (!atomic_load_explicit(&pool[c].n, memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&pool[c].lock);
	struct free_block *b = pool[c].batches;
	if (b) {
		pool[c].batches = b->next_batch;
		pool[c].n--;
	}
	pthread_mutex_unlock(&pool[c].lock);
	return b;
}

static void free_list(struct free_block *b)
{
	while (b) {
		struct free_block *next = b->next;
		free(b);
		b = next;
	}
}

static void pool_put(size_t c, struct free_block *batch)
{
	pthread_once(&pool_once, pool_init);
	pthread_mutex_lock(&pool[c].lock);
	bool room = pool[c].n < pool_max(c);
	if (room) {
		batch->next_batch = pool[c].batches;
		pool[c].batches = batch;
		pool[c].n++;
	}
	pthread_mutex_unlock(&pool[c].lock);
	if (!room)
		free_list(batch);
}

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* Thread exit: hand every cached block back to malloc. A block freed after this (by a
 * later destructor) registers the cache again, and pthreads runs this once more. */
static void cache_flush(void *unused)
{
	(void)unused;
	cache.registered = false;
	for (int c = 1; c <= CLASSES; c++) {
		free_list(cache.head[c]);
		free_list(cache.spill[c]);
		cache.head[c] = cache.spill[c] = NULL;
		cache.count[c] = cache.spilled[c] = 0;
	}
}

static void exit_key_create(void) { pthread_key_create(&exit_key, cache_flush); }

static void cache_register(void)
{
	pthread_once(&exit_once, exit_key_create);
	/* any non-NULL value makes the destructor run at thread exit */
	pthread_setspecific(exit_key, &cache);
	cache.registered = true;
}

/*
 * The usable size of a malloc() block. glibc keeps it in the word before the block:
 * the chunk's size, its low three bits flags; a heap chunk's usable size is 8 bytes
 * less (mmapped chunks, bit 2, are left to the library). malloc_usable_size() also
 * reads the next chunk's header to check that the block is in use: a cache miss per
 * free, 2-3% of the writer's time.
 * The layout is checked once against malloc_usable_size() (header_checked()); any
 * other malloc uses the library call.
 */
static _Atomic int header_ok = -1; /* -1: not checked yet (a race only repeats the check) */

static bool header_checked(void)
{
	/* no mmapped size: freeing one would raise glibc's dynamic mmap threshold */
	static const size_t sizes[] = {1, 8, 24, 25, 100, 500, 1000, 1024, 4000, 20000};
	void *blocks[sizeof(sizes) / sizeof(sizes[0])];
	bool ok = true;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		blocks[i] = malloc(sizes[i]);
		if (!blocks[i])
			ff_oom();
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t h = ((const size_t *)blocks[i])[-1];
		ok = ok && !(h & 2) && (h & ~(size_t)7) - sizeof(size_t) == malloc_usable_size(blocks[i]);
		free(blocks[i]);
	}
	return ok;
}

static size_t block_size(void *p)
{
	int ok = atomic_load_explicit(&header_ok, memory_order_relaxed);
	if (__builtin_expect(ok < 0, 0))
		atomic_store_explicit(&header_ok, ok = header_checked(), memory_order_relaxed);
	if (!ok)
		return malloc_usable_size(p);
	size_t h = ((const size_t *)p)[-1];
	if (h & 2) /* mmapped: a large block, never one of the classes */
		return malloc_usable_size(p);
	return (h & ~(size_t)7) - sizeof(size_t);
}
#else
static size_t block_size(void *p) { return malloc_usable_size(p); }
#endif

void *ff_alloc_small(size_t n)
{
#ifndef ALLOC_PASS_THROUGH
	size_t c = (n + CLASS_SIZE - 1) / CLASS_SIZE;
	if (c == 0)
		c = 1;
	if (c <= CLASSES) {
		struct free_block *b = cache.head[c];
		if (!b) {
			if (cache.spill[c]) {
				b = cache.spill[c];
				cache.count[c] = cache.spilled[c];
				cache.spill[c] = NULL;
				cache.spilled[c] = 0;
			} else if ((b = pool_take(c))) {
				cache.count[c] = ALLOC_BATCH;
			}
		}
		if (b) {
			if (!cache.registered)
				cache_register();
			cache.head[c] = b->next;
			cache.count[c]--;
			return b;
		}
		/* a new block is sized to its class, so that it returns to it when freed */
		n = c * CLASS_SIZE;
	}
#endif
	void *p = malloc(n ? n : 1);
	if (!p)
		ff_oom();
	return p;
}

void ff_free_small(void *p)
{
	if (!p)
		return;
#ifndef ALLOC_PASS_THROUGH
	size_t c = block_size(p) / CLASS_SIZE;
	if (c >= 1 && c <= CLASSES) {
		if (!cache.registered)
			cache_register();
		struct free_block *b = p;
		if (cache.count[c] < ALLOC_CLASS_BYTES / (c * CLASS_SIZE)) {
			b->next = cache.head[c];
			cache.head[c] = b;
			cache.count[c]++;
			return;
		}
		b->next = cache.spill[c];
		cache.spill[c] = b;
		if (++cache.spilled[c] == ALLOC_BATCH) {
			cache.spill[c] = NULL;
			cache.spilled[c] = 0;
			pool_put(c, b);
		}
		return;
	}
#endif
	free(p);
}

void *ff_realloc_small(void *p, size_t n)
{
	if (!p)
		return ff_alloc_small(n);
	size_t have = block_size(p);
	if (n <= have)
		return p;
	void *q = ff_alloc_small(n);
	memcpy(q, p, have);
	ff_free_small(p);
	return q;
}

size_t ff_alloc_size(void *p) { return p ? block_size(p) : 0; }

size_t ff_alloc_cached(void)
{
	size_t n = 0;
	for (int c = 1; c <= CLASSES; c++)
		n += cache.count[c] + cache.spilled[c];
	return n;
}

size_t ff_alloc_pooled(void)
{
	size_t n = 0;
#ifndef ALLOC_PASS_THROUGH
	pthread_once(&pool_once, pool_init);
	for (int c = 1; c <= CLASSES; c++) {
		pthread_mutex_lock(&pool[c].lock);
		n += (size_t)pool[c].n * ALLOC_BATCH;
		pthread_mutex_unlock(&pool[c].lock);
	}
#endif
	return n;
}
/* ---- SQLite (sqlite3_mem_methods) ---- */

static void *lite_malloc(int n) { return n > 0 ? ff_alloc_small((size_t)n) : NULL; }
static void lite_free(void *p) { ff_free_small(p); }
static void *lite_realloc(void *p, int n) { return n > 0 ? ff_realloc_small(p, (size_t)n) : NULL; }
static int lite_size(void *p) { return (int)ff_alloc_size(p); }
static int lite_roundup(int n)
{
	return n <= CLASSES * CLASS_SIZE ? (n + CLASS_SIZE - 1) / CLASS_SIZE * CLASS_SIZE : (n + 7) & ~7;
}
static int lite_init(void *unused)
{
	(void)unused;
	return SQLITE_OK;
}
static void lite_shutdown(void *unused) { (void)unused; }

int ff_alloc_install(void)
{
	json_set_alloc_funcs(ff_alloc_small, ff_free_small);
	static const sqlite3_mem_methods methods = {lite_malloc, lite_free,  lite_realloc, lite_size,
						    lite_roundup, lite_init, lite_shutdown, NULL};
	return sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK ? 0 : -1;
}
