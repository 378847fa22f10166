/*
 * loadgen.c - a small HTTP/1.1 load generator for bench/http_bench.py.
 *
 * Opens C keep-alive connections to HOST:PORT and keeps exactly one request in flight
 * on each (no pipelining), so C is the number of concurrent clients. Every request is
 * built from templates: the path and the body may contain "{n}" (a counter, START +
 * the request's sequence number) and "{rec}" (record number seq % R of a records
 * file, a record being K consecutive lines: K = 1 gives one id or event per request,
 * K = 1000 gives 1,000-line NDJSON bodies). The run stops after COUNT requests or
 * DURATION seconds, whichever comes first, and then waits for the requests in flight.
 *
 * One epoll loop per thread (-t; the connections are dealt out round-robin), edge
 * triggered, one epoll_ctl per connection. Latency is measured per request from its
 * first byte written to its last byte read; every sample is kept (4 bytes each) and
 * sorted at the end, so the percentiles are exact.
 *
 * Results go to stdout as key=value lines (for scripts), a summary to stderr:
 *   requests seconds rps errors mismatches mean_ms p50_ms p95_ms p99_ms max_ms status_NNN
 * `errors` are transport failures (connection refused or reset, malformed response);
 * `mismatches` are responses whose body lacks the -e string. Exit status 0 when every
 * request got a response, 1 on usage or setup errors, 2 when some failed.
 *
 * Build: cc -O2 -std=c17 -D_GNU_SOURCE -pthread -o bench/loadgen bench/loadgen.c
 * Only libc and pthreads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 32
#define MAX_RESPONSE ((size_t)256 * 1024 * 1024) /* a response larger than this is an error */
#define DRAIN_SECONDS 60			 /* wait for requests in flight at the end */

/* ---- a growable byte buffer ---- */

struct sbuf {
	char *data;
	size_t len, cap;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(1);
	}
	return p;
}

static void sbuf_grow(struct sbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	sbuf_grow(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void sbuf_adds(struct sbuf *b, const char *s) { sbuf_add(b, s, strlen(s)); }

/* ---- configuration, shared read-only by the threads ---- */

struct record {
	const char *text;
	size_t len;
};

static struct {
	const char *host;
	int port;
	int conns;
	int threads;
	uint64_t count;	 /* 0 = no limit */
	double duration; /* seconds; 0 = no limit */
	const char *method;
	const char *path;
	const char *body; /* NULL = no body */
	const char *headers[MAX_HEADERS];
	int nheaders;
	uint64_t start;
	const char *expect;
	struct record *recs;
	size_t nrecs;
	struct sockaddr_in addr;
	int64_t deadline_ns; /* stop issuing after this (0 = never) */
} cfg = {.host = "127.0.0.1", .conns = 1, .threads = 1, .method = "GET", .path = "/"};

static atomic_uint_fast64_t next_seq;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Append template `t` with {n} and {rec} replaced for request `seq`. */
static void expand(struct sbuf *out, const char *t, uint64_t seq)
{
	while (*t) {
		const char *brace = strchr(t, '{');
		if (!brace) {
			sbuf_adds(out, t);
			return;
		}
		sbuf_add(out, t, (size_t)(brace - t));
		if (strncmp(brace, "{n}", 3) == 0) {
			char num[32];
			int n = snprintf(num, sizeof(num), "%llu",
					 (unsigned long long)(cfg.start + seq));
			sbuf_add(out, num, (size_t)n);
			t = brace + 3;
		} else if (strncmp(brace, "{rec}", 5) == 0 && cfg.nrecs) {
			const struct record *r = &cfg.recs[seq % cfg.nrecs];
			sbuf_add(out, r->text, r->len);
			t = brace + 5;
		} else {
			sbuf_add(out, "{", 1);
			t = brace + 1;
		}
	}
}

/* The whole request `seq` into out (cleared first). */
static void build_request(struct sbuf *out, uint64_t seq, struct sbuf *body)
{
	char line[64];

	out->len = 0;
	body->len = 0;
	sbuf_adds(out, cfg.method);
	sbuf_add(out, " ", 1);
	expand(out, cfg.path, seq);
	snprintf(line, sizeof(line), " HTTP/1.1\r\nHost: %s:%d\r\n", cfg.host, cfg.port);
	sbuf_adds(out, line);
	for (int i = 0; i < cfg.nheaders; i++) {
		sbuf_adds(out, cfg.headers[i]);
		sbuf_add(out, "\r\n", 2);
	}
	if (cfg.body) {
		expand(body, cfg.body, seq);
		snprintf(line, sizeof(line), "Content-Length: %zu\r\n", body->len);
		sbuf_adds(out, line);
	}
	sbuf_add(out, "\r\n", 2);
	if (cfg.body)
		sbuf_add(out, body->data ? body->data : "", body->len);
}

/* ---- connections ---- */

enum conn_state { C_CONNECTING, C_WRITING, C_READING, C_IDLE, C_DONE };

struct conn {
	int fd;
	enum conn_state state;
	struct sbuf out;
	size_t out_off;
	struct sbuf in;
	int64_t t0_ns;
};

struct worker {
	pthread_t thread;
	int id;
	int epfd;
	struct conn *conns;
	int nconns;
	int active; /* connections not yet C_DONE */
	/* results */
	uint32_t *lat_us;
	size_t nlat, lat_cap;
	uint64_t status[600];
	uint64_t errors, mismatches;
	int64_t last_ns;
	struct sbuf body; /* scratch for build_request */
};

static void record_latency(struct worker *w, int64_t ns)
{
	if (w->nlat == w->lat_cap) {
		w->lat_cap = w->lat_cap ? w->lat_cap * 2 : 4096;
		w->lat_us = xrealloc(w->lat_us, w->lat_cap * sizeof(*w->lat_us));
	}
	int64_t us = ns / 1000;
	w->lat_us[w->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int conn_open(struct worker *w, struct conn *c)
{
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&cfg.addr, sizeof(cfg.addr)) != 0 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP,
				 .data.ptr = c};
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->state = C_CONNECTING;
	c->in.len = 0;
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd); /* also removes it from the epoll set */
	c->fd = -1;
}

static void conn_done(struct worker *w, struct conn *c)
{
	conn_close(c);
	if (c->state != C_DONE) {
		c->state = C_DONE;
		w->active--;
	}
}

/* Take the next request number, or false when the run is over. */
static bool take_seq(uint64_t *out)
{
	if (cfg.deadline_ns && now_ns() >= cfg.deadline_ns)
		return false;
	uint64_t seq = atomic_fetch_add(&next_seq, 1);
	if (cfg.count && seq >= cfg.count)
		return false;
	*out = seq;
	return true;
}

/* Write what is left of the request; false on a transport error. */
static bool conn_write(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n =
		    send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		return false;
	}
	c->state = C_READING;
	return true;
}

