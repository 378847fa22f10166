/*
 * jsonlogic_test.c - unit tests for src/core/jsonlogic.c, the eligibility rule
 * evaluator: the official JsonLogic suite (../shared/conformance/jsonlogic-tests.json,
 * read from the repository root), then what the suite does not cover: errors and
 * limits, validation paths, integer results, truthiness and JavaScript coercions.
 */
#include "fulfill/jsonlogic.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SUITE_PATH "../shared/conformance/jsonlogic-tests.json"
#define SUITE_CASES 278

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

	cr_assert_not_null(v, "bad JSON in test: %s (%s)", text, jerr.text);
	return v;
}

/* Equality where numbers compare by value (1 == 1.0), as the suite's README asks. */
static bool same_value(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!same_value(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, key, v)
		{
			json_t *w = json_object_get(b, key);

			if (!w || !same_value(v, w))
				return false;
		}
		return true;
	}
	return json_equal(a, b);
}

static char *dump(const json_t *v) { return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT); }

/* Apply rule to data (JSON texts); the result, or NULL with *err and d filled. */
static json_t *apply_text(const char *rule_text, const char *data_text, enum ff_err *err,
			  struct ff_diag *d)
{
	json_t *rule = parse(rule_text), *data = parse(data_text), *out = NULL;

	ff_diag_clear(d);
	*err = jsonlogic_apply(rule, data, &out, d);
	json_decref(rule);
	json_decref(data);
	return out;
}

/* Assert that rule on data gives `expected` (numbers by value). */
static void check(const char *rule, const char *data, const char *expected)
{
	struct ff_diag d;
	enum ff_err err;
	json_t *out = apply_text(rule, data, &err, &d);
	json_t *want = parse(expected);
	char *got = out ? dump(out) : NULL;

	cr_expect_eq(err, FF_OK, "%s on %s: error %d (%s)", rule, data, err, d.message);
	cr_expect(out && same_value(out, want), "%s on %s: got %s, want %s", rule, data,
		  got ? got : "(none)", expected);
	free(got);
	json_decref(out);
	json_decref(want);
}

/* Assert that rule on data fails with FF_E_INVALID and a message containing `part`. */
static void check_error(const char *rule, const char *data, const char *part)
{
	struct ff_diag d;
	enum ff_err err;
	json_t *out = apply_text(rule, data, &err, &d);

	cr_expect_eq(err, FF_E_INVALID, "%s: want FF_E_INVALID, got %d", rule, err);
	cr_expect_null(out, "%s: no result on error", rule);
	cr_expect(strstr(d.message, part) != NULL, "%s: message \"%s\" lacks \"%s\"", rule,
		  d.message, part);
	json_decref(out);
}

Test(jsonlogic, conformance_suite)
{
	json_error_t jerr;
	json_t *suite = json_load_file(SUITE_PATH, 0, &jerr), *tc;
	size_t i, checked = 0, failed = 0;
	struct ff_diag d;

	cr_assert_not_null(suite, "cannot read %s: %s", SUITE_PATH, jerr.text);
	cr_assert(json_is_array(suite));
	json_array_foreach(suite, i, tc)
	{
		json_t *out = NULL;
		enum ff_err err;

		if (json_is_string(tc))
			continue; /* a section heading */
		cr_assert(json_is_array(tc) && json_array_size(tc) == 3, "case %zu is malformed",
			  i);
		checked++;
		ff_diag_clear(&d);
		err = jsonlogic_apply(json_array_get(tc, 0), json_array_get(tc, 1), &out, &d);
		if (err != FF_OK || !same_value(out, json_array_get(tc, 2))) {
			char *rule = dump(json_array_get(tc, 0)),
			     *data = dump(json_array_get(tc, 1));
			char *want = dump(json_array_get(tc, 2)), *got = out ? dump(out) : NULL;

			cr_log_error("case %zu: %s on %s: got %s (%s), want %s", i, rule, data,
				     got ? got : "error", d.message, want);
			failed++;
			free(rule);
			free(data);
			free(want);
			free(got);
		}
		json_decref(out);
	}
	json_decref(suite);
	cr_expect_eq(failed, 0, "%zu of %zu conformance cases failed", failed, checked);
	cr_expect_eq(checked, SUITE_CASES, "checked %zu cases, the suite has %d", checked,
		     SUITE_CASES);
}

