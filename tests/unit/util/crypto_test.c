/*
 * crypto_test.c - unit tests for src/util/crypto.c: hashes, random ids, the API key
 * format and its checksum, PII sealing, and Standard Webhooks signatures against the
 * published vectors in ../shared/conformance/standard-webhooks-vectors.json.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/crypto.h"

#define VECTORS "../shared/conformance/standard-webhooks-vectors.json"

/* A key made once by crypto_api_key_new("operator", ...); fixed so the single-change
 * test below is deterministic. */
static const char sample_key[] = "fk_operator_lFMWL7Prg0ToDH3f8jgxLAm4lm24wDnuInbf";

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void setup(void) { cr_assert_eq(crypto_init(), 0); }

TestSuite(crypto, .init = setup);

Test(crypto, init_is_idempotent)
{
	cr_expect_eq(crypto_init(), 0);
	cr_expect_eq(crypto_init(), 0);
}

Test(crypto, sha256_hex_vectors)
{
	char out[65];
	crypto_sha256_hex("abc", 3, out);
	cr_expect_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256_hex("", 0, out);
	cr_expect_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* The audit chain's hash (libcrypto) against independently computed vectors, and
 * against libsodium's SHA-256 on random field lists: the same bytes, or the chain of an
 * existing database would no longer verify. */
Test(crypto, sha256_fields_match_vectors_and_libsodium)
{
	char out[65], ref[65];
	const char *one[] = {"abc"};
	crypto_sha256_fields_hex(one, 1, out);
	cr_expect_str_eq(out, "c3494ca1a2cf8eeb8a11ded316fb55b83c3bbbedb6313cd50415251e5d09e12f");
	char x200[201];
	memset(x200, 'x', 200);
	x200[200] = '\0';
	const char *three[] = {NULL, x200, "prev"}; /* NULL hashes as "" */
	crypto_sha256_fields_hex(three, 3, out);
	cr_expect_str_eq(out, "09b2684527e906de4431631b90add672c831c295703244c986eb754a92c22b77");
	crypto_sha256_fields_hex(NULL, 0, out);
	crypto_sha256_fields_sodium(NULL, 0, ref);
	cr_expect_str_eq(out, ref);
	srand(7);
	char buf[8][700];
	for (int round = 0; round < 300; round++) {
		const char *f[8];
		size_t n = (size_t)(rand() % 8) + 1;
		for (size_t i = 0; i < n; i++) {
			size_t len = (size_t)(rand() % 699);
			for (size_t k = 0; k < len; k++)
				buf[i][k] = (char)(1 + rand() % 255);
			buf[i][len] = '\0';
			f[i] = buf[i];
		}
		crypto_sha256_fields_hex(f, n, out);
		crypto_sha256_fields_sodium(f, n, ref);
		cr_assert_str_eq(out, ref, "round %d", round);
	}
	/* fields larger than the gathering buffer, alone and between small ones */
	static char big[5001];
	memset(big, 'b', 5000);
	const char *large[][3] = {{big, NULL, NULL}, {"a", big, "c"}, {x200, x200, big}};
	size_t sizes[] = {1, 3, 3};
	for (size_t i = 0; i < 3; i++) {
		crypto_sha256_fields_hex(large[i], sizes[i], out);
		crypto_sha256_fields_sodium(large[i], sizes[i], ref);
		cr_expect_str_eq(out, ref, "large case %zu", i);
	}
}

Test(crypto, keyed_hash_is_blake2b_256)
{
	uint8_t key[FF_MASTER_KEY_BYTES];
	for (int i = 0; i < FF_MASTER_KEY_BYTES; i++)
		key[i] = (uint8_t)i;
	char out[65];
	crypto_keyed_hash_hex(key, "alice@example.com", 17, out);
	/* hashlib.blake2b(b"alice@example.com", key=bytes(range(32)), digest_size=32) */
	cr_expect_str_eq(out, "db991e0af62a5b7d9e0e5a5f11998b39f2ca17cbfb97aa709fd8829304b66f44");
	key[0] ^= 1;
	char other[65];
	crypto_keyed_hash_hex(key, "alice@example.com", 17, other);
	cr_expect_str_neq(out, other);
}

Test(crypto, random_id_format)
{
	char a[64], b[64];
	crypto_random_id("rwd", a, sizeof(a));
	crypto_random_id("rwd", b, sizeof(b));
	cr_expect_eq(strlen(a), 3 + 1 + 22);
	cr_expect_eq(strncmp(a, "rwd_", 4), 0);
	cr_expect_eq(strspn(a + 4, base62), 22);
	cr_expect_str_neq(a, b);

	char small[8];
	crypto_random_id("rwd", small, sizeof(small));
	cr_expect_eq(strlen(small), 7, "truncated, still terminated");
}

/* The id is written by hand (no snprintf on the ingest path): what "%s_%s" gives,
 * cut to the buffer as snprintf cuts, for every buffer size and without a prefix. */
Test(crypto, random_id_is_cut_as_snprintf_would)
{
	char full[64];
	crypto_random_id("conv", full, sizeof(full));
	cr_assert_eq(strlen(full), 4 + 1 + 22);
	for (size_t n = 1; n <= sizeof(full); n++) {
		char out[64], want[64];
		memset(out, 'x', sizeof(out));
		crypto_random_id("conv", out, n);
		snprintf(want, n, "%s", full);
		cr_assert_eq(strlen(out), strlen(want), "n=%zu", n);
		cr_assert_eq(strncmp(out, want, 4 + (n > 5 ? 1 : 0)), 0, "n=%zu: %s", n, out);
		cr_assert_eq(strspn(out + (n > 5 ? 5 : strlen(out)), base62), strlen(out + (n > 5 ? 5 : strlen(out))),
			     "n=%zu: %s", n, out);
	}
	char bare[32];
	crypto_random_id(NULL, bare, sizeof(bare));
	cr_expect_eq(bare[0], '_');
	cr_expect_eq(strlen(bare), 1 + 22);
	crypto_random_id("rwd", NULL, 0); /* nothing written, no crash */
}

/* Ids sort by creation time (8 base62 digits of milliseconds), and the 14 random
 * digits after them differ between ids made in the same millisecond. */
Test(crypto, random_ids_sort_by_time)
{
	char prev[64], cur[64];
	crypto_random_id("rwd", prev, sizeof(prev));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, decoded = 0;
	for (int i = 4; i < 12; i++)
		decoded = decoded * 62 + (uint64_t)(strchr(base62, prev[i]) - base62);
	cr_expect(decoded <= ms && ms - decoded < 1000, "the first 8 digits are the time: %s", prev);
	int same_ms = 0;
	for (int i = 0; i < 2000; i++) {
		crypto_random_id("rwd", cur, sizeof(cur));
		cr_assert(strncmp(prev + 4, cur + 4, 8) <= 0, "time order: %s then %s", prev, cur);
		if (!strncmp(prev + 4, cur + 4, 8)) {
			same_ms++;
			cr_assert_str_neq(prev, cur);
		}
		memcpy(prev, cur, sizeof(cur));
		if (i == 1000)
			usleep(2000); /* the time digits move on */
	}
	cr_expect_gt(same_ms, 0, "many ids share a millisecond, and still differ");
}

/* Ids come from a per-thread pool of random bytes refilled in bulk: across many refills
 * and several threads no random part repeats, and every digit value turns up. */
enum { POOL_IDS = 3000, POOL_THREADS = 4 };
static char pool_ids[POOL_THREADS][POOL_IDS][16];

static void *make_ids(void *arg)
{
	char (*out)[16] = arg, id[64];
	for (int i = 0; i < POOL_IDS; i++) {
		crypto_random_id("x", id, sizeof(id));
		memcpy(out[i], id + 2 + 8, 15); /* the 14 random digits and the NUL */
	}
	return NULL;
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

Test(crypto, random_ids_unique_across_threads_and_refills)
{
	pthread_t t[POOL_THREADS];
	for (int i = 0; i < POOL_THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, make_ids, pool_ids[i]), 0);
	for (int i = 0; i < POOL_THREADS; i++)
		pthread_join(t[i], NULL);
	qsort(pool_ids, POOL_THREADS * POOL_IDS, 16, cmp_id);
	char *all = &pool_ids[0][0][0];
	for (int i = 1; i < POOL_THREADS * POOL_IDS; i++)
		cr_assert_str_neq(all + (i - 1) * 16, all + i * 16, "repeated random part");
	int seen[256] = {0};
	for (int i = 0; i < POOL_THREADS * POOL_IDS * 16; i++)
		seen[(unsigned char)all[i]]++;
	for (const char *c = base62; *c; c++)
		cr_expect_gt(seen[(unsigned char)*c], 0, "digit %c never drawn", *c);
}

/* A child of fork() does not hand out the ids its parent goes on to make: the pool it
 * inherited is dropped. */
Test(crypto, random_ids_differ_after_fork)
{
	char before[64], parent[64], child[64] = "";
	crypto_random_id("x", before, sizeof(before)); /* the pool is filled */
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char id[64];
		crypto_random_id("x", id, sizeof(id));
		ssize_t w = write(fds[1], id, strlen(id) + 1);
		_exit(w > 0 ? 0 : 1);
	}
	crypto_random_id("x", parent, sizeof(parent));
	cr_assert_gt(read(fds[0], child, sizeof(child) - 1), 0);
	int status;
	waitpid(pid, &status, 0);
	close(fds[0]);
	close(fds[1]);
	cr_expect_eq(strlen(child), strlen(parent));
	cr_expect_str_neq(child + 2 + 8, parent + 2 + 8, "child and parent drew the same bytes: %s %s", child,
			  parent);
}