/* Start the next request on an idle connection, or retire the connection. */
static bool conn_next(struct worker *w, struct conn *c)
{
	uint64_t seq;

	if (!take_seq(&seq)) {
		conn_done(w, c);
		return true;
	}
	build_request(&c->out, seq, &w->body);
	c->out_off = 0;
	c->state = C_WRITING;
	c->t0_ns = now_ns();
	return conn_write(c);
}

/* Length of a chunked body starting at p (n bytes available): the bytes it takes up
 * including the last chunk and trailer, 0 when incomplete, -1 when malformed. */
static long chunked_length(const char *p, size_t n)
{
	size_t off = 0;
	for (;;) {
		const char *eol = memmem(p + off, n - off, "\r\n", 2);
		if (!eol)
			return 0;
		char *end;
		unsigned long size = strtoul(p + off, &end, 16);
		if (end == p + off)
			return -1;
		off = (size_t)(eol - p) + 2;
		if (size == 0) {
			/* trailers end with an empty line */
			for (;;) {
				const char *e = memmem(p + off, n - off, "\r\n", 2);
				if (!e)
					return 0;
				size_t line = (size_t)(e - (p + off));
				off += line + 2;
				if (line == 0)
					return (long)off;
			}
		}
		if (n - off < size + 2)
			return 0;
		off += size + 2;
	}
}

/* Header `name` in the header block [h, end), or NULL; *out_len gets its length. */
static const char *header_value(const char *h, const char *end, const char *name, size_t *out_len)
{
	size_t nl = strlen(name);
	while (h < end) {
		const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - h) > nl && h[nl] == ':' && strncasecmp(h, name, nl) == 0) {
			const char *v = h + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*out_len = (size_t)(eol - v);
			return v;
		}
		h = eol + 2;
	}
	return NULL;
}

/*
 * Is a whole response in c->in? 1 = yes (recorded, *out_close when the server asked to
 * close), 0 = not yet, -1 = malformed.
 */
