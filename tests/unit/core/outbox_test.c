/*
 * outbox_test.c - code pools, outbound webhooks (transactional outbox, Standard
 * Webhooks signatures, retries against a flaky receiver, 410, SSRF refusals) and e-mail
 * notifications against a local SMTP sink (recipients, codes, escaping, opt-out, and no
 * second message after a crash mid-send).
 */
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "connect/fakes.h"
#include "core/engine_fixture.h"
#include "fulfill/crypto.h"

static struct fx F;
static struct fake P;

static void setup(void)
{
	fx_open(&F);
	engine_close(F.e);
	snprintf(F.cfg.webhook_allow_hosts, sizeof(F.cfg.webhook_allow_hosts), "127.0.0.1");
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	P.pid = 0;
}

static void teardown(void)
{
	fake_stop(&P);
	fx_check_invariants(&F);
	fx_close(&F);
}

TestSuite(outbox, .init = setup, .fini = teardown, .timeout = 60);

/* The result of an engine call that must succeed. */
#define call_ok(call, out, d)                                                                      \
	({                                                                                         \
		enum ff_err e_ = (call);                                                           \
		cr_assert_eq(e_, FF_OK, "%s (%s)", (d)->message, (d)->param);                      \
		(out);                                                                             \
	})

#define COUPONS                                                                                                 \
	"{\"id\":\"cp\",\"name\":\"Coupons\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"           \
	"\"conversion.amount\"},1]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"coupon\",\"pool\":\"spring\"}]," \
	"\"hold_days\":0,\"expires_days\":365}"


static json_t *endpoint(const char *url, const char *events)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "{\"url\":\"%s\",\"events\":%s}", url, events);
	json_t *body = json_loads(buf, 0, NULL), *out = NULL;
	struct ff_diag d;
	out = call_ok(engine_webhook_endpoint_create(F.e, &F.cli, body, &out, &d), out, &d);
	json_decref(body);
	return out;
}

