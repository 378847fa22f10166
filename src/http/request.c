/*
 * request.c - one HTTP request from its request line to its log line.
 *
 * A request begins when libmicrohttpd has parsed its request line (request_begin(),
 * its URI log callback). libmicrohttpd then calls request_access() several times: once
 * when the headers are in (we check the size of the header block, route, authenticate,
 * rate-limit and check content type and length, but answer only after the body has
 * been read so the client always sees the answer - unless it waits for "100
 * Continue"), once per body chunk (appended to a bounded buffer), once at the end
 * (dispatch), and for events once more after the group-commit writer resumed the
 * suspended connection. request_completed() writes the one log line per request and
 * the metrics, and frees it; it writes them too for a request libmicrohttpd refused
 * itself before we saw its headers (a header block larger than its pool, a malformed
 * header line), whose status it tells us.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/crypto.h"
#include "fulfill/log.h"
#include "http/http_int.h"

static bool request_id_sane(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e ||
		    n >= HTTP_REQUEST_ID_MAX)
			return false;
	return n > 0;
}

static bool is_write(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "DELETE") == 0 || strcmp(method, "PATCH") == 0;
}

/* Remember an error to answer once the body has been read (see the file comment). */
static enum MHD_Result defer_error(struct request *req, enum ff_err err, const char *param,
				   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result defer_error(struct request *req, enum ff_err err, const char *param,
				   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->early_diag.message, sizeof(req->early_diag.message), fmt, ap);
	va_end(ap);
	snprintf(req->early_diag.param, sizeof(req->early_diag.param), "%s", param ? param : "");
	req->early_err = err;
	return MHD_YES;
}

static enum MHD_Result add_header_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	size_t *bytes = cls;
	(void)kind;
	*bytes += strlen(key) + 2 + (value ? strlen(value) : 0) + 2; /* "key: value\r\n" */
	return MHD_YES;
}

/* The size of the header block: its bytes as received (request line, header fields,
 * line ends) and the number of header fields, query parameters and cookies, each of
 * which libmicrohttpd keeps as a record in its pool. */
static void header_block(struct MHD_Connection *conn, const char *url, const char *method,
			 size_t *out_bytes, size_t *out_fields)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	int n = MHD_get_connection_values(
	    conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND | MHD_COOKIE_KIND, NULL, NULL);

	*out_fields = n > 0 ? (size_t)n : 0;
	if (info) {
		*out_bytes = info->header_size;
		return;
	}
	/* not told: the parsed fields and the request line, without its query string */
	*out_bytes = strlen(method) + 1 + strlen(url) + sizeof(" HTTP/1.1\r\n") - 1 + 2;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_bytes, out_bytes);
}

