/*
 * connlimit.c - open connections per client address (http_max_connections_per_ip).
 *
 * libmicrohttpd has a per-address limit of its own, but with a thread pool each pool
 * thread counts only the connections it accepted, so a client whose connections land on
 * different threads passed it (four threads: up to four times the limit). This count is
 * one for the whole server: connlimit_notify() counts a connection from its start to
 * its close (libmicrohttpd calls it for both, in pairs), and connlimit_accept() refuses
 * a new one from an address that has the limit open. Two connections accepted at the
 * same moment may both see the count below the limit, so it can be passed by a
 * connection or two for an instant; a slowloris client holding hundreds cannot.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/error.h"
#include "http/http_int.h"

#define BUCKETS 256

struct addr_count {
	unsigned char addr[16];
	size_t len;
	int n;
	struct addr_count *next;
};

static struct {
	pthread_mutex_t lock;
	int limit; /* 0: no limit, nothing counted */
	struct addr_count *bucket[BUCKETS];
} cl = {.lock = PTHREAD_MUTEX_INITIALIZER};

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

void connlimit_init(int per_address)
{
	pthread_mutex_lock(&cl.lock);
	cl.limit = per_address > 0 ? per_address : 0;
	pthread_mutex_unlock(&cl.lock);
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
	static char counted; /* its address marks a connection that was counted */
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != &counted)
		return;
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	unsigned char key[16];
	size_t len = addr_key(info ? info->client_addr : NULL, key);
	pthread_mutex_lock(&cl.lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED && cl.limit && len) {
		struct addr_count **p = slot(key, len);
		if (!*p) {
			*p = ff_calloc(1, sizeof(**p));
			memcpy((*p)->addr, key, len);
			(*p)->len = len;
		}
		(*p)->n++;
		*socket_context = &counted;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && len) {
		struct addr_count **p = slot(key, len);
		if (*p && --(*p)->n <= 0) {
			struct addr_count *gone = *p;
			*p = gone->next;
			free(gone);
		}
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&cl.lock);
}

void connlimit_free(void)
{
	pthread_mutex_lock(&cl.lock);
	for (int i = 0; i < BUCKETS; i++)
		while (cl.bucket[i]) {
			struct addr_count *c = cl.bucket[i];
			cl.bucket[i] = c->next;
			free(c);
		}
	cl.limit = 0;
	pthread_mutex_unlock(&cl.lock);
}