Test(outbox, code_pool_upload_assign_hold_release_limit_low_stock)
{
	fake_start(&P, "tests/fakes/fake_provider.py", NULL, NULL, NULL, NULL);
	fx_program(&F, COUPONS);
	struct ff_diag d;
	json_t *out = NULL;
	json_t *body = json_loads("{\"low_stock_threshold\":1,\"per_participant_limit\":2}", 0, NULL);
	out = call_ok(engine_code_pool_put(F.e, &F.cli, "spring", body, &out, &d), out, &d);
	cr_assert(json_is_true(json_object_get(out, "low_stock")), "no codes: low before any alert");
	json_decref(out);
	json_decref(body);
	char url[128];
	snprintf(url, sizeof(url), "%s/hooks/ops", P.url);
	json_t *ep = endpoint(url, "[\"code_pool.low\"]");
	json_decref(ep);
	fx_participant(&F, "amy");
	fx_participant(&F, "ben");
	fx_friend_converts(&F, "cp", "amy", 0);
	json_decref(fx_worker(&F, T0 + 1000));
	/* no codes yet: held, and the pool says it is low */
	json_t *r = fx_rewards(&F, "approved", NULL);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 0), "reason")), "pool_empty");
	/* the reason filter finds it (through the partial index of held rewards) and only it */
	struct reward_filter rf = {.reason = "pool_empty"};
	struct page pg = {.limit = 10};
	out = call_ok(engine_rewards_list(F.e, &F.cli, &rf, &pg, &out, &d), out, &d);
	cr_assert_eq(json_array_size(json_object_get(out, "data")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(out, "data"), 0), "id")),
			 json_string_value(json_object_get(json_array_get(r, 0), "id")));
	json_decref(out);
	rf = (struct reward_filter){.status = "approved", .reason = "outcome_unknown"};
	out = call_ok(engine_rewards_list(F.e, &F.cli, &rf, &pg, &out, &d), out, &d);
	cr_assert_eq(json_array_size(json_object_get(out, "data")), 0);
	json_decref(out);
	rf = (struct reward_filter){.reason = "review:velocity"};
	out = call_ok(engine_rewards_list(F.e, &F.cli, &rf, &pg, &out, &d), out, &d);
	cr_assert_eq(json_array_size(json_object_get(out, "data")), 0);
	json_decref(out);
	out = NULL;
	rf = (struct reward_filter){.reason = "pool-empty"};
	cr_assert_eq(engine_rewards_list(F.e, &F.cli, &rf, &pg, &out, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "reason");
	/* the aging report's row of the held code: a reason, and null for its currency (a
	 * code has none), as the other reports write it */
	out = call_ok(engine_report_aging(F.e, &F.cli, T0 + 1000, &out, &d), out, &d);
	json_t *aged = json_array_get(json_object_get(out, "data"), 0);
	cr_assert_eq(json_array_size(json_object_get(out, "data")), 1, "%s", json_dumps(out, 0));
	cr_assert_str_eq(json_string_value(json_object_get(aged, "reason")), "pool_empty");
	cr_assert(json_is_null(json_object_get(aged, "currency")), "%s", json_dumps(aged, 0));
	struct ffbuf aged_csv;
	ffbuf_init(&aged_csv, 0);
	cr_assert_eq(engine_report_csv(out, &aged_csv, &d), FF_OK);
	cr_assert_not_null(strstr(aged_csv.data, ",pool_empty,0-7,,1,"), "%s", aged_csv.data);
	ffbuf_release(&aged_csv);
	json_decref(out);
	rf = (struct reward_filter){.reason = "review:"};
	cr_assert_eq(engine_rewards_list(F.e, &F.cli, &rf, &pg, &out, &d), FF_E_INVALID);
	json_decref(r);
	const char *csv = "code\r\nSPRING-A\r\nSPRING-B\r\n\r\nSPRING-A\r\nSPRING-C\r\nSPRING-D\r\n";
	out = call_ok(engine_code_pool_upload_csv(F.e, &F.cli, "spring", csv, strlen(csv), &out, &d), out, &d);
	cr_assert_eq(json_integer_value(json_object_get(out, "added")), 4);
	cr_assert_eq(json_integer_value(json_object_get(out, "duplicates")), 1);
	json_decref(out);
	body = json_loads("{\"codes\":[\"SPRING-D\",\"SPRING-E\"]}", 0, NULL);
	out = call_ok(engine_code_pool_upload(F.e, &F.cli, "spring", body, &out, &d), out, &d);
	cr_assert_eq(json_integer_value(json_object_get(out, "added")), 1);
	cr_assert_eq(json_integer_value(json_object_get(out, "duplicates")), 1);
	json_decref(out);
	json_decref(body);
	/* the upload released the held reward by itself */
	r = fx_rewards(&F, "approved", NULL);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 0), "reason")), "awaiting_fulfillment");
	json_decref(r);
	fx_friend_converts(&F, "cp", "amy", 1);
	fx_friend_converts(&F, "cp", "amy", 2); /* over amy's limit of 2 */
	fx_friend_converts(&F, "cp", "ben", 0);
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 3);
	cr_assert_eq(fx_count_status(&F, "failed"), 1, "per-participant limit");
	r = fx_rewards(&F, "fulfilled", NULL);
	const char *codes[3];
	for (int i = 0; i < 3; i++) {
		codes[i] = json_string_value(json_object_get(json_array_get(r, (size_t)i), "code"));
		cr_assert_not_null(codes[i]);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(codes[i], codes[j], "a code is never given twice");
	}
	json_decref(r);
	out = call_ok(engine_code_pool_get(F.e, &F.cli, "spring", &out, &d), out, &d);
	cr_assert_eq(json_integer_value(json_object_get(out, "available")), 2);
	cr_assert_eq(json_integer_value(json_object_get(out, "assigned")), 3);
	cr_assert_eq(json_integer_value(json_object_get(out, "redeemed")), 0);
	cr_assert(json_is_false(json_object_get(out, "low_stock")), "2 codes left, above the threshold of 1");
	json_decref(out);
	out = call_ok(engine_code_set_status(F.e, &F.cli, "spring", "SPRING-A", "redeemed", &out, &d), out, &d);
	json_decref(out);
	/* code_pool.low went out: once when empty, once more when the stock dipped again */
	json_decref(fx_worker(&F, T0 + 3000));
	cr_assert_geq(fake_stat(&P, "requests"), 1);
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	json_t *h = json_array_get(json_object_get(s, "hooks"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(h, "body"), "type")), "code_pool.low");
	json_decref(s);
	/* bad uploads name the line */
	const char *bad = "code\nOK-1\nhas space\n";
	cr_assert_eq(engine_code_pool_upload_csv(F.e, &F.cli, "spring", bad, strlen(bad), &out, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "line 3");
	/* several columns: the one named "code" is read (quoted, in any place); without such
	 * a header a line of several values is refused, not stored as a code */
	const char *wide = "\xEF\xBB\xBFvalue,Code,note\r\n10,\"W-1\",x\r\n10,W-2,\"a, b\"\r\n,,\r\n";
	out = call_ok(engine_code_pool_upload_csv(F.e, &F.cli, "spring", wide, strlen(wide), &out, &d), out, &d);
	cr_assert_eq(json_integer_value(json_object_get(out, "added")), 2, "%s", json_dumps(out, 0));
	json_decref(out);
	cr_assert_eq(engine_code_set_status(F.e, &F.cli, "spring", "W-1", "void", &out, &d), FF_OK, "W-1 stored as such");
	json_decref(out);
	const char *first = "code,note\nZ-1,x\n";
	out = call_ok(engine_code_pool_upload_csv(F.e, &F.cli, "spring", first, strlen(first), &out, &d), out, &d);
	cr_assert_eq(json_integer_value(json_object_get(out, "added")), 1, "the code column first");
	json_decref(out);
	const char *headless = "X-1\nX-2,10\n";
	cr_assert_eq(engine_code_pool_upload_csv(F.e, &F.cli, "spring", headless, strlen(headless), &out, &d),
		     FF_E_INVALID);
	cr_assert_str_eq(d.param, "line 2");
	cr_assert_eq(engine_code_set_status(F.e, &F.cli, "spring", "X-1", "void", &out, &d), FF_E_NOT_FOUND,
		     "a refused upload stores nothing");
	const char *trailing = "Y-1,\nY-2,,\n";
	out = call_ok(engine_code_pool_upload_csv(F.e, &F.cli, "spring", trailing, strlen(trailing), &out, &d), out, &d);
	cr_assert_eq(json_integer_value(json_object_get(out, "added")), 2, "trailing empty fields are no values");
	json_decref(out);
}

