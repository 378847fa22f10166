/*
 * http_client.c - outbound HTTP (connectors, webhooks) over libcurl: the SSRF guard,
 * and a curl-multi loop that keeps at most N requests in flight.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "fulfill/error.h"
#include "fulfill/http_client.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_call_init(struct http_call *c, const char *method, const char *url)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->method, sizeof(c->method), "%s", method);
	c->url = ff_strdup(url);
	c->timeout_ms = 15000;
	c->connect_timeout_ms = 5000;
	ffbuf_init(&c->response, HTTP_RESPONSE_MAX);
}

void http_call_header(struct http_call *c, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	struct curl_slist *n = curl_slist_append(c->headers, line);
	if (!n)
		ff_oom();
	c->headers = n;
}

void http_call_body(struct http_call *c, const char *body, size_t len)
{
	free(c->body);
	c->body = ff_malloc(len + 1);
	memcpy(c->body, body, len);
	c->body[len] = '\0';
	c->body_len = len;
}

void http_call_release(struct http_call *c)
{
	if (!c)
		return;
	free(c->url);
	free(c->body);
	curl_slist_free_all(c->headers);
	ffbuf_release(&c->response);
	c->url = c->body = NULL;
	c->headers = NULL;
}

/* ---- the guard ---- */

static bool v4_forbidden(uint32_t a) /* host byte order */
{
	uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16), b2 = (uint8_t)(a >> 8);
	if (b0 == 0 || b0 == 10 || b0 == 127)
		return true; /* "this network", private, loopback */
	if (b0 == 100 && (b1 & 0xc0) == 64)
		return true; /* carrier-grade NAT 100.64/10 */
	if (b0 == 169 && b1 == 254)
		return true; /* link-local (cloud metadata) */
	if (b0 == 172 && (b1 & 0xf0) == 16)
		return true;
	if (b0 == 192 && b1 == 168)
		return true;
	if (b0 == 192 && b1 == 0 && b2 == 0)
		return true; /* IETF protocol assignments */
	if (b0 == 198 && (b1 & 0xfe) == 18)
		return true; /* benchmarking */
	if (b0 >= 224)
		return true; /* multicast, reserved, broadcast */
	return false;
}

bool http_addr_forbidden(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_forbidden(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family != AF_INET6)
		return true;
	const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	static const uint8_t zero[16];
	if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1))
		return true; /* :: and ::1 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return true; /* fe80::/10 link-local */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return true; /* fec0::/10 site-local (deprecated) */
	if ((b[0] & 0xfe) == 0xfc)
		return true; /* fc00::/7 unique local */
	if (b[0] == 0xff)
		return true; /* multicast */
	uint32_t v4;
	/* ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64) */
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	if (!memcmp(b, mapped, 12) || !memcmp(b, zero, 12) || !memcmp(b, nat64, 12)) {
		memcpy(&v4, b + 12, 4);
		return v4_forbidden(ntohl(v4));
	}
	if (b[0] == 0x20 && b[1] == 0x02) { /* 2002::/16 6to4 embeds an IPv4 address */
		memcpy(&v4, b + 2, 4);
		return v4_forbidden(ntohl(v4));
	}
	return false;
}

static bool host_allowed(const char *host, const char *allow)
{
	if (!allow)
		return false;
	size_t hl = strlen(host);
	const char *p = allow;
	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		const char *s = p;
		while (*p && *p != ',')
			p++;
		const char *e = p;
		while (e > s && e[-1] == ' ')
			e--;
		if ((size_t)(e - s) == hl && hl && !strncasecmp(s, host, hl))
			return true;
	}
	return false;
}