Test(crypto, random_bytes_fill)
{
	unsigned char buf[64] = {0};
	crypto_random_bytes(buf, sizeof(buf));
	int zeros = 0;
	for (size_t i = 0; i < sizeof(buf); i++)
		zeros += buf[i] == 0;
	cr_expect(zeros < 16);
	crypto_random_bytes(buf, 0);
}

Test(crypto, api_key_new_has_documented_form)
{
	const char *roles[] = {"admin",	 "operator",  "finance", "auditor",
			       "ingest", "fulfiller", "partner"};
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		char key[64], role[16], prefix[32];
		crypto_api_key_new(roles[i], key, sizeof(key));
		size_t rl = strlen(roles[i]);
		cr_assert_eq(strlen(key), 3 + rl + 1 + 32 + 4, "%s", key);
		cr_expect_eq(strncmp(key, "fk_", 3), 0);
		cr_expect_eq(strncmp(key + 3, roles[i], rl), 0);
		cr_expect_eq(key[3 + rl], '_');
		cr_expect_eq(strspn(key + 4 + rl, base62), 36);
		cr_expect(crypto_api_key_check(key, role, sizeof(role)), "%s", key);
		cr_expect_str_eq(role, roles[i]);
		crypto_api_key_prefix(key, prefix, sizeof(prefix));
		cr_expect_eq(strlen(prefix), 3 + rl + 1 + 8);
		cr_expect_eq(strncmp(prefix, key, strlen(prefix)), 0);
	}
}

