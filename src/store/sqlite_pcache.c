/*
 * sqlite_pcache.c - SQLite's own page cache (pcache1), with one key kept out of it.
 *
 * When a B-tree page splits, SQLite puts the new pages in ascending order by swapping
 * their numbers, and parks one page meanwhile under a number no page can have: the
 * locking page, (PENDING_BYTE / page size) + 1, page 262,145 at 4 KiB (btree.c,
 * balance_nonroot). pcache1 remembers the largest key it was ever given (iMaxKey). At
 * every commit the pager truncates the cache to the database's size, and pcache1
 * scans only the hash buckets between that size and iMaxKey when they are fewer than
 * the buckets; otherwise it walks every bucket and every page header of the cache. One
 * split per transaction (the event writer has several per group) left iMaxKey at
 * 262,145, so each commit walked the whole 16 MB cache: some 4,000 page headers, a
 * cache miss each, about 5% of the group-commit writer's time (perf), and more the
 * larger the cache.
 *
 * Here the parking number is given to pcache1 as key 0, which no page has (page
 * numbers start at 1) and which is below every truncation limit, so it never raises
 * iMaxKey. The page holds that key only inside one balance step: SQLite renames it
 * to its real number before doing anything else with the cache. Everything else goes
 * to pcache1 unchanged.
 */
#include <sqlite3.h>
#include <stdlib.h>

#include "fulfill/error.h"
#include "store/sqlite_pcache.h"

#define PENDING_BYTE 0x40000000u /* sqlite3PendingByte's default */

static sqlite3_pcache_methods2 base; /* pcache1 */

struct cache {
	sqlite3_pcache *real;
	unsigned parking; /* the locking page's number at this cache's page size */
};

#define REAL(p) (((struct cache *)(p))->real)

static unsigned key_of(sqlite3_pcache *p, unsigned key)
{
	return key == ((struct cache *)p)->parking ? 0 : key;
}

static int pc_init(void *arg) { return base.xInit ? base.xInit(arg) : SQLITE_OK; }

static void pc_shutdown(void *arg)
{
	if (base.xShutdown)
		base.xShutdown(arg);
}

static sqlite3_pcache *pc_create(int page_size, int extra, int purgeable)
{
	struct cache *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	c->real = base.xCreate(page_size, extra, purgeable);
	if (!c->real) {
		free(c);
		return NULL;
	}
	c->parking = page_size > 0 ? PENDING_BYTE / (unsigned)page_size + 1 : 0;
	return (sqlite3_pcache *)c;
}

static void pc_cachesize(sqlite3_pcache *p, int n) { base.xCachesize(REAL(p), n); }

static int pc_pagecount(sqlite3_pcache *p) { return base.xPagecount(REAL(p)); }

static sqlite3_pcache_page *pc_fetch(sqlite3_pcache *p, unsigned key, int create)
{
	return base.xFetch(REAL(p), key_of(p, key), create);
}

static void pc_unpin(sqlite3_pcache *p, sqlite3_pcache_page *page, int discard)
{
	base.xUnpin(REAL(p), page, discard);
}

static void pc_rekey(sqlite3_pcache *p, sqlite3_pcache_page *page, unsigned old_key, unsigned new_key)
{
	base.xRekey(REAL(p), page, key_of(p, old_key), key_of(p, new_key));
}

static void pc_truncate(sqlite3_pcache *p, unsigned limit) { base.xTruncate(REAL(p), limit); }

static void pc_destroy(sqlite3_pcache *p)
{
	base.xDestroy(REAL(p));
	free(p);
}

static void pc_shrink(sqlite3_pcache *p) { base.xShrink(REAL(p)); }

int lite_pcache_install(void)
{
	if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &base) != SQLITE_OK || base.iVersion < 1 || !base.xCreate ||
	    !base.xFetch || !base.xRekey || !base.xTruncate || !base.xDestroy || !base.xUnpin ||
	    !base.xCachesize || !base.xPagecount || !base.xShrink)
		return -1;
	static sqlite3_pcache_methods2 wrapped;
	wrapped = (sqlite3_pcache_methods2){
		.iVersion = 1, /* xShrink is the last member of version 1 */
		.pArg = base.pArg,
		.xInit = pc_init,
		.xShutdown = pc_shutdown,
		.xCreate = pc_create,
		.xCachesize = pc_cachesize,
		.xPagecount = pc_pagecount,
		.xFetch = pc_fetch,
		.xUnpin = pc_unpin,
		.xRekey = pc_rekey,
		.xTruncate = pc_truncate,
		.xDestroy = pc_destroy,
		.xShrink = pc_shrink,
	};
	return sqlite3_config(SQLITE_CONFIG_PCACHE2, &wrapped) == SQLITE_OK ? 0 : -1;
}