int http_url_check(const char *url, const char *allow_hosts, char *pin, size_t pin_n, char *err, size_t err_n)
{
	pthread_once(&curl_once, curl_init_once);
	if (pin_n)
		pin[0] = '\0';
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		snprintf(err, err_n, "not a valid URL");
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (!scheme || (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
		snprintf(err, err_n, "only http and https URLs are allowed");
		goto out;
	}
	if (!host || !*host) {
		snprintf(err, err_n, "the URL has no host");
		goto out;
	}
	char bare[256];
	snprintf(bare, sizeof(bare), "%s", host);
	size_t bl = strlen(bare);
	if (bare[0] == '[' && bl > 2 && bare[bl - 1] == ']') {
		memmove(bare, bare + 1, bl - 2);
		bare[bl - 2] = '\0';
	}
	if (host_allowed(bare, allow_hosts) || host_allowed(host, allow_hosts)) {
		rc = 0;
		goto out;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(bare, NULL, &hints, &res);
	if (gai) {
		snprintf(err, err_n, "cannot resolve %s: %s", bare, gai_strerror(gai));
		rc = -2;
		goto out;
	}
	size_t used = 0;
	if (pin_n)
		used = (size_t)snprintf(pin, pin_n, "%s:%s:", host, port ? port : "80");
	bool first = true, bad = false;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char a[INET6_ADDRSTRLEN];
		const void *src = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
							   : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		inet_ntop(ai->ai_family, src, a, sizeof(a));
		if (http_addr_forbidden(ai->ai_addr)) {
			snprintf(err, err_n, "%s resolves to %s, a loopback, private, link-local or reserved address "
					     "(list the host in webhook_allow_hosts to allow it)",
				 bare, a);
			bad = true;
			break;
		}
		if (pin_n && used < pin_n) {
			used += (size_t)snprintf(pin + used, pin_n - used, ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
						 first ? "" : ",", a);
			first = false;
		}
	}
	freeaddrinfo(res);
	if (!bad)
		rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

void http_form_add(struct ffbuf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	if (b->len)
		ffbuf_adds(b, "&");
	for (int part = 0; part < 2; part++) {
		const unsigned char *s = (const unsigned char *)(part ? value : key);
		if (part)
			ffbuf_adds(b, "=");
		for (; s && *s; s++) {
			if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			    *s == '-' || *s == '_' || *s == '.' || *s == '~') {
				ffbuf_add(b, s, 1);
			} else if (*s == ' ') {
				ffbuf_adds(b, "+");
			} else {
				char e[3] = {'%', hex[*s >> 4], hex[*s & 15]};
				ffbuf_add(b, e, 3);
			}
		}
	}
}

/* ---- running calls ---- */

struct running {
	struct http_call *call;
	struct curl_slist *pin;
	int64_t started;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct http_call *c = ud;
	if (ffbuf_add(&c->response, p, size * n))
		return 0; /* too large: abort the transfer */
	return size * n;
}

/* The value of header line p (len bytes) into out when the line is `name: value`
 * (name matched case-insensitively; surrounding blanks dropped, cut to fit). */
static void header_value(const char *p, size_t len, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(p, name, nl) || p[nl] != ':')
		return;
	const char *v = p + nl + 1;
	while (v < p + len && (*v == ' ' || *v == '\t'))
		v++;
	size_t vl = (size_t)(p + len - v);
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (vl >= n)
		vl = n - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct http_call *c = ud;
	size_t len = size * n;
	header_value(p, len, "Retry-After", c->retry_after, sizeof(c->retry_after));
	/* Stripe's verdict on retrying an error (docs.stripe.com/error-low-level) */
	header_value(p, len, "Stripe-Should-Retry", c->should_retry, sizeof(c->should_retry));
	return len;
}