/* First call: the headers are in. */
static enum MHD_Result on_headers(struct MHD_Connection *conn, struct request *req, const char *url,
				  const char *method)
{
	const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	bool known = false;
	struct ff_diag d;
	size_t header_bytes, header_fields;

	if (rid && request_id_sane(rid))
		snprintf(req->request_id, sizeof(req->request_id), "%s", rid);
	else
		crypto_random_id("req", req->request_id, sizeof(req->request_id));
	ffbuf_init(&req->body, (size_t)http_server->opt.max_body);
	snprintf(req->method, sizeof(req->method), "%s", method);

	/* before anything else looks at it: not routed (the log line and the metrics say
	 * "unmatched", as for an unknown path), no key read, no database touched */
	header_block(conn, url, method, &header_bytes, &header_fields);
	if (header_bytes > (size_t)HTTP_HEADER_MAX || header_fields > HTTP_HEADER_FIELDS_MAX)
		return defer_error(
		    req, FF_E_HEADER_TOO_LARGE, NULL,
		    "the request line and headers are %zu bytes with %zu header fields, query "
		    "parameters and cookies; at most %d bytes and %d fields are accepted",
		    header_bytes, header_fields, HTTP_HEADER_MAX, HTTP_HEADER_FIELDS_MAX);

	/* HEAD is GET without a body (libmicrohttpd drops the body) */
	const char *as = strcmp(method, "HEAD") == 0 ? "GET" : method;
	req->route = router_match(as, url, req->params, &known, req->allow, sizeof(req->allow));
	if (!req->route) {
		if (known) {
			char other[16], scratch[HTTP_MAX_PARAMS][HTTP_PARAM_MAX];
			bool again;
			snprintf(other, sizeof(other), "%.*s", (int)strcspn(req->allow, ", "),
				 req->allow);
			req->path_route = router_match(other, url, scratch, &again, NULL, 0);
		}
		if (known)
			return defer_error(req, FF_E_METHOD, NULL,
					   "%s is not allowed here (allowed: %s)", method,
					   req->allow);
		req->allow[0] = '\0';
		return defer_error(req, FF_E_NOT_FOUND, NULL, "no such resource: %.200s", url);
	}
	/* no object has an id with control characters or bytes that are not UTF-8 */
	for (int i = 0; i < HTTP_MAX_PARAMS; i++) {
		if (!utf8_valid(req->params[i], strlen(req->params[i])))
			return defer_error(req, FF_E_NOT_FOUND, NULL, "no such resource");
		for (const char *p = req->params[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return defer_error(req, FF_E_NOT_FOUND, NULL, "no such resource");
	}
	if (req->route->roles != R_PUBLIC) {
		ff_diag_clear(&d);
		struct engine *e = server_engine(&d);
		if (!e)
			return defer_error(req, FF_E_UNAVAILABLE, NULL, "database unavailable: %s",
					   d.message);
		enum ff_err err = auth_authenticate(conn, e, &req->actor, &d);
		if (err)
			return defer_error(req, err, NULL, "%s", d.message);
		req->authed = true;
		if (!ratelimit_take(req->actor.key_prefix, &req->retry_after))
			return defer_error(req, FF_E_RATE_LIMITED, NULL,
					   "rate limit exceeded; retry in %d s", req->retry_after);
		if (!(req->route->roles & (1u << req->actor.role)))
			return defer_error(req, FF_E_FORBIDDEN, NULL, "the %s role may not %s %s",
					   role_name(req->actor.role), method, req->route->pattern);
	}

	/* Idempotency-Key */
	const char *ik = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
	if (ik && is_write(method) && req->authed) {
		size_t n = strlen(ik);
		if (n == 0 || n > HTTP_IDEM_KEY_MAX)
			return defer_error(req, FF_E_INVALID, "Idempotency-Key",
					   "Idempotency-Key must be 1 to %d characters",
					   HTTP_IDEM_KEY_MAX);
		/* stored as text beside the effect: bytes that are not UTF-8 would fail that
		 * write on PostgreSQL (a 500 after the work was done and rolled back) */
		bool printable = utf8_valid(ik, n);
		for (size_t i = 0; i < n && printable; i++)
			printable = (unsigned char)ik[i] >= 0x20 && ik[i] != 0x7f;
		if (!printable)
			return defer_error(req, FF_E_INVALID, "Idempotency-Key",
					   "Idempotency-Key must be UTF-8 text without control characters");
		memcpy(req->idem_key, ik, n + 1);
		req->has_idem = true;
	}

	/* body: type and declared length */
	const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
	long long declared = clen ? strtoll(clen, NULL, 10) : 0;
	bool has_body = declared > 0 || te;
	if (has_body && !(req->route->flags & RF_BODY) && is_write(method)) {
		/* a write that takes no body (DELETE) may send {}, and nothing else: a field
		 * it carries is refused (dispatch), never silently ignored */
		const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		if (!media_type_is(ct, "application/json"))
			return defer_error(req, FF_E_MEDIA_TYPE, "Content-Type",
					   "Content-Type must be application/json (this request "
					   "takes no body; send none, or {})");
	} else if (has_body && (req->route->flags & RF_BODY)) {
		const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		unsigned fl = req->route->flags;
		bool ok = ((fl & RF_CSV) && media_type_is(ct, "text/csv")) ||
			  (!(fl & RF_NOJSON) && media_type_is(ct, "application/json")) ||
			  ((fl & RF_GROUPCOMMIT) && media_type_is(ct, "application/x-ndjson"));
		if (!ok)
			return defer_error(
			    req, FF_E_MEDIA_TYPE, "Content-Type", "Content-Type must be %s",
			    (fl & RF_NOJSON)	    ? "text/csv"
			    : (fl & RF_CSV)	    ? "application/json or text/csv"
			    : (fl & RF_GROUPCOMMIT) ? "application/json or application/x-ndjson"
						    : "application/json");
	}
	if (declared > http_server->opt.max_body) {
		req->too_large = true;
		return defer_error(req, FF_E_TOO_LARGE, NULL, "request body larger than %lld bytes",
				   (long long)http_server->opt.max_body);
	}
	return MHD_YES;
}

/* Answer a job the group-commit writer finished. */
static enum MHD_Result answer_job(struct MHD_Connection *conn, struct request *req)
{
	struct gc_job *job = req->job;
	enum MHD_Result rc = respond_raw(conn, req, job->status, "application/json", job->body,
					 strlen(job->body), NULL, NULL);
	if (req->idem_held) {
		idem_release(req->actor.key_prefix, req->idem_key);
		req->idem_held = false;
	}
	return rc;
}

/* Render a handler's answer (or its error). */
static enum MHD_Result answer(struct MHD_Connection *conn, struct request *req, struct ctx *c,
			      enum ff_err err)
{
	if (err) {
		json_decref(c->out);
		free(c->raw);
		return respond_error(conn, req, err, &c->diag);
	}
	int status = c->status ? c->status : req->route->status;
	if (c->raw) {
		enum MHD_Result rc = c->page ? respond_page(conn, req, status, c->raw_ctype, c->raw,
							    c->raw_len, c->etag)
					     : respond_raw(conn, req, status, c->raw_ctype, c->raw,
							   c->raw_len, NULL, NULL);
		free(c->raw);
		return rc;
	}
	return respond_json(conn, req, status, c->out ? c->out : json_object());
}

/* An error that is the request's outcome, not a refusal of its input: the request ran
 * and the state it found said no (API.md's 409 codes). Its answer is stored like a
 * success, so that a retry with the key gets the same answer even when the state has
 * changed since (a balance credited in between does not turn a refused redemption into
 * a later one). A failed validation (400, 404, 422), a refusal of the key (401, 403),
 * a conflict that may be transient (409 conflict, idempotency_key_in_use) and a
 * failure of the server (5xx) store nothing: a retry runs again. */
static bool outcome_error(enum ff_err err)
{
	return err == FF_E_INVALID_TRANSITION || err == FF_E_INSUFFICIENT_BALANCE || err == FF_E_VERSION_NOT_APPROVED ||
	       err == FF_E_PARTICIPANT_BLOCKED;
}

/* Store `err` as the key's answer, in a transaction of its own (the effect's rolled
 * back), and send it; an error of the store is answered instead. */
static enum MHD_Result store_outcome_error(struct MHD_Connection *conn, struct request *req, struct ctx *c,
					   enum ff_err err)
{
	json_t *body = json_pack("{s:o}", "error", error_object(err, &c->diag));
	size_t len;
	char *text = json_text(body, &len);
	json_decref(body);
	json_decref(c->out);
	c->out = NULL;
	free(c->raw);
	c->raw = NULL;
	int status = ff_err_status(err);
	enum ff_err st = engine_tx_begin(c->eng);
	if (!st)
		st = engine_idem_store(c->eng, req->actor.key_prefix, req->idem_key, req->idem_fp, status, text);
	if (!st)
		st = engine_tx_commit(c->eng);
	enum MHD_Result rc;
	if (st) {
		engine_tx_rollback(c->eng);
		rc = respond_fail(conn, req, st, NULL, "could not store the result");
	} else {
		rc = respond_raw(conn, req, status, "application/json", text, len, NULL, NULL);
	}
	free(text);
	return rc;
}

/* Run the handler inside a transaction that also stores the idempotency record. */
static enum MHD_Result run_idempotent(struct MHD_Connection *conn, struct request *req,
				      struct ctx *c)
{
	const char *scope = req->actor.key_prefix;
	enum idem_state state;
	int stored_status = 0;
	char *stored = NULL;
	enum ff_err err;
	enum MHD_Result rc;

	if (!idem_acquire(scope, req->idem_key))
		return respond_fail(conn, req, FF_E_IDEM_IN_USE, "Idempotency-Key",
				    "a request with this Idempotency-Key is still in flight");
	req->idem_held = true;
	err = engine_idem_lookup(c->eng, scope, req->idem_key, req->idem_fp, &state, &stored_status,
				 &stored);
	if (err) {
		rc = respond_fail(conn, req, err, NULL, "could not look up the Idempotency-Key");
		goto out;
	}
	if (state == IDEM_REPLAY) {
		rc = respond_raw(conn, req, stored_status, "application/json", stored ? stored : "",
				 stored ? strlen(stored) : 0, "Idempotent-Replayed", "true");
		goto out;
	}
	if (state == IDEM_REUSED) {
		rc = respond_fail(conn, req, FF_E_IDEM_REUSED, "Idempotency-Key",
				  "this Idempotency-Key was used with a different request");
		goto out;
	}
	if (req->route->flags & RF_GROUPCOMMIT) {
		/* the writer stores the record in the events' transaction and answers */
		err = req->route->handler(c);
		if (c->suspended) {
			free(stored);
			return MHD_YES;
		}
		rc = answer(conn, req, c, err);
		goto out;
	}

	/* the record is written in the effect's transaction - except for a route that
	 * commits as it goes (a worker pass: chunk by chunk, with calls to providers in
	 * between), which cannot run inside one: its record follows in a transaction of its
	 * own. A crash in between leaves no record, and a retry with the key runs the pass
	 * again, which only does what is still due (docs/api.md). */
	bool own_tx = req->route->flags & RF_OWN_TX;
	err = own_tx ? FF_OK : engine_tx_begin(c->eng);
	if (err) {
		rc = respond_fail(conn, req, err, NULL, "could not begin a transaction");
		goto out;
	}
	err = req->route->handler(c);
	if (err) {
		if (!own_tx)
			engine_tx_rollback(c->eng);
		rc = outcome_error(err) ? store_outcome_error(conn, req, c, err) : answer(conn, req, c, err);
		goto out;
	}
	int status = c->status ? c->status : req->route->status;
	size_t len;
	char *text = c->raw ? c->raw : json_text(c->out ? c->out : json_object(), &len);
	if (c->raw)
		len = c->raw_len;
	else
		json_decref(c->out);
	c->raw = NULL;
	c->out = NULL;
	err = own_tx ? engine_tx_begin(c->eng) : FF_OK;
	if (!err)
		err = engine_idem_store(c->eng, scope, req->idem_key, req->idem_fp, status, text);
	if (!err)
		err = engine_tx_commit(c->eng);
	if (err) {
		engine_tx_rollback(c->eng);
		free(text);
		rc = respond_fail(conn, req, err, NULL, "could not store the result");
		goto out;
	}
	rc = respond_raw(conn, req, status, "application/json", text, len, NULL, NULL);
	free(text);
out:
	free(stored);
	if (req->idem_held) {
		idem_release(scope, req->idem_key);
		req->idem_held = false;
	}
	return rc;
}

struct query_check {
	const char *allowed;
	char bad[64];	   /* a parameter the route does not take */
	char bad_utf8[64]; /* a parameter whose value is not UTF-8 */
};

static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	struct query_check *qc = cls;
	size_t n = strlen(key);
	(void)kind;
	for (const char *p = qc->allowed; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, key, n) == 0) {
			if (value && !utf8_valid(value, strlen(value))) {
				snprintf(qc->bad_utf8, sizeof(qc->bad_utf8), "%.60s", key);
				return MHD_NO;
			}
			return MHD_YES;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	snprintf(qc->bad, sizeof(qc->bad), "%.60s", key);
	return MHD_NO;
}

/* Last call: the body is in. */
static enum MHD_Result dispatch(struct MHD_Connection *conn, struct request *req, const char *url,
				const char *method)
{
	struct ctx c = {.conn = conn, .req = req, .method = method, .path = url};

	if (req->early_err) {
		if (req->early_err == FF_E_RATE_LIMITED) {
			char ra[16];
			snprintf(ra, sizeof(ra), "%d", req->retry_after);
			json_t *body = json_pack("{s:o}", "error",
						 error_object(FF_E_RATE_LIMITED, &req->early_diag));
			size_t len;
			char *text = json_text(body, &len);
			json_decref(body);
			enum MHD_Result rc = respond_raw(conn, req, 429, "application/json", text,
							 len, "Retry-After", ra);
			free(text);
			return rc;
		}
		if (req->early_err == FF_E_METHOD) {
			json_t *body = json_pack("{s:o}", "error",
						 error_object(FF_E_METHOD, &req->early_diag));
			size_t len;
			char *text = json_text(body, &len);
			json_decref(body);
			enum MHD_Result rc = respond_raw(conn, req, 405, "application/json", text,
							 len, "Allow", req->allow);
			free(text);
			return rc;
		}
		return respond_error(conn, req, req->early_err, &req->early_diag);
	}
	if (req->too_large)
		return respond_fail(conn, req, FF_E_TOO_LARGE, NULL,
				    "request body larger than %lld bytes",
				    (long long)http_server->opt.max_body);
	if (strcmp(req->route->pattern, "/healthz") != 0) {
		c.eng = server_engine(&c.diag);
		if (!c.eng)
			return respond_error(conn, req, FF_E_UNAVAILABLE, &c.diag);
	}
	if (!(req->route->flags & RF_STATIC)) {
		struct query_check qc = {.allowed = req->route->query};
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_query_arg, &qc);
		if (qc.bad[0])
			return respond_fail(conn, req, FF_E_UNKNOWN_FIELD, qc.bad,
					    "unknown query parameter \"%s\"", qc.bad);
		if (qc.bad_utf8[0])
			return respond_fail(conn, req, FF_E_INVALID_UTF8, qc.bad_utf8,
					    "query parameter \"%s\" is not valid UTF-8", qc.bad_utf8);
	}
	c.actor = req->authed ? &req->actor : NULL;
	c.body = req->body.data ? req->body.data : "";
	c.body_len = req->body.len;
	c.ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	if (!(req->route->flags & RF_BODY) && is_write(method)) {
		json_t *none = NULL;
		enum ff_err err = body_object(&c, "", &none);
		json_decref(none);
		if (err)
			return respond_error(conn, req, err, &c.diag);
	}

	if (req->has_idem) {
		char *query = idem_query(conn);
		idem_fingerprint(method, url, query, c.body, c.body_len, req->idem_fp);
		free(query);
		return run_idempotent(conn, req, &c);
	}
	enum ff_err err = req->route->handler(&c);
	if (c.suspended)
		return MHD_YES;
	return answer(conn, req, &c, err);
}

