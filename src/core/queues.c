/*
 * queues.c - how much work is waiting, for the fulfill_queue_depth gauge of GET /metrics
 * (SPEC §10): approved rewards (the fulfillment queue), rewards `issuing` (calls in
 * flight or to be re-driven after a crash), pending webhook deliveries (the outbox) and
 * pending e-mails. One read-only query; the HTTP server calls it on each scrape.
 */
#include <string.h>

#include "core/core.h"

enum ff_err engine_queue_depths(struct engine *e, struct queue_depths *out)
{
	memset(out, 0, sizeof(*out));
	struct store_stmt *st = store_query(e->st, Q_QUEUE_DEPTHS);
	int rc = store_step(st);
	if (rc == 1) {
		out->approved = store_col_int(st, 0);
		out->issuing = store_col_int(st, 1);
		out->outbox = store_col_int(st, 2);
		out->notifications = store_col_int(st, 3);
	}
	return core_done(e, rc == 1 ? FF_OK : FF_E_STORE);
}
