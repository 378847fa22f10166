/*
 * auth.c - who is calling, and how often.
 *
 * auth_authenticate() turns "Authorization: Bearer fk_..." into a `struct actor`
 * through engine_key_authenticate() (format and checksum first, then the stored hash).
 * Accepted keys are remembered for AUTH_CACHE_TTL_NS by their SHA-256 (never the key
 * itself), which spares a database read per request: a key revoked through this
 * server is forgotten at once (auth_cache_clear()), one revoked elsewhere (the CLI,
 * another server) stops working here within the TTL. Refusals are not cached, so a
 * new key works at once.
 * The rate limiter is a token bucket per API key prefix in a small hash table behind
 * one mutex: `per_sec` tokens refill each second up to `burst`; 0 disables it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fulfill/crypto.h"
#include "http/http_int.h"

/* ---- accepted keys: a small direct-mapped cache ---- */

#define AUTH_CACHE_SLOTS 256
#define AUTH_CACHE_TTL_NS ((int64_t)1000000000) /* 1 s */

struct cached_key {
	char hash[65]; /* crypto_api_key_hash() of the key; "" = empty slot */
	struct actor actor;
	int64_t expires_ns;
};

static struct {
	pthread_mutex_t lock;
	struct cached_key slots[AUTH_CACHE_SLOTS];
	uint64_t generation; /* bumped by auth_cache_clear() */
} kc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct cached_key *cache_slot(const char *hash)
{
	/* the hash is hex SHA-256: its first digits are as good as any index */
	unsigned idx = 0;
	for (int i = 0; i < 4; i++)
		idx = idx * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return &kc.slots[idx % AUTH_CACHE_SLOTS];
}

/* The cached actor of `hash` into *out; false when absent or expired. */
static bool cache_get(const char *hash, struct actor *out, uint64_t *out_generation)
{
	bool hit = false;
	int64_t now = http_now_ns();

	pthread_mutex_lock(&kc.lock);
	struct cached_key *k = cache_slot(hash);
	if (strcmp(k->hash, hash) == 0 && now < k->expires_ns) {
		*out = k->actor;
		hit = true;
	}
	*out_generation = kc.generation;
	pthread_mutex_unlock(&kc.lock);
	return hit;
}

/* Remember an accepted key, unless the cache was cleared since the lookup began (a
 * revocation may have committed after our read). */
static void cache_put(const char *hash, const struct actor *a, uint64_t generation)
{
	pthread_mutex_lock(&kc.lock);
	if (generation == kc.generation) {
		struct cached_key *k = cache_slot(hash);
		memcpy(k->hash, hash, sizeof(k->hash));
		k->actor = *a;
		k->expires_ns = http_now_ns() + AUTH_CACHE_TTL_NS;
	}
	pthread_mutex_unlock(&kc.lock);
}

void auth_cache_clear(void)
{
	pthread_mutex_lock(&kc.lock);
	memset(kc.slots, 0, sizeof(kc.slots));
	kc.generation++;
	pthread_mutex_unlock(&kc.lock);
}

enum ff_err auth_authenticate(struct MHD_Connection *conn, struct engine *e, struct actor *out,
			      struct ff_diag *d)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	char key[256];

	if (!h || !*h)
		return ff_fail(d, FF_E_UNAUTHORIZED, NULL,
			       "missing API key: send Authorization: Bearer <key>");
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return ff_fail(d, FF_E_UNAUTHORIZED, NULL,
			       "the Authorization header must be \"Bearer <key>\"");
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(key))
		return ff_fail(d, FF_E_UNAUTHORIZED, NULL, "invalid API key");
	memcpy(key, h, n);
	key[n] = '\0';
	char hash[65];
	uint64_t generation;
	crypto_api_key_hash(key, hash);
	if (cache_get(hash, out, &generation)) {
		explicit_bzero(key, sizeof(key));
		return FF_OK;
	}
	memset(out, 0, sizeof(*out));
	enum ff_err err = engine_key_authenticate(e, key, out);
	explicit_bzero(key, sizeof(key));
	if (!err)
		cache_put(hash, out, generation);
	if (err == FF_E_UNAUTHORIZED)
		return ff_fail(d, FF_E_UNAUTHORIZED, NULL, "invalid or revoked API key");
	if (err)
		return ff_fail(d, err, NULL, "could not check the API key");
	return FF_OK;
}

/* ---- token buckets ---- */

#define RL_SLOTS 4096 /* open addressing; keys beyond this share the last bucket */

struct bucket {
	char prefix[40];
	double tokens;
	int64_t last_ns;
};

static struct {
	pthread_mutex_t lock;
	struct bucket *slots;
	size_t used;
	double per_sec;
	double burst;
} rl = {.lock = PTHREAD_MUTEX_INITIALIZER};

void ratelimit_init(int per_sec, int burst)
{
	pthread_mutex_lock(&rl.lock);
	rl.per_sec = per_sec > 0 ? per_sec : 0;
	rl.burst = burst > 0 ? burst : (per_sec > 0 ? per_sec : 1);
	free(rl.slots);
	rl.slots = per_sec > 0 ? ff_calloc(RL_SLOTS, sizeof(struct bucket)) : NULL;
	rl.used = 0;
	pthread_mutex_unlock(&rl.lock);
}

void ratelimit_free(void)
{
	pthread_mutex_lock(&rl.lock);
	free(rl.slots);
	rl.slots = NULL;
	rl.per_sec = 0;
	pthread_mutex_unlock(&rl.lock);
}

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct bucket *bucket_find(const char *prefix)
{
	size_t i = hash_str(prefix) % RL_SLOTS;

	for (size_t probe = 0; probe < RL_SLOTS; probe++, i = (i + 1) % RL_SLOTS) {
		struct bucket *b = &rl.slots[i];
		if (b->prefix[0] == '\0') {
			if (rl.used >= RL_SLOTS - 1)
				break;
			snprintf(b->prefix, sizeof(b->prefix), "%s", prefix);
			b->tokens = rl.burst;
			b->last_ns = http_now_ns();
			rl.used++;
			return b;
		}
		if (strcmp(b->prefix, prefix) == 0)
			return b;
	}
	return &rl.slots[RL_SLOTS - 1];
}

bool ratelimit_take(const char *key_prefix, int *out_retry_after)
{
	bool ok = true;

	pthread_mutex_lock(&rl.lock);
	if (rl.slots && rl.per_sec > 0) {
		struct bucket *b = bucket_find(key_prefix);
		int64_t now = http_now_ns();
		b->tokens += (double)(now - b->last_ns) / 1e9 * rl.per_sec;
		if (b->tokens > rl.burst)
			b->tokens = rl.burst;
		b->last_ns = now;
		if (b->tokens >= 1.0) {
			b->tokens -= 1.0;
		} else {
			ok = false;
			double wait = (1.0 - b->tokens) / rl.per_sec;
			*out_retry_after = (int)ceil(wait);
			if (*out_retry_after < 1)
				*out_retry_after = 1;
		}
	}
	pthread_mutex_unlock(&rl.lock);
	return ok;
}
