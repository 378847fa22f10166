/*
 * crypto.c - fulfill's cryptography, over libsodium, except one hash.
 *
 * Hashes (SHA-256 for API keys and the audit chain, keyed BLAKE2b for PII lookups),
 * random identifiers, the API key format with its typo-catching checksum, PII
 * encryption (XChaCha20-Poly1305 with a random nonce) and Standard Webhooks signatures
 * (HMAC-SHA256), and the base64 encoding that HTTP Basic auth and MIME headers use.
 * Secret comparisons are constant-time (sodium_memcmp); secrets that
 * pass through stack buffers are wiped with sodium_memzero.
 *
 * The audit chain's SHA-256 (crypto_sha256_fields_hex, several records per event on the
 * ingest path) comes from OpenSSL's libcrypto, already on every machine that has the
 * libcurl we build with: it uses the CPU's SHA instructions where there are some, and
 * took the hash from a tenth of the group-commit writer's instructions per event to
 * a small fraction (bench/README.md). libsodium's portable SHA-256 gives the same bytes
 * (tested on random input) and is used should libcrypto fail to provide one.
 */
#include "fulfill/crypto.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fulfill/error.h"

static const char base62_digits[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define RANDOM_ID_CHARS 22
#define API_KEY_RANDOM 32
#define API_KEY_CHECKSUM 4
#define API_KEY_ROLE_MAX 15
#define API_KEY_PREFIX_RANDOM 8

int crypto_init(void) { return sodium_init() < 0 ? -1 : 0; }

void crypto_sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 2 * sizeof(h) + 1, h, sizeof(h));
}

static EVP_MD *sha256_md; /* fetched once, shared by every thread */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void length_be(const char *f, uint64_t *len, unsigned char be[8])
{
	*len = strlen(f);
	for (int k = 0; k < 8; k++)
		be[k] = (unsigned char)(*len >> (56 - 8 * k));
}

void crypto_sha256_fields_sodium(const char *const *fields, size_t n, char *out)
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < n; i++) {
		const char *f = fields[i] ? fields[i] : "";
		uint64_t len;
		unsigned char be[8];
		length_be(f, &len, be);
		crypto_hash_sha256_update(&st, be, sizeof(be));
		crypto_hash_sha256_update(&st, (const unsigned char *)f, len);
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

/* The per-thread digest context of crypto_sha256_fields_hex(), freed at thread exit. */
static pthread_key_t sha256_ctx_key;

static void sha256_ctx_free(void *ctx) { EVP_MD_CTX_free(ctx); }

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&sha256_ctx_key, sha256_ctx_free) != 0) {
		EVP_MD_free(sha256_md);
		sha256_md = NULL;
	}
}