static int parse_response(struct worker *w, struct conn *c, bool *out_close)
{
	const char *p = c->in.data;
	size_t n = c->in.len;
	const char *hend = n ? memmem(p, n, "\r\n\r\n", 4) : NULL;
	if (!hend)
		return n > 64 * 1024 ? -1 : 0;
	if (n < 12 || strncmp(p, "HTTP/1.", 7) != 0)
		return -1;
	int status = atoi(p + 9);
	if (status < 100 || status > 599)
		return -1;
	const char *hstart = memmem(p, n, "\r\n", 2) + 2;
	size_t body_off = (size_t)(hend - p) + 4, body_len = 0, total, vlen;
	const char *v;

	if (status == 204 || status == 304 || (status >= 100 && status < 200) ||
	    strcmp(cfg.method, "HEAD") == 0) {
		total = body_off;
	} else if ((v = header_value(hstart, hend + 2, "Transfer-Encoding", &vlen)) && vlen >= 7 &&
		   strncasecmp(v + vlen - 7, "chunked", 7) == 0) {
		long len = chunked_length(p + body_off, n - body_off);
		if (len < 0)
			return -1;
		if (len == 0)
			return 0;
		body_len = (size_t)len; /* the -e check sees the chunk framing too */
		total = body_off + body_len;
	} else if ((v = header_value(hstart, hend + 2, "Content-Length", &vlen))) {
		body_len = strtoull(v, NULL, 10);
		total = body_off + body_len;
		if (n < total)
			return 0;
	} else {
		return -1; /* read-until-close bodies are not supported */
	}
	if (status >= 100 && status < 200) {
		/* an interim response (100 Continue): drop it and wait for the real one */
		memmove(c->in.data, p + total, n - total);
		c->in.len = n - total;
		return parse_response(w, c, out_close);
	}
	int64_t t = now_ns();
	record_latency(w, t - c->t0_ns);
	w->last_ns = t;
	w->status[status]++;
	if (cfg.expect && !memmem(p + body_off, body_len, cfg.expect, strlen(cfg.expect)))
		w->mismatches++;
	v = header_value(hstart, hend + 2, "Connection", &vlen);
	*out_close = v && vlen == 5 && strncasecmp(v, "close", 5) == 0;
	memmove(c->in.data, p + total, n - total);
	c->in.len = n - total;
	return 1;
}

/* A transport error on c: count it, reconnect, go on with the next request. */
static void conn_fail(struct worker *w, struct conn *c)
{
	if (c->state == C_WRITING || c->state == C_READING)
		w->errors++;
	conn_close(c);
	if (conn_open(w, c) != 0) {
		w->errors++;
		conn_done(w, c);
	}
}

