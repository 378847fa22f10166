/*
 * pg.c - the PostgreSQL backend of store.h. Selected by a postgres:// URL.
 * (Filled in by the PostgreSQL issue; until then opening one answers clearly.)
 */
#include "store/store_int.h"

enum ff_err store_pg_open(const char *url, struct store **out, struct ff_diag *d);

enum ff_err store_pg_open(const char *url, struct store **out, struct ff_diag *d)
{
	(void)url;
	(void)out;
	return ff_fail(d, FF_E_UNAVAILABLE, "db", "the PostgreSQL backend is not available in this build yet");
}
