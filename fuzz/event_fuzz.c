/*
 * event_fuzz.c - libFuzzer driver for one event document through engine_ingest()
 * (src/core/ingest.c, rules.c, participant.c, reward.c, ledger.c, audit.c).
 *
 * The input is the raw text of one event, as POST /v1/events receives it. The engine
 * (fuzz_engine.h) has two active programs and seeded people, referrals and a fulfilled
 * conversion, so participant, referral, conversion and refund events all reach the
 * rules; each input runs in a transaction that is rolled back afterwards. Checked for
 * any input: no crash or sanitizer report, the transaction itself never fails, no
 * internal or storage error (a 500) from client input, a result exactly when the item
 * succeeded, and - within the same transaction - sending the same text again answers
 * "duplicate" with the same id.
 * Seeds: fuzz/corpus/event/. Build and run: fuzz/run.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	struct ff_diag d;
	ff_diag_clear(&d);
	fuzz_input_begin();
	struct ingest_item it = {.text = (const char *)buf, .len = len};
	enum ff_err err = engine_ingest(fuzz_engine, &fuzz_actor, &it, 1, &d);
	FUZZ_CHECK(err == FF_OK, "engine_ingest: %s", d.message);
	fuzz_check_item(&it);

	if (it.err == FF_OK) {
		/* dedup forever: the same event again is a duplicate of the same id */
		struct ingest_item again = {.text = (const char *)buf, .len = len};
		err = engine_ingest(fuzz_engine, &fuzz_actor, &again, 1, &d);
		FUZZ_CHECK(err == FF_OK, "engine_ingest (again): %s", d.message);
		fuzz_check_item(&again);
		FUZZ_CHECK(again.err == FF_OK, "accepted event fails the second time: %s", again.diag.message);
		FUZZ_CHECK(!strcmp(json_string_value(json_object_get(again.result, "outcome")), "duplicate"),
			   "an event sent twice is not a duplicate");
		FUZZ_CHECK(json_equal(json_object_get(again.result, "id"), json_object_get(it.result, "id")),
			   "duplicate answers another id");
		json_decref(again.result);
	}
	json_decref(it.result);
	fuzz_input_end();
	return 0;
}
