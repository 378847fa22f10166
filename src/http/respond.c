/*
 * respond.c - rendering responses (JSON bodies, error objects, the headers every
 * response carries) and the request-side checks every handler shares: UTF-8, JSON
 * depth, strict body objects, query parameters and paging.
 *
 * Every response goes out through respond_raw(), which adds X-Request-Id and records
 * the status on the request for the log line and the metrics.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

char *json_text(const json_t *v, size_t *out_len)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		ff_oom();
	if (out_len)
		*out_len = strlen(s);
	return s;
}

/* Send resp (and let it go): while the server stops, asking the client to close. */
static enum MHD_Result queue(struct MHD_Connection *conn, struct request *req, int status,
			     struct MHD_Response *resp)
{
	if (http_server && atomic_load(&http_server->stopping))
		MHD_add_response_header(resp, "Connection", "close");
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	req->answered = true;
	req->status = status;
	return rc;
}

enum MHD_Result respond_raw(struct MHD_Connection *conn, struct request *req, int status,
			    const char *ctype, const char *data, size_t len, const char *extra_name,
			    const char *extra_value)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		ff_oom();
	if (ctype)
		MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (extra_name && extra_value)
		MHD_add_response_header(resp, extra_name, extra_value);
	return queue(conn, req, status, resp);
}

/* Same-origin only; the pages are ES modules, style sheets and SVG drawn by script. */
#define PAGE_CSP                                                                                   \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; "           \
	"base-uri 'none'; frame-ancestors 'none'"

enum MHD_Result respond_page(struct MHD_Connection *conn, struct request *req, int status,
			     const char *ctype, const char *data, size_t len, const char *etag)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		ff_oom();
	if (ctype && status != 304)
		MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	/* no build step, so no content-hashed names: revalidate every time */
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	if (etag && *etag)
		MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy", PAGE_CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	return queue(conn, req, status, resp);
}

enum MHD_Result respond_json(struct MHD_Connection *conn, struct request *req, int status,
			     json_t *body)
{
	size_t len;
	char *text = json_text(body, &len);
	json_decref(body);
	enum MHD_Result rc =
	    respond_raw(conn, req, status, "application/json", text, len, NULL, NULL);
	free(text);
	return rc;
}

/* A JSON string of `s` with every byte that is not part of valid UTF-8 shown as U+FFFD.
 * Error messages quote what the client sent (a path, a method, a parameter name), and
 * a message cut at a byte limit may end inside a character: json_string() refuses
 * such text, and an error answer must never fail for it. */
static json_t *json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	size_t len = strlen(s), o = 0;
	char *clean = ff_malloc(len * 3 + 1);
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80		? 1
			   : (c & 0xE0) == 0xC0 ? 2
			   : (c & 0xF0) == 0xE0 ? 3
			   : (c & 0xF8) == 0xF0 ? 4
						: 0;
		if (n && i + n <= len && utf8_valid(s + i, n)) {
			memcpy(clean + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(clean + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(clean, o);
	free(clean);
	if (!j)
		ff_oom();
	return j;
}

json_t *error_object(enum ff_err err, const struct ff_diag *d)
{
	const char *msg = d && d->message[0] ? d->message : ff_err_code(err);
	json_t *e = json_object();
	if (!e)
		ff_oom();
	json_object_set_new(e, "code", json_string(ff_err_code(err)));
	json_object_set_new(e, "message", json_string_lossy(msg));
	if (d && d->param[0])
		json_object_set_new(e, "param", json_string_lossy(d->param));
	return e;
}

enum MHD_Result respond_error(struct MHD_Connection *conn, struct request *req, enum ff_err err,
			      const struct ff_diag *d)
{
	if (err == FF_OK)
		err = FF_E_INTERNAL;
	json_t *body = json_pack("{s:o}", "error", error_object(err, d));
	return respond_json(conn, req, ff_err_status(err), body);
}

enum MHD_Result respond_fail(struct MHD_Connection *conn, struct request *req, enum ff_err err,
			     const char *param, const char *fmt, ...)
{
	struct ff_diag d;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d.message, sizeof(d.message), fmt, ap);
	va_end(ap);
	snprintf(d.param, sizeof(d.param), "%s", param ? param : "");
	return respond_error(conn, req, err, &d);
}

/* ---- request checks ---- */

bool utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			n = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		i += n + 1;
	}
	return true;
}

int json_depth(const char *s, size_t len)
{
	int depth = 0, max = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

bool media_type_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);
	if (!ctype)
		return false;
	while (*ctype == ' ')
		ctype++;
	if (strncasecmp(ctype, want, n) != 0)
		return false;
	ctype += n;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return *ctype == '\0' || *ctype == ';';
}

/* Is `key` in the comma-separated list? */
static bool in_list(const char *list, const char *key)
{
	size_t n = strlen(key);
	const char *p = list;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, key, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

const char *body_string(json_t *doc, const char *name, bool *bad)
{
	json_t *v = json_object_get(doc, name);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= HTTP_PARAM_MAX) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

enum ff_err body_object(struct ctx *c, const char *allowed, json_t **out)
{
	json_error_t jerr;
	const char *key;
	json_t *v, *doc;
	size_t i = 0;

	while (i < c->body_len && isspace((unsigned char)c->body[i]))
		i++;
	if (i == c->body_len) {
		*out = json_object();
		return FF_OK;
	}
	if (!utf8_valid(c->body, c->body_len))
		return ff_fail(&c->diag, FF_E_INVALID_UTF8, NULL,
			       "the request body is not valid UTF-8");
	if (json_depth(c->body, c->body_len) > HTTP_JSON_MAX_DEPTH)
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "JSON nested deeper than %d levels",
			       HTTP_JSON_MAX_DEPTH);
	doc = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!doc)
		return ff_fail(&c->diag, FF_E_MALFORMED, NULL,
			       "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
			       jerr.text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return ff_fail(&c->diag, FF_E_INVALID, NULL,
			       "the request body must be a JSON object");
	}
	if (allowed) {
		json_object_foreach(doc, key, v)
		{
			if (!in_list(allowed, key)) {
				enum ff_err err = ff_fail(&c->diag, FF_E_UNKNOWN_FIELD, key,
							  "unknown field \"%.100s\"", key);
				json_decref(doc);
				return err;
			}
		}
	}
	*out = doc;
	return FF_OK;
}

const char *query_get(struct ctx *c, const char *name)
{
	return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, name);
}

enum ff_err query_page(struct ctx *c, struct page *p)
{
	const char *limit = query_get(c, "limit");
	const char *after = query_get(c, "starting_after");

	p->limit = 100;
	p->starting_after = NULL;
	if (limit) {
		char *end;
		errno = 0;
		long v = strtol(limit, &end, 10);
		if (!*limit || *end || errno || v < 1 || v > 1000)
			return ff_fail(&c->diag, FF_E_INVALID, "limit",
				       "limit must be an integer from 1 to 1000");
		p->limit = (int)v;
	}
	if (after) {
		if (!*after || strlen(after) >= HTTP_PARAM_MAX)
			return ff_fail(&c->diag, FF_E_INVALID, "starting_after",
				       "starting_after must be an id");
		p->starting_after = after;
	}
	return FF_OK;
}
