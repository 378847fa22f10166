/*
 * program_fuzz.c - libFuzzer driver for program documents through
 * engine_program_put() (src/core/program.c: validation and compilation of every
 * field, JsonLogic validation of the rules, versioning and the audit record).
 *
 * The input is parsed as JSON (any value); the program id passed beside it is the
 * document's own "id" when that is a string (as PUT /v1/programs/{id} sends it), else
 * "fuzzprog". The engine is fuzz_engine.h's, with each input rolled back. Checked: no
 * crash or sanitizer report, no 500 from a client document, a result exactly on
 * success, the input document left unchanged, and an accepted document is a draft
 * version that reads back.
 * Seeds: fuzz/corpus/program/. Build and run: fuzz/run.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	json_t *doc = json_loadb((const char *)buf, len, JSON_DECODE_ANY, NULL);
	if (!doc)
		return 0;
	json_t *idv = json_is_object(doc) ? json_object_get(doc, "id") : NULL;
	char id[256];
	snprintf(id, sizeof(id), "%s", json_is_string(idv) ? json_string_value(idv) : "fuzzprog");
	json_t *copy = json_deep_copy(doc);
	struct ff_diag d;
	ff_diag_clear(&d);
	json_t *out = NULL;
	fuzz_input_begin();
	enum ff_err err = engine_program_put(fuzz_engine, &fuzz_actor, id, doc, &out, &d);
	fuzz_check_client_error(err, &d, "engine_program_put");
	FUZZ_CHECK((err == FF_OK) == (out != NULL), "result %s on %s", out ? "set" : "missing", ff_err_code(err));
	FUZZ_CHECK(json_equal(doc, copy), "engine_program_put changed its input");
	if (!err) {
		FUZZ_CHECK(!strcmp(json_string_value(json_object_get(out, "status")), "draft"), "not a draft");
		int version = (int)json_integer_value(json_object_get(out, "version"));
		FUZZ_CHECK(version >= 1, "version %d", version);
		json_t *got = NULL;
		ff_diag_clear(&d);
		err = engine_program_version(fuzz_engine, &fuzz_actor, id, version, &got, &d);
		FUZZ_CHECK(err == FF_OK, "the new version cannot be read: %s", d.message);
		json_decref(got);
	}
	json_decref(out);
	fuzz_input_end();
	json_decref(copy);
	json_decref(doc);
	return 0;
}
