/*
 * csv_fuzz.c - libFuzzer driver for the streaming CSV reader (src/util/csv.c).
 *
 * The first input byte picks the record limit (small limits exercise the resync path);
 * the rest is CSV. For any input the driver checks: no crash or sanitizer report; the
 * memory reader and the FILE reader return the same records, errors and line numbers;
 * line numbers never go backwards; no record holds more than the limit; and every
 * record read, written back with csv_write_field, reads back identically.
 * Build: clang -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Iinclude
 * fuzz/csv_fuzz.c src/util/csv.c src/util/buf.c src/util/error.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/buf.h"
#include "fulfill/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "csv_fuzz: check failed: %s (line %d)\n", #cond,           \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Write the record out and read it back: it must come back field for field, a field a
 * spreadsheet would run as a formula with the "'" that guards it. A BOM is written
 * first so that a first field starting with one survives. */
static void check_round_trip(char **fields, size_t n)
{
	if (n == 1 && fields[0][0] == '\0')
		return; /* a lone empty field is an empty line, which readers skip */

	struct ffbuf out;
	ffbuf_init(&out, 0);
	ffbuf_add(&out, "\xEF\xBB\xBF", 3);
	for (size_t i = 0; i < n; i++) {
		if (i)
			ffbuf_add(&out, ",", 1);
		csv_write_field(&out, fields[i]);
	}
	ffbuf_add(&out, "\r\n", 2);

	struct csv_reader *r = csv_open_mem(out.data, out.len, out.len + 1);
	char **back;
	size_t nback;
	const char *err;
	CHECK(csv_next(r, &back, &nback, &err) == 1);
	CHECK(nback == n);
	for (size_t i = 0; i < n; i++) {
		const char *got = back[i];
		if (csv_formula_like(fields[i])) {
			CHECK(got[0] == '\'');
			got++;
		}
		CHECK(strcmp(got, fields[i]) == 0);
	}
	CHECK(csv_next(r, &back, &nback, &err) == 0);
	csv_free(r);
	ffbuf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	if (len < 1)
		return 0;
	size_t max = (size_t)(buf[0] % 32) * 4 + 1;
	const char *text = (const char *)buf + 1;
	size_t tlen = len - 1;

	FILE *f = tlen ? fmemopen((void *)text, tlen, "rb") : NULL;
	struct csv_reader *rm = csv_open_mem(text, tlen, max);
	struct csv_reader *rf = f ? csv_open_file(f, max) : NULL;
	size_t last_line = 0, newlines = 0;
	for (size_t i = 0; i < tlen; i++)
		newlines += text[i] == '\n' || text[i] == '\r';

	for (size_t guard = 0; guard <= tlen + 1; guard++) {
		char **fm, **ff;
		size_t nm, nf;
		const char *em, *ef;
		int a = csv_next(rm, &fm, &nm, &em);
		if (a == 0)
			break;
		CHECK(a == 1 || (a == -1 && em != NULL));
		CHECK(csv_line(rm) >= last_line && csv_line(rm) <= newlines + 1);
		last_line = csv_line(rm);

		if (rf) {
			int b = csv_next(rf, &ff, &nf, &ef);
			CHECK(a == b);
			CHECK(csv_line(rf) == csv_line(rm));
			if (a == -1)
				CHECK(strcmp(em, ef) == 0);
		}
		if (a != 1)
			continue;
		size_t bytes = 0;
		for (size_t i = 0; i < nm; i++) {
			bytes += strlen(fm[i]);
			if (rf)
				CHECK(nf == nm && strcmp(fm[i], ff[i]) == 0);
		}
		CHECK(bytes <= max);
		check_round_trip(fm, nm);
	}
	if (rf) {
		char **ff;
		size_t nf;
		const char *ef;
		CHECK(csv_next(rf, &ff, &nf, &ef) == 0);
	}
	csv_free(rm);
	csv_free(rf);
	if (f)
		fclose(f);
	return 0;
}