/* What request_begin() leaves in *con_cls until the headers are in: a mark, not an
 * allocation, because libmicrohttpd does not report every such request complete (0.9.75
 * drops one whose query parameters overflow its pool, closing the connection). */
static char request_line_seen;

void *request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)uri; /* not logged: the route pattern is, once the request is routed */
	(void)conn;
	return &request_line_seen;
}

enum MHD_Result request_access(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct request *req = *con_cls;
	(void)cls;
	(void)version;

	if (!req || *con_cls == &request_line_seen) {
		connlimit_header_done(conn);
		req = ff_calloc(1, sizeof(*req));
		req->t0_ns = http_now_ns();
		atomic_fetch_add(&http_server->inflight, 1);
		*con_cls = req;
		enum MHD_Result rc = on_headers(conn, req, url, method);
		/* A client waiting for "100 Continue" has not sent its body yet: refuse now
		 * (no body to drain, no reset), instead of inviting the upload. */
		const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
		if (rc == MHD_YES && req->early_err && expect && strcasestr(expect, "100-continue"))
			return dispatch(conn, req, url, method);
		return rc;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		req->received += n;
		/* the idle timeout (http_timeout) does not stop a client that sends a byte now
		 * and then; a body must arrive within http_request_timeout in all */
		if (http_now_ns() - req->t0_ns > (int64_t)http_server->opt.request_timeout * 1000000000) {
			log_msg("warn", "request %s: body not complete after %d s: connection closed",
				req->request_id, http_server->opt.request_timeout);
			return MHD_NO;
		}
		if (req->early_err || !(req->route && ((req->route->flags & RF_BODY) ||
							 is_write(req->method)))) {
			/* drain and drop; give up on absurd amounts */
			return req->received > 8 * (uint64_t)http_server->opt.max_body ? MHD_NO
										       : MHD_YES;
		}
		if (!req->too_large && ffbuf_add(&req->body, upload_data, n) != 0) {
			req->too_large = true;
			ffbuf_release(&req->body);
		}
		if (req->too_large && req->received > 8 * (uint64_t)http_server->opt.max_body)
			return MHD_NO;
		return MHD_YES;
	}
	if (req->answered)
		return MHD_YES;
	if (req->job)
		return atomic_load(&req->job->done) ? answer_job(conn, req) : MHD_YES;
	return dispatch(conn, req, url, method);
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return "completed";
	case MHD_REQUEST_TERMINATED_WITH_ERROR:
		return "error";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "shutdown";
	case MHD_REQUEST_TERMINATED_READ_ERROR:
		return "read_error";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
		return "client_abort";
	}
	return "unknown";
}

