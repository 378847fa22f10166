/*
 * jsonw_fuzz.c - libFuzzer driver for the JSON text writer (src/util/jsonw.c).
 *
 * Any input that jansson parses (any JSON value, \u0000 in strings allowed) is
 * written back by jsonw_dumps() and by json_dumps() with and without sorted keys: the
 * two texts must be byte for byte the same (the audit chain hashes this text), and
 * the text must parse back to an equal value.
 * Build: see fuzz/run (linked against the instrumented library).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "jsonw_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	json_t *v = json_loadb((const char *)buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!v)
		return 0;
	for (int sort = 0; sort < 2; sort++) {
		size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | (sort ? JSON_SORT_KEYS : 0);
		char *want = json_dumps(v, flags), *got = jsonw_dumps(v, sort);
		CHECK((want == NULL) == (got == NULL));
		if (want) {
			CHECK(strcmp(want, got) == 0);
			json_t *back = json_loads(got, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
			CHECK(back && json_equal(back, v));
			json_decref(back);
		}
		free(want);
		free(got);
	}
	json_decref(v);
	return 0;
}