/* The receiver's check: a fresh timestamp and a valid signature. */
static bool receiver_accepts(const char *secret, const char *id, int64_t ts, const char *body, const char *sig,
			     int64_t now)
{
	if (ts < now - 300 || ts > now + 300)
		return false;
	return crypto_webhook_verify(secret, id, ts, body, strlen(body), sig);
}

Test(outbox, webhook_signatures_valid_bit_flipped_wrong_secret_stale)
{
	fake_start(&P, "tests/fakes/fake_provider.py", NULL, NULL, NULL, NULL);
	fx_program(&F, GIVE20);
	char url[128];
	snprintf(url, sizeof(url), "%s/hooks/sig", P.url);
	json_t *ep = endpoint(url, "[\"reward.fulfilled\"]");
	const char *secret = json_string_value(json_object_get(ep, "secret"));
	cr_assert_eq(strncmp(secret, "whsec_", 6), 0);
	fake_mode(&P, "{\"secret\":\"__S__\"}"); /* set below with the real one */
	char mode[256];
	snprintf(mode, sizeof(mode), "{\"secret\":\"%s\"}", secret);
	fake_mode(&P, mode);
	fx_participant(&F, "jo");
	fx_friend_converts(&F, "give20", "jo", 0);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fake_stat(&P, "bad_signatures"), 0, "the receiver verified every signature");
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	cr_assert_eq(json_array_size(json_object_get(s, "hooks")), 2, "two rewards fulfilled, two events");
	json_decref(s);
	/* the scheme, as a receiver checks it */
	const char *id = "msg_2bHqZ6Kk", *body = "{\"type\":\"reward.fulfilled\"}";
	int64_t now = (int64_t)time(NULL);
	char sig[128];
	cr_assert_eq(crypto_webhook_sign(secret, id, now, body, strlen(body), sig, sizeof(sig)), 0);
	cr_assert(receiver_accepts(secret, id, now, body, sig, now));
	char flipped[64];
	snprintf(flipped, sizeof(flipped), "%s", body);
	flipped[3] ^= 1;
	cr_assert_not(receiver_accepts(secret, id, now, flipped, sig, now), "one bit flipped");
	cr_assert_not(receiver_accepts("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id, now, body, sig, now), "wrong secret");
	char stale[128];
	crypto_webhook_sign(secret, id, now - 600, body, strlen(body), stale, sizeof(stale));
	cr_assert_not(receiver_accepts(secret, id, now - 600, body, stale, now), "stale timestamp");
	/* the deliveries list shows each attempt */
	json_t *out = NULL;
	struct ff_diag d;
	out = call_ok(engine_webhook_deliveries(F.e, &F.cli, json_string_value(json_object_get(ep, "id")), NULL, &out, &d),
		      out, &d);
	cr_assert_eq(json_array_size(json_object_get(out, "data")), 2);
	cr_assert(json_is_true(json_object_get(json_array_get(json_object_get(out, "data"), 0), "success")));
	json_decref(out);
	/* GET never shows the secret again */
	out = call_ok(engine_webhook_endpoint_get(F.e, &F.cli, json_string_value(json_object_get(ep, "id")), &out, &d),
		      out, &d);
	cr_assert_null(json_object_get(out, "secret"));
	json_decref(out);
	json_decref(ep);
}

Test(outbox, flaky_receiver_gets_every_event_with_stable_ids)
{
	fake_start(&P, "tests/fakes/fake_provider.py", NULL, NULL, NULL, NULL);
	fx_program(&F, GIVE20);
	char url[128];
	snprintf(url, sizeof(url), "%s/hooks/flaky", P.url);
	json_t *ep = endpoint(url, "[]");
	/* at most 4 failures of one message: 8 attempts always end in its delivery (with
	 * 0.3 alone, one of the 90 failing all 8 times made the test fail once in ~150 runs) */
	fake_mode(&P, "{\"fail_rate\":0.3,\"max_failures_per_id\":4}");
	fx_participant(&F, "kai");
	for (int i = 0; i < 15; i++)
		fx_friend_converts(&F, "give20", "kai", i);
	/* 30 rewards x (created, approved, fulfilled) = 90 events; walk the clock over the
	 * retry schedule */
	static const int64_t steps[] = {1000, 6000, 306000, 2106000, 9306000, 27306000, 63306000, 99306000};
	for (int k = 0; k < 8; k++)
		json_decref(fx_worker(&F, T0 + steps[k] + 1000));
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	json_t *ids = json_object_get(s, "hook_ids");
	cr_assert_eq(json_object_size(ids), 90, "every event arrived (%zu)", json_object_size(ids));
	int retried = 0;
	const char *k;
	json_t *v;
	json_object_foreach(ids, k, v) retried += json_integer_value(v) > 1;
	(void)retried; /* a failed attempt is not received; the same webhook-id comes again */
	json_decref(s);
	json_t *out = NULL;
	struct ff_diag d;
	out = call_ok(engine_webhook_endpoint_get(F.e, &F.cli, json_string_value(json_object_get(ep, "id")), &out, &d),
		      out, &d);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "deliveries"), "succeeded")), 90);
	json_decref(out);
	json_decref(ep);
}

