/*
 * jsonw_test.c - unit tests for src/util/jsonw.c: the text is byte for byte what
 * jansson's json_dumps(JSON_COMPACT) writes for the same value (nesting, separators,
 * every escape, UTF-8, integers at their limits), and an append past the buffer's
 * maximum is reported.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "fulfill/jsonw.h"

/* A writer over a fresh buffer of at most `max` bytes (0: no limit). */
static void start(struct ffbuf *b, struct jsonw *w, size_t max)
{
	ffbuf_init(b, max);
	jsonw_init(w, b);
}

static void expect_same(const struct ffbuf *b, json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	cr_expect_str_eq(b->data, want);
	free(want);
	json_decref(v);
}

Test(jsonw, nested_members_match_jansson)
{
	struct ffbuf b;
	struct jsonw w;
	start(&b, &w, 0);
	jsonw_object_open(&w, NULL);
	jsonw_string(&w, "id", "rwd_1");
	jsonw_int(&w, "zero", 0);
	jsonw_int(&w, "min", INT64_MIN);
	jsonw_int(&w, "max", INT64_MAX);
	jsonw_int(&w, "neg", -42);
	jsonw_bool(&w, "t", true);
	jsonw_bool(&w, "f", false);
	jsonw_null(&w, "n");
	jsonw_string(&w, "s_null", NULL);
	jsonw_time(&w, "at", 1614265330001, true);
	jsonw_time(&w, "never", 5, false);
	jsonw_raw(&w, "signals", "[{\"a\":1}]", 9);
	jsonw_array_open(&w, "empty");
	jsonw_array_close(&w);
	jsonw_object_open(&w, "o");
	jsonw_object_close(&w);
	jsonw_array_open(&w, "list");
	jsonw_int(&w, NULL, 1);
	jsonw_object_open(&w, NULL);
	jsonw_string(&w, "k", "v");
	jsonw_object_close(&w);
	jsonw_string(&w, NULL, "x");
	jsonw_array_close(&w);
	jsonw_object_close(&w);
	cr_assert_eq(w.err, 0);
	expect_same(&b, json_pack("{s:s, s:i, s:I, s:I, s:i, s:b, s:b, s:n, s:n, s:s, s:n, s:[{s:i}], s:[], s:{}, "
				  "s:[i, {s:s}, s]}",
				  "id", "rwd_1", "zero", 0, "min", (json_int_t)INT64_MIN, "max",
				  (json_int_t)INT64_MAX, "neg", -42, "t", 1, "f", 0, "n", "s_null", "at",
				  "2021-02-25T15:02:10.001Z", "never", "signals", "a", 1, "empty", "o", "list", 1, "k",
				  "v", "x"));
	ffbuf_release(&b);
}

Test(jsonw, every_escape_matches_jansson)
{
	/* every byte 0x01..0x7f, then UTF-8 of two, three and four bytes */
	char s[200];
	size_t n = 0;
	for (int c = 1; c < 0x80; c++)
		s[n++] = (char)c;
	const char *utf8 = "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8";
	for (const char *p = utf8; *p; p++)
		s[n++] = *p;
	s[n] = '\0';
	struct ffbuf b;
	struct jsonw w;
	start(&b, &w, 0);
	jsonw_object_open(&w, NULL);
	jsonw_string(&w, s, s); /* keys are escaped the same way */
	jsonw_object_close(&w);
	json_t *o = json_object();
	json_object_set_new(o, s, json_string(s));
	expect_same(&b, o);
	ffbuf_release(&b);
}

Test(jsonw, top_level_scalars)
{
	struct ffbuf b;
	struct jsonw w;
	start(&b, &w, 0);
	jsonw_int(&w, NULL, -7);
	expect_same(&b, json_integer(-7));
	ffbuf_reset(&b);
	jsonw_init(&w, &b);
	jsonw_string(&w, NULL, "a\"b");
	expect_same(&b, json_string("a\"b"));
	ffbuf_release(&b);
}

Test(jsonw, past_the_maximum_is_an_error)
{
	struct ffbuf b;
	struct jsonw w;
	start(&b, &w, 16);
	jsonw_object_open(&w, NULL);
	jsonw_string(&w, "k", "short");
	cr_expect_eq(w.err, 0);
	jsonw_string(&w, "long", "this does not fit in sixteen bytes");
	cr_expect_eq(w.err, -1);
	cr_expect(b.len <= 16);
	ffbuf_release(&b);
}

Test(jsonw, nesting_deeper_than_the_limit_is_an_error)
{
	struct ffbuf b;
	struct jsonw w;
	start(&b, &w, 0);
	for (int i = 0; i < JSONW_DEPTH + 2; i++)
		jsonw_array_open(&w, NULL);
	cr_expect_eq(w.err, -1);
	ffbuf_release(&b);
}

/* ---- jansson values: jsonw_dumps() against json_dumps() ---- */

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static json_t *random_string(void)
{
	static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
					     "\x7f", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "key", ""};
	char s[64] = "";
	size_t n = rng() % 6;
	for (size_t i = 0; i < n; i++)
		strcat(s, pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))]);
	return json_string(s);
}

static json_t *random_value(int depth)
{
	static const double reals[] = {0.0, -0.0, 1.5, -2.25, 0.1, 1e20, 1e-5, 123456789.0, 1.7976931348623157e308,
				       5e-324, 3.0, -1e100, 2.5e-7};
	switch (rng() % (depth > 4 ? 6 : 8)) {
	case 0:
		return json_integer((json_int_t)(rng() % 3 == 0 ? (int64_t)rng() : (int64_t)(rng() % 2001) - 1000));
	case 1:
		return json_real(reals[rng() % (sizeof(reals) / sizeof(reals[0]))]);
	case 2:
		return random_string();
	case 3:
		return json_boolean(rng() % 2);
	case 4:
		return json_null();
	case 5:
		return json_integer(INT64_MIN);
	case 6: {
		json_t *a = json_array();
		for (size_t i = rng() % 5; i > 0; i--)
			json_array_append_new(a, random_value(depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		for (size_t i = rng() % 6; i > 0; i--) {
			json_t *k = random_string();
			json_object_set_new(o, json_string_value(k), random_value(depth + 1));
			json_decref(k);
		}
		return o;
	}
	}
}

Test(jsonw, values_match_json_dumps_byte_for_byte)
{
	for (int i = 0; i < 3000; i++) {
		json_t *v = random_value(0);
		for (int sort = 0; sort < 2; sort++) {
			size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | (sort ? JSON_SORT_KEYS : 0);
			char *want = json_dumps(v, flags), *got = jsonw_dumps(v, sort);
			cr_assert_not_null(want);
			cr_assert_not_null(got);
			cr_assert_str_eq(got, want, "case %d sort %d", i, sort);
			free(want);
			free(got);
		}
		json_decref(v);
	}
}

Test(jsonw, values_inside_a_writer_and_their_errors)
{
	struct ffbuf b;
	struct jsonw w;
	start(&b, &w, 0);
	json_t *v = json_pack("{s:i, s:[s, f]}", "b", 1, "a", "x", 0.5);
	jsonw_object_open(&w, NULL);
	jsonw_value(&w, "v", v, true);
	jsonw_int(&w, "n", 2);
	jsonw_object_close(&w);
	cr_expect_str_eq(b.data, "{\"v\":{\"a\":[\"x\",0.5],\"b\":1},\"n\":2}");
	cr_expect_eq(w.err, 0);
	json_decref(v);
	/* no value: NULL, as from json_dumps (jansson holds no non-finite reals) */
	cr_expect_null(jsonw_dumps(NULL, false));
	ffbuf_release(&b);
}