static EVP_MD_CTX *sha256_ctx(void)
{
	EVP_MD_CTX *ctx = pthread_getspecific(sha256_ctx_key);
	if (!ctx && (ctx = EVP_MD_CTX_new()) && pthread_setspecific(sha256_ctx_key, ctx) != 0) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* An audit record (several per event on the ingest path) is a few hundred bytes: its
 * length-prefixed fields are gathered into one buffer and hashed with one update, on a
 * context the thread keeps, instead of two updates per field on a new context. */
#define SHA256_GATHER 2048

void crypto_sha256_fields_hex(const char *const *fields, size_t n, char *out)
{
	pthread_once(&sha256_once, sha256_fetch);
	EVP_MD_CTX *ctx = sha256_md ? sha256_ctx() : NULL;
	bool ok = ctx && EVP_DigestInit_ex2(ctx, sha256_md, NULL);
	unsigned char buf[SHA256_GATHER];
	size_t used = 0;
	for (size_t i = 0; ok && i < n; i++) {
		const char *f = fields[i] ? fields[i] : "";
		uint64_t len;
		unsigned char be[8];
		length_be(f, &len, be);
		if (used + sizeof(be) + len > sizeof(buf)) {
			ok = EVP_DigestUpdate(ctx, buf, used);
			used = 0;
		}
		if (ok && sizeof(be) + len > sizeof(buf)) {
			ok = EVP_DigestUpdate(ctx, be, sizeof(be)) && EVP_DigestUpdate(ctx, f, len);
			continue;
		}
		memcpy(buf + used, be, sizeof(be));
		memcpy(buf + used + sizeof(be), f, len);
		used += sizeof(be) + len;
	}
	ok = ok && (!used || EVP_DigestUpdate(ctx, buf, used));
	unsigned char h[crypto_hash_sha256_BYTES];
	ok = ok && EVP_DigestFinal_ex(ctx, h, NULL);
	if (!ok) {
		crypto_sha256_fields_sodium(fields, n, out);
		return;
	}
	sodium_bin2hex(out, 65, h, sizeof(h));
}

void crypto_random_bytes(void *buf, size_t n) { randombytes_buf(buf, n); }

/* n uniformly random base62 characters (no modulo bias) into out; no NUL, drawn from
 * next(): bytes >= 248 (= 4 * 62) are thrown away so the rest maps evenly onto the 62
 * digits. */
static void random_base62(char *out, size_t n, unsigned char (*next)(void *), void *src)
{
	for (size_t i = 0; i < n;) {
		unsigned char b = next(src);
		if (b < 248)
			out[i++] = base62_digits[b % 62];
	}
}

/* Random bytes for keys: from the kernel 64 at a time, wiped after use. */
struct key_pool {
	unsigned char b[64];
	size_t used;
};

static unsigned char key_pool_next(void *arg)
{
	struct key_pool *p = arg;
	if (p->used == sizeof(p->b)) {
		randombytes_buf(p->b, sizeof(p->b));
		p->used = 0;
	}
	return p->b[p->used++];
}

/* Random bytes for object ids: a pool per thread, refilled from the kernel 1 KiB at a
 * time. An ingest creates several ids per event; with a system call (getrandom) per id
 * that was about 2% of the event writer's time. The bytes are the kernel's, only fetched
 * in bulk; ids are identifiers, not secrets (keys use key_pool). A child of fork()
 * empties the pool it inherited before it draws (id_pool_atfork), so parent and child
 * never hand out the same bytes. */
static _Thread_local struct {
	unsigned char b[1024];
	size_t used;
	bool ready;
} id_pool;

static void id_pool_child(void) { id_pool.ready = false; }
static void id_pool_atfork(void) { pthread_atfork(NULL, NULL, id_pool_child); }

static unsigned char id_pool_next(void *arg)
{
	(void)arg;
	if (!id_pool.ready || id_pool.used == sizeof(id_pool.b)) {
		static pthread_once_t once = PTHREAD_ONCE_INIT;
		pthread_once(&once, id_pool_atfork);
		randombytes_buf(id_pool.b, sizeof(id_pool.b));
		id_pool.used = 0;
		id_pool.ready = true;
	}
	return id_pool.b[id_pool.used++];
}

static bool is_base62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * Ids that sort by creation time: 8 base62 digits of the Unix time in milliseconds
 * (enough until the year 8900; the digits are in ASCII order, so text order is time
 * order), then 14 random digits (83 bits). A new row's id then lands at the end of
 * every index on it, on a page that is already in memory, instead of on a random page
 * of a large index: fewer pages read and written per event.
 */
void crypto_random_id(const char *prefix, char *out, size_t n)
{
	enum { TIME_CHARS = 8 };
	char id[RANDOM_ID_CHARS + 1];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = TIME_CHARS - 1; i >= 0; i--, ms /= 62)
		id[i] = base62_digits[ms % 62];
	random_base62(id + TIME_CHARS, RANDOM_ID_CHARS - TIME_CHARS, id_pool_next, NULL);
	id[RANDOM_ID_CHARS] = '\0';
	if (out && n) {
		/* "<prefix>_<id>", cut to n - 1 bytes as snprintf would (without its cost: one
		 * per reward on the ingest path) */
		size_t pl = prefix ? strlen(prefix) : 0, k = 0;
		char *o = out;
		for (size_t i = 0; i < pl && k + 1 < n; i++, k++)
			*o++ = prefix[i];
		if (k + 1 < n) {
			*o++ = '_';
			k++;
		}
		for (size_t i = 0; i < RANDOM_ID_CHARS && k + 1 < n; i++, k++)
			*o++ = id[i];
		*o = '\0';
	}
}

/* ---- API keys ---------------------------------------------------------------------- */

/*
 * The checksum is the first four bytes of SHA-256("fk_<role>_<random>") as a
 * big-endian number, written as four base62 digits (the number modulo 62^4). Any change
 * to the role or the random part changes it except with probability 1/62^4.
 */
static void api_key_checksum(const char *body, size_t len, char out[API_KEY_CHECKSUM])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)body, len);
	uint32_t v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	for (int i = API_KEY_CHECKSUM - 1; i >= 0; i--) {
		out[i] = base62_digits[v % 62];
		v /= 62;
	}
}

/* Length of the role in "fk_<role>_...", or 0 when the key does not start that way. */
static size_t api_key_role_len(const char *key)
{
	if (!key || strncmp(key, "fk_", 3) != 0)
		return 0;
	size_t r = 0;
	while (key[3 + r] >= 'a' && key[3 + r] <= 'z')
		r++;
	if (r == 0 || r > API_KEY_ROLE_MAX || key[3 + r] != '_')
		return 0;
	return r;
}

