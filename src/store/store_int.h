/*
 * store_int.h - private to src/store: the backend operation table and shared pieces.
 */
#ifndef FULFILL_STORE_INT_H
#define FULFILL_STORE_INT_H

#include "store/store.h"

/* NULL-terminated list of migration scripts; migration N is store_migrations[N-1]. */
extern const char *const store_migrations[];
/* SQL text per query id. */
extern const char *const store_sql[Q__COUNT];

/* Expand @SEQ@/@INT@ in a migration for a dialect; caller frees. */
char *store_expand_dialect(const char *sql, const char *seq, const char *integer);

#endif
