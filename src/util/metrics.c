/*
 * metrics.c - the process-wide metrics of include/fulfill/metrics.h: connector call
 * latency per connector and webhook delivery outcomes. The HTTP server renders them
 * after its own series (src/http/metrics.c). Label values come from a bounded set (the
 * configured connectors, capped at FFMETRICS_MAX_CONNECTORS, then "other"), so a
 * scrape stays small whatever the traffic.
 */
#include "fulfill/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Connector calls range from a ledger posting (well under a millisecond) to a slow
 * provider near its 15 s timeout. */
static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define NAME_MAX_LEN 64

struct histogram {
	uint64_t counts[NBUCKETS]; /* per bucket; made cumulative when rendered */
	uint64_t count;
	double sum;
};

struct connector_series {
	char name[NAME_MAX_LEN];
	struct histogram h;
};

static const char *const webhook_result_names[FFMETRICS_WEBHOOK__COUNT] = {"success", "retry", "failed"};

static struct {
	pthread_mutex_t lock;
	struct connector_series conn[FFMETRICS_MAX_CONNECTORS + 1]; /* last: "other" */
	size_t nconn;
	uint64_t webhook[FFMETRICS_WEBHOOK__COUNT];
} m = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void observe(struct histogram *h, double v)
{
	if (v < 0)
		v = 0;
	for (size_t i = 0; i < NBUCKETS; i++) {
		if (v <= buckets[i]) {
			h->counts[i]++;
			break;
		}
	}
	h->count++;
	h->sum += v;
}

/* Copy a label value, replacing anything that would need escaping. */
static void label_value(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < n; i++) {
		char ch = src[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
			  ch == '.' || ch == ':' || ch == '-';
		dst[i] = ok ? ch : '_';
	}
	dst[i] = '\0';
	if (!i)
		snprintf(dst, n, "unknown");
}

void ffmetrics_connector_call(const char *connector, double seconds)
{
	char name[NAME_MAX_LEN];
	label_value(name, sizeof(name), connector);
	pthread_mutex_lock(&m.lock);
	struct connector_series *s = NULL;
	for (size_t i = 0; i < m.nconn && !s; i++)
		if (!strcmp(m.conn[i].name, name))
			s = &m.conn[i];
	if (!s && m.nconn < FFMETRICS_MAX_CONNECTORS) {
		s = &m.conn[m.nconn++];
		memcpy(s->name, name, sizeof(name));
	}
	if (!s)
		s = &m.conn[FFMETRICS_MAX_CONNECTORS];
	observe(&s->h, seconds);
	pthread_mutex_unlock(&m.lock);
}

void ffmetrics_webhook_delivery(enum ffmetrics_webhook_result result, uint64_t n)
{
	if ((int)result < 0 || result >= FFMETRICS_WEBHOOK__COUNT || !n)
		return;
	pthread_mutex_lock(&m.lock);
	m.webhook[result] += n;
	pthread_mutex_unlock(&m.lock);
}

static void render_histogram(struct ffbuf *b, const char *metric, const char *connector, const struct histogram *h)
{
	uint64_t cum = 0;
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += h->counts[i];
		ffbuf_addf(b, "%s_bucket{connector=\"%s\",le=\"%g\"} %llu\n", metric, connector, buckets[i],
			   (unsigned long long)cum);
	}
	ffbuf_addf(b, "%s_bucket{connector=\"%s\",le=\"+Inf\"} %llu\n", metric, connector,
		   (unsigned long long)h->count);
	ffbuf_addf(b, "%s_sum{connector=\"%s\"} %.6f\n", metric, connector, h->sum);
	ffbuf_addf(b, "%s_count{connector=\"%s\"} %llu\n", metric, connector, (unsigned long long)h->count);
}

void ffmetrics_render(struct ffbuf *b)
{
	static const char *const metric = "fulfill_connector_call_seconds";
	pthread_mutex_lock(&m.lock);
	ffbuf_addf(b, "# HELP %s Connector call latency (one HTTP request, or one in-transaction issue).\n"
		      "# TYPE %s histogram\n",
		   metric, metric);
	for (size_t i = 0; i < m.nconn; i++)
		render_histogram(b, metric, m.conn[i].name, &m.conn[i].h);
	if (m.conn[FFMETRICS_MAX_CONNECTORS].h.count)
		render_histogram(b, metric, "other", &m.conn[FFMETRICS_MAX_CONNECTORS].h);
	ffbuf_adds(b, "# HELP fulfill_webhook_deliveries_total Webhook delivery attempts by result "
		      "(success, retry: failed and rescheduled, failed: given up).\n"
		      "# TYPE fulfill_webhook_deliveries_total counter\n");
	for (int r = 0; r < FFMETRICS_WEBHOOK__COUNT; r++)
		ffbuf_addf(b, "fulfill_webhook_deliveries_total{result=\"%s\"} %llu\n", webhook_result_names[r],
			   (unsigned long long)m.webhook[r]);
	pthread_mutex_unlock(&m.lock);
}

void ffmetrics_reset(void)
{
	pthread_mutex_lock(&m.lock);
	memset(m.conn, 0, sizeof(m.conn));
	m.nconn = 0;
	memset(m.webhook, 0, sizeof(m.webhook));
	pthread_mutex_unlock(&m.lock);
}