/* Every rule of the suite is also a valid rule for jsonlogic_validate(). */
Test(jsonlogic, suite_rules_validate)
{
	json_t *suite = json_load_file(SUITE_PATH, 0, NULL), *tc;
	struct ff_diag d;
	size_t i;

	cr_assert_not_null(suite);
	json_array_foreach(suite, i, tc)
	{
		if (!json_is_array(tc))
			continue;
		ff_diag_clear(&d);
		cr_expect_eq(jsonlogic_validate(json_array_get(tc, 0), "eligibility", &d), FF_OK,
			     "case %zu: %s at %s", i, d.message, d.param);
	}
	json_decref(suite);
}

Test(jsonlogic, unknown_operator)
{
	struct ff_diag d;
	enum ff_err err;
	json_t *out;

	out = apply_text("{\"frobnicate\": [1, 2]}", "{}", &err, &d);
	cr_assert_eq(err, FF_E_INVALID);
	cr_assert_null(out);
	cr_assert_str_eq(d.message, "unknown operator \"frobnicate\"");

	check_error("{\"and\": [true, {\"nope\": 1}]}", "{}", "unknown operator \"nope\"");
	check_error("[1, {\"map\": [[1], {\"bad op\": 1}]}]", "{}", "\"bad op\"");
	/* Control characters, NULs and quotes in the name do not reach the message. */
	{
		json_t *rule = json_object();

		json_object_setn_new(rule, "a\"\n\0b", 5, json_integer(1));
		cr_expect_eq(jsonlogic_apply(rule, NULL, &out, &d), FF_E_INVALID);
		cr_expect_str_eq(d.message, "unknown operator \"a???b\"");
		json_decref(rule);
	}
	check_error("{\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
		    "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
		    "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
		    "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\": 1}",
		    "{}", "\u00e9...\"");
	/* Lazy operators do not look at the branch they skip, like json-logic-js. */
	check("{\"if\": [true, 1, {\"nope\": 1}]}", "{}", "1");
	check("{\"or\": [1, {\"nope\": 1}]}", "{}", "1");
}

/* {"!": {"!": ... true ...}} nested n deep. */
static json_t *nested_not(int n)
{
	json_t *rule = json_true();
	int i;

	for (i = 0; i < n; i++)
		rule = json_pack("{so}", "!", rule);
	return rule;
}

Test(jsonlogic, depth_limit)
{
	struct ff_diag d;
	json_t *rule, *out = NULL;
	int i;

	rule = nested_not(40);
	cr_assert_eq(jsonlogic_apply(rule, NULL, &out, &d), FF_OK, "%s", d.message);
	cr_assert(json_is_true(out));
	json_decref(out);
	json_decref(rule);

	/* Deep enough to crash an unbounded evaluator's stack. */
	rule = nested_not(10000);
	out = NULL;
	cr_assert_eq(jsonlogic_apply(rule, NULL, &out, &d), FF_E_INVALID);
	cr_assert_null(out);
	cr_assert(strstr(d.message, "nested deeper") != NULL, "%s", d.message);
	cr_assert_eq(jsonlogic_validate(rule, "eligibility", &d), FF_E_INVALID);
	cr_assert(strstr(d.message, "nested deeper") != NULL, "%s", d.message);
	json_decref(rule);

	/* Plain nested arrays count too. */
	rule = json_array();
	for (i = 0; i < 1000; i++) {
		json_t *outer = json_array();

		json_array_append_new(outer, rule);
		rule = outer;
	}
	cr_assert_eq(jsonlogic_apply(rule, NULL, &out, &d), FF_E_INVALID);
	cr_assert_null(out);
	json_decref(rule);

	/* Deeply nested data cannot recurse either (String() of nested arrays). */
	{
		json_t *data = json_array();

		for (i = 0; i < 1000; i++) {
			json_t *outer = json_array();

			json_array_append_new(outer, data);
			data = outer;
		}
		rule = parse("{\"cat\": [{\"var\": \"\"}]}");
		cr_assert_eq(jsonlogic_apply(rule, data, &out, &d), FF_E_INVALID);
		cr_assert(strstr(d.message, "nested deeper") != NULL, "%s", d.message);
		json_decref(rule);
		json_decref(data);
	}
}