Test(outbox, gone_disables_the_endpoint)
{
	fake_start(&P, "tests/fakes/fake_provider.py", NULL, NULL, NULL, NULL);
	fx_program(&F, GIVE20);
	char url[128];
	snprintf(url, sizeof(url), "%s/hooks/gone", P.url);
	json_t *ep = endpoint(url, "[\"reward.fulfilled\"]");
	fake_mode(&P, "{\"fail_rate\":1,\"fail_status\":410}");
	fx_participant(&F, "lou");
	fx_friend_converts(&F, "give20", "lou", 0);
	json_decref(fx_worker(&F, T0 + 1000));
	json_t *out = NULL;
	struct ff_diag d;
	out = call_ok(engine_webhook_endpoint_get(F.e, &F.cli, json_string_value(json_object_get(ep, "id")), &out, &d),
		      out, &d);
	cr_assert_str_eq(json_string_value(json_object_get(out, "status")), "disabled");
	json_decref(out);
	int64_t before = fake_stat(&P, "requests");
	fx_friend_converts(&F, "give20", "lou", 1);
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fake_stat(&P, "requests"), before, "a disabled endpoint gets nothing");
	json_decref(ep);
}

/* A 410 and a 2xx from the same endpoint in one batch (it went away meanwhile): the
 * delivery that got the 2xx counts as succeeded, the endpoint is disabled. */
