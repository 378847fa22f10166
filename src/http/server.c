/*
 * server.c - libmicrohttpd setup, per-thread engines, the worker thread, signals and
 * shutdown. What happens to each request is in request.c.
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
	engines = ff_realloc(engines, (n_engines + 1) * sizeof(struct engine *));
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
	opt->max_body = (int64_t)10 * 1024 * 1024;
	opt->threads = 4;
	opt->rate_per_sec = 1000;
	opt->rate_burst = 2000;
	opt->conn_timeout = 30;
	opt->request_timeout = 120;
	opt->max_connections = 1000;
	opt->worker_interval_ms = 1000;
	opt->web_root = NULL;
	opt->group_commit = true;

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
	env_int("FULFILL_HTTP_REQUEST_TIMEOUT", &opt->request_timeout);
	env_int("FULFILL_HTTP_MAX_CONNECTIONS", &opt->max_connections);
	env_int("FULFILL_HTTP_MAX_CONNECTIONS_PER_IP", &opt->max_connections_per_ip);
	const char *gc = getenv("FULFILL_HTTP_GROUP_COMMIT");
	if (gc && strcmp(gc, "0") == 0)
		opt->group_commit = false;
	const char *web = getenv("FULFILL_WEB_ROOT");
	if (web && *web)
		opt->web_root = web;
}

/* ---- the worker thread ---- */

static struct {
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
} worker = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static bool worker_stopping(void)
{
	pthread_mutex_lock(&worker.lock);
	bool stop = worker.stop;
	pthread_mutex_unlock(&worker.lock);
	return stop;
}

/* Sleep until the next pass: the worker interval, cut short by new work another
 * process signalled (PostgreSQL LISTEN/NOTIFY, watched in slices so a stop request is
 * seen within WAKE_SLICE_MS) or by stop. true when stopping. */
#define WAKE_SLICE_MS 200
static bool worker_wait(struct engine *e)
{
	int left = http_server->opt.worker_interval_ms;
	while (left > 0) {
		int slice = left > WAKE_SLICE_MS ? WAKE_SLICE_MS : left;
		int woken = engine_wait_work(e, slice);
		if (woken < 0)
			break; /* cannot signal (SQLite): the condition variable below */
		if (worker_stopping())
			return true;
		if (woken)
			return false;
		left -= slice;
	}
	if (left <= 0)
		return worker_stopping();
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	int64_t ns = until.tv_nsec + (int64_t)left * 1000000;
	until.tv_sec += ns / 1000000000;
	until.tv_nsec = ns % 1000000000;
	pthread_mutex_lock(&worker.lock);
	while (!worker.stop && pthread_cond_timedwait(&worker.cond, &worker.lock, &until) == 0)
		;
	bool stop = worker.stop;
	pthread_mutex_unlock(&worker.lock);
	return stop;
}

static void *worker_main(void *arg)
{
	pthread_setname_np(pthread_self(), "ff-worker"); /* top -H, perf */
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
		if (worker_wait(e))
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

/* libmicrohttpd's messages, as warnings. One of them is the only trace of a request it
 * answered itself with an error of its own making - for a malformed or overlong request
 * line, before any callback of ours runs, the only one: "Error processing request (HTTP
 * response code is 400 (...)). Closing connection." (0.9.75's wording). Those are
 * counted (fulfill_http_parser_refusals_total); tests/api/test_http_hardening.py notices
 * when a version words it differently. */
#define MHD_REFUSAL_MARK "HTTP response code is "
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	const char *mark = strstr(msg, MHD_REFUSAL_MARK);
	if (mark) {
		int status = atoi(mark + strlen(MHD_REFUSAL_MARK));
		if (status >= 400 && status <= 599)
			metrics_parser_refusal(status);
	}
	log_msg("warn", "http: %s", msg);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *out, socklen_t *out_len,
			bool *out_v6)
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
			snprintf(s->web_root, sizeof(s->web_root), "%.990s/../share/fulfill/web",
				 exe);
			return;
		}
	}
	snprintf(s->web_root, sizeof(s->web_root), "web");
}

/* A web root without a page is served as a placeholder ("not built yet"): say so once,
 * at start, so that a web root that is not where the files are (a make install with a
 * DATADIR apart from BINDIR/../share, a mistyped web_root) does not go unnoticed. */