Test(jsonlogic, step_limit)
{
	json_t *data = json_object(), *numbers = json_array(), *rule, *out = NULL;
	struct ff_diag d;
	int i;

	for (i = 0; i < 200000; i++)
		json_array_append_new(numbers, json_integer(i));
	json_object_set_new(data, "n", numbers);

	rule = parse("{\"reduce\": [{\"var\": \"n\"},"
		     " {\"+\": [{\"var\": \"current\"}, {\"var\": \"accumulator\"}]}, 0]}");
	cr_assert_eq(jsonlogic_apply(rule, data, &out, &d), FF_E_INVALID);
	cr_assert_null(out);
	cr_assert(strstr(d.message, "steps") != NULL, "%s", d.message);
	json_decref(rule);

	/* A small reduce of the same shape is fine. */
	json_object_set_new(data, "n", json_pack("[iiii]", 1, 2, 3, 4));
	rule = parse("{\"reduce\": [{\"var\": \"n\"},"
		     " {\"+\": [{\"var\": \"current\"}, {\"var\": \"accumulator\"}]}, 0]}");
	cr_assert_eq(jsonlogic_apply(rule, data, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(out), 10);
	json_decref(out);
	json_decref(rule);
	json_decref(data);

	/* Doubling a string or an array every step is stopped long before memory runs out. */
	{
		const char *doubling[] = {
		    "{\"reduce\": [[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
		    " {\"cat\": [{\"var\": \"accumulator\"}, {\"var\": \"accumulator\"}]}, "
		    "\"ab\"]}",
		    "{\"reduce\": [[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
		    " {\"merge\": [{\"var\": \"accumulator\"}, {\"var\": \"accumulator\"}]}, [1]]}",
		};
		size_t k;

		for (k = 0; k < sizeof(doubling) / sizeof(doubling[0]); k++)
			check_error(doubling[k], "null", "limit");
	}
}

static void check_validate(const char *rule_text, enum ff_err want, const char *param,
			   const char *message)
{
	json_t *rule = parse(rule_text);
	struct ff_diag d;
	enum ff_err err;

	ff_diag_clear(&d);
	err = jsonlogic_validate(rule, "eligibility", &d);
	cr_expect_eq(err, want, "%s: got %d (%s)", rule_text, err, d.message);
	if (param)
		cr_expect_str_eq(d.param, param, "%s", rule_text);
	if (message)
		cr_expect_str_eq(d.message, message, "%s", rule_text);
	json_decref(rule);
}

Test(jsonlogic, validate_paths)
{
	check_validate("{\"and\": [{\">=\": [{\"var\": \"amount\"}, 100]}, {\"in\": "
		       "[{\"var\": \"country\"}, [\"US\", \"CA\"]]}]}",
		       FF_OK, NULL, NULL);
	check_validate("{\"and\": [true, {\"bogus\": 1}]}", FF_E_INVALID, "eligibility.and[1]",
		       "unknown operator \"bogus\"");
	check_validate("{\"or\": [{\"and\": [1, {\"!\": {\"x\": 1}}]}]}", FF_E_INVALID,
		       "eligibility.or[0].and[1].!", "unknown operator \"x\"");
	check_validate("[1, {\"bogus\": 2}]", FF_E_INVALID, "eligibility[1]", NULL);
	check_validate("{\"if\": [true, 1, {\"bogus\": 1}]}", FF_E_INVALID, "eligibility.if[2]",
		       NULL);
	check_validate("{\"map\": [{\"var\": \"xs\"}, {\"nope\": []}]}", FF_E_INVALID,
		       "eligibility.map[1]", NULL);
	check_validate("{\"bogus\": 1}", FF_E_INVALID, "eligibility", NULL);
	/* Arity. */
	check_validate("{\"==\": [1]}", FF_E_INVALID, "eligibility",
		       "operator \"==\" takes 2 arguments");
	check_validate("{\"and\": [true, {\"substr\": [\"abc\"]}]}", FF_E_INVALID,
		       "eligibility.and[1]", "operator \"substr\" takes 2 to 3 arguments");
	check_validate("{\"*\": []}", FF_E_INVALID, "eligibility",
		       "operator \"*\" takes at least 1 argument");
	/* Objects with several keys are literals, not rules. */
	check_validate("{\"a\": {\"bogus\": 1}, \"b\": 2}", FF_OK, NULL, NULL);

	/* Without a prefix the path starts at the operator. */
	{
		json_t *rule = parse("{\"and\": [true, {\"bogus\": 1}]}");
		struct ff_diag d;

		cr_expect_eq(jsonlogic_validate(rule, "", &d), FF_E_INVALID);
		cr_expect_str_eq(d.param, "and[1]");
		cr_expect_eq(jsonlogic_validate(rule, NULL, &d), FF_E_INVALID);
		cr_expect_str_eq(d.param, "and[1]");
		json_decref(rule);
	}
}

/* The result must be a JSON integer with that value. */
static void check_int(const char *rule, long long want)
{
	struct ff_diag d;
	enum ff_err err;
	json_t *out = apply_text(rule, "{\"amount\": 2500, \"rate\": 0.1}", &err, &d);

	cr_expect_eq(err, FF_OK, "%s: %s", rule, d.message);
	cr_expect(json_is_integer(out), "%s: not an integer", rule);
	cr_expect_eq(json_integer_value(out), want, "%s: got %lld", rule,
		     (long long)json_integer_value(out));
	json_decref(out);
}

static void check_real(const char *rule, double want)
{
	struct ff_diag d;
	enum ff_err err;
	json_t *out = apply_text(rule, "{}", &err, &d);

	cr_expect_eq(err, FF_OK, "%s: %s", rule, d.message);
	cr_expect(json_is_real(out), "%s: not a real", rule);
	cr_expect(json_real_value(out) == want, "%s: got %.17g", rule, json_real_value(out));
	json_decref(out);
}

Test(jsonlogic, integer_results)
{
	check_int("{\"+\": [1, 2]}", 3);
	check_int("{\"+\": [\"1\", 1]}", 2);
	check_int("{\"/\": [4, 2]}", 2);
	check_int("{\"*\": [1.5, 2]}", 3);
	check_int("{\"-\": [2.5, 0.5]}", 2);
	check_int("{\"%\": [-7, 2]}", -1);
	check_int("{\"max\": [1, 2.0, 1.5]}", 2);
	check_int("{\"min\": [3, \"2\"]}", 2);
	check_int("{\"*\": [{\"var\": \"amount\"}, {\"var\": \"rate\"}]}", 250);
	check_int("{\"-\": [\"5\"]}", -5);
	check_int("{\"+\": \"0x10\"}", 0); /* parseFloat stops at x */
	/* Exact beyond 2^53, where a double would round. */
	check_int("{\"+\": [9007199254740993, 0]}", 9007199254740993LL);
	check_int("{\"-\": [9223372036854775807, 1]}", 9223372036854775806LL);
	check_real("{\"/\": [5, 2]}", 2.5);
	check_real("{\"+\": [0.1, 0.2]}", 0.1 + 0.2);
	check_real("{\"+\": [9223372036854775807, 1]}", 9223372036854775808.0);
	/* Not finite: null, as JSON.stringify gives. */
	check("{\"/\": [1, 0]}", "{}", "null");
	check("{\"%\": [1, 0]}", "{}", "null");
	check("{\"+\": [\"apple\", 1]}", "{}", "null");
	check("{\"max\": []}", "{}", "null");
}

Test(jsonlogic, truthiness_table)
{
	static const struct {
		const char *value;
		bool truthy;
	} table[] = {
	    {"false", false},
	    {"null", false},
	    {"0", false},
	    {"0.0", false},
	    {"-0.0", false},
	    {"\"\"", false},
	    {"[]", false},
	    {"true", true},
	    {"1", true},
	    {"-1", true},
	    {"0.5", true},
	    {"\"0\"", true},
	    {"\"a\"", true},
	    {"[0]", true},
	    {"[[]]", true},
	    {"{}", true},
	    {"{\"a\": 1, \"b\": 2}", true},
	};
	size_t i;

	cr_expect_not(jsonlogic_truthy(NULL));
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		json_t *v = parse(table[i].value);
		char rule[64];

		cr_expect_eq(jsonlogic_truthy(v), table[i].truthy, "%s", table[i].value);
		json_decref(v);
		snprintf(rule, sizeof(rule), "{\"!!\": [%s]}", table[i].value);
		check(rule, "{}", table[i].truthy ? "true" : "false");
	}
}