Test(outbox, gone_beside_a_success_keeps_the_success)
{
	fake_start(&P, "tests/fakes/fake_provider.py", NULL, NULL, NULL, NULL);
	fx_program(&F, GIVE20);
	char url[128];
	snprintf(url, sizeof(url), "%s/hooks/going", P.url);
	json_t *ep = endpoint(url, "[\"reward.fulfilled\"]");
	fx_participant(&F, "lou");
	fx_friend_converts(&F, "give20", "lou", 0); /* two rewards: two deliveries in one batch */
	fake_mode(&P, "{\"fail_next\":1,\"fail_status\":410}");
	json_decref(fx_worker(&F, T0 + 1000));
	json_t *out = NULL;
	struct ff_diag d;
	out = call_ok(engine_webhook_endpoint_get(F.e, &F.cli, json_string_value(json_object_get(ep, "id")), &out, &d),
		      out, &d);
	cr_assert_str_eq(json_string_value(json_object_get(out, "status")), "disabled");
	json_t *counts = json_object_get(out, "deliveries");
	cr_assert_eq(json_integer_value(json_object_get(counts, "succeeded")), 1, "%s", json_dumps(counts, 0));
	cr_assert_eq(json_integer_value(json_object_get(counts, "failed")), 1);
	json_decref(out);
	json_decref(ep);
}

Test(outbox, endpoint_urls_refused_by_the_ssrf_guard)
{
	engine_close(F.e);
	F.cfg.webhook_allow_hosts[0] = '\0';
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	static const char *const urls[] = {"http://127.0.0.1:8080/h", "http://[::1]/h", "http://169.254.169.254/h",
					   "http://10.0.0.1/h", "http://[::ffff:127.0.0.1]/h", "http://2130706433/h",
					   "http://localhost/h", NULL};
	for (int i = 0; urls[i]; i++) {
		char buf[256];
		snprintf(buf, sizeof(buf), "{\"url\":\"%s\"}", urls[i]);
		json_t *body = json_loads(buf, 0, NULL), *out = NULL;
		cr_expect_eq(engine_webhook_endpoint_create(F.e, &F.cli, body, &out, &d), FF_E_INVALID, "%s accepted",
			     urls[i]);
		json_decref(body);
	}
	json_t *body = json_loads("{\"url\":\"https://8.8.8.8/h\",\"events\":[\"reward.nope\"]}", 0, NULL), *out = NULL;
	cr_assert_eq(engine_webhook_endpoint_create(F.e, &F.cli, body, &out, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "events");
	json_decref(body);
}

/* ---- e-mail ---- */

#define MAIL_PROGRAM                                                                                            \
	"{\"id\":\"mail\",\"name\":\"Mail & More\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"      \
	"\"conversion.amount\"},1]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"coupon\",\"pool\":\"mp\"}],"    \
	"\"hold_days\":0,\"expires_days\":365,\"notifications\":{\"from\":\"Rewards <rewards@acme.test>\","      \
	"\"milestones\":[\"fulfilled\"],\"templates\":{\"fulfilled\":{\"subject\":\"Your code, "                 \
	"{{participant.name}}\",\"text\":\"Code: {{reward.code}}\",\"html\":\"<p>Hi {{participant.name}}, "      \
	"your code is <b>{{reward.code}}</b></p>\"}}}}"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strdup(buf);
}

static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void mail_setup(const char *sink_flag, const char *sink_n, char *out_path, size_t n)
{
	snprintf(out_path, n, "%s/mail.jsonl", F.dir);
	fake_start(&P, "tests/fakes/smtp_sink.py", "--out", out_path, sink_flag, sink_n);
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"type\":\"smtp\",\"config\":{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"rewards@acme.test\","
		 "\"username\":\"u\",\"password\":\"secret-pass-1\",\"timeout_ms\":3000}}",
		 P.port);
	json_t *body = json_loads(buf, 0, NULL), *out = NULL;
	struct ff_diag d;
	json_decref(call_ok(engine_connector_put(F.e, &F.cli, "smtp", body, &out, &d), out, &d));
	json_decref(body);
	fx_program(&F, MAIL_PROGRAM);
	const char *csv = "C-1\nC-2\nC-3\n";
	out = call_ok(engine_code_pool_upload_csv(F.e, &F.cli, "mp", csv, strlen(csv), &out, &d), out, &d);
	json_decref(out);
	fx_ok(&F, "{\"id\":\"p-m1\",\"type\":\"participant\",\"data\":{\"id\":\"m1\",\"email\":\"m1@example.com\","
		  "\"name\":\"<Mo & \\\"Co\\\">\",\"status\":\"active\"}}");
	fx_ok(&F, "{\"id\":\"p-m2\",\"type\":\"participant\",\"data\":{\"id\":\"m2\",\"email\":\"m2@example.com\","
		  "\"name\":\"Opt Out\",\"status\":\"active\",\"attributes\":{\"email_opt_out\":true}}}");
}

