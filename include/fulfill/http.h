/*
 * http.h - the HTTP API server (API.md "HTTP conventions"), console and portal.
 *
 * `fulfill serve` and `fulfill demo` fill a `struct http_options` (start from
 * http_options_init(), which also reads the FULFILL_HTTP_* environment overrides
 * listed below) and call http_serve(), which blocks until SIGTERM or SIGINT.
 * The server runs libmicrohttpd with a thread pool; every thread opens its own
 * engine with `cfg` (struct engine is not thread-safe). With `run_worker` a worker
 * thread runs engine_worker_pass() about once a second.
 */
#ifndef FULFILL_HTTP_H
#define FULFILL_HTTP_H

#include <stdbool.h>
#include <stdint.h>

struct engine_config;

struct http_options {
	const char *listen;		 /* "HOST:PORT" or ":PORT"; default "127.0.0.1:8080" */
	bool run_worker;		 /* run the fulfillment worker too (default true) */
	const char *webhook_allow_hosts; /* comma-separated; NULL keeps cfg's value */
	int64_t max_body;		 /* request body limit in bytes; default 10 MiB */
	int threads;			 /* HTTP thread pool size; default 4 */
	int rate_per_sec;	/* per-key token refill per second; 0 disables; default 1000 */
	int rate_burst;		/* per-key bucket size; default 2000 */
	int conn_timeout;	/* seconds an idle/slow connection may live; default 30 */
	int request_timeout;	/* seconds a request's body may take in all; default 120 */
	int max_connections;	/* open connections at most; default 1000 */
	int max_connections_per_ip; /* from one address at most; 0 (default): no limit */
	int worker_interval_ms; /* pause between worker passes; default 1000 */
	const char *web_root;	/* directory holding console/ and portal/; default "web" */
	bool group_commit;	/* single events share transactions (default true); false:
				 * one transaction per request, for comparison (bench/) */
};

/*
 * Fill defaults, then apply environment overrides (handy for tests and containers):
 *   FULFILL_HTTP_MAX_BODY, FULFILL_HTTP_THREADS, FULFILL_HTTP_RATE (per second),
 *   FULFILL_HTTP_BURST, FULFILL_HTTP_TIMEOUT (seconds), FULFILL_HTTP_REQUEST_TIMEOUT
 *   (seconds), FULFILL_HTTP_MAX_CONNECTIONS, FULFILL_HTTP_MAX_CONNECTIONS_PER_IP,
 *   FULFILL_WEB_ROOT, FULFILL_HTTP_GROUP_COMMIT (0 turns group commit off).
 * Command-line flags set after this call win over the environment.
 */
void http_options_init(struct http_options *opt);

/*
 * Serve the API on opt->listen until SIGTERM/SIGINT: then stop accepting, finish
 * in-flight requests and the current worker pass, close every engine and return 0.
 * Returns a non-zero exit code (and logs why on stderr) when the database cannot be
 * opened or the address cannot be bound. `cfg` must outlive the call.
 */
int http_serve(const struct engine_config *cfg, const struct http_options *opt);

#endif
