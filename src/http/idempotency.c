/*
 * idempotency.c - the process-local half of Idempotency-Key handling (API.md).
 *
 * Stored responses live in the database (engine_idem_lookup/engine_idem_store, in the
 * same transaction as the effect). What the database cannot see is a request still in
 * flight: this file keeps the set of (scope, key) pairs being processed right now, so a
 * concurrent duplicate gets 409 idempotency_key_in_use instead of a second effect.
 * (With several server processes the database's unique key is the last line of defence.)
 */
#include <stdlib.h>
#include <string.h>

#include "fulfill/crypto.h"
#include "http/http_int.h"

struct inflight {
	char *scope;
	char *key;
	struct inflight *next;
};

static struct {
	pthread_mutex_t lock;
	struct inflight *head;
} idem = {.lock = PTHREAD_MUTEX_INITIALIZER};

void idem_init(void) {}

void idem_free(void)
{
	pthread_mutex_lock(&idem.lock);
	while (idem.head) {
		struct inflight *f = idem.head;
		idem.head = f->next;
		free(f->scope);
		free(f->key);
		free(f);
	}
	pthread_mutex_unlock(&idem.lock);
}

static enum MHD_Result add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct ffbuf *b = cls;
	/* "a=" and "a" differ: a missing value is -1 long */
	if (ffbuf_addf(b, "%zu:%s%ld:%s", strlen(key), key, value ? (long)strlen(value) : -1L, value ? value : ""))
		ff_oom();
	return MHD_YES;
}

char *idem_query(struct MHD_Connection *conn)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query_arg, &b);
	return ffbuf_detach(&b, NULL);
}

void idem_fingerprint(const char *method, const char *path, const char *query, const char *body, size_t len,
		      char *out)
{
	struct ffbuf b;

	/* the query is part of the request: DELETE /v1/blocklist?value=a and ?value=b are
	 * two requests, and the second must not replay the first. Without one the text is
	 * what it was before queries counted, so records stored then still replay. */
	ffbuf_init(&b, 0);
	if (ffbuf_adds(&b, method) || ffbuf_add(&b, "\n", 1) || ffbuf_adds(&b, path) ||
	    (query && *query && (ffbuf_add(&b, "?", 1) || ffbuf_adds(&b, query))) || ffbuf_add(&b, "\n", 1) ||
	    (len && ffbuf_add(&b, body, len)))
		ff_oom();
	crypto_sha256_hex(b.data, b.len, out);
	ffbuf_release(&b);
}

bool idem_acquire(const char *scope, const char *key)
{
	bool ok = true;

	pthread_mutex_lock(&idem.lock);
	for (struct inflight *f = idem.head; f; f = f->next) {
		if (strcmp(f->scope, scope) == 0 && strcmp(f->key, key) == 0) {
			ok = false;
			break;
		}
	}
	if (ok) {
		struct inflight *f = ff_malloc(sizeof(*f));
		f->scope = ff_strdup(scope);
		f->key = ff_strdup(key);
		f->next = idem.head;
		idem.head = f;
	}
	pthread_mutex_unlock(&idem.lock);
	return ok;
}

void idem_release(const char *scope, const char *key)
{
	pthread_mutex_lock(&idem.lock);
	for (struct inflight **pp = &idem.head; *pp; pp = &(*pp)->next) {
		struct inflight *f = *pp;
		if (strcmp(f->scope, scope) == 0 && strcmp(f->key, key) == 0) {
			*pp = f->next;
			free(f->scope);
			free(f->key);
			free(f);
			break;
		}
	}
	pthread_mutex_unlock(&idem.lock);
}
