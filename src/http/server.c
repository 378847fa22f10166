/*
 * server.c - libmicrohttpd setup, the request lifecycle, the worker thread, shutdown.
 *
 * libmicrohttpd calls on_request() several times per request: once when the headers
 * are in (we route, authenticate, rate-limit and check content type and length, but
 * answer only after the body has been read so the client always sees the answer),
 * once per body chunk (appended to a bounded buffer), once at the end (dispatch), and
 * for events once more after the group-commit writer resumed the suspended connection.
 * on_completed() writes the one log line per request and the metrics, and frees it.
 *
 * Each libmicrohttpd thread has its own engine (thread-local, opened on first use);
 * the group-commit writer and the worker have theirs. SIGTERM/SIGINT: stop accepting,
 * let in-flight requests and the current worker pass finish, close engines, return 0.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fulfill/crypto.h"
#include "fulfill/log.h"
#include "http/http_int.h"

struct server *http_server;

/* ---- engines: one per thread ---- */

static _Thread_local struct engine *tl_engine;
static pthread_mutex_t engines_lock = PTHREAD_MUTEX_INITIALIZER;
static struct engine **engines;
static size_t n_engines;

void server_engine_register(struct engine *e)
{
	pthread_mutex_lock(&engines_lock);
	engines = ff_realloc(engines, (n_engines + 1) * sizeof(*engines));
	engines[n_engines++] = e;
	pthread_mutex_unlock(&engines_lock);
}

struct engine *server_engine(struct ff_diag *d)
{
	if (!tl_engine) {
		struct engine *e = NULL;
		if (engine_open(&http_server->cfg, &e, d) != FF_OK)
			return NULL;
		server_engine_register(e);
		tl_engine = e;
	}
	return tl_engine;
}

static void engines_close_all(void)
{
	pthread_mutex_lock(&engines_lock);
	for (size_t i = 0; i < n_engines; i++)
		engine_close(engines[i]);
	free(engines);
	engines = NULL;
	n_engines = 0;
	pthread_mutex_unlock(&engines_lock);
}

int64_t http_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- options ---- */

static void env_int(const char *name, int *out)
{
	const char *v = getenv(name);
	char *end;
	if (v && *v) {
		long n = strtol(v, &end, 10);
		if (!*end && n >= 0 && n <= 1000000000)
			*out = (int)n;
	}
}

void http_options_init(struct http_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->listen = "127.0.0.1:8080";
	opt->run_worker = true;
	opt->max_body = 10 * 1024 * 1024;
	opt->threads = 4;
	opt->rate_per_sec = 1000;
	opt->rate_burst = 2000;
	opt->conn_timeout = 30;
	opt->worker_interval_ms = 1000;
	opt->web_root = NULL;

	const char *mb = getenv("FULFILL_HTTP_MAX_BODY");
	if (mb && *mb) {
		char *end;
		long long n = strtoll(mb, &end, 10);
		if (!*end && n > 0)
			opt->max_body = n;
	}
	env_int("FULFILL_HTTP_THREADS", &opt->threads);
	env_int("FULFILL_HTTP_RATE", &opt->rate_per_sec);
	env_int("FULFILL_HTTP_BURST", &opt->rate_burst);
	env_int("FULFILL_HTTP_TIMEOUT", &opt->conn_timeout);
	if (getenv("FULFILL_WEB_ROOT") && *getenv("FULFILL_WEB_ROOT"))
		opt->web_root = getenv("FULFILL_WEB_ROOT");
}

/* ---- the request lifecycle ---- */

static bool request_id_sane(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e || n >= HTTP_REQUEST_ID_MAX)
			return false;
	return n > 0;
}

static bool is_write(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0 ||
	       strcmp(method, "PATCH") == 0;
}

/* Remember an error to answer once the body has been read (see the file comment). */
static enum MHD_Result defer_error(struct request *req, enum ff_err err, const char *param, const char *fmt,
				   ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result defer_error(struct request *req, enum ff_err err, const char *param, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->early_diag.message, sizeof(req->early_diag.message), fmt, ap);
	va_end(ap);
	snprintf(req->early_diag.param, sizeof(req->early_diag.param), "%s", param ? param : "");
	req->early_err = err;
	return MHD_YES;
}