void crypto_api_key_new(const char *role, char *out, size_t n)
{
	char key[3 + API_KEY_ROLE_MAX + 1 + API_KEY_RANDOM + API_KEY_CHECKSUM + 1];
	if (out && n)
		out[0] = '\0';
	if (!role)
		return;
	int len = snprintf(key, sizeof(key), "fk_%s_", role);
	/* A role that is not 1-15 lower-case letters is a programming error: no key. */
	if (len < 0 || (size_t)len + API_KEY_RANDOM + API_KEY_CHECKSUM >= sizeof(key) ||
	    api_key_role_len(key) == 0 || api_key_role_len(key) != strlen(role))
		return;
	struct key_pool pool = {.used = sizeof(pool.b)};
	random_base62(key + len, API_KEY_RANDOM, key_pool_next, &pool);
	sodium_memzero(&pool, sizeof(pool));
	api_key_checksum(key, (size_t)len + API_KEY_RANDOM, key + len + API_KEY_RANDOM);
	key[len + API_KEY_RANDOM + API_KEY_CHECKSUM] = '\0';
	if (out && n)
		snprintf(out, n, "%s", key);
	sodium_memzero(key, sizeof(key));
}

bool crypto_api_key_check(const char *key, char *out_role, size_t n)
{
	size_t r = api_key_role_len(key);
	if (r == 0)
		return false;
	size_t body = 3 + r + 1;
	for (size_t i = 0; i < API_KEY_RANDOM + API_KEY_CHECKSUM; i++)
		if (!is_base62(key[body + i]))
			return false;
	if (key[body + API_KEY_RANDOM + API_KEY_CHECKSUM] != '\0')
		return false;

	char sum[API_KEY_CHECKSUM];
	api_key_checksum(key, body + API_KEY_RANDOM, sum);
	if (memcmp(sum, key + body + API_KEY_RANDOM, API_KEY_CHECKSUM) != 0)
		return false;
	if (out_role && n)
		snprintf(out_role, n, "%.*s", (int)r, key + 3);
	return true;
}

void crypto_api_key_hash(const char *key, char *out) { crypto_sha256_hex(key, strlen(key), out); }

void crypto_api_key_prefix(const char *key, char *out, size_t n)
{
	if (!out || n == 0)
		return;
	out[0] = '\0';
	size_t r = api_key_role_len(key);
	if (r == 0)
		return;
	size_t len = 3 + r + 1;
	for (size_t i = 0; i < API_KEY_PREFIX_RANDOM; i++)
		if (!is_base62(key[len + i]))
			return;
	snprintf(out, n, "%.*s", (int)(len + API_KEY_PREFIX_RANDOM), key);
}

/* ---- PII: keyed hashes and sealed strings ------------------------------------------ */

void crypto_keyed_hash_hex(const uint8_t key[FF_MASTER_KEY_BYTES], const void *data, size_t len,
			   char *out)
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), data, len, key, FF_MASTER_KEY_BYTES);
	sodium_bin2hex(out, 2 * sizeof(h) + 1, h, sizeof(h));
}

#define SEAL_PREFIX "v1:"
#define SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

char *crypto_seal(const uint8_t key[FF_MASTER_KEY_BYTES], const char *plaintext)
{
	size_t plen = strlen(plaintext);
	size_t blen = SEAL_NONCE + plen + SEAL_TAG;
	unsigned char *bin = ff_malloc(blen);

	randombytes_buf(bin, SEAL_NONCE);
	unsigned long long clen;
	crypto_aead_xchacha20poly1305_ietf_encrypt(bin + SEAL_NONCE, &clen,
						   (const unsigned char *)plaintext, plen, NULL, 0,
						   NULL, bin, key);

	size_t b64 = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
	char *out = ff_malloc(strlen(SEAL_PREFIX) + b64);
	memcpy(out, SEAL_PREFIX, sizeof(SEAL_PREFIX)); /* base64 follows the prefix */
	sodium_bin2base64(out + strlen(SEAL_PREFIX), b64, bin, blen,
			  sodium_base64_VARIANT_ORIGINAL);
	free(bin);
	return out;
}