static void conn_event(struct worker *w, struct conn *c, uint32_t events)
{
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if ((events & EPOLLERR) ||
		    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
			w->errors++;
			conn_done(w, c);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->state = C_IDLE;
		if (!conn_next(w, c))
			conn_fail(w, c);
		return;
	}
	if (c->state == C_WRITING && (events & EPOLLOUT) && !conn_write(c)) {
		conn_fail(w, c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
		return;
	/* edge triggered: read until EAGAIN */
	for (;;) {
		if (c->state == C_DONE || c->fd < 0)
			return;
		sbuf_grow(&c->in, 64 * 1024);
		ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* closed by the server: an error only with a request outstanding */
			if (c->state == C_IDLE) {
				conn_close(c);
				if (conn_open(w, c) != 0)
					conn_done(w, c);
			} else {
				conn_fail(w, c);
			}
			return;
		}
		c->in.len += (size_t)n;
		if (c->in.len > MAX_RESPONSE) {
			conn_fail(w, c);
			return;
		}
		/* a response may complete while we are still writing (an early error) */
		while (c->state == C_READING || c->state == C_WRITING) {
			bool close_it = false;
			int r = parse_response(w, c, &close_it);
			if (r == 0)
				break;
			if (r < 0) {
				conn_fail(w, c);
				return;
			}
			if (close_it) {
				c->state = C_IDLE;
				conn_close(c);
				if (conn_open(w, c) != 0) {
					w->errors++;
					conn_done(w, c);
				}
				return;
			}
			c->state = C_IDLE;
			if (!conn_next(w, c)) {
				conn_fail(w, c);
				return;
			}
			/* nothing more can come before the answer to the request just sent,
			 * which will raise a new edge: spare the recv() that would say EAGAIN */
			if (c->state == C_READING && c->in.len == 0)
				return;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	int64_t drain_until = 0;

	for (int i = 0; i < w->nconns; i++) {
		if (conn_open(w, &w->conns[i]) != 0) {
			fprintf(stderr, "loadgen: cannot connect to %s:%d: %s\n", cfg.host,
				cfg.port, strerror(errno));
			w->errors++;
			w->conns[i].state = C_DONE;
			continue;
		}
		w->active++;
	}
	while (w->active > 0) {
		int n = epoll_wait(w->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), 100);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++)
			conn_event(w, evs[i].data.ptr, evs[i].events);
		/* past the deadline: idle connections retire, busy ones get DRAIN_SECONDS */
		if (cfg.deadline_ns && now_ns() >= cfg.deadline_ns) {
			if (!drain_until)
				drain_until = now_ns() + (int64_t)DRAIN_SECONDS * 1000000000;
			for (int i = 0; i < w->nconns; i++) {
				struct conn *c = &w->conns[i];
				if (c->state == C_IDLE || c->state == C_CONNECTING)
					conn_done(w, c);
				else if (c->state != C_DONE && now_ns() >= drain_until) {
					w->errors++;
					conn_done(w, c);
				}
			}
		}
	}
	for (int i = 0; i < w->nconns; i++) {
		conn_close(&w->conns[i]);
		free(w->conns[i].out.data);
		free(w->conns[i].in.data);
	}
	return NULL;
}

/* ---- records file ---- */

static int load_records(const char *path, long per)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "loadgen: cannot read %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	char *text = xrealloc(NULL, (size_t)st.st_size + 1);
	size_t n = fread(text, 1, (size_t)st.st_size, f);
	fclose(f);
	text[n] = '\0';

	size_t cap = 1024;
	cfg.recs = xrealloc(NULL, cap * sizeof(*cfg.recs));
	const char *p = text, *end = text + n;
	while (p < end) {
		const char *q = p;
		long lines = 0;
		while (q < end && lines < per) {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			q = nl ? nl + 1 : end;
			lines++;
		}
		size_t len = (size_t)(q - p);
		/* a record of one line is an id or an event: no trailing newline */
		if (per == 1 && len && p[len - 1] == '\n')
			len--;
		if (len) {
			if (cfg.nrecs == cap) {
				cap *= 2;
				cfg.recs = xrealloc(cfg.recs, cap * sizeof(*cfg.recs));
			}
			cfg.recs[cfg.nrecs++] = (struct record){p, len};
		}
		p = q;
	}
	if (!cfg.nrecs) {
		fprintf(stderr, "loadgen: %s holds no records\n", path);
		return -1;
	}
	return 0; /* `text` lives as long as the process */
}

