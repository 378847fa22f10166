/*
 * metrics.c - Prometheus counters and histograms for GET /metrics (SPEC.md section 10).
 *
 * fulfill_http_requests_total{route,method,status}   counter
 * fulfill_http_request_duration_seconds{route}        histogram
 * fulfill_http_parser_refusals_total{status}          counter (libmicrohttpd's own answers)
 * fulfill_http_header_timeouts_total                  counter (connlimit.c)
 * fulfill_events_total{outcome}                       counter
 * fulfill_rewards{status}                             gauge (engine_reward_status_counts)
 * fulfill_worker_pass_seconds                         histogram
 * fulfill_ingest_queue_depth                          gauge (group-commit queue)
 * fulfill_ingest_commits_total, _requests_total       counters (group-commit batching)
 * fulfill_queue_depth{queue}                          gauge (engine_queue_depths)
 * fulfill_connector_call_seconds{connector}           histogram  } process-wide, updated by the
 * fulfill_webhook_deliveries_total{result}            counter    } worker (include/fulfill/metrics.h)
 *
 * Labels come from the route table (the pattern, never the raw path), so the number
 * of series is bounded. Everything sits behind one mutex; updates are a few adds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/log.h"
#include "fulfill/metrics.h"
#include "http/http_int.h"

static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define MAX_SERIES 512

struct histogram {
	uint64_t counts[NBUCKETS]; /* cumulative at render time, per-bucket here */
	uint64_t count;
	double sum;
};

struct series {
	int route; /* index, or -1 for unmatched paths */
	const char *method;
	int status;
	uint64_t count;
};

static struct {
	pthread_mutex_t lock;
	struct series series[MAX_SERIES];
	size_t nseries;
	/* one per route of http_routes, then one for unmatched paths (metrics_init) */
	struct histogram *route_hist;
	struct histogram worker;
	uint64_t events_accepted, events_duplicate, events_rejected;
	uint64_t gc_commits, gc_jobs;
	uint64_t parser_refusals[200]; /* by status - 400 */
	uint64_t header_timeouts;
} m = {.lock = PTHREAD_MUTEX_INITIALIZER};

void metrics_init(void)
{
	pthread_mutex_lock(&m.lock);
	if (!m.route_hist)
		m.route_hist = ff_calloc(http_routes_count + 1, sizeof(*m.route_hist));
	pthread_mutex_unlock(&m.lock);
}

static void observe(struct histogram *h, double v)
{
	for (size_t i = 0; i < NBUCKETS; i++) {
		if (v <= buckets[i]) {
			h->counts[i]++;
			break;
		}
	}
	h->count++;
	h->sum += v;
}

