/*
 * http_client.h - outbound HTTP for connectors and webhooks: a small libcurl wrapper
 * with an SSRF guard and bounded concurrency (curl multi).
 *
 * A `struct http_call` is one request and, after http_run(), its response. The guard
 * (http_url_check) refuses URLs that are not http(s) or whose host resolves to a
 * loopback, private, link-local, multicast, unspecified or otherwise reserved address
 * (IPv4-mapped/compatible IPv6 and decimal/hex/octal IPv4 spellings included, since the
 * check runs on the resolved addresses) unless the host is listed in `allow_hosts`
 * (comma-separated, exact match, case-insensitive). A checked URL is pinned to the
 * addresses that were checked (CURLOPT_RESOLVE), so DNS cannot change between check
 * and connect. Redirects are never followed. Response bodies are capped at 1 MiB.
 */
#ifndef FULFILL_HTTP_CLIENT_H
#define FULFILL_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "fulfill/buf.h"

struct curl_slist;

#define HTTP_RESPONSE_MAX (1 << 20)

struct http_call {
	/* request: owned by the call, freed by http_call_release() */
	char method[8];
	char *url;
	struct curl_slist *headers;
	char *body;
	size_t body_len;
	long timeout_ms;         /* the whole exchange; default 15000 */
	long connect_timeout_ms; /* default 5000 */
	/* response */
	long status;          /* HTTP status; 0 when no response came */
	struct ffbuf response; /* the body (NUL-terminated, at most HTTP_RESPONSE_MAX) */
	char retry_after[32]; /* Retry-After header value, if any */
	char should_retry[8]; /* Stripe-Should-Retry header value ("true"/"false"), if any */
	char error[256];      /* transport error or refusal; empty when a response came */
	bool refused;         /* refused by the guard: nothing was sent */
	bool timed_out;
	bool maybe_delivered; /* no response, but the request went out (part or whole): the
			       * other side may have acted on it */
	int64_t elapsed_ms;
};

/* Start a call (method "GET", "POST", ...; url copied). */
void http_call_init(struct http_call *c, const char *method, const char *url);
/* Add a request header line ("Name: value"), printf-style. */
void http_call_header(struct http_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the request body (copied). */
void http_call_body(struct http_call *c, const char *body, size_t len);
/* Free what the call owns; accepts NULL. The struct may be reused after http_call_init. */
void http_call_release(struct http_call *c);

/* The guard. 0 when `url` may be called; the curl resolve pin ("host:port:addr,...",
 * empty for allow-listed hosts) goes to `pin`. -1 with a reason in `err` when refused,
 * -2 when the host cannot be resolved (now). */
int http_url_check(const char *url, const char *allow_hosts, char *pin, size_t pin_n, char *err, size_t err_n);
/* true when a literal address is one the guard refuses (exposed for tests). */
bool http_addr_forbidden(const struct sockaddr *sa);

/* Run `n` calls with at most `parallel` in flight (>= 1); returns when all are done.
 * Each call gets its status/response or an error; refused calls are never sent. */
void http_run(struct http_call **calls, size_t n, int parallel, const char *allow_hosts);

/* Percent-encode `s` for application/x-www-form-urlencoded into b. */
void http_form_add(struct ffbuf *b, const char *key, const char *value);

/* A URL (or a libpq key=value string) with its secrets masked, into out: the password of
 * scheme://user:secret@host/..., and the value of every password= or sslpassword=
 * parameter (postgres://h/db?password=x, host=h password='x y'). `config show`,
 * `connectors list`, and every connector read (API and CLI). */
void url_mask_secrets(const char *url, char *out, size_t n);

#endif