/* First call: the headers are in. */
static enum MHD_Result on_headers(struct MHD_Connection *conn, struct request *req, const char *url,
				  const char *method)
{
	const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	bool known = false;
	struct ff_diag d;

	if (rid && request_id_sane(rid))
		snprintf(req->request_id, sizeof(req->request_id), "%s", rid);
	else
		crypto_random_id("req", req->request_id, sizeof(req->request_id));
	ffbuf_init(&req->body, (size_t)http_server->opt.max_body);
	snprintf(req->method, sizeof(req->method), "%s", method);

	req->route = router_match(method, url, req->params, &known, req->allow, sizeof(req->allow));
	if (!req->route) {
		if (known)
			return defer_error(req, FF_E_METHOD, NULL, "%s is not allowed here (allowed: %s)", method,
					   req->allow);
		req->allow[0] = '\0';
		return defer_error(req, FF_E_NOT_FOUND, NULL, "no such resource: %.200s", url);
	}
	for (int i = 0; i < HTTP_MAX_PARAMS; i++) {
		for (const char *p = req->params[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return defer_error(req, FF_E_NOT_FOUND, NULL, "no such resource");
	}
	if (req->route->roles != R_PUBLIC) {
		ff_diag_clear(&d);
		struct engine *e = server_engine(&d);
		if (!e)
			return defer_error(req, FF_E_UNAVAILABLE, NULL, "database unavailable: %s", d.message);
		enum ff_err err = auth_authenticate(conn, e, &req->actor, &d);
		if (err)
			return defer_error(req, err, NULL, "%s", d.message);
		req->authed = true;
		if (!ratelimit_take(req->actor.key_prefix, &req->retry_after))
			return defer_error(req, FF_E_RATE_LIMITED, NULL, "rate limit exceeded; retry in %d s",
					   req->retry_after);
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
					   "Idempotency-Key must be 1 to %d characters", HTTP_IDEM_KEY_MAX);
		memcpy(req->idem_key, ik, n + 1);
		req->has_idem = true;
	}

	/* body: type and declared length */
	const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
	long long declared = clen ? strtoll(clen, NULL, 10) : 0;
	bool has_body = declared > 0 || te;
	if (has_body && (req->route->flags & RF_BODY)) {
		const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		bool ok = media_type_is(ct, "application/json") ||
			  ((req->route->flags & RF_GROUPCOMMIT) && media_type_is(ct, "application/x-ndjson"));
		if (!ok)
			return defer_error(req, FF_E_MEDIA_TYPE, "Content-Type",
					   "Content-Type must be application/json%s",
					   (req->route->flags & RF_GROUPCOMMIT) ? " or application/x-ndjson" : "");
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
static enum MHD_Result answer(struct MHD_Connection *conn, struct request *req, struct ctx *c, enum ff_err err)
{
	if (err) {
		json_decref(c->out);
		free(c->raw);
		return respond_error(conn, req, err, &c->diag);
	}
	int status = c->status ? c->status : req->route->status;
	if (c->raw) {
		enum MHD_Result rc = respond_raw(conn, req, status, c->raw_ctype, c->raw, c->raw_len, NULL, NULL);
		free(c->raw);
		return rc;
	}
	return respond_json(conn, req, status, c->out ? c->out : json_object());
}

/* Run the handler inside a transaction that also stores the idempotency record. */
static enum MHD_Result run_idempotent(struct MHD_Connection *conn, struct request *req, struct ctx *c)
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
	err = engine_idem_lookup(c->eng, scope, req->idem_key, req->idem_fp, &state, &stored_status, &stored);
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

	err = engine_tx_begin(c->eng);
	if (err) {
		rc = respond_fail(conn, req, err, NULL, "could not begin a transaction");
		goto out;
	}
	err = req->route->handler(c);
	if (err) {
		engine_tx_rollback(c->eng);
		rc = answer(conn, req, c, err);
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
	char bad[64];
};

static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_check *qc = cls;
	size_t n = strlen(key);
	(void)kind;
	(void)value;
	for (const char *p = qc->allowed; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, key, n) == 0)
			return MHD_YES;
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
			json_t *body = json_pack("{s:o}", "error", error_object(FF_E_RATE_LIMITED, &req->early_diag));
			size_t len;
			char *text = json_text(body, &len);
			json_decref(body);
			enum MHD_Result rc = respond_raw(conn, req, 429, "application/json", text, len, "Retry-After", ra);
			free(text);
			return rc;
		}
		if (req->early_err == FF_E_METHOD) {
			json_t *body = json_pack("{s:o}", "error", error_object(FF_E_METHOD, &req->early_diag));
			size_t len;
			char *text = json_text(body, &len);
			json_decref(body);
			enum MHD_Result rc = respond_raw(conn, req, 405, "application/json", text, len, "Allow", req->allow);
			free(text);
			return rc;
		}
		return respond_error(conn, req, req->early_err, &req->early_diag);
	}
	if (req->too_large)
		return respond_fail(conn, req, FF_E_TOO_LARGE, NULL, "request body larger than %lld bytes",
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
			return respond_fail(conn, req, FF_E_UNKNOWN_FIELD, qc.bad, "unknown query parameter \"%s\"",
					    qc.bad);
	}
	c.actor = req->authed ? &req->actor : NULL;
	c.body = req->body.data ? req->body.data : "";
	c.body_len = req->body.len;
	c.ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");

	if (req->has_idem) {
		idem_fingerprint(method, url, c.body, c.body_len, req->idem_fp);
		return run_idempotent(conn, req, &c);
	}
	enum ff_err err = req->route->handler(&c);
	if (c.suspended)
		return MHD_YES;
	return answer(conn, req, &c, err);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct request *req = *con_cls;
	(void)cls;
	(void)version;

	if (!req) {
		req = ff_calloc(1, sizeof(*req));
		req->t0_ns = http_now_ns();
		atomic_fetch_add(&http_server->inflight, 1);
		*con_cls = req;
		return on_headers(conn, req, url, method);
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		req->received += n;
		if (req->early_err || !(req->route && (req->route->flags & RF_BODY))) {
			/* drain and drop; give up on absurd amounts */
			return req->received > 8 * (uint64_t)http_server->opt.max_body ? MHD_NO : MHD_YES;
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

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;
	(void)cls;
	(void)conn;

	if (!req)
		return;
	double secs = (double)(http_now_ns() - req->t0_ns) / 1e9;
	json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:f}", "request_id", req->request_id, "method",
			      req->method, "route", req->route ? req->route->pattern : "unmatched", "status",
			      req->answered ? req->status : 0, "duration_ms", secs * 1000.0);
	if (f) {
		if (req->authed)
			json_object_set_new(f, "key_prefix", json_string(req->actor.key_prefix));
		if (!req->answered || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
			json_object_set_new(f, "termination", json_integer((json_int_t)toe));
		log_json(req->answered && req->status >= 500 ? "error" : "info", "request", f);
		json_decref(f);
	}
	if (req->answered)
		metrics_request(req->route, req->method, req->status, secs);
	if (req->idem_held)
		idem_release(req->actor.key_prefix, req->idem_key);
	gc_job_free(req->job);
	ffbuf_release(&req->body);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&http_server->inflight, 1);
}