static const char *method_const(const char *method)
{
	static const char *known[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "OTHER";
}

void metrics_request(const struct route *r, const char *method, int status, double seconds)
{
	int idx = r ? (int)router_index(r) : -1;
	const char *mc = method_const(method);

	pthread_mutex_lock(&m.lock);
	if (m.route_hist && seconds >= 0)
		observe(&m.route_hist[idx >= 0 && (size_t)idx < http_routes_count ? (size_t)idx
										    : http_routes_count],
			seconds);
	size_t i;
	for (i = 0; i < m.nseries; i++) {
		struct series *s = &m.series[i];
		if (s->route == idx && s->status == status && s->method == mc)
			break;
	}
	if (i == m.nseries && m.nseries < MAX_SERIES) {
		m.series[i] = (struct series){idx, mc, status, 0};
		m.nseries++;
	}
	if (i < m.nseries)
		m.series[i].count++;
	pthread_mutex_unlock(&m.lock);
}

void metrics_parser_refusal(int status)
{
	if (status < 400 ||
	    status >= 400 + (int)(sizeof(m.parser_refusals) / sizeof(m.parser_refusals[0])))
		return;
	pthread_mutex_lock(&m.lock);
	m.parser_refusals[status - 400]++;
	pthread_mutex_unlock(&m.lock);
}

void metrics_header_timeout(void)
{
	pthread_mutex_lock(&m.lock);
	m.header_timeouts++;
	pthread_mutex_unlock(&m.lock);
}

void metrics_event(const char *outcome)
{
	pthread_mutex_lock(&m.lock);
	if (strcmp(outcome, "accepted") == 0)
		m.events_accepted++;
	else if (strcmp(outcome, "duplicate") == 0)
		m.events_duplicate++;
	else
		m.events_rejected++;
	pthread_mutex_unlock(&m.lock);
}

void metrics_group_commit(size_t jobs)
{
	pthread_mutex_lock(&m.lock);
	m.gc_commits++;
	m.gc_jobs += jobs;
	pthread_mutex_unlock(&m.lock);
}

void metrics_worker_pass(double seconds)
{
	pthread_mutex_lock(&m.lock);
	observe(&m.worker, seconds);
	pthread_mutex_unlock(&m.lock);
}

static void render_histogram(struct ffbuf *b, const char *name, const char *label,
			     const struct histogram *h)
{
	uint64_t cum = 0;
	const char *sep = label[0] ? "," : "";

	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += h->counts[i];
		ffbuf_addf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label, sep, buckets[i],
			   (unsigned long long)cum);
	}
	ffbuf_addf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label, sep,
		   (unsigned long long)h->count);
	if (label[0]) {
		ffbuf_addf(b, "%s_sum{%s} %.6f\n", name, label, h->sum);
		ffbuf_addf(b, "%s_count{%s} %llu\n", name, label, (unsigned long long)h->count);
	} else {
		ffbuf_addf(b, "%s_sum %.6f\n", name, h->sum);
		ffbuf_addf(b, "%s_count %llu\n", name, (unsigned long long)h->count);
	}
}

static const char *route_label(int idx)
{
	return idx >= 0 && (size_t)idx < http_routes_count ? http_routes[idx].pattern : "unmatched";
}

/* The reward gauge, from the engine when it can count them. */
static void render_rewards(struct ffbuf *b, struct engine *e)
{
	static const char *statuses[] = {"pending",   "review",	    "approved", "issuing",
					 "fulfilled", "reconciled", "failed",	"cancelled",
					 "reversed",  "expired"};
	json_t *counts = NULL;

	if (!e || engine_reward_status_counts(e, &counts) != FF_OK)
		return;
	ffbuf_adds(b, "# HELP fulfill_rewards Rewards by status.\n# TYPE fulfill_rewards gauge\n");
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		json_t *v = json_object_get(counts, statuses[i]);
		ffbuf_addf(b, "fulfill_rewards{status=\"%s\"} %lld\n", statuses[i],
			   json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
	}
	json_decref(counts);
}

/* Work waiting in the database, from the engine when it can count it. */
static void render_queues(struct ffbuf *b, struct engine *e)
{
	struct queue_depths q;
	if (!e || engine_queue_depths(e, &q) != FF_OK)
		return;
	ffbuf_addf(b,
		   "# HELP fulfill_queue_depth Work waiting: approved and issuing rewards, pending webhook "
		   "deliveries (outbox) and e-mails (notifications).\n"
		   "# TYPE fulfill_queue_depth gauge\n"
		   "fulfill_queue_depth{queue=\"approved\"} %lld\n"
		   "fulfill_queue_depth{queue=\"issuing\"} %lld\n"
		   "fulfill_queue_depth{queue=\"outbox\"} %lld\n"
		   "fulfill_queue_depth{queue=\"notifications\"} %lld\n",
		   (long long)q.approved, (long long)q.issuing, (long long)q.outbox, (long long)q.notifications);
}