Test(outbox, email_on_fulfilment_with_code_escaped_and_opt_out)
{
	char path[600];
	mail_setup(NULL, NULL, path, sizeof(path));
	fx_friend_converts(&F, "mail", "m1", 0);
	fx_friend_converts(&F, "mail", "m2", 0);
	json_t *w = fx_worker(&F, T0 + 1000);
	json_t *nl = NULL;
	struct ff_diag dd;
	engine_notifications_list(F.e, &F.cli, NULL, NULL, &nl, &dd);
	cr_assert_eq(json_integer_value(json_object_get(w, "emails")), 1, "%s", json_dumps(nl, 0));
	json_decref(w);
	json_decref(nl);
	char *log = read_file(path);
	cr_assert_eq(lines(log), 1, "one message (m2 opted out): %s", log);
	json_t *m = json_loads(log, 0, NULL);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "to"), 0)), "<m1@example.com>");
	const char *data = json_string_value(json_object_get(m, "data"));
	cr_assert_not_null(strstr(data, "Code: C-1"), "%s", data);
	cr_assert_not_null(strstr(data, "Hi &lt;Mo &amp; &quot;Co&quot;&gt;, your code is <b>C-1</b>"), "%s", data);
	cr_assert_not_null(strstr(data, "Message-ID: <ntf_"), "%s", data);
	json_decref(m);
	free(log);
	/* the next pass sends nothing again */
	json_decref(fx_worker(&F, T0 + 400000));
	log = read_file(path);
	cr_assert_eq(lines(log), 1);
	free(log);
}

