/*
 * fraud_fixture.h - what the fraud, governance and master-key tests share: an engine per
 * test from engine_fixture.h (invariants checked at teardown), a simple program "p"
 * (SIMPLE(extra) adds members to it), people with e-mail addresses, and referrals read
 * back with their status and first signal. Each test file that includes it gets its own
 * copies (the helpers are static), as with engine_fixture.h.
 */
#ifndef FULFILL_FRAUD_FIXTURE_H
#define FULFILL_FRAUD_FIXTURE_H

#include "engine_fixture.h"

static struct fx F;
static void setup(void) { fx_open(&F); }
static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

#define SIMPLE(extra)                                                                             \
	"{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","        \
	"\"type\":\"credit\",\"amount\":1000},{\"to\":\"referred\",\"type\":\"credit\",\"amount\":500}]" \
	extra "}"

static inline void person(const char *id, const char *email, const char *extra)
{
	fx_ok(&F,
	      "{\"id\":\"p-%s\",\"type\":\"participant\",\"data\":{\"id\":\"%s\",\"email\":\"%s\",\"country\":\"US\"%s}}",
	      id, id, email, extra ? extra : "");
}

/* Ingest a referral and return its status and first signal name (static buffers). */
static inline const char *refer(const char *ref, const char *referrer, const char *referred, const char *extra,
			 const char **out_signal)
{
	static char status[32], signal[64];
	fx_ok(&F,
	      "{\"id\":\"r-%s\",\"type\":\"referral\",\"data\":{\"id\":\"%s\",\"program\":\"p\",\"referrer\":\"%s\","
	      "\"referred\":\"%s\"%s}}",
	      ref, ref, referrer, referred, extra ? extra : "");
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_referral_get(F.e, &F.cli, ref, &r, &d), FF_OK);
	snprintf(status, sizeof(status), "%s", json_string_value(json_object_get(r, "status")));
	json_t *s0 = json_array_get(json_object_get(r, "signals"), 0);
	snprintf(signal, sizeof(signal), "%s", s0 ? json_string_value(json_object_get(s0, "signal")) : "");
	json_decref(r);
	if (out_signal)
		*out_signal = signal;
	return status;
}

#endif