static CURL *start(struct http_call *c, struct running *r, const char *allow)
{
	char pin[1024], err[200];
	r->call = c;
	r->pin = NULL;
	r->started = mono_ms();
	ffbuf_reset(&c->response);
	c->status = 0;
	c->error[0] = '\0';
	if (http_url_check(c->url, allow, pin, sizeof(pin), err, sizeof(err))) {
		c->refused = true;
		snprintf(c->error, sizeof(c->error), "refused: %s", err);
		return NULL;
	}
	CURL *h = curl_easy_init();
	if (!h)
		ff_oom();
	if (pin[0])
		r->pin = curl_slist_append(NULL, pin);
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
	if (!strcmp(c->method, "GET"))
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else if (!strcmp(c->method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (c->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	}
	/* "Expect: 100-continue" would add a round trip to every POST */
	struct curl_slist *hs = curl_slist_append(c->headers, "Expect:");
	if (!hs)
		ff_oom();
	c->headers = hs;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	if (r->pin)
		curl_easy_setopt(h, CURLOPT_RESOLVE, r->pin);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms > 0 ? c->timeout_ms : 15000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms > 0 ? c->connect_timeout_ms : 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "fulfill/0.1");
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	return h;
}

static void finish(CURL *h, CURLcode rc)
{
	struct running *r = NULL;
	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&r);
	struct http_call *c = r->call;
	c->elapsed_ms = mono_ms() - r->started;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	} else {
		c->status = 0;
		c->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		long sent = 0;
		curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
		c->maybe_delivered = sent > 0;
		snprintf(c->error, sizeof(c->error), "%s", curl_easy_strerror(rc));
	}
	curl_slist_free_all(r->pin);
	r->pin = NULL;
}

void http_run(struct http_call **calls, size_t n, int parallel, const char *allow_hosts)
{
	pthread_once(&curl_once, curl_init_once);
	if (parallel < 1)
		parallel = 1;
	struct running *run = ff_calloc(n ? n : 1, sizeof(*run));
	CURLM *m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)parallel);
	size_t next = 0;
	int active = 0;
	for (;;) {
		while (active < parallel && next < n) {
			CURL *h = start(calls[next], &run[next], allow_hosts);
			next++;
			if (!h)
				continue;
			curl_multi_add_handle(m, h);
			active++;
		}
		if (!active)
			break;
		int still = 0;
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *h = msg->easy_handle;
			finish(h, msg->data.result);
			curl_multi_remove_handle(m, h);
			curl_easy_cleanup(h);
			active--;
		}
		if (active && still)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	curl_multi_cleanup(m);
	free(run);
}

/* ---- showing a URL without its secrets ---- */

/* Does a secret parameter (password=, sslpassword=) start at s + i? Its name's length,
 * or 0. It must start the string or follow a separator of a URL query or a key=value
 * connection string. */
static size_t secret_param_at(const char *s, size_t i)
{
	static const char *const names[] = {"password=", "sslpassword="};
	if (i > 0 && !strchr("?&; \t", s[i - 1]))
		return 0;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (!strncmp(s + i, names[k], strlen(names[k])))
			return strlen(names[k]);
	return 0;
}

void url_mask_secrets(const char *url, char *out, size_t n)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	size_t len = strlen(url), i = 0;
	const char *scheme = strstr(url, "://");
	if (scheme) {
		size_t start = (size_t)(scheme + 3 - url), end = start + strcspn(url + start, "/?#");
		const char *at = NULL, *colon = NULL;
		for (size_t j = start; j < end; j++)
			if (url[j] == '@')
				at = url + j;
		colon = at ? memchr(url + start, ':', (size_t)(at - url) - start) : NULL;
		if (colon) {
			ffbuf_add(&b, url, (size_t)(colon - url) + 1);
			ffbuf_adds(&b, "****");
			i = (size_t)(at - url);
		}
	}
	while (i < len) {
		size_t name = secret_param_at(url, i);
		if (!name) {
			ffbuf_add(&b, url + i, 1);
			i++;
			continue;
		}
		ffbuf_add(&b, url + i, name);
		ffbuf_adds(&b, "****");
		i += name;
		if (url[i] == '\'') { /* a quoted value; \' inside it */
			for (i++; i < len && url[i] != '\''; i++)
				if (url[i] == '\\' && i + 1 < len)
					i++;
			if (i < len)
				i++;
		} else {
			i += strcspn(url + i, "& \t");
		}
	}
	snprintf(out, n, "%.*s", (int)b.len, b.data);
	ffbuf_release(&b);
}
