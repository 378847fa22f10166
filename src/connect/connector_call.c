/*
 * connector_call.c - what a provider connector builds its calls with (connector.h,
 * "helpers for connectors"): configuration and participant values, basic auth, URLs
 * with path segments percent-encoded, the paged look-ups that find an earlier attempt's
 * effect at the provider, the classification of an HTTP answer into done, retry, failed
 * or unknown, and the run of a batch of calls with bounded concurrency. connector.c
 * drives the passes that claim rewards, hand them to these calls and settle the
 * answers.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect/connector.h"
#include "core/core.h"
#include "fulfill/crypto.h"
#include "fulfill/log.h"
#include "fulfill/metrics.h"

const char *connector_conf_str(const struct connector_conf *conf, const char *key)
{
	json_t *v = conf && conf->config ? json_object_get(conf->config, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

void connector_basic_auth(struct connector_call *c, const char *user, const char *password)
{
	size_t n = strlen(user) + 1 + strlen(password);
	char *raw = ff_malloc(n + 1);
	snprintf(raw, n + 1, "%s:%s", user, password);
	char *enc = crypto_base64(raw, n);
	http_call_header(&c->http, "Authorization: Basic %s", enc);
	free(enc);
	free(raw);
}

const char *connector_attr(const struct connector_call *c, const char *key)
{
	json_t *attrs = json_object_get(c->participant, "attributes");
	json_t *v = json_object_get(attrs, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

const char *connector_participant_str(const struct connector_call *c, const char *key)
{
	json_t *v = json_object_get(c->participant, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

char *connector_url(const struct connector_conf *conf, const char *fmt, ...)
{
	static const char hex[] = "0123456789ABCDEF";
	struct ffbuf b;
	ffbuf_init(&b, 0);
	size_t bl = strlen(conf->base_url);
	while (bl && conf->base_url[bl - 1] == '/')
		bl--;
	ffbuf_add(&b, conf->base_url, bl);
	va_list ap;
	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++) {
		if (f[0] != '%' || f[1] != 's') {
			ffbuf_add(&b, f, 1);
			continue;
		}
		f++;
		/* one path segment: a '/', '?', '#', '%' or ".." in an id (a participant's
		 * attribute) must not steer the call to another resource */
		const char *arg = va_arg(ap, const char *);
		bool dots = arg && (!strcmp(arg, ".") || !strcmp(arg, "..")); /* a dot segment */
		for (const unsigned char *s = (const unsigned char *)arg; s && *s; s++) {
			if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			    *s == '-' || *s == '_' || *s == '~' || (*s == '.' && !dots)) {
				ffbuf_add(&b, s, 1);
			} else {
				char e[3] = {'%', hex[*s >> 4], hex[*s & 15]};
				ffbuf_add(&b, e, 3);
			}
		}
	}
	va_end(ap);
	return ffbuf_detach(&b, NULL);
}

bool connector_lookup_due(const struct connector_call *c, const char **out_cursor)
{
	*out_cursor = json_string_value(json_object_get(c->state, "lookup_cursor"));
	return c->op == CONNECTOR_ISSUE && reward_outcome_unknown(&c->r) &&
	       !json_is_true(json_object_get(c->state, "lookup_done"));
}

enum connector_result connector_lookup_page(struct connector_call *c, const char *found, const char *next)
{
	if (found) {
		copy_str(c->ref, sizeof(c->ref), found);
		return CONNECTOR_OK;
	}
	if (!c->state)
		c->state = json_object();
	if (!next) { /* the whole list read: no credit of an earlier attempt, send it */
		json_object_set_new(c->state, "lookup_done", json_true());
		return CONNECTOR_CONTINUE;
	}
	int max = c->conf->lookup_max_pages > 0 ? c->conf->lookup_max_pages : CONNECTOR_LOOKUP_PAGES;
	json_int_t pages = json_integer_value(json_object_get(c->state, "lookup_pages")) + 1;
	if (pages >= max)
		return ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL,
			       "%s: nothing sent: an earlier attempt may have paid, and %d page(s) of the list "
			       "did not show its credit (more follow): raise lookup_max_pages or look for %s at "
			       "the provider",
			       c->conf->type, max, c->r.id),
		       CONNECTOR_HELD;
	json_object_set_new(c->state, "lookup_pages", json_integer(pages));
	json_object_set_new(c->state, "lookup_cursor", json_string(next));
	return CONNECTOR_CONTINUE;
}

enum connector_result connector_lookup_failed(struct connector_call *c, enum connector_result res)
{
	char why[sizeof(c->diag.message)];
	copy_str(why, sizeof(why), c->diag.message);
	ff_fail(&c->diag, res == CONNECTOR_RETRY ? FF_E_UNAVAILABLE : FF_E_INVALID, NULL,
		"nothing sent: looking for the credit of an earlier attempt (it may have paid) failed: %s", why);
	c->maybe_paid = false; /* about the look-up, not about a payment */
	return res == CONNECTOR_RETRY ? CONNECTOR_RETRY : CONNECTOR_HELD;
}