/* ---- main ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)n);
	if (i >= n)
		i = n - 1;
	return v[i] / 1000.0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen -p PORT [-a HOST] [-c CONNS] [-t THREADS] [-n COUNT] [-d SECONDS]\n"
		"               [-m METHOD] [-u PATH] [-H 'Name: value']... [-b BODY]\n"
		"               [-f RECORDS [-k LINES]] [-s START] [-e EXPECT]\n"
		"  PATH and BODY may use {n} (START + request number) and {rec} (a record of\n"
		"  RECORDS: LINES lines each, taken in turn). Without -n and -d: one request\n"
		"  per record (or 1). Results: key=value lines on stdout.\n");
	exit(1);
}

static long arg_long(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	const char *recfile = NULL;
	long per = 1;
	int opt;

	while ((opt = getopt(argc, argv, "p:a:c:t:n:d:m:u:H:b:f:k:s:e:h")) != -1) {
		switch (opt) {
		case 'p':
			cfg.port = (int)arg_long(optarg, 1, 65535);
			break;
		case 'a':
			cfg.host = optarg;
			break;
		case 'c':
			cfg.conns = (int)arg_long(optarg, 1, 10000);
			break;
		case 't':
			cfg.threads = (int)arg_long(optarg, 1, 64);
			break;
		case 'n':
			cfg.count = (uint64_t)arg_long(optarg, 1, 1L << 40);
			break;
		case 'd':
			cfg.duration = atof(optarg);
			if (cfg.duration <= 0)
				usage();
			break;
		case 'm':
			cfg.method = optarg;
			break;
		case 'u':
			cfg.path = optarg;
			break;
		case 'H':
			if (cfg.nheaders == MAX_HEADERS)
				usage();
			cfg.headers[cfg.nheaders++] = optarg;
			break;
		case 'b':
			cfg.body = optarg;
			break;
		case 'f':
			recfile = optarg;
			break;
		case 'k':
			per = arg_long(optarg, 1, 1000000);
			break;
		case 's':
			cfg.start = (uint64_t)arg_long(optarg, 0, 1L << 62);
			break;
		case 'e':
			cfg.expect = optarg;
			break;
		default:
			usage();
		}
	}
	if (!cfg.port || optind != argc)
		usage();
	if (inet_pton(AF_INET, cfg.host, &cfg.addr.sin_addr) != 1) {
		fprintf(stderr, "loadgen: -a wants an IPv4 address, not %s\n", cfg.host);
		return 1;
	}
	cfg.addr.sin_family = AF_INET;
	cfg.addr.sin_port = htons((uint16_t)cfg.port);
	if (recfile && load_records(recfile, per) != 0)
		return 1;
	if (!cfg.count && !cfg.duration)
		cfg.count = cfg.nrecs ? cfg.nrecs : 1;
	if (cfg.threads > cfg.conns)
		cfg.threads = cfg.conns;
	signal(SIGPIPE, SIG_IGN);

	struct worker *ws = calloc((size_t)cfg.threads, sizeof(*ws));
	if (!ws)
		return 1;
	int64_t t0 = now_ns();
	if (cfg.duration)
		cfg.deadline_ns = t0 + (int64_t)(cfg.duration * 1e9);
	for (int i = 0; i < cfg.threads; i++) {
		struct worker *w = &ws[i];
		w->id = i;
		w->nconns = cfg.conns / cfg.threads + (i < cfg.conns % cfg.threads);
		w->conns = calloc((size_t)w->nconns, sizeof(*w->conns));
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (!w->conns || w->epfd < 0) {
			fprintf(stderr, "loadgen: cannot set up thread %d\n", i);
			return 1;
		}
		for (int k = 0; k < w->nconns; k++)
			w->conns[k].fd = -1;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			fprintf(stderr, "loadgen: cannot start thread %d\n", i);
			return 1;
		}
	}

	uint64_t status[600] = {0}, errors = 0, mismatches = 0;
	size_t nlat = 0;
	int64_t last = t0;
	for (int i = 0; i < cfg.threads; i++) {
		pthread_join(ws[i].thread, NULL);
		nlat += ws[i].nlat;
	}
	uint32_t *lat = xrealloc(NULL, nlat * sizeof(*lat));
	size_t k = 0;
	double sum = 0;
	for (int i = 0; i < cfg.threads; i++) {
		struct worker *w = &ws[i];
		memcpy(lat + k, w->lat_us, w->nlat * sizeof(*lat));
		k += w->nlat;
		for (int s = 0; s < 600; s++)
			status[s] += w->status[s];
		errors += w->errors;
		mismatches += w->mismatches;
		if (w->last_ns > last)
			last = w->last_ns;
		close(w->epfd);
		free(w->lat_us);
		free(w->conns);
		free(w->body.data);
	}
	for (size_t i = 0; i < nlat; i++)
		sum += lat[i];
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	double secs = (double)(last - t0) / 1e9;
	double rps = secs > 0 ? (double)nlat / secs : 0;

	printf("requests=%zu\nseconds=%.3f\nrps=%.1f\nerrors=%llu\nmismatches=%llu\n", nlat, secs,
	       rps, (unsigned long long)errors, (unsigned long long)mismatches);
	printf("mean_ms=%.3f\np50_ms=%.3f\np95_ms=%.3f\np99_ms=%.3f\nmax_ms=%.3f\n",
	       nlat ? sum / (double)nlat / 1000.0 : 0, pct_ms(lat, nlat, 50), pct_ms(lat, nlat, 95),
	       pct_ms(lat, nlat, 99), nlat ? lat[nlat - 1] / 1000.0 : 0);
	for (int s = 0; s < 600; s++)
		if (status[s])
			printf("status_%d=%llu\n", s, (unsigned long long)status[s]);
	fprintf(stderr,
		"loadgen: %zu requests in %.2f s = %.0f/s over %d connections; latency p50 %.2f "
		"ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms; %llu errors, %llu mismatches\n",
		nlat, secs, rps, cfg.conns, pct_ms(lat, nlat, 50), pct_ms(lat, nlat, 95),
		pct_ms(lat, nlat, 99), nlat ? lat[nlat - 1] / 1000.0 : 0,
		(unsigned long long)errors, (unsigned long long)mismatches);
	free(lat);
	free(ws);
	return errors ? 2 : 0;
}