Test(jsonlogic, javascript_coercion)
{
	/* Loose equality. */
	check("{\"==\": [null, 0]}", "{}", "false");
	check("{\"==\": [null, null]}", "{}", "true");
	check("{\"==\": [[], false]}", "{}", "true");
	check("{\"==\": [\"\", 0]}", "{}", "true");
	check("{\"==\": [\" 12 \", 12]}", "{}", "true");
	check("{\"==\": [\"0x10\", 16]}", "{}", "true");
	check("{\"==\": [[1], 1]}", "{}", "true");
	check("{\"==\": [[1, 2], \"1,2\"]}", "{}", "true");
	check("{\"==\": [true, \"1\"]}", "{}", "true");
	check("{\"==\": [[1], [1]]}", "{}", "false");
	check("{\"==\": [1, 1.0]}", "{}", "true");
	check("{\"===\": [1, 1.0]}", "{}", "true");
	check("{\"!=\": [\"abc\", \"abc\"]}", "{}", "false");
	/* Relational: two strings compare as strings, otherwise as numbers. */
	check("{\"<\": [\"10\", \"9\"]}", "{}", "true");
	check("{\"<\": [\"10\", 9]}", "{}", "false");
	check("{\"<\": [null, 1]}", "{}", "true");
	check("{\">\": [\"apple\", 1]}", "{}", "false");
	check("{\"<=\": [\"apple\", 1]}", "{}", "false");
	check("{\"<\": [\"\\uffff\", \"\\ud83d\\ude00\"]}", "{}", "false"); /* UTF-16 order */
	check("{\"<\": [1, 5, \"10\"]}", "{}", "true");
	/* String(). */
	check("{\"cat\": [{\"+\": [0.1, 0.2]}]}", "{}", "\"0.30000000000000004\"");
	check("{\"cat\": [1e21, \" \", 1.5e-7, \" \", 0.000001, \" \", 2.0]}", "{}",
	      "\"1e+21 1.5e-7 0.000001 2\"");
	check("{\"cat\": [null, true, [1, [2, 3], null], {\"a\": 1, \"b\": 2}]}", "{}",
	      "\"true1,2,3,[object Object]\"");
	check("{\"in\": [1, \"x1y\"]}", "{}", "true");
	check("{\"in\": [\"\", \"abc\"]}", "{}", "true");
	check("{\"in\": [\"a\", \"\"]}", "{}", "false");
	check("{\"in\": [1, [\"1\", 1.0]]}", "{}", "true");
	check("{\"in\": [[1], [[1]]]}", "{}", "false");
	/* parseFloat for + and *, ToNumber for - and /. */
	check("{\"+\": [\"3 apples\", 1]}", "{}", "4");
	check("{\"-\": [\"3 apples\", 1]}", "{}", "null");
	check("{\"+\": [null, 1]}", "{}", "null");
	check("{\"-\": [null, 1]}", "{}", "-1");
	check("{\"*\": [\" 2e1x\", 2]}", "{}", "40");
}