/* ---- the worker thread ---- */

static struct {
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
} worker = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *worker_main(void *arg)
{
	struct engine *e = arg;
	struct actor a;

	memset(&a, 0, sizeof(a));
	a.role = ROLE_ADMIN;
	snprintf(a.label, sizeof(a.label), "worker");
	for (;;) {
		struct ff_diag d;
		json_t *out = NULL;
		ff_diag_clear(&d);
		int64_t t0 = http_now_ns();
		enum ff_err err = engine_worker_pass(e, &a, 0, &out, &d);
		metrics_worker_pass((double)(http_now_ns() - t0) / 1e9);
		if (err)
			log_msg("warn", "worker pass failed: %s: %s", ff_err_code(err), d.message);
		json_decref(out);

		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t ns = until.tv_nsec + (int64_t)http_server->opt.worker_interval_ms * 1000000;
		until.tv_sec += ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		pthread_mutex_lock(&worker.lock);
		while (!worker.stop && pthread_cond_timedwait(&worker.cond, &worker.lock, &until) == 0)
			;
		bool stop = worker.stop;
		pthread_mutex_unlock(&worker.lock);
		if (stop)
			break;
	}
	return NULL;
}

static int worker_start(void)
{
	struct engine *e = NULL;
	struct ff_diag d;

	ff_diag_clear(&d);
	if (engine_open(&http_server->cfg, &e, &d) != FF_OK) {
		log_msg("error", "worker: cannot open the database: %s", d.message);
		return -1;
	}
	server_engine_register(e);
	worker.stop = false;
	if (pthread_create(&worker.thread, NULL, worker_main, e) != 0)
		return -1;
	worker.running = true;
	return 0;
}

/* Let the current pass finish, then stop. */
static void worker_stop(void)
{
	if (!worker.running)
		return;
	pthread_mutex_lock(&worker.lock);
	worker.stop = true;
	pthread_cond_signal(&worker.cond);
	pthread_mutex_unlock(&worker.lock);
	pthread_join(worker.thread, NULL);
	worker.running = false;
}

/* ---- start and stop ---- */

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_msg("warn", "http: %s", msg);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *out, socklen_t *out_len, bool *out_v6)
{
	char host[256] = "", port[16];
	const char *colon;
	struct addrinfo hints, *res = NULL;

	if (!listen || !*listen)
		return -1;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof(host))
			return -1;
		memcpy(host, listen + 1, (size_t)(close - listen - 1));
		host[close - listen - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon) {
			colon = listen - 1; /* a bare port */
		} else {
			if ((size_t)(colon - listen) >= sizeof(host))
				return -1;
			memcpy(host, listen, (size_t)(colon - listen));
			host[colon - listen] = '\0';
		}
	}
	if (snprintf(port, sizeof(port), "%s", colon + 1) >= (int)sizeof(port) || !port[0])
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res)
		return -1;
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = res->ai_addrlen;
	*out_v6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return 0;
}

