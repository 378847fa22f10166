/*
 * ndjson_fuzz.c - libFuzzer driver for a batch of events in one engine_ingest() call,
 * the way `fulfill ingest` and POST /v1/events with NDJSON hand them over.
 *
 * The input is cut at newlines (a trailing "\r" stays in the line, as the engine would
 * receive it from a careless client; blank lines are skipped like the CLI does), at most
 * MAX_ITEMS events, all in ONE transaction with a savepoint each, so one event's
 * failure must not disturb the others: later events see what earlier accepted ones
 * wrote. The same fuzz_engine.h database as event_fuzz.c; each input is rolled back.
 * Checked: no crash or sanitizer report, the transaction never fails, no 500 from client
 * input, a result exactly for the items that succeeded, and the batch sent again in the
 * same transaction answers every previously accepted item "duplicate" with its id.
 * Seeds: fuzz/corpus/ndjson/. Build and run: fuzz/run.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

#define MAX_ITEMS 64

static size_t split(const uint8_t *buf, size_t len, struct ingest_item *items)
{
	size_t n = 0;
	const char *p = (const char *)buf, *end = p + len;
	while (p < end && n < MAX_ITEMS) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		if (stop > p) {
			memset(&items[n], 0, sizeof(items[n]));
			items[n].text = p;
			items[n].len = (size_t)(stop - p);
			n++;
		}
		p = nl ? nl + 1 : end;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static struct ingest_item items[MAX_ITEMS], again[MAX_ITEMS];
	struct ff_diag d;
	ff_diag_clear(&d);
	size_t n = split(buf, len, items);
	if (!n)
		return 0;
	memcpy(again, items, n * sizeof(items[0]));
	fuzz_input_begin();
	enum ff_err err = engine_ingest(fuzz_engine, &fuzz_actor, items, n, &d);
	FUZZ_CHECK(err == FF_OK, "engine_ingest: %s", d.message);
	for (size_t i = 0; i < n; i++)
		fuzz_check_item(&items[i]);

	err = engine_ingest(fuzz_engine, &fuzz_actor, again, n, &d);
	FUZZ_CHECK(err == FF_OK, "engine_ingest (again): %s", d.message);
	for (size_t i = 0; i < n; i++) {
		fuzz_check_item(&again[i]);
		if (items[i].err)
			continue; /* it may succeed now: an event it needed came later in the batch */
		FUZZ_CHECK(again[i].err == FF_OK, "line %zu was accepted, then failed: %s", i + 1,
			   again[i].diag.message);
		FUZZ_CHECK(!strcmp(json_string_value(json_object_get(again[i].result, "outcome")), "duplicate"),
			   "line %zu sent twice is not a duplicate", i + 1);
		FUZZ_CHECK(json_equal(json_object_get(again[i].result, "id"), json_object_get(items[i].result, "id")),
			   "line %zu: duplicate answers another id", i + 1);
	}
	for (size_t i = 0; i < n; i++) {
		json_decref(items[i].result);
		json_decref(again[i].result);
	}
	fuzz_input_end();
	return 0;
}