/* The status of an answer libmicrohttpd queued itself, or 0. */
static int mhd_status(struct MHD_Connection *conn)
{
#if MHD_VERSION >= 0x00097400
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
	if (ci)
		return (int)ci->http_status;
#else
	(void)conn;
#endif
	return 0;
}

/* A request whose line arrived but whose headers never reached us: libmicrohttpd
 * refused them (a header block larger than its pool, a malformed header line) and tells
 * its status, or the client went away or stalled while sending them (status 0). No
 * method (libmicrohttpd does not say), no duration (nothing was allocated to time it). */
static void request_refused(struct MHD_Connection *conn, enum MHD_RequestTerminationCode toe)
{
	char rid[HTTP_REQUEST_ID_MAX + 1];
	int status = mhd_status(conn);

	crypto_random_id("req", rid, sizeof(rid));
	struct log_field f[6] = {
	    {"request_id", rid, 0},
	    {"method", "unknown", 0},
	    {"route", "unmatched", 0},
	    {"status", NULL, status},
	    {"termination", termination_name(toe), 0},
	};
	size_t nf = 5;
	if (status)
		f[nf++] = (struct log_field){"answered_by", "libmicrohttpd", 0};
	log_fields(status >= 500 ? "error" : "info", "request", f, nf);
	if (status)
		metrics_request(NULL, "", status, -1);
}

