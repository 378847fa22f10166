/*
 * alloc.c - the per-thread small-block cache of alloc.h.
 *
 * Each thread has one singly linked free list per 16-byte size class, threaded through
 * the first word of the freed blocks. A block is filed under the class its usable size
 * covers (malloc_usable_size rounded down), so any block of class k holds at least 16k
 * bytes, and a request for n bytes takes class ceil(n / 16). Large blocks, full classes
 * and everything under AddressSanitizer go to malloc and free directly.
 */
#include <malloc.h>
#include <pthread.h>
#include <sqlite3.h>
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
};

struct thread_cache {
	struct free_block *head[CLASSES + 1];
	uint32_t count[CLASSES + 1];
	bool registered; /* the exit destructor is set for this thread */
};

static _Thread_local struct thread_cache cache;

#ifndef ALLOC_PASS_THROUGH
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* Thread exit: hand every cached block back to malloc. A block freed after this (by a
 * later destructor) registers the cache again, and pthreads runs this once more. */
static void cache_flush(void *unused)
{
	(void)unused;
	cache.registered = false;
	for (int c = 1; c <= CLASSES; c++) {
		while (cache.head[c]) {
			struct free_block *b = cache.head[c];
			cache.head[c] = b->next;
			free(b);
		}
		cache.count[c] = 0;
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
#endif

void *ff_alloc_small(size_t n)
{
#ifndef ALLOC_PASS_THROUGH
	size_t c = (n + CLASS_SIZE - 1) / CLASS_SIZE;
	if (c == 0)
		c = 1;
	if (c <= CLASSES) {
		struct free_block *b = cache.head[c];
		if (b) {
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
	size_t c = malloc_usable_size(p) / CLASS_SIZE;
	if (c >= 1 && c <= CLASSES && cache.count[c] < ALLOC_CLASS_BYTES / (c * CLASS_SIZE)) {
		if (!cache.registered)
			cache_register();
		struct free_block *b = p;
		b->next = cache.head[c];
		cache.head[c] = b;
		cache.count[c]++;
		return;
	}
#endif
	free(p);
}

void *ff_realloc_small(void *p, size_t n)
{
	if (!p)
		return ff_alloc_small(n);
	size_t have = malloc_usable_size(p);
	if (n <= have)
		return p;
	void *q = ff_alloc_small(n);
	memcpy(q, p, have);
	ff_free_small(p);
	return q;
}

size_t ff_alloc_size(void *p) { return p ? malloc_usable_size(p) : 0; }

size_t ff_alloc_cached(void)
{
	size_t n = 0;
	for (int c = 1; c <= CLASSES; c++)
		n += cache.count[c];
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
