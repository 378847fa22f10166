/*
 * crypto.h - thin wrappers over libsodium: hashing, keyed hashes, random ids, API key
 * format, PII encryption, Standard Webhooks signatures, base64.
 * crypto_init() must be called once before anything else here.
 */
#ifndef FULFILL_CRYPTO_H
#define FULFILL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FF_MASTER_KEY_BYTES 32

int crypto_init(void);

/* SHA-256 of data as 64 lower-case hex digits + NUL into out (>= 65 bytes). */
void crypto_sha256_hex(const void *data, size_t len, char *out);

/* SHA-256 over n fields, each preceded by its length as 8 bytes big-endian (so no
 * two different field lists hash alike), as 64 hex digits + NUL (>= 65 bytes). */
void crypto_sha256_fields_hex(const char *const *fields, size_t n, char *out);
/* The same with libsodium's SHA-256 (the reference the tests compare with, and the
 * fallback should libcrypto fail). */
void crypto_sha256_fields_sodium(const char *const *fields, size_t n, char *out);

/* Random identifier "<prefix>_<22 chars base62>" into out (>= strlen(prefix)+24). */
void crypto_random_id(const char *prefix, char *out, size_t n);

/* Fill buf with n random bytes. */
void crypto_random_bytes(void *buf, size_t n);

/* Generate a new API key "fk_<role>_<32 base62 random><4 base62 checksum>" into out
 * (>= 64 bytes). */
void crypto_api_key_new(const char *role, char *out, size_t n);
/* true when `key` has the fk_<role>_ form and its checksum holds (no lookup).
 * On success copies the role into out_role (>= 16 bytes). */
bool crypto_api_key_check(const char *key, char *out_role, size_t n);
/* The stored hash of an API key (SHA-256 hex, 65 bytes). */
void crypto_api_key_hash(const char *key, char *out);
/* The key's public prefix: "fk_<role>_" + first 8 random chars (out >= 32 bytes). */
void crypto_api_key_prefix(const char *key, char *out, size_t n);

/* Keyed BLAKE2b-256 of data with the master key, hex (65 bytes): PII lookups. */
void crypto_keyed_hash_hex(const uint8_t key[FF_MASTER_KEY_BYTES], const void *data, size_t len,
			   char *out);

/* Encrypt plaintext with XChaCha20-Poly1305 (random nonce) -> base64 text
 * "v1:<base64(nonce|ciphertext)>". Caller frees the result. */
char *crypto_seal(const uint8_t key[FF_MASTER_KEY_BYTES], const char *plaintext);
/* Decrypt a crypto_seal() string; NULL when forged or wrong key. Caller frees. */
char *crypto_open(const uint8_t key[FF_MASTER_KEY_BYTES], const char *sealed);
/* Whether a string has crypto_seal()'s form (says nothing about which key sealed it). */
bool crypto_is_sealed(const char *s);

/* Standard base64 (with '=' padding) of `len` bytes of `data`. Caller frees. */
char *crypto_base64(const void *data, size_t len);

/* Parse 64 hex digits into a master key. 0 or -1. */
int crypto_master_key_parse(const char *hex, uint8_t out[FF_MASTER_KEY_BYTES]);

/* Standard Webhooks: "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>" into out
 * (>= 64 bytes). `secret` is "whsec_<base64>". Returns 0, -1 on a bad secret. */
int crypto_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp,
			const char *body, size_t body_len, char *out, size_t n);
/* true when any space-separated "v1,..." signature in `signatures` matches. */
bool crypto_webhook_verify(const char *secret, const char *msg_id, int64_t timestamp,
			   const char *body, size_t body_len, const char *signatures);

#endif