enum connector_result connector_lacks(struct connector_call *c, const char *what)
{
	if (c->op != CONNECTOR_ISSUE || !reward_outcome_unknown(&c->r))
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "participant %s has no %s", c->r.participant, what),
		       CONNECTOR_FAILED;
	/* settle() prefixes "outcome unknown: " and keeps 200 characters: the name first */
	return ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL,
		       "nothing sent: participant %s has no %s, and an earlier attempt may have paid: "
		       "restore it, or look for %s at the provider",
		       c->r.participant, what, c->r.id),
	       CONNECTOR_HELD;
}

enum connector_result connector_http_classify(struct connector_call *c)
{
	struct http_call *h = &c->http;
	c->retry_after_ms = 0;
	if (h->retry_after[0]) {
		/* delay-seconds, or an HTTP-date (RFC 9110 10.2.3) */
		char *end;
		long s = strtol(h->retry_after, &end, 10);
		if (end == h->retry_after) {
			time_t at = curl_getdate(h->retry_after, NULL);
			s = at > 0 ? (long)(at - time(NULL)) : 0;
		}
		if (s > 0 && s < 86400)
			c->retry_after_ms = (int64_t)s * 1000;
	}
	if (h->refused) {
		ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "%s", h->error);
		return CONNECTOR_RETRY;
	}
	if (!h->status) {
		ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "%s: %s", c->conf->type, h->error[0] ? h->error : "no response");
		return CONNECTOR_RETRY;
	}
	if (h->status >= 200 && h->status < 300)
		return CONNECTOR_OK;
	char snippet[200];
	snprintf(snippet, sizeof(snippet), "%s", h->response.data ? h->response.data : "");
	if (h->status == 408 || h->status == 409 || h->status == 425 || h->status == 429 || h->status >= 500) {
		ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "%s: HTTP %ld: %s", c->conf->type, h->status, snippet);
		return CONNECTOR_RETRY;
	}
	ff_fail(&c->diag, FF_E_INVALID, NULL, "%s: HTTP %ld: %s", c->conf->type, h->status, snippet);
	return CONNECTOR_FAILED;
}

void connector_call_release(struct connector_call *c)
{
	if (!c)
		return;
	json_decref(c->participant);
	json_decref(c->state);
	c->participant = c->state = NULL;
	if (c->has_request)
		http_call_release(&c->http);
	c->has_request = false;
}

void connector_calls_run(struct connector_call **calls, size_t n, int parallel, const char *allow_hosts)
{
	struct http_call **batch = ff_calloc(n ? n : 1, sizeof(*batch));
	struct connector_call **owner = ff_calloc(n ? n : 1, sizeof(*owner));
	bool *done = ff_calloc(n ? n : 1, sizeof(*done));
	for (;;) {
		size_t nb = 0;
		for (size_t i = 0; i < n; i++) {
			struct connector_call *c = calls[i];
			if (done[i])
				continue;
			if (c->has_request) {
				http_call_release(&c->http);
				c->has_request = false;
			}
			if (c->step > 16 + c->conf->lookup_max_pages) { /* a connector that never ends */
				c->result = CONNECTOR_FAILED;
				ff_fail(&c->diag, FF_E_INTERNAL, NULL, "too many steps");
				done[i] = true;
				continue;
			}
			memset(&c->http, 0, sizeof(c->http));
			enum connector_result res = c->ops->request(c);
			if (res != CONNECTOR_CONTINUE) {
				if (c->http.url) /* a request built, then abandoned */
					http_call_release(&c->http);
				c->result = res;
				done[i] = true;
				continue;
			}
			c->has_request = true;
			if (c->http.timeout_ms <= 0 || c->http.timeout_ms == 15000)
				c->http.timeout_ms = c->conf->timeout_ms;
			c->http.connect_timeout_ms = c->conf->connect_timeout_ms;
			batch[nb] = &c->http;
			owner[nb] = c;
			nb++;
		}
		if (!nb)
			break;
		http_run(batch, nb, parallel, allow_hosts);
		for (size_t k = 0; k < nb; k++) {
			struct connector_call *c = owner[k];
			if (!c->http.refused) /* a refused request never left: no latency to speak of */
				ffmetrics_connector_call(c->conf->id, (double)c->http.elapsed_ms / 1e3);
			enum connector_result res = c->ops->response(c);
			if (res == CONNECTOR_CONTINUE) {
				c->step++;
				continue;
			}
			c->result = res;
			for (size_t i = 0; i < n; i++)
				if (calls[i] == c)
					done[i] = true;
		}
	}
	free(batch);
	free(owner);
	free(done);
}
