/*
 * connect_fixture.h - the fixture of the connector suites (connector_test.c,
 * provider_cases_test.c): an engine that may call loopback, the fake providers
 * (tests/fakes/fake_provider.py) started per test, and helpers to configure connectors
 * and earn rewards. Each including file has its own copy (static; unused helpers are fine) and declares its
 * own TestSuite with setup/teardown.
 */
#ifndef FULFILL_TEST_CONNECT_FIXTURE_H
#define FULFILL_TEST_CONNECT_FIXTURE_H

#include "core/engine_fixture.h"
#include "fakes.h"

static struct fx F;
static struct fake P, SMTP;

static __attribute__((unused)) void setup(void)
{
	fx_open(&F);
	engine_close(F.e);
	snprintf(F.cfg.webhook_allow_hosts, sizeof(F.cfg.webhook_allow_hosts), "127.0.0.1");
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	fake_start(&P, "tests/fakes/fake_provider.py", NULL, NULL, NULL, NULL);
}

static __attribute__((unused)) void teardown(void)
{
	fake_stop(&P);
	fake_stop(&SMTP);
	fx_check_invariants(&F);
	fx_close(&F);
}

/* PUT /v1/connectors/{id} with the JSON that fmt makes; the connector as read back. */
static __attribute__((unused)) json_t *put_connector(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static __attribute__((unused)) json_t *put_connector(const char *id, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_t *body = json_loads(buf, 0, NULL);
	cr_assert_not_null(body, "%s", buf);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_connector_put(F.e, &F.cli, id, body, &out, &d), FF_OK, "%s (%s)", d.message, d.param);
	json_decref(body);
	return out;
}

#define PROGRAM(id, type_fields, fulfillment)                                                                  \
	"{\"id\":\"" id "\",\"name\":\"P\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"            \
	"\"conversion.amount\"},1]},\"rewards\":[{\"to\":\"referrer\"," type_fields "}],\"hold_days\":0,"     \
	"\"expires_days\":365,\"fulfillment\":" fulfillment "}"

/* `n` referrals by `referrer` (with attributes `attrs`), each converting: n rewards. */
static __attribute__((unused)) void earn(const char *program, const char *referrer, const char *attrs, int n)
{
	fx_ok(&F,
	      "{\"id\":\"p-%s\",\"type\":\"participant\",\"data\":{\"id\":\"%s\",\"email\":\"%s@example.com\","
	      "\"name\":\"%s\",\"country\":\"US\",\"currency\":\"USD\",\"status\":\"active\",\"attributes\":%s}}",
	      referrer, referrer, referrer, referrer, attrs);
	for (int i = 0; i < n; i++)
		fx_friend_converts(&F, program, referrer, i);
}

/* `field` of the first reward with `status` (any status: NULL), "" when none. */
static __attribute__((unused)) const char *first_field(const char *status, const char *field)
{
	static char buf[256];
	json_t *r = fx_rewards(&F, status, NULL);
	const char *s = json_string_value(json_object_get(json_array_get(r, 0), field));
	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	json_decref(r);
	return buf;
}

/* Configure connector `type` (stripe or recurly; its id is its type) against the fake,
 * with a test key and `extra` appended to its config (e.g. ",\"backoff_base_ms\":0"). */
static __attribute__((unused)) void use_provider(const char *type, const char *extra)
{
	const char *key = !strcmp(type, "stripe") ? "sk_test_1234567890" : "rk_123456789012";
	json_decref(put_connector(type, "{\"type\":\"%s\",\"config\":{\"api_key\":\"%s\",\"base_url\":\"%s\"%s}}",
				  type, key, P.url, extra));
}

/* Program s pays a referrer credit of 2000 through the stripe connector, configured
 * against the fake with `extra` appended to its config (use_provider()). */
static __attribute__((unused)) void stripe_credit_program(const char *extra)
{
	fx_program(&F, PROGRAM("s", "\"type\":\"credit\",\"amount\":2000", "{\"credit\":\"stripe\"}"));
	use_provider("stripe", extra);
}

#endif