Test(jsonlogic, strings_and_data)
{
	check("{\"substr\": [\"\\ud83d\\ude00ab\", 2]}", "{}", "\"ab\"");
	check("{\"substr\": [\"\\ud83d\\ude00ab\", 1]}", "{}", "\"\\ufffdab\"");
	check("{\"substr\": [\"h\\u00e9llo\", 1, 3]}", "{}", "\"\\u00e9ll\"");
	check("{\"substr\": [\"jsonlogic\", 4, \"-2\"]}", "{}", "\"\"");
	check("{\"substr\": [\"jsonlogic\", 20]}", "{}", "\"\"");
	check("{\"substr\": [12345, 1, 2]}", "{}", "\"23\"");
	check("{\"var\": \"items.length\"}", "{\"items\": [1, 2, 3]}", "3");
	check("{\"var\": \"name.length\"}", "{\"name\": \"h\\u00e9\"}", "2");
	check("{\"var\": \"name.1\"}", "{\"name\": \"h\\u00e9\"}", "\"\\u00e9\"");
	check("{\"var\": \"items.01\"}", "{\"items\": [1, 2, 3]}", "null");
	check("{\"var\": [\"a.b\", 5]}", "{\"a\": {\"b\": null}}", "null");
	check("{\"var\": [\"a.b.c\", 5]}", "{\"a\": {\"b\": null}}", "5");
	check("{\"var\": 1.5}", "{\"1\": {\"5\": \"x\"}}", "\"x\"");
	check("{\"missing\": [[\"a\", \"b\"]]}", "{\"a\": 1}", "[\"b\"]");
	check("{\"missing\": [\"x\", [\"a\", 1]]}", "{}", "[\"x\"]"); /* [path, default] */
	check("{\"missing\": [\"a\", \"b\"]}", "{\"a\": \"\", \"b\": 0}", "[\"a\"]");
	check("{\"missing_some\": [\"1\", [\"a\", \"b\"]]}", "{\"a\": 1}", "[]");
	check_error("{\"missing_some\": [1, null]}", "{}", "missing_some");
	check("{\"log\": \"x\"}", "{}", "\"x\"");
	check("{\"and\": []}", "{}", "null");
	check("{\"a\": 1, \"b\": {\"var\": \"x\"}}", "{}", "{\"a\": 1, \"b\": {\"var\": \"x\"}}");
	check("{}", "{}", "{}");
	check("{\"filter\": [{\"var\": \"xs\"}, {\">\": [{\"var\": \"\"}, 1]}]}",
	      "{\"xs\": [1, 2, \"3\"]}", "[2, \"3\"]");
	check("{\"reduce\": [[1, 2], {\"var\": \"\"}]}", "{}",
	      "{\"current\": 2, \"accumulator\": {\"current\": 1, \"accumulator\": null}}");
	check("{\"map\": [[1, 2]]}", "{}", "[null, null]");
	check("{\"merge\": [[1, [2]], null, \"x\"]}", "{}", "[1, [2], null, \"x\"]");
	check_error("{\"*\": []}", "{}", "at least one");
}

/* Evaluation never changes the rule or the data. */
Test(jsonlogic, pure)
{
	json_t *rule = parse("{\"and\": [{\"filter\": [{\"var\": \"xs\"}, true]},"
			     " {\"reduce\": [{\"var\": \"xs\"}, {\"merge\": [{\"var\": "
			     "\"accumulator\"}, [{\"var\": \"current\"}]]}, []]}]}");
	json_t *data = parse("{\"xs\": [{\"a\": 1}, [2], \"3\"]}");
	json_t *rule_copy = json_deep_copy(rule), *data_copy = json_deep_copy(data), *out = NULL;
	struct ff_diag d;

	cr_assert_eq(jsonlogic_apply(rule, data, &out, &d), FF_OK, "%s", d.message);
	cr_expect(json_equal(rule, rule_copy));
	cr_expect(json_equal(data, data_copy));
	json_decref(out);
	json_decref(rule);
	json_decref(data);
	json_decref(rule_copy);
	json_decref(data_copy);
}
