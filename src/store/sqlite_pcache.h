/*
 * sqlite_pcache.h - SQLite's default page cache with the locking page's number kept
 * out of it, so that commits do not walk the whole cache (sqlite_pcache.c says why).
 */
#ifndef FULFILL_STORE_SQLITE_PCACHE_H
#define FULFILL_STORE_SQLITE_PCACHE_H

/* Install it (before SQLite is initialized: the first connection opened). 0, or -1
 * when SQLite refused (then its own cache stays, which is only slower). */
int lite_pcache_install(void);

#endif