Test(crypto, api_key_new_rejects_bad_roles)
{
	const char *bad[] = {"", "Admin", "ad_min", "admin1", "adminadminadminx", "ad min"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char key[64] = "junk";
		crypto_api_key_new(bad[i], key, sizeof(key));
		cr_expect_str_eq(key, "", "role '%s'", bad[i]);
	}
	char key[64] = "junk";
	crypto_api_key_new(NULL, key, sizeof(key));
	cr_expect_str_eq(key, "");
	/* 15 letters is the longest role. */
	crypto_api_key_new("abcdefghijklmno", key, sizeof(key));
	cr_expect(crypto_api_key_check(key, NULL, 0));
}

Test(crypto, api_key_sample_is_valid)
{
	char role[16];
	cr_assert(crypto_api_key_check(sample_key, role, sizeof(role)));
	cr_expect_str_eq(role, "operator");
	char prefix[32];
	crypto_api_key_prefix(sample_key, prefix, sizeof(prefix));
	cr_expect_str_eq(prefix, "fk_operator_lFMWL7Pr");
	char hash[65];
	crypto_api_key_hash(sample_key, hash);
	char want[65];
	crypto_sha256_hex(sample_key, strlen(sample_key), want);
	cr_expect_str_eq(hash, want);
}

/* The point of the checksum: any single typo is caught before a database lookup. */
Test(crypto, api_key_checksum_detects_every_single_change)
{
	size_t len = strlen(sample_key);
	char key[80];
	int tried = 0;
	for (size_t pos = 0; pos < len; pos++) {
		for (int c = 0x20; c < 0x7f; c++) {
			if (c == sample_key[pos])
				continue;
			memcpy(key, sample_key, len + 1);
			key[pos] = (char)c;
			cr_assert_not(crypto_api_key_check(key, NULL, 0), "changed %zu to '%c'",
				      pos, c);
			tried++;
		}
		/* deletion of one character */
		memcpy(key, sample_key, pos);
		memcpy(key + pos, sample_key + pos + 1, len - pos);
		cr_assert_not(crypto_api_key_check(key, NULL, 0), "deleted %zu", pos);
		/* insertion of one character */
		memcpy(key, sample_key, pos);
		key[pos] = 'x';
		memcpy(key + pos + 1, sample_key + pos, len - pos + 1);
		cr_assert_not(crypto_api_key_check(key, NULL, 0), "inserted at %zu", pos);
	}
	/* transposition of neighbours */
	for (size_t pos = 0; pos + 1 < len; pos++) {
		if (sample_key[pos] == sample_key[pos + 1])
			continue;
		memcpy(key, sample_key, len + 1);
		key[pos] = sample_key[pos + 1];
		key[pos + 1] = sample_key[pos];
		cr_assert_not(crypto_api_key_check(key, NULL, 0), "swapped %zu", pos);
	}
	cr_expect_gt(tried, 4000);
}