static void find_web_root(struct server *s)
{
	struct stat st;
	char exe[1024];

	if (s->opt.web_root) {
		snprintf(s->web_root, sizeof(s->web_root), "%s", s->opt.web_root);
		return;
	}
	if (stat("web", &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(s->web_root, sizeof(s->web_root), "web");
		return;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(s->web_root, sizeof(s->web_root), "%.1000s/web", exe);
			if (stat(s->web_root, &st) == 0 && S_ISDIR(st.st_mode))
				return;
			snprintf(s->web_root, sizeof(s->web_root), "%.990s/../share/fulfill/web", exe);
			return;
		}
	}
	snprintf(s->web_root, sizeof(s->web_root), "web");
}

static struct MHD_Daemon *start_mhd(const struct sockaddr_storage *addr, bool v6)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			 (v6 ? MHD_USE_IPv6 : 0);
	unsigned threads = http_server->opt.threads > 0 ? (unsigned)http_server->opt.threads : 1;
	struct MHD_Daemon *d = NULL;

	for (int attempt = 0; attempt < 2 && !d; attempt++) {
		unsigned poll = attempt == 0 ? MHD_USE_EPOLL : MHD_USE_AUTO;
		d = MHD_start_daemon(flags | poll, 0, NULL, NULL, on_request, NULL,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				     MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
				     MHD_OPTION_THREAD_POOL_SIZE, threads,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)http_server->opt.conn_timeout,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				     MHD_OPTION_END);
	}
	return d;
}

int http_serve(const struct engine_config *cfg, const struct http_options *opt)
{
	struct server s;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool v6 = false;
	sigset_t sigs;
	int sig = 0, rc = 1;
	struct engine *probe = NULL;
	struct ff_diag d;

	memset(&s, 0, sizeof(s));
	s.cfg = *cfg;
	s.opt = *opt;
	if (opt->webhook_allow_hosts)
		snprintf(s.cfg.webhook_allow_hosts, sizeof(s.cfg.webhook_allow_hosts), "%s", opt->webhook_allow_hosts);
	if (s.opt.max_body <= 0)
		s.opt.max_body = cfg->max_body > 0 ? cfg->max_body : 10 * 1024 * 1024;
	s.cfg.max_body = s.opt.max_body;
	if (s.opt.conn_timeout <= 0)
		s.opt.conn_timeout = 30;
	if (s.opt.worker_interval_ms <= 0)
		s.opt.worker_interval_ms = 1000;
	if (!s.opt.listen)
		s.opt.listen = "127.0.0.1:8080";
	atomic_init(&s.stopping, false);
	atomic_init(&s.inflight, 0);
	find_web_root(&s);
	http_server = &s;

	if (crypto_init() < 0) {
		log_msg("error", "crypto initialisation failed");
		return 1;
	}
	if (parse_listen(s.opt.listen, &addr, &addr_len, &v6) != 0) {
		log_msg("error", "cannot parse --listen %s (want HOST:PORT)", s.opt.listen);
		return 2;
	}
	/* open once up front: runs migrations and fails fast on a bad database */
	ff_diag_clear(&d);
	if (engine_open(&s.cfg, &probe, &d) != FF_OK) {
		log_msg("error", "cannot open the database: %s", d.message);
		return 1;
	}
	server_engine_register(probe);

	/* signals are taken by sigwait() below, in no other thread */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	json_t *doc = openapi_build();
	s.openapi_text = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	metrics_init();
	idem_init();
	ratelimit_init(s.opt.rate_per_sec, s.opt.rate_burst);
	if (groupcommit_start(&s.cfg) != 0)
		goto out;
	if (s.opt.run_worker && worker_start() != 0)
		goto out_gc;
	s.mhd = start_mhd(&addr, v6);
	if (!s.mhd) {
		log_msg("error", "cannot listen on %s", s.opt.listen);
		goto out_worker;
	}
	log_msg("info", "listening on http://%s (threads %d, worker %s)", s.opt.listen, s.opt.threads,
		s.opt.run_worker ? "on" : "off");

	while (sigwait(&sigs, &sig) != 0)
		;
	log_msg("info", "signal %d: shutting down", sig);
	atomic_store(&s.stopping, true);
	MHD_quiesce_daemon(s.mhd); /* stop accepting; open connections carry on */
	for (int i = 0; i < 3000 && atomic_load(&s.inflight) > 0; i++)
		usleep(10 * 1000);
	rc = 0;
out_worker:
	worker_stop();
out_gc:
	groupcommit_stop();
	if (s.mhd)
		MHD_stop_daemon(s.mhd);
out:
	ratelimit_free();
	idem_free();
	engines_close_all();
	free(s.openapi_text);
	http_server = NULL;
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	return rc;
}