/* Quoted-printable decoding (soft breaks joined, =XX decoded), for the test below. */
static char *qp_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
		} else if (s[i] == '=' && i + 2 < n) {
			unsigned v;
			sscanf(s + i + 1, "%2X", &v);
			*o++ = (char)v;
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* RFC 5322 lines end at 998 bytes: a template's long HTML line goes out
 * quoted-printable (lines of 76 at most, decoding to the same text), and a long
 * non-ASCII subject as folded encoded words of at most 75 characters. */
Test(outbox, email_long_lines_are_encoded_within_the_line_limit)
{
	char path[600];
	mail_setup(NULL, NULL, path, sizeof(path));
	char html[4000] = "<p>", subject[2000] = "";
	for (int i = 0; i < 150; i++)
		strcat(html, "a=b \\u00e9 ");
	strcat(html, "{{reward.code}}</p>");
	for (int i = 0; i < 30; i++)
		strcat(subject, "\\u0412\\u0430\\u0448 ");
	char prog[8000];
	snprintf(prog, sizeof(prog),
		 "{\"id\":\"mail\",\"name\":\"Mail\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"
		 "\"conversion.amount\"},1]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"coupon\",\"pool\":\"mp\"}],"
		 "\"hold_days\":0,\"expires_days\":365,\"notifications\":{\"from\":\"rewards@acme.test\","
		 "\"milestones\":[\"fulfilled\"],\"templates\":{\"fulfilled\":{\"subject\":\"%s{{reward.code}}\","
		 "\"html\":\"%s\"}}}}",
		 subject, html);
	fx_program(&F, prog);
	fx_friend_converts(&F, "mail", "m1", 0);
	json_decref(fx_worker(&F, T0 + 1000));
	char *log = read_file(path);
	cr_assert_eq(lines(log), 1, "%s", log);
	json_t *m = json_loads(log, 0, NULL);
	const char *data = json_string_value(json_object_get(m, "data"));
	cr_assert_not_null(data);
	/* every line within the limit */
	for (const char *l = data; *l;) {
		const char *e = strstr(l, "\r\n");
		size_t len = e ? (size_t)(e - l) : strlen(l);
		cr_assert_leq(len, 78, "a line of %zu bytes: %.100s", len, l);
		l += len + (e ? 2 : 0);
	}
	/* the subject: folded encoded words that decode to the rendered subject */
	const char *sub = strstr(data, "\r\nSubject:");
	cr_assert_not_null(sub);
	char got[2000] = "";
	size_t gl = 0;
	const char *hend = sub + 2;
	while ((hend = strstr(hend, "\r\n")) && hend[2] == ' ')
		hend += 2; /* a folded line goes on */
	for (const char *w = sub; (w = strstr(w, "=?UTF-8?B?")) && w < hend;) {
		const char *end = strstr(w, "?=");
		cr_assert_leq((size_t)(end + 2 - w), 75);
		size_t bl = 0;
		cr_assert_eq(sodium_base642bin((unsigned char *)got + gl, sizeof(got) - gl - 1, w + 10, (size_t)(end - w - 10),
					       NULL, &bl, NULL, sodium_base64_VARIANT_ORIGINAL),
			     0);
		gl += bl;
		w = end;
	}
	got[gl] = '\0';
	char want[2000] = "";
	for (int i = 0; i < 30; i++)
		strcat(want, "\xd0\x92\xd0\xb0\xd1\x88 ");
	strcat(want, "C-1");
	cr_assert_str_eq(got, want);
	/* the HTML part */
	cr_assert_not_null(strstr(data, "Content-Transfer-Encoding: quoted-printable\r\n\r\n"), "%.600s", data);
	const char *body = strstr(data, "Content-Transfer-Encoding: quoted-printable\r\n\r\n") + 47;
	char *dec = qp_decode(body, strlen(body));
	char want_html[4000] = "<p>";
	for (int i = 0; i < 150; i++)
		strcat(want_html, "a=b \xc3\xa9 ");
	strcat(want_html, "C-1</p>");
	cr_assert_eq(strncmp(dec, want_html, strlen(want_html)), 0, "%.300s", dec);
	free(dec);
	json_decref(m);
	free(log);
}

Test(outbox, notifications_list_pages_in_creation_order)
{
	char path[600];
	mail_setup(NULL, NULL, path, sizeof(path));
	for (int i = 0; i < 3; i++)
		fx_friend_converts(&F, "mail", "m1", i);
	json_decref(fx_worker(&F, T0 + 1000));
	json_t *nl = NULL;
	struct ff_diag dd;
	cr_assert_eq(engine_notifications_list(F.e, &F.cli, NULL, NULL, &nl, &dd), FF_OK, "%s", dd.message);
	/* the list pages with limit and starting_after, in creation order */
	size_t all = json_array_size(json_object_get(nl, "data"));
	cr_assert_eq(all, 3, "%s", json_dumps(nl, 0));
	char after[64] = "";
	for (size_t i = 0; i < all; i++) {
		struct page pg = {.limit = 1, .starting_after = after[0] ? after : NULL};
		json_t *one = NULL;
		cr_assert_eq(engine_notifications_list(F.e, &F.cli, NULL, &pg, &one, &dd), FF_OK, "%s", dd.message);
		json_t *got = json_array_get(json_object_get(one, "data"), 0);
		cr_assert_eq(json_array_size(json_object_get(one, "data")), 1);
		cr_assert_str_eq(json_string_value(json_object_get(got, "id")),
				 json_string_value(json_object_get(json_array_get(json_object_get(nl, "data"), i), "id")));
		cr_assert_eq(json_is_true(json_object_get(one, "has_more")), i + 1 < all, "page %zu", i);
		snprintf(after, sizeof(after), "%s", json_string_value(json_object_get(got, "id")));
		json_decref(one);
	}
	json_decref(nl);
	/* an unknown starting_after: nothing after it */
	struct page gone = {.limit = 5, .starting_after = "ntf_nope"};
	cr_assert_eq(engine_notifications_list(F.e, &F.cli, NULL, &gone, &nl, &dd), FF_OK, "%s", dd.message);
	cr_assert_eq(json_array_size(json_object_get(nl, "data")), 0);
	json_decref(nl);
}

Test(outbox, email_crash_after_hand_over_is_not_sent_twice)
{
	char path[600];
	mail_setup("--drop-after-data", "1", path, sizeof(path));
	fx_friend_converts(&F, "mail", "m1", 0);
	json_decref(fx_worker(&F, T0 + 1000));
	for (int i = 1; i < 8; i++)
		json_decref(fx_worker(&F, T0 + 1000 + i * 3600000LL));
	char *log = read_file(path);
	cr_assert_eq(lines(log), 1, "the server got it once: %s", log);
	free(log);
	json_t *out = NULL;
	struct ff_diag d;
	out = call_ok(engine_notifications_list(F.e, &F.cli, NULL, NULL, &out, &d), out, &d);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(out, "data"), 0), "status")),
			 "unknown");
	json_decref(out);
}

Test(outbox, email_temporary_failure_is_retried_once_delivered)
{
	char path[600];
	mail_setup("--fail-data", "1", path, sizeof(path));
	fx_friend_converts(&F, "mail", "m1", 0);
	json_decref(fx_worker(&F, T0 + 1000));
	json_decref(fx_worker(&F, T0 + 10000));
	json_decref(fx_worker(&F, T0 + 20000));
	char *log = read_file(path);
	cr_assert_eq(lines(log), 1, "%s", log);
	free(log);
}

