/*
 * webhook_sig_fuzz.c - libFuzzer driver for Standard Webhooks signing and verification
 * (src/util/crypto.c).
 *
 * The input is split at the first three newlines into a secret, a signature header and
 * a message id; the rest is the body, and the timestamp comes from the body's length
 * and first bytes. Verification of the untrusted header must never crash. Whenever the
 * secret is usable (the input's own, or else the specification's example secret) the
 * driver also checks that a fresh signature verifies - alone, among other entries, and
 * with the header's entries - and that it stops verifying when the body, id or
 * timestamp changes.
 * Build: clang -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Iinclude
 * fuzz/webhook_sig_fuzz.c src/util/crypto.c src/util/error.c $(pkg-config --cflags
 * --libs libsodium)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "webhook_sig_fuzz: check failed: %s (line %d)\n", #cond,   \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define SPEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* Take the text up to the next newline as a new NUL-terminated string. */
static char *take_line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nl ? n + 1 : n;
	return s;
}

static void check_signing(const char *secret, const char *id, int64_t ts, const char *body,
			  size_t body_len, const char *header)
{
	char sig[64];
	if (crypto_webhook_sign(secret, id, ts, body, body_len, sig, sizeof(sig)) != 0)
		return;
	CHECK(strncmp(sig, "v1,", 3) == 0 && strlen(sig) == 3 + 44);
	CHECK(crypto_webhook_verify(secret, id, ts, body, body_len, sig));

	size_t hlen = strlen(header);
	char *list = malloc(hlen + 2 * sizeof(sig) + 8);
	if (!list)
		abort();
	sprintf(list, "v1,AAAA %s %s", header, sig);
	CHECK(crypto_webhook_verify(secret, id, ts, body, body_len, list));
	sprintf(list, "%s %s", sig, header);
	CHECK(crypto_webhook_verify(secret, id, ts, body, body_len, list));
	free(list);

	CHECK(!crypto_webhook_verify(secret, id, ts + 1, body, body_len, sig));
	if (body_len) {
		char *changed = malloc(body_len);
		if (!changed)
			abort();
		memcpy(changed, body, body_len);
		changed[body_len - 1] ^= 1;
		CHECK(!crypto_webhook_verify(secret, id, ts, changed, body_len, sig));
		free(changed);
		CHECK(!crypto_webhook_verify(secret, id, ts, body, body_len - 1, sig));
	}
	size_t idlen = strlen(id);
	char *other = malloc(idlen + 2);
	if (!other)
		abort();
	snprintf(other, idlen + 2, "%sx", id);
	CHECK(!crypto_webhook_verify(secret, other, ts, body, body_len, sig));
	free(other);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static bool ready;
	if (!ready) {
		if (crypto_init() != 0)
			abort();
		ready = true;
	}

	const uint8_t *p = buf, *end = buf + len;
	char *secret = take_line(&p, end);
	char *header = take_line(&p, end);
	char *id = take_line(&p, end);
	const char *body = (const char *)p;
	size_t body_len = (size_t)(end - p);
	uint64_t mix = (uint64_t)body_len * 1000003u;
	for (size_t i = 0; i < body_len && i < 8; i++)
		mix = mix * 31u + (uint8_t)body[i];
	int64_t ts = (int64_t)(mix >> 1); /* non-negative, so ts + 1 cannot overflow */

	/* The untrusted header against the input's secret, then against a real one. */
	(void)crypto_webhook_verify(secret, id, ts, body, body_len, header);
	(void)crypto_webhook_verify(SPEC_SECRET, id, ts, body, body_len, header);

	check_signing(secret, id, ts, body, body_len, header);
	check_signing(SPEC_SECRET, id, ts, body, body_len, header);

	free(secret);
	free(header);
	free(id);
	return 0;
}
