/*
 * stats.c - cheap counters for /metrics: rewards per status.
 */
#include "core/core.h"

enum ff_err engine_reward_status_counts(struct engine *e, json_t **out)
{
	json_t *o = json_object();
	struct store_stmt *st = store_query(e->st, Q_REWARD_STATUS_COUNTS);
	int rc;
	while ((rc = store_step(st)) == 1)
		json_object_set_new(o, store_col_text(st, 0), json_integer(store_col_int(st, 1)));
	if (rc < 0) {
		json_decref(o);
		return core_done(e, FF_E_STORE);
	}
	*out = o;
	return core_done(e, FF_OK);
}
