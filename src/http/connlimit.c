/*
 * connlimit.c - limits on connections: how many each client address holds open
 * (http_max_connections_per_ip), and how long one may take to send a request's header.
 *
 * Per address: libmicrohttpd has a limit of its own, but with a thread pool each pool
 * thread counts only the connections it accepted, so a client whose connections land on
 * different threads passed it (four threads: up to four times the limit). This count is
 * one for the whole server: connlimit_notify() counts a connection from its start to
 * its close (libmicrohttpd calls it for both, in pairs), and connlimit_accept() refuses
 * a new one from an address that has the limit open. Two connections accepted at the
 * same moment may both see the count below the limit, so it can be passed by a
 * connection or two for an instant; a slowloris client holding hundreds cannot.
 *
 * The header: libmicrohttpd's timeout (http_timeout) counts idle time only, so a client
 * that sends a header byte now and then kept its connection for ever. A connection
 * waits for a request's header from its start, and again from the end of each request
 * (keep-alive), until the header is complete (request_access() calls
 * connlimit_header_done()); a thread of this file checks every second and shuts down
 * (shutdown(2): libmicrohttpd then closes it as it closes any connection its peer
 * dropped) one that has waited longer than http_request_timeout, the bound a request
 * body has too (request.c). An idle keep-alive connection is closed by http_timeout
 * long before. A connection is unlinked (under the lock) in its close notification,
 * which libmicrohttpd sends before it closes the socket, so a descriptor shut down here
 * is always still the connection's own.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "fulfill/error.h"
#include "fulfill/log.h"
#include "http/http_int.h"

#define BUCKETS 256

struct addr_count {
	unsigned char addr[16];
	size_t len;
	int n;
	struct addr_count *next;
};

/* One open connection (its socket_context). */
struct conn {
	bool counted;		   /* in its address's count */
	int fd;			   /* -1: unknown, never shut down */
	_Atomic int64_t waiting_ns; /* since when it waits for a header; 0 while a request runs */
	bool cut;		   /* shut down for its header's time */
	struct conn *prev, *next;
};

static struct {
	pthread_mutex_t lock;
	int limit; /* 0: no limit, nothing counted */
	struct addr_count *bucket[BUCKETS];
	struct conn *conns;
	int64_t header_ns; /* 0: no header deadline (no thread) */
	pthread_t thread;
	pthread_cond_t wake;
	bool running, stop;
} cl = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* The address bytes of `sa` (an IPv4-mapped IPv6 address as IPv4); 0 when neither. */
static size_t addr_key(const struct sockaddr *sa, unsigned char out[16])
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(out, a->s6_addr, 16);
		return 16;
	}
	return 0;
}

static struct addr_count **slot(const unsigned char *addr, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ addr[i]) * 16777619u;
	struct addr_count **p = &cl.bucket[h % BUCKETS];
	while (*p && ((*p)->len != len || memcmp((*p)->addr, addr, len) != 0))
		p = &(*p)->next;
	return p;
}

/* The header deadline's thread: every second, shut down the connections that have
 * waited longer than cl.header_ns for a header. */
static void *header_watch(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "ff-conn-watch"); /* top -H */
	pthread_mutex_lock(&cl.lock);
	while (!cl.stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&cl.wake, &cl.lock, &until);
		int64_t now = http_now_ns();
		for (struct conn *c = cl.conns; c && !cl.stop; c = c->next) {
			int64_t since = atomic_load(&c->waiting_ns);
			if (c->cut || c->fd < 0 || !since || now - since <= cl.header_ns)
				continue;
			c->cut = true;
			shutdown(c->fd, SHUT_RDWR);
			metrics_header_timeout();
			log_msg("warn", "a request header not complete after %lld s: connection closed",
				(long long)(cl.header_ns / 1000000000));
		}
	}
	pthread_mutex_unlock(&cl.lock);
	return NULL;
}

void connlimit_init(int per_address, int header_seconds)
{
	pthread_mutex_lock(&cl.lock);
	cl.limit = per_address > 0 ? per_address : 0;
	cl.header_ns = header_seconds > 0 ? (int64_t)header_seconds * 1000000000 : 0;
	cl.stop = false;
	if (cl.header_ns && !cl.running)
		cl.running = pthread_create(&cl.thread, NULL, header_watch, NULL) == 0;
	pthread_mutex_unlock(&cl.lock);
}

/* The connection's own record, from libmicrohttpd; NULL when it has none. */
static struct conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info ? info->socket_context : NULL;
}

void connlimit_header_done(struct MHD_Connection *conn)
{
	struct conn *c = conn_of(conn);
	if (c)
		atomic_store(&c->waiting_ns, 0);
}

void connlimit_request_done(struct MHD_Connection *conn)
{
	struct conn *c = conn_of(conn);
	if (c)
		atomic_store(&c->waiting_ns, http_now_ns());
}

enum MHD_Result connlimit_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	(void)cls;
	(void)addrlen;
	unsigned char key[16];
	size_t len = addr_key(addr, key);
	bool ok = true;
	pthread_mutex_lock(&cl.lock);
	if (cl.limit && len) {
		struct addr_count *c = *slot(key, len);
		ok = !c || c->n < cl.limit;
	}
	pthread_mutex_unlock(&cl.lock);
	return ok ? MHD_YES : MHD_NO;
}

void connlimit_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	struct conn *c = *socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED && !c)
		return;
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	unsigned char key[16];
	size_t len = addr_key(info ? info->client_addr : NULL, key);
	pthread_mutex_lock(&cl.lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		c = ff_calloc(1, sizeof(*c));
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = fd ? fd->connect_fd : -1;
		atomic_store(&c->waiting_ns, http_now_ns());
		c->next = cl.conns;
		if (cl.conns)
			cl.conns->prev = c;
		cl.conns = c;
		if (cl.limit && len) {
			struct addr_count **p = slot(key, len);
			if (!*p) {
				*p = ff_calloc(1, sizeof(**p));
				memcpy((*p)->addr, key, len);
				(*p)->len = len;
			}
			(*p)->n++;
			c->counted = true;
		}
		*socket_context = c;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (c->counted && len) {
			struct addr_count **p = slot(key, len);
			if (*p && --(*p)->n <= 0) {
				struct addr_count *gone = *p;
				*p = gone->next;
				free(gone);
			}
		}
		if (c->prev)
			c->prev->next = c->next;
		else
			cl.conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&cl.lock);
}

void connlimit_free(void)
{
	pthread_mutex_lock(&cl.lock);
	bool running = cl.running;
	cl.stop = true;
	pthread_cond_signal(&cl.wake);
	pthread_mutex_unlock(&cl.lock);
	if (running)
		pthread_join(cl.thread, NULL);
	pthread_mutex_lock(&cl.lock);
	cl.running = false;
	/* libmicrohttpd has stopped: every connection was closed and unlinked */
	while (cl.conns) {
		struct conn *c = cl.conns;
		cl.conns = c->next;
		free(c);
	}
	for (int i = 0; i < BUCKETS; i++)
		while (cl.bucket[i]) {
			struct addr_count *c = cl.bucket[i];
			cl.bucket[i] = c->next;
			free(c);
		}
	cl.limit = 0;
	pthread_mutex_unlock(&cl.lock);
}
