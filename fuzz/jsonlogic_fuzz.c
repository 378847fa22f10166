/*
 * jsonlogic_fuzz.c - libFuzzer driver for the JsonLogic evaluator (src/core/jsonlogic.c).
 *
 * The input is JSON text `[rule, data]`. The driver validates and applies the rule and
 * checks what must hold for any input: no crash or sanitizer report, a result only on
 * success and always serializable, the only error FF_E_INVALID, and rule and data
 * unchanged. Build: clang -fsanitize=fuzzer,address,undefined -Iinclude
 * fuzz/jsonlogic_fuzz.c src/core/jsonlogic.c src/util/error.c $(pkg-config --cflags
 * --libs jansson) -lm; seed it with the cases of ../shared/conformance/jsonlogic-tests.json.
 */
#include <assert.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fulfill/jsonlogic.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	json_t *doc, *rule, *data, *copy, *out = NULL;
	struct ff_diag d;
	enum ff_err err;
	char *text;

	doc = json_loadb((const char *)buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!json_is_array(doc) || json_array_size(doc) != 2) {
		json_decref(doc);
		return 0;
	}
	rule = json_array_get(doc, 0);
	data = json_array_get(doc, 1);
	copy = json_deep_copy(doc);

	err = jsonlogic_validate(rule, "rule", &d);
	assert(err == FF_OK || err == FF_E_INVALID);
	(void)jsonlogic_truthy(rule);

	err = jsonlogic_apply(rule, data, &out, &d);
	assert(err == FF_OK || err == FF_E_INVALID);
	assert((err == FF_OK) == (out != NULL));
	if (out) {
		text = json_dumps(out, JSON_ENCODE_ANY);
		assert(text);
		free(text);
		(void)jsonlogic_truthy(out);
	}
	assert(json_equal(doc, copy));

	json_decref(out);
	json_decref(copy);
	json_decref(doc);
	return 0;
}
