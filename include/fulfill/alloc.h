/*
 * alloc.h - a per-thread cache of small heap blocks in front of malloc, for the
 * libraries that allocate and free hundreds of small blocks per event (jansson's
 * values, SQLite's records and cursors).
 *
 * glibc keeps only seven freed blocks of each size per thread (its tcache); a burst of
 * frees beyond that goes through the arena's locked slow path and its consolidation,
 * which cost the event writer about a fifth of its instructions. This cache keeps up to
 * ALLOC_CLASS_BYTES of freed blocks per size class (16-byte classes up to 1 KiB) per
 * thread and hands them out again without touching malloc; a thread's overflow goes,
 * ALLOC_BATCH blocks at a time, to a shared pool that threads short of blocks draw on.
 *
 * The blocks are ordinary malloc() blocks: ff_alloc_small()'s result may be released
 * with free(), and ff_free_small() takes any malloc() block, so memory that crosses the
 * boundary (json_dumps() text freed with free(), say) stays correct. A thread's cache is
 * returned to malloc when the thread exits. Under AddressSanitizer the functions pass
 * straight through to malloc and free, so that use-after-free stays detectable.
 */
#ifndef FULFILL_ALLOC_H
#define FULFILL_ALLOC_H

#include <stddef.h>

/* Freed bytes each size class may keep per thread. */
#define ALLOC_CLASS_BYTES (128 * 1024)
/* Blocks that move at once between a thread's cache and the shared pool of their class
 * (a thread that frees more than it allocates hands its overflow to the threads that
 * allocate more than they free), and the bytes the pool keeps per class. */
#define ALLOC_BATCH 64
#define ALLOC_POOL_BYTES (256 * 1024)

/* malloc(n) (aborts when out of memory), from this thread's cache when it can. */
void *ff_alloc_small(size_t n);
/* free(p): into this thread's cache while its class has room. p may be NULL. */
void ff_free_small(void *p);
/* realloc(p, n); aborts when out of memory. */
void *ff_realloc_small(void *p, size_t n);
/* The usable size of a block (malloc_usable_size). */
size_t ff_alloc_size(void *p);

/* Blocks in this thread's cache (0 when the cache is compiled out); for tests. */
size_t ff_alloc_cached(void);
/* Blocks in the shared pool, all classes (0 when compiled out); for tests. */
size_t ff_alloc_pooled(void);

/* Route jansson's and SQLite's allocations through the cache. Call once, first thing
 * in main(), before either library allocates anything: jansson must free with the
 * allocator that allocated (both are malloc underneath, so this only matters for the
 * accounting of the cache) and SQLite accepts a new allocator only before it
 * initializes. Returns 0, or -1 when SQLite was already initialized (it then keeps its
 * own allocator; jansson's is set either way). */
int ff_alloc_install(void);

#endif