Test(crypto, api_key_check_rejects_malformed)
{
	char key[100];
	const char *bad[] = {"",
			     "fk_",
			     "fk__lFMWL7Prg0ToDH3f8jgxLAm4lm24wDnuInbf",
			     "FK_operator_lFMWL7Prg0ToDH3f8jgxLAm4lm24wDnuInbf",
			     "fk_operator_",
			     "fk_operator_lFMWL7Prg0ToDH3f8jgxLAm4lm24wDnu",
			     "sk_live_lFMWL7Prg0ToDH3f8jgxLAm4lm24wDnuInbf"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not(crypto_api_key_check(bad[i], NULL, 0), "'%s'", bad[i]);
	cr_expect_not(crypto_api_key_check(NULL, NULL, 0));
	snprintf(key, sizeof(key), "%s ", sample_key);
	cr_expect_not(crypto_api_key_check(key, NULL, 0));
	snprintf(key, sizeof(key), "%s\n", sample_key);
	cr_expect_not(crypto_api_key_check(key, NULL, 0));
	snprintf(key, sizeof(key), " %s", sample_key);
	cr_expect_not(crypto_api_key_check(key, NULL, 0));

	char prefix[32] = "junk";
	crypto_api_key_prefix("not a key", prefix, sizeof(prefix));
	cr_expect_str_eq(prefix, "");
	crypto_api_key_prefix("fk_admin_abc", prefix, sizeof(prefix));
	cr_expect_str_eq(prefix, "");
}

Test(crypto, master_key_parse)
{
	uint8_t key[FF_MASTER_KEY_BYTES];
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	cr_assert_eq(crypto_master_key_parse(hex, key), 0);
	for (int i = 0; i < FF_MASTER_KEY_BYTES; i++)
		cr_expect_eq(key[i], i);
	cr_expect_eq(crypto_master_key_parse(
			 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", key),
		     0);
	cr_expect_eq(crypto_master_key_parse(
			 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", key),
		     -1);
	cr_expect_eq(crypto_master_key_parse(
			 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", key),
		     -1);
	cr_expect_eq(crypto_master_key_parse(
			 "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key),
		     -1);
	cr_expect_eq(crypto_master_key_parse(
			 "00 102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key),
		     -1);
	cr_expect_eq(crypto_master_key_parse("", key), -1);
	cr_expect_eq(crypto_master_key_parse(NULL, key), -1);
}

static void test_key(uint8_t key[FF_MASTER_KEY_BYTES], uint8_t fill)
{
	memset(key, fill, FF_MASTER_KEY_BYTES);
}

Test(crypto, seal_open_round_trip)
{
	uint8_t key[FF_MASTER_KEY_BYTES];
	test_key(key, 7);
	const char *texts[] = {"alice@example.com", "", "Zoë Ünïcødé 名前",
			       "a longer value with, commas \"quotes\" and\nnewlines"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *sealed = crypto_seal(key, texts[i]);
		cr_assert_not_null(sealed);
		cr_expect_eq(strncmp(sealed, "v1:", 3), 0);
		cr_expect_null(strstr(sealed, texts[i][0] ? texts[i] : "\x01"),
			       "plaintext visible");
		char *opened = crypto_open(key, sealed);
		cr_assert_not_null(opened, "%s", sealed);
		cr_expect_str_eq(opened, texts[i]);
		free(opened);
		free(sealed);
	}
}

Test(crypto, seal_uses_fresh_nonce)
{
	uint8_t key[FF_MASTER_KEY_BYTES];
	test_key(key, 1);
	char *a = crypto_seal(key, "same");
	char *b = crypto_seal(key, "same");
	cr_expect_str_neq(a, b);
	free(a);
	free(b);
}

Test(crypto, open_detects_tampering_and_wrong_key)
{
	uint8_t key[FF_MASTER_KEY_BYTES], other[FF_MASTER_KEY_BYTES];
	test_key(key, 3);
	test_key(other, 4);
	char *sealed = crypto_seal(key, "bob@example.com");
	size_t len = strlen(sealed);

	cr_expect_null(crypto_open(other, sealed));

	/* Changing any one character after the prefix is detected. */
	for (size_t i = 3; i < len; i++) {
		char *t = strdup(sealed);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		char *opened = crypto_open(key, t);
		cr_assert_null(opened, "change at %zu accepted", i);
		free(t);
	}
	/* Truncation, extension, and a wrong version prefix. */
	for (size_t cut = 0; cut < len; cut++) {
		char *t = strndup(sealed, cut);
		cr_assert_null(crypto_open(key, t), "cut at %zu", cut);
		free(t);
	}
	char *longer = malloc(len + 5);
	snprintf(longer, len + 5, "%sAAAA", sealed);
	cr_expect_null(crypto_open(key, longer));
	free(longer);
	char *v2 = strdup(sealed);
	v2[1] = '2';
	cr_expect_null(crypto_open(key, v2));
	free(v2);
	cr_expect_null(crypto_open(key, sealed + 3));
	cr_expect_null(crypto_open(key, "v1:"));
	cr_expect_null(crypto_open(key, "v1:!!!!"));
	cr_expect_null(crypto_open(key, NULL));
	free(sealed);
}

/* ---- Standard Webhooks ---- */

static json_t *load_vectors(void)
{
	json_error_t err;
	json_t *doc = json_load_file(VECTORS, 0, &err);
	cr_assert_not_null(doc, "%s: %s (tests run from the repository root)", VECTORS, err.text);
	json_t *cases = json_object_get(doc, "cases");
	cr_assert(json_is_array(cases) && json_array_size(cases) > 0);
	return doc;
}

Test(crypto, webhook_conformance_vectors_verify)
{
	json_t *doc = load_vectors();
	json_t *cases = json_object_get(doc, "cases");
	size_t i;
	json_t *c;
	json_array_foreach(cases, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *secret = json_string_value(json_object_get(c, "secret"));
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *body = json_string_value(json_object_get(c, "body"));
		const char *sig = json_string_value(json_object_get(c, "signature"));
		json_int_t ts = json_integer_value(json_object_get(c, "timestamp"));
		bool valid = json_is_true(json_object_get(c, "valid"));
		cr_assert(name && secret && id && body && sig, "case %zu incomplete", i);

		cr_expect_eq(crypto_webhook_verify(secret, id, ts, body, strlen(body), sig), valid,
			     "case '%s'", name);
	}
	json_decref(doc);
}

Test(crypto, webhook_conformance_vectors_sign)
{
	json_t *doc = load_vectors();
	json_t *cases = json_object_get(doc, "cases");
	size_t i;
	json_t *c;
	int signed_cases = 0;
	json_array_foreach(cases, i, c)
	{
		const char *sig = json_string_value(json_object_get(c, "signature"));
		if (!json_is_true(json_object_get(c, "valid")) || strchr(sig, ' '))
			continue;
		const char *body = json_string_value(json_object_get(c, "body"));
		char out[64];
		cr_assert_eq(
		    crypto_webhook_sign(json_string_value(json_object_get(c, "secret")),
					json_string_value(json_object_get(c, "id")),
					json_integer_value(json_object_get(c, "timestamp")), body,
					strlen(body), out, sizeof(out)),
		    0);
		cr_expect_str_eq(out, sig);
		signed_cases++;
	}
	cr_expect_gt(signed_cases, 0);
	json_decref(doc);
}

static const char wh_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char wh_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char wh_body[] = "{\"test\": 2432232314}";
static const char wh_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
#define WH_TS 1614265330

static bool wh_verify(const char *sigs)
{
	return crypto_webhook_verify(wh_secret, wh_id, WH_TS, wh_body, strlen(wh_body), sigs);
}

Test(crypto, webhook_signature_list_parsing)
{
	cr_expect(wh_verify(wh_sig));
	cr_expect(wh_verify("  v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=  "));
	cr_expect(wh_verify("v1a,xyz v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,abc"));
	cr_expect(wh_verify("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,AAAA"));
	cr_expect_not(wh_verify(""));
	cr_expect_not(wh_verify(NULL));
	cr_expect_not(wh_verify("v1,"));
	cr_expect_not(wh_verify("v1"));
	cr_expect_not(wh_verify(","));
	cr_expect_not(wh_verify("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
	cr_expect_not(wh_verify("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"));
	cr_expect_not(wh_verify("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=="));
	cr_expect_not(wh_verify("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=x"));
	cr_expect_not(wh_verify("V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
	cr_expect_not(wh_verify("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="));
	/* A signature cut short, or with a prefix of the real one, never matches. */
	char sig[80];
	for (size_t cut = 0; cut < strlen(wh_sig); cut++) {
		snprintf(sig, sizeof(sig), "%.*s", (int)cut, wh_sig);
		cr_assert_not(wh_verify(sig), "cut %zu", cut);
	}
}

Test(crypto, webhook_bad_secrets)
{
	char out[64] = "junk";
	const char *bad[] = {
	    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",	     "whsec_",	   "whsec_!!!!",
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "whsec_AAAA", /* 3 bytes: too short to be a key
								    */
	    "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(crypto_webhook_sign(bad[i], wh_id, WH_TS, wh_body, strlen(wh_body),
						 out, sizeof(out)),
			     -1, "'%s'", bad[i]);
		cr_expect_not(
		    crypto_webhook_verify(bad[i], wh_id, WH_TS, wh_body, strlen(wh_body), wh_sig),
		    "'%s'", bad[i]);
	}
	cr_expect_eq(crypto_webhook_sign(NULL, wh_id, WH_TS, wh_body, 1, out, sizeof(out)), -1);
}

Test(crypto, webhook_secret_without_padding)
{
	/* 25 bytes -> base64 with one '=' of padding; accepted with or without it. */
	const char *padded = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA==";
	const char *unpadded = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA";
	char a[64], b[64];
	cr_assert_eq(crypto_webhook_sign(padded, "m", 1, "x", 1, a, sizeof(a)), 0);
	cr_assert_eq(crypto_webhook_sign(unpadded, "m", 1, "x", 1, b, sizeof(b)), 0);
	cr_expect_str_eq(a, b);
}

Test(crypto, webhook_sign_verify_round_trip_binary_body)
{
	const char body[] = {'a', '\0', 'b', '\n', (char)0xff};
	char sig[64];
	cr_assert_eq(
	    crypto_webhook_sign(wh_secret, "msg_1", -5, body, sizeof(body), sig, sizeof(sig)), 0);
	cr_expect_eq(strlen(sig), 3 + 44);
	cr_expect(crypto_webhook_verify(wh_secret, "msg_1", -5, body, sizeof(body), sig));
	cr_expect_not(crypto_webhook_verify(wh_secret, "msg_1", -5, body, sizeof(body) - 1, sig));
	cr_expect_not(crypto_webhook_verify(wh_secret, "msg_1", 5, body, sizeof(body), sig));
	cr_expect_not(crypto_webhook_verify(wh_secret, "msg_2", -5, body, sizeof(body), sig));

	/* Empty body (NULL, 0) signs the same as "" */
	char s1[64], s2[64];
	cr_assert_eq(crypto_webhook_sign(wh_secret, "m", 1, NULL, 0, s1, sizeof(s1)), 0);
	cr_assert_eq(crypto_webhook_sign(wh_secret, "m", 1, "", 0, s2, sizeof(s2)), 0);
	cr_expect_str_eq(s1, s2);
	cr_expect(crypto_webhook_verify(wh_secret, "m", 1, NULL, 0, s1));
}