Test(outbox, unknown_placeholder_refused_at_save)
{
	json_t *doc = json_loads(
		"{\"id\":\"bad\",\"name\":\"B\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\","
		"\"amount\":100}],\"notifications\":{\"templates\":{\"earned\":{\"text\":\"{{reward.secret}}\"}}}}",
		0, NULL);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_load(F.e, &F.cli, doc, true, &out, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "notifications.templates.earned.text");
	cr_assert_not_null(strstr(d.message, "reward.secret"));
	json_decref(doc);
}

/* PUT of an smtp connector with this url and from (JSON string bodies, escapes allowed)
 * is refused naming `param`. */
static void expect_smtp_refused(const char *url, const char *from, const char *param)
{
	struct ff_diag d;
	char buf[512];
	snprintf(buf, sizeof(buf), "{\"type\":\"smtp\",\"config\":{\"url\":\"%s\",\"from\":\"%s\"}}", url, from);
	json_t *body = json_loads(buf, JSON_ALLOW_NUL, NULL), *out = NULL;
	cr_assert_not_null(body, "%s", buf);
	cr_expect_eq(engine_connector_put(F.e, &F.cli, "smtp", body, &out, &d), FF_E_INVALID, "%s", buf);
	cr_expect_str_eq(d.param, param, "%s", buf);
	json_decref(out);
	json_decref(body);
}

Test(outbox, smtp_url_must_be_smtp)
{
	/* libcurl uploads the message to whatever URL it speaks: file:// would write it into a
	 * file on this machine, http:// would post it to any address, past the SSRF guard */
	static const char *const refused[] = {"file:///tmp/fulfill-smtp-test", "http://169.254.169.254/latest/",
					      "gopher://127.0.0.1:6379/_x", "mail.example.com:25"};
	struct ff_diag d;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		expect_smtp_refused(refused[i], "r@acme.test", "config.url");
	json_t *body = json_loads("{\"type\":\"smtp\",\"config\":{\"url\":\"SMTPS://mail.example.com\",\"from\":"
				  "\"r@acme.test\"}}",
				  0, NULL),
	       *out = NULL;
	json_decref(call_ok(engine_connector_put(F.e, &F.cli, "smtp", body, &out, &d), out, &d));
	json_decref(body);
}

/* The smtp connector's sender goes into MAIL FROM and the From header: a line break in
 * it would add SMTP commands (another RCPT TO) or headers (Bcc:), so it is refused. */
Test(outbox, smtp_from_must_be_one_address)
{
	static const char *const refused[] = {"r@acme.test\\r\\nRCPT TO:<x@evil.test>", "Rewards <r@acme.test>\\nBcc: x@evil.test",
					      "nobody", "r@acme.test\\u0000"};
	struct ff_diag d;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		expect_smtp_refused("smtp://mail.example.com", refused[i], "config.from");
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM connectors"), 0);
	json_t *body = json_loads("{\"type\":\"smtp\",\"config\":{\"url\":\"smtp://mail.example.com\",\"from\":"
				  "\"Rewards <r@acme.test>\"}}",
				  0, NULL),
	       *out = NULL;
	json_decref(call_ok(engine_connector_put(F.e, &F.cli, "smtp", body, &out, &d), out, &d));
	json_decref(body);
}

Test(outbox, smtp_url_of_another_scheme_sends_nothing)
{
	/* a URL stored before the check (or written around it) is still never used */
	char path[600], target[700], sql[1200];
	mail_setup(NULL, NULL, path, sizeof(path));
	snprintf(target, sizeof(target), "%s/written-by-smtp", F.dir);
	snprintf(sql, sizeof(sql),
		 "UPDATE connectors SET config = '{\"url\":\"file://%s\",\"from\":\"rewards@acme.test\"}' "
		 "WHERE id = 'smtp'",
		 target);
	fx_sql(&F, sql);
	fx_friend_converts(&F, "mail", "m1", 0);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(access(target, F_OK), -1, "the message was written to %s", target);
	json_t *out = NULL;
	struct ff_diag d;
	out = call_ok(engine_notifications_list(F.e, &F.cli, NULL, NULL, &out, &d), out, &d);
	json_t *n = json_array_get(json_object_get(out, "data"), 0);
	cr_assert_str_neq(json_string_value(json_object_get(n, "status")), "sent", "%s", json_dumps(out, 0));
	json_decref(out);
}
