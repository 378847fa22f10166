/*
 * log_test.c - unit tests for src/util/log.c: each call writes exactly one JSON line
 * on stderr with ts/level/msg and the caller's fields, levels filter, and hostile
 * messages still produce valid JSON. stderr is pointed at a temporary file per test.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fulfill/fftime.h"
#include "fulfill/log.h"

static FILE *capture;
static int saved_stderr = -1;

static void capture_start(void)
{
	capture = tmpfile();
	cr_assert_not_null(capture);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	cr_assert(saved_stderr >= 0);
	cr_assert(dup2(fileno(capture), STDERR_FILENO) >= 0);
}

/* Restore stderr and return what was written (caller frees). */
static char *capture_end(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	fseek(capture, 0, SEEK_END);
	long len = ftell(capture);
	rewind(capture);
	char *s = calloc(1, (size_t)len + 1);
	cr_assert_eq(fread(s, 1, (size_t)len, capture), (size_t)len);
	fclose(capture);
	return s;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Parse line `i` (0-based) of `out` as a JSON object. */
static json_t *line_json(const char *out, size_t i)
{
	const char *p = out;
	while (i-- > 0) {
		p = strchr(p, '\n');
		cr_assert_not_null(p);
		p++;
	}
	const char *nl = strchr(p, '\n');
	cr_assert_not_null(nl, "line not terminated");
	json_error_t err;
	json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
	cr_assert_not_null(j, "not JSON: %.*s (%s)", (int)(nl - p), p, err.text);
	cr_assert(json_is_object(j));
	return j;
}

Test(log, json_line_with_fields)
{
	json_t *fields = json_pack("{s:i, s:s, s:s}", "status", 200, "route", "/v1/events", "msg",
				   "cannot override");
	capture_start();
	log_json("info", "request", fields);
	char *out = capture_end();

	cr_expect_eq(count_lines(out), 1);
	json_t *j = line_json(out, 0);
	cr_expect_str_eq(json_string_value(json_object_get(j, "level")), "info");
	cr_expect_str_eq(json_string_value(json_object_get(j, "msg")), "request");
	cr_expect_eq(json_integer_value(json_object_get(j, "status")), 200);
	cr_expect_str_eq(json_string_value(json_object_get(j, "route")), "/v1/events");
	const char *ts = json_string_value(json_object_get(j, "ts"));
	cr_assert_not_null(ts);
	int64_t ms;
	cr_expect_eq(fftime_parse(ts, &ms), 0, "ts is RFC 3339: %s", ts);
	cr_expect_eq(strlen(ts), 24);
	/* The fields object is not stolen. */
	cr_expect_eq(fields->refcount, 1);
	cr_expect_eq(strncmp(out, "{\"ts\":", 6), 0, "ts comes first");
	json_decref(j);
	json_decref(fields);
	free(out);
}

Test(log, typed_fields)
{
	/* log_fields(): the same line as log_json, hostile strings escaped */
	struct log_field f[] = {{"request_id", "a\"b\\c\n\x01\xff", 0},
				{"status", NULL, 200},
				{"duration_ms", NULL, 0.125},
				{"route", "/v1/rewards/{id}", 0}};
	capture_start();
	log_fields("info", "request", f, 4);
	log_set_level("warn");
	log_fields("info", "hidden at warn", f, 4);
	char *out = capture_end();

	cr_expect_eq(count_lines(out), 1, "%s", out);
	json_t *j = line_json(out, 0);
	cr_expect_eq(strncmp(out, "{\"ts\":", 6), 0, "ts comes first");
	cr_expect_str_eq(json_string_value(json_object_get(j, "level")), "info");
	cr_expect_str_eq(json_string_value(json_object_get(j, "msg")), "request");
	cr_expect_str_eq(json_string_value(json_object_get(j, "request_id")),
			 "a\"b\\c\n\x01\xEF\xBF\xBD");
	cr_expect_eq(json_integer_value(json_object_get(j, "status")), 200);
	cr_expect(json_is_integer(json_object_get(j, "status")), "200, not 200.0");
	cr_expect_float_eq(json_real_value(json_object_get(j, "duration_ms")), 0.125, 1e-9);
	cr_expect_str_eq(json_string_value(json_object_get(j, "route")), "/v1/rewards/{id}");
	int64_t ms;
	cr_expect_eq(fftime_parse(json_string_value(json_object_get(j, "ts")), &ms), 0);
	json_decref(j);
	free(out);
}

/* Numbers in typed fields: integers and up to three decimals written by hand, the
 * rest as %.15g, non-finite values as null. */
Test(log, typed_numbers_exactly)
{
	const struct {
		double v;
		const char *text;
	} cases[] = {{0, "0"},	       {200, "200"},	{-5, "-5"},	      {0.125, "0.125"},   {1.5, "1.5"},
		     {0.001, "0.001"}, {-0.25, "-0.25"}, {12.3456, "12.3456"}, {1e20, "1e+20"},
		     {123456.789, "123456.789"}, {2.0000004, "2.0000004"}, {NAN, "null"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct log_field f = {"n", NULL, cases[i].v};
		capture_start();
		log_fields("info", "m", &f, 1);
		char *out = capture_end();
		char want[64];
		snprintf(want, sizeof(want), "\"n\":%s}", cases[i].text);
		cr_expect_not_null(strstr(out, want), "%s in %s", want, out);
		free(out);
	}
}

Test(log, null_and_non_object_fields)
{
	json_t *arr = json_array();
	capture_start();
	log_json("warn", "no fields", NULL);
	log_json("error", "array ignored", arr);
	char *out = capture_end();
	cr_expect_eq(count_lines(out), 2);
	json_t *a = line_json(out, 0), *b = line_json(out, 1);
	cr_expect_str_eq(json_string_value(json_object_get(a, "level")), "warn");
	cr_expect_eq(json_object_size(b), 3);
	json_decref(a);
	json_decref(b);
	json_decref(arr);
	free(out);
}

Test(log, level_filter)
{
	capture_start();
	log_msg("debug", "hidden by default");
	log_set_level("warn");
	log_msg("info", "hidden at warn");
	log_msg("warn", "shown %d", 1);
	log_msg("error", "shown %d", 2);
	log_set_level("bogus"); /* ignored: still warn */
	log_msg("info", "still hidden");
	log_set_level(NULL);
	log_set_level("debug");
	log_msg("debug", "shown %d", 3);
	char *out = capture_end();
	cr_expect_eq(count_lines(out), 3, "%s", out);
	json_t *j = line_json(out, 2);
	cr_expect_str_eq(json_string_value(json_object_get(j, "msg")), "shown 3");
	json_decref(j);
	free(out);
}

Test(log, hostile_messages_stay_valid_json)
{
	capture_start();
	log_msg("info", "quote \" backslash \\ newline \n tab \t ctl \x01");
	log_json("info", "bad utf8 \xff\xfe end \xc3", NULL);
	log_json("info", "overlong \xc0\xaf surrogate \xed\xa0\x80 ok \xc3\xa9", NULL);
	log_json("info", NULL, NULL);
	log_json(NULL, "null level", NULL);
	char *out = capture_end();
	cr_assert_eq(count_lines(out), 5, "%s", out);
	json_t *a = line_json(out, 0);
	cr_expect_str_eq(json_string_value(json_object_get(a, "msg")),
			 "quote \" backslash \\ newline \n tab \t ctl \x01");
	json_t *b = line_json(out, 1);
	cr_expect_str_eq(json_string_value(json_object_get(b, "msg")),
			 "bad utf8 \xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD");
	json_t *c = line_json(out, 2);
	cr_expect_str_eq(json_string_value(json_object_get(c, "msg")),
			 "overlong \xEF\xBF\xBD\xEF\xBF\xBD surrogate "
			 "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD ok \xc3\xa9");
	json_t *d = line_json(out, 3);
	cr_expect_str_eq(json_string_value(json_object_get(d, "msg")), "");
	json_t *e = line_json(out, 4);
	cr_expect_str_eq(json_string_value(json_object_get(e, "level")), "info");
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	json_decref(e);
	free(out);
}

Test(log, long_messages)
{
	char *big = malloc(100000);
	memset(big, 'z', 99999);
	big[99999] = '\0';
	capture_start();
	log_msg("info", "%s", big);  /* truncated by log_msg */
	log_json("info", big, NULL); /* whole */
	char *out = capture_end();
	cr_assert_eq(count_lines(out), 2);
	json_t *a = line_json(out, 0), *b = line_json(out, 1);
	size_t la = strlen(json_string_value(json_object_get(a, "msg")));
	cr_expect(la > 1000 && la < 99999, "log_msg truncates (%zu)", la);
	cr_expect_eq(strlen(json_string_value(json_object_get(b, "msg"))), 99999);
	json_decref(a);
	json_decref(b);
	free(out);
	free(big);
}

Test(log, oversized_line_is_replaced)
{
	size_t n = 400 * 1024;
	char *big = malloc(n + 1);
	memset(big, 'z', n);
	big[n] = '\0';
	capture_start();
	log_json("info", big, NULL);
	char *out = capture_end();
	cr_assert_eq(count_lines(out), 1);
	json_t *j = line_json(out, 0);
	cr_expect_str_eq(json_string_value(json_object_get(j, "msg")), "log line too long");
	json_decref(j);
	free(out);
	free(big);
}