char *crypto_base64(const void *data, size_t len)
{
	size_t b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = ff_malloc(b64);
	sodium_bin2base64(out, b64, data, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

bool crypto_is_sealed(const char *s) { return s && !strncmp(s, SEAL_PREFIX, strlen(SEAL_PREFIX)); }

char *crypto_open(const uint8_t key[FF_MASTER_KEY_BYTES], const char *sealed)
{
	if (!crypto_is_sealed(sealed))
		return NULL;
	const char *b64 = sealed + strlen(SEAL_PREFIX);
	size_t b64_len = strlen(b64);
	size_t cap = b64_len / 4 * 3 + 3;
	unsigned char *bin = ff_malloc(cap);
	char *plain = NULL;
	size_t blen;
	const char *end;

	if (sodium_base642bin(bin, cap, b64, b64_len, NULL, &blen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + b64_len || blen < SEAL_NONCE + SEAL_TAG)
		goto out;

	plain = ff_malloc(blen - SEAL_NONCE - SEAL_TAG + 1);
	unsigned long long plen;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &plen, NULL,
						       bin + SEAL_NONCE, blen - SEAL_NONCE, NULL, 0,
						       bin, key) != 0 ||
	    memchr(plain, '\0', (size_t)plen)) {
		free(plain);
		plain = NULL;
		goto out;
	}
	plain[plen] = '\0';
out:
	free(bin);
	return plain;
}

int crypto_master_key_parse(const char *hex, uint8_t out[FF_MASTER_KEY_BYTES])
{
	if (!hex || strlen(hex) != (size_t)2 * FF_MASTER_KEY_BYTES)
		return -1;
	size_t len;
	const char *end;
	if (sodium_hex2bin(out, FF_MASTER_KEY_BYTES, hex, (size_t)2 * FF_MASTER_KEY_BYTES, NULL,
			   &len, &end) != 0 ||
	    len != FF_MASTER_KEY_BYTES || *end != '\0') {
		sodium_memzero(out, FF_MASTER_KEY_BYTES);
		return -1;
	}
	return 0;
}

/* ---- Standard Webhooks --------------------------------------------------------------- */

#define WEBHOOK_SECRET_PREFIX "whsec_"
/* Standard Webhooks asks for 24-64 byte secrets; accept 16 to be lenient with older
 * senders but never a trivially short key, and cap the buffer. */
#define WEBHOOK_KEY_MIN 16
#define WEBHOOK_KEY_MAX 128
#define WEBHOOK_MAC crypto_auth_hmacsha256_BYTES

/* Decode "whsec_<base64>" (padded, or without padding) into key. Length or -1. */
static int webhook_key(const char *secret, unsigned char key[WEBHOOK_KEY_MAX])
{
	size_t plen = strlen(WEBHOOK_SECRET_PREFIX);
	if (!secret || strncmp(secret, WEBHOOK_SECRET_PREFIX, plen) != 0)
		return -1;
	const char *b64 = secret + plen;
	size_t b64_len = strlen(b64);
	static const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
				       sodium_base64_VARIANT_ORIGINAL_NO_PADDING};
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		size_t len;
		const char *end;
		if (sodium_base642bin(key, WEBHOOK_KEY_MAX, b64, b64_len, NULL, &len, &end,
				      variants[i]) == 0 &&
		    end == b64 + b64_len && len >= WEBHOOK_KEY_MIN)
			return (int)len;
	}
	return -1;
}

/* HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>") into mac. -1 on a bad secret. */
static int webhook_mac(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
		       size_t body_len, unsigned char mac[WEBHOOK_MAC])
{
	unsigned char key[WEBHOOK_KEY_MAX];
	int klen = webhook_key(secret, key);
	if (klen < 0 || !msg_id || (!body && body_len))
		return -1;

	char ts[24];
	int tlen = snprintf(ts, sizeof(ts), ".%lld.", (long long)timestamp);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, (size_t)klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (size_t)tlen);
	if (body_len)
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(key, sizeof(key));
	return 0;
}

int crypto_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
			size_t body_len, char *out, size_t n)
{
	unsigned char mac[WEBHOOK_MAC];
	char b64[sodium_base64_ENCODED_LEN(WEBHOOK_MAC, sodium_base64_VARIANT_ORIGINAL)];

	if (webhook_mac(secret, msg_id, timestamp, body, body_len, mac) < 0)
		return -1;
	sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	if (out && n)
		snprintf(out, n, "v1,%s", b64);
	return 0;
}

/*
 * Each space-separated entry is "<version>,<base64>"; only v1 entries are considered
 * and each is decoded and compared in constant time. Every entry is examined even after
 * a match so the time taken does not depend on which one matched.
 */
bool crypto_webhook_verify(const char *secret, const char *msg_id, int64_t timestamp,
			   const char *body, size_t body_len, const char *signatures)
{
	unsigned char mac[WEBHOOK_MAC];
	bool ok = false;

	if (!signatures || webhook_mac(secret, msg_id, timestamp, body, body_len, mac) < 0)
		return false;

	const char *p = signatures;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *tok = p;
		while (*p && *p != ' ')
			p++;
		size_t tlen = (size_t)(p - tok);
		if (tlen < 3 || memcmp(tok, "v1,", 3) != 0)
			continue;

		unsigned char got[WEBHOOK_MAC + 3];
		size_t glen;
		const char *end;
		if (sodium_base642bin(got, sizeof(got), tok + 3, tlen - 3, NULL, &glen, &end,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    end != tok + tlen || glen != WEBHOOK_MAC)
			continue;
		if (sodium_memcmp(got, mac, WEBHOOK_MAC) == 0)
			ok = true;
	}
	sodium_memzero(mac, sizeof(mac));
	return ok;
}