static void warn_missing_pages(const struct server *s)
{
	static const char *const sections[] = {"console", "portal"};
	struct stat st;
	char path[1100];

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		snprintf(path, sizeof(path), "%.1000s/%s/index.html", s->web_root, sections[i]);
		if (stat(path, &st) != 0)
			log_msg("warn", "no %s in the web root %s: /%s shows a placeholder page "
				"(set web_root, --web-root or FULFILL_WEB_ROOT to the directory with "
				"console/ and portal/)", path, s->web_root, sections[i]);
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding of the path and the query arguments, as libmicrohttpd's own except
 * that "%00" stays as it is: a decoded NUL would end the C string, so that
 * /v1/participants/alice%00x would name alice and ?participant=alice%00x filter on
 * alice. Kept literal, such an id names nothing. */
static size_t unescape_uri(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;
	const char *r = s;
	(void)cls;
	(void)conn;
	while (*r) {
		int hi = r[0] == '%' ? hex_digit(r[1]) : -1;
		int lo = hi >= 0 ? hex_digit(r[2]) : -1;
		if (lo >= 0 && (hi | lo) != 0) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static struct MHD_Daemon *start_mhd(const struct sockaddr_storage *addr, bool v6)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	unsigned threads = http_server->opt.threads > 0 ? (unsigned)http_server->opt.threads : 1;
	struct MHD_Daemon *d = NULL;

	for (int attempt = 0; attempt < 2 && !d; attempt++) {
		unsigned poll = attempt == 0 ? MHD_USE_EPOLL : MHD_USE_AUTO;
		d = MHD_start_daemon(
		    flags | poll, 0, connlimit_accept, NULL, request_access, NULL, MHD_OPTION_EXTERNAL_LOGGER,
		    mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
		    MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
		    (unsigned)http_server->opt.conn_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (size_t)HTTP_CONN_MEMORY, MHD_OPTION_URI_LOG_CALLBACK, request_begin, NULL,
		    MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
		    /* a slowloris client holds a connection per trickle: bounded in all, and
		     * per address when asked; each header and each body must arrive within
		     * http_request_timeout (connlimit.c, request.c) */
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)http_server->opt.max_connections,
		    MHD_OPTION_NOTIFY_CONNECTION, connlimit_notify, NULL,
		    MHD_OPTION_UNESCAPE_CALLBACK, unescape_uri, NULL, MHD_OPTION_END);
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
		snprintf(s.cfg.webhook_allow_hosts, sizeof(s.cfg.webhook_allow_hosts), "%s",
			 opt->webhook_allow_hosts);
	if (s.opt.max_body <= 0)
		s.opt.max_body = cfg->max_body > 0 ? cfg->max_body : (int64_t)10 * 1024 * 1024;
	s.cfg.max_body = s.opt.max_body;
	if (s.opt.conn_timeout <= 0)
		s.opt.conn_timeout = 30;
	if (s.opt.request_timeout <= 0)
		s.opt.request_timeout = 120;
	if (s.opt.max_connections <= 0)
		s.opt.max_connections = 1000;
	if (s.opt.max_connections_per_ip < 0)
		s.opt.max_connections_per_ip = 0;
	if (s.opt.worker_interval_ms <= 0)
		s.opt.worker_interval_ms = 1000;
	if (!s.opt.listen)
		s.opt.listen = "127.0.0.1:8080";
	atomic_init(&s.stopping, false);
	atomic_init(&s.inflight, 0);
	find_web_root(&s);
	warn_missing_pages(&s);
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
	if (engine_read_only(probe)) {
		/* else every write would fail, one request at a time, after a ready start */
		log_msg("error", "cannot write the database %s: this process may only read it (check the "
			"owner and mode of the file and its directory, and that the file system is writable)",
			s.cfg.db_url);
		engine_close(probe);
		return 1;
	}
	server_engine_register(probe);
	/* checked the master key: the other opens of this process skip the check */
	s.cfg.key_checked = true;

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
	if (groupcommit_start(&s.cfg, s.opt.group_commit) != 0)
		goto out;
	if (s.opt.run_worker && worker_start() != 0)
		goto out_gc;
	connlimit_init(s.opt.max_connections_per_ip, s.opt.request_timeout);
	s.mhd = start_mhd(&addr, v6);
	if (!s.mhd) {
		log_msg("error", "cannot listen on %s", s.opt.listen);
		goto out_worker;
	}
	log_msg("info", "listening on http://%s (threads %d, worker %s, group commit %s)",
		s.opt.listen, s.opt.threads, s.opt.run_worker ? "on" : "off",
		s.opt.group_commit ? "on" : "off");

	while (sigwait(&sigs, &sig) != 0)
		;
	log_msg("info", "signal %d: shutting down", sig);
	atomic_store(&s.stopping, true);
	/* stop accepting (the listening socket is ours to close); open connections carry
	 * on, and responses now say Connection: close */
	MHD_socket lfd = MHD_quiesce_daemon(s.mhd);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	for (int i = 0; i < 3000 && atomic_load(&s.inflight) > 0; i++)
		usleep(10 * 1000);
	rc = 0;
out_worker:
	worker_stop();
out_gc:
	groupcommit_stop();
	/* the writer's last answers resumed their connections; libmicrohttpd moves a
	 * resumed connection out of its suspended list only on its own thread's next turn,
	 * and aborts when stopped with one still there (a keep-alive client's request that
	 * came after the wait above): let those finish first */
	for (int i = 0; s.mhd && i < 200 && atomic_load(&s.inflight) > 0; i++)
		usleep(10 * 1000);
	if (s.mhd)
		MHD_stop_daemon(s.mhd);
out:
	ratelimit_free();
	idem_free();
	engines_close_all();
	free(s.openapi_text);
	connlimit_free();
	http_server = NULL;
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	return rc;
}