char *metrics_render(struct engine *e, size_t *out_len)
{
	struct ffbuf b;
	char label[256];

	ffbuf_init(&b, 0);
	pthread_mutex_lock(&m.lock);
	ffbuf_adds(&b,
		   "# HELP fulfill_http_requests_total HTTP requests by route, method and status.\n"
		   "# TYPE fulfill_http_requests_total counter\n");
	for (size_t i = 0; i < m.nseries; i++) {
		const struct series *s = &m.series[i];
		ffbuf_addf(
		    &b,
		    "fulfill_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
		    route_label(s->route), s->method, s->status, (unsigned long long)s->count);
	}
	ffbuf_adds(&b,
		   "# HELP fulfill_http_request_duration_seconds HTTP request latency by route.\n"
		   "# TYPE fulfill_http_request_duration_seconds histogram\n");
	for (size_t i = 0; m.route_hist && i <= http_routes_count; i++) {
		const struct histogram *h = &m.route_hist[i];
		if (!h->count)
			continue;
		snprintf(label, sizeof(label), "route=\"%s\"",
			 route_label(i < http_routes_count ? (int)i : -1));
		render_histogram(&b, "fulfill_http_request_duration_seconds", label, h);
	}
	/* from libmicrohttpd's warnings (server.c): a malformed request line reaches nothing
	 * else; a refusal after the request line is in fulfill_http_requests_total too */
	ffbuf_adds(&b, "# HELP fulfill_http_parser_refusals_total Requests libmicrohttpd refused "
		       "and answered itself, by status.\n"
		       "# TYPE fulfill_http_parser_refusals_total counter\n");
	for (size_t i = 0; i < sizeof(m.parser_refusals) / sizeof(m.parser_refusals[0]); i++)
		if (m.parser_refusals[i])
			ffbuf_addf(&b, "fulfill_http_parser_refusals_total{status=\"%zu\"} %llu\n",
				   400 + i, (unsigned long long)m.parser_refusals[i]);
	ffbuf_addf(&b, "# HELP fulfill_http_header_timeouts_total Connections closed because a request "
		       "header took longer than http_request_timeout.\n"
		       "# TYPE fulfill_http_header_timeouts_total counter\n"
		       "fulfill_http_header_timeouts_total %llu\n",
		   (unsigned long long)m.header_timeouts);
	ffbuf_adds(&b, "# HELP fulfill_events_total Ingested events by outcome.\n"
		       "# TYPE fulfill_events_total counter\n");
	ffbuf_addf(&b, "fulfill_events_total{outcome=\"accepted\"} %llu\n",
		   (unsigned long long)m.events_accepted);
	ffbuf_addf(&b, "fulfill_events_total{outcome=\"duplicate\"} %llu\n",
		   (unsigned long long)m.events_duplicate);
	ffbuf_addf(&b, "fulfill_events_total{outcome=\"rejected\"} %llu\n",
		   (unsigned long long)m.events_rejected);
	ffbuf_addf(
	    &b,
	    "# HELP fulfill_ingest_commits_total Group-commit transactions of the event writer.\n"
	    "# TYPE fulfill_ingest_commits_total counter\nfulfill_ingest_commits_total %llu\n"
	    "# HELP fulfill_ingest_requests_total Event requests written by those transactions.\n"
	    "# TYPE fulfill_ingest_requests_total counter\nfulfill_ingest_requests_total %llu\n",
	    (unsigned long long)m.gc_commits, (unsigned long long)m.gc_jobs);
	ffbuf_adds(&b, "# HELP fulfill_worker_pass_seconds Duration of worker passes.\n"
		       "# TYPE fulfill_worker_pass_seconds histogram\n");
	render_histogram(&b, "fulfill_worker_pass_seconds", "", &m.worker);
	pthread_mutex_unlock(&m.lock);

	ffbuf_addf(&b,
		   "# HELP fulfill_ingest_queue_depth Events waiting for the group-commit writer.\n"
		   "# TYPE fulfill_ingest_queue_depth gauge\nfulfill_ingest_queue_depth %zu\n",
		   groupcommit_depth());
	render_rewards(&b, e);
	render_queues(&b, e);
	ffmetrics_render(&b);
	return ffbuf_detach(&b, out_len);
}