void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		       enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;
	(void)cls;

	connlimit_request_done(conn); /* from now on it waits for the next header */
	if (!req)
		return;
	if (*con_cls == &request_line_seen) {
		*con_cls = NULL;
		request_refused(conn, toe);
		return;
	}
	int64_t us = (http_now_ns() - req->t0_ns + 500) / 1000;
	const struct route *log_route = req->route ? req->route : req->path_route;
	double secs = (double)us / 1e6;
	/* not answered by us, but by libmicrohttpd: a broken chunked body */
	int status = req->answered ? req->status : mhd_status(conn);
	bool by_mhd = !req->answered && status;
	/* typed fields, not a JSON object: this line is written for every request */
	struct log_field f[8] = {
	    {"request_id", req->request_id, 0},
	    {"method", req->method, 0},
	    {"route", log_route ? log_route->pattern : "unmatched", 0},
	    {"status", NULL, status},
	    {"duration_ms", NULL, (double)us / 1000.0},
	};
	size_t nf = 5;
	if (req->authed)
		f[nf++] = (struct log_field){"key_prefix", req->actor.key_prefix, 0};
	if (!req->answered || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		f[nf++] = (struct log_field){"termination", termination_name(toe), 0};
	if (by_mhd)
		f[nf++] = (struct log_field){"answered_by", "libmicrohttpd", 0};
	log_fields(status >= 500 ? "error" : "info", "request", f, nf);
	if (status)
		metrics_request(log_route, req->method, status, secs);
	if (req->idem_held)
		idem_release(req->actor.key_prefix, req->idem_key);
	gc_job_free(req->job);
	ffbuf_release(&req->body);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&http_server->inflight, 1);
}
