/*
 * metrics.h - process-wide counters and histograms that layers below HTTP update.
 *
 * The connector driver (src/connect/) and the webhook outbox (src/core/) run in the
 * worker, which knows nothing about the HTTP server; the server's /metrics handler
 * (src/http/metrics.c) appends what this module holds with ffmetrics_render(). So the
 * dependencies keep pointing one way: connect, core and http call util, never the
 * other way round. A `fulfill worker` process keeps its own copy that nobody scrapes;
 * the series are meaningful in `fulfill serve` (whose worker runs in-process unless
 * --no-worker, and where POST /v1/jobs/run runs a pass).
 *
 * Every function is thread-safe (one mutex; each update is a few additions) and
 * allocation-free after the first use of a connector name.
 */
#ifndef FULFILL_METRICS_H
#define FULFILL_METRICS_H

#include <stdint.h>

#include "fulfill/buf.h"

/* Distinct connector label values kept; calls of further connectors count as "other". */
#define FFMETRICS_MAX_CONNECTORS 32

/* Observe one call to a connector: `connector` is the configuration id for external
 * connectors (one HTTP request each) or the type for in-transaction ones (ledger,
 * code_pool: one issue each); `seconds` its wall time. Characters outside
 * [A-Za-z0-9_.:-] in the name are shown as '_'. */
void ffmetrics_connector_call(const char *connector, double seconds);

/* Outcome of one webhook delivery attempt (or of a delivery given up without one). */
enum ffmetrics_webhook_result {
	FFMETRICS_WEBHOOK_SUCCESS, /* 2xx */
	FFMETRICS_WEBHOOK_RETRY,   /* failed attempt; another is scheduled */
	FFMETRICS_WEBHOOK_FAILED,  /* the delivery gave up: attempts exhausted, 410, endpoint gone */
	FFMETRICS_WEBHOOK__COUNT
};

/* Count `n` webhook delivery outcomes of kind `result`. */
void ffmetrics_webhook_delivery(enum ffmetrics_webhook_result result, uint64_t n);

/* Append, in Prometheus text format, fulfill_connector_call_seconds{connector}
 * (histogram) and fulfill_webhook_deliveries_total{result} (counter) to `b`. */
void ffmetrics_render(struct ffbuf *b);

/* Forget everything (unit tests). */
void ffmetrics_reset(void);

#endif
