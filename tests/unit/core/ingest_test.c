/*
 * ingest_test.c - events coming in, through the engine's public API on a real database
 * (engine_fixture.h): a duplicate event id changes nothing, everyday e-mail addresses
 * pass, a bad event fails alone and stores nothing, pre-parsed items keep their text,
 * and a failed write sent ahead fails only its own event.
 */
#include "core/core.h"
#include "fulfill/crypto.h"
#include "engine_fixture.h"

static struct fx F;
static void setup(void) { fx_open(&F); }
static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

TestSuite(ingest, .init = setup, .fini = teardown);

Test(ingest, duplicate_event_changes_nothing)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	json_t *first = NULL, *again = NULL;
	const char *ev = "{\"id\":\"evt-c1\",\"type\":\"conversion\",\"data\":{\"id\":\"o1\",\"participant\":\"tom\","
			 "\"amount\":7500,\"currency\":\"USD\"}}";
	cr_assert_eq(fx_event(&F, &first, NULL, "%s", ev), FF_OK);
	cr_assert_eq(fx_event(&F, &again, NULL, "%s", ev), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(again, "outcome")), "duplicate");
	cr_assert(json_equal(json_object_get(first, "rewards"), json_object_get(again, "rewards")));
	json_decref(first);
	json_decref(again);
	/* even a different body under the same id is a duplicate, forever */
	cr_assert_eq(fx_event(&F, &again, NULL,
			      "{\"id\":\"evt-c1\",\"type\":\"conversion\",\"data\":{\"id\":\"o9\",\"participant\":"
			      "\"tom\",\"amount\":99999,\"currency\":\"USD\"}}"),
		     FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(again, "outcome")), "duplicate");
	json_decref(again);
	json_t *all = fx_rewards(&F, NULL, NULL);
	cr_assert_eq(json_array_size(all), 2);
	json_decref(all);
}

/* Addresses people really have pass: international ones (UTF-8), plus signs, subdomains. */
Test(ingest, everyday_email_addresses_are_accepted)
{
	const char *ok[] = {"jo@example.com", "jo+shop@mail.example.co.uk", "jos\xc3\xa9@ex\xc3\xa4mple.de", "a@b"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(fx_ok(&F, "{\"id\":\"p%zu\",\"type\":\"participant\",\"data\":{\"id\":\"u%zu\",\"email\":\"%s\"}}",
				   i, i, ok[i]),
			     0, "%s", ok[i]);
}

Test(ingest, bad_events_fail_alone_and_store_nothing)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	static const struct {
		const char *text;
		enum ff_err err;
		const char *param;
	} cases[] = {
		{"{oops", FF_E_MALFORMED, ""},
		{"[1,2]", FF_E_INVALID, ""},
		{"{\"id\":\"x1\",\"type\":\"conversion\",\"data\":{},\"extra\":1}", FF_E_UNKNOWN_FIELD, "extra"},
		{"{\"id\":\"x2\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":1,"
		 "\"currency\":\"USD\",\"colour\":\"red\"}}",
		 FF_E_UNKNOWN_FIELD, "data.colour"},
		{"{\"id\":\"x3\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":\"75\","
		 "\"currency\":\"USD\"}}",
		 FF_E_INVALID_AMOUNT, "data.amount"},
		{"{\"id\":\"x4\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":75.5,"
		 "\"currency\":\"USD\"}}",
		 FF_E_INVALID_AMOUNT, "data.amount"},
		{"{\"id\":\"x5\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":-1,"
		 "\"currency\":\"USD\"}}",
		 FF_E_INVALID_AMOUNT, "data.amount"},
		{"{\"id\":\"x6\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":"
		 "99999999999999999999,\"currency\":\"USD\"}}",
		 FF_E_MALFORMED, ""},
		{"{\"id\":\"x7\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":"
		 "1000000000000001,\"currency\":\"USD\"}}",
		 FF_E_INVALID_AMOUNT, "data.amount"},
		{"{\"id\":\"x8\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"tom\",\"amount\":1,"
		 "\"currency\":\"XXQ\"}}",
		 FF_E_INVALID_CURRENCY, "data.currency"},
		{"{\"id\":\"x9\",\"type\":\"conversion\",\"data\":{\"id\":\"o\",\"participant\":\"ghost\",\"amount\":1,"
		 "\"currency\":\"USD\"}}",
		 FF_E_REF_NOT_FOUND, "data.participant"},
		{"{\"id\":\"x10\",\"type\":\"referral\",\"data\":{\"program\":\"nope\",\"referrer\":\"jessica\","
		 "\"referred\":\"z\"}}",
		 FF_E_REF_NOT_FOUND, "data.program"},
		{"{\"id\":\"x11\",\"type\":\"referral\",\"data\":{\"program\":\"give20\",\"referrer\":\"ghost\","
		 "\"referred\":\"z\"}}",
		 FF_E_REF_NOT_FOUND, "data.referrer"},
		{"{\"id\":\"x12\",\"type\":\"refund\",\"data\":{\"conversion\":\"ghost\"}}", FF_E_REF_NOT_FOUND,
		 "data.conversion"},
		{"{\"id\":\"x13\",\"type\":\"teleport\",\"data\":{}}", FF_E_INVALID, "type"},
		{"{\"id\":\"x14\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"country\":\"usa\"}}", FF_E_INVALID,
		 "data.country"},
		{"{\"id\":\"x15\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"status\":1}}", FF_E_INVALID,
		 "data.status"},
		{"{\"id\":\"\",\"type\":\"participant\",\"data\":{\"id\":\"q\"}}", FF_E_INVALID, "id"},
		{"{\"id\":\"x16\",\"type\":\"participant\",\"occurred_at\":\"yesterday\",\"data\":{\"id\":\"q\"}}",
		 FF_E_INVALID, "occurred_at"},
		{"{\"id\":\"x17\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"name\":\"\xff\xfe\"}}",
		 FF_E_INVALID_UTF8, ""},
		{"{\"id\":\"x18\",\"id\":\"x19\",\"type\":\"participant\",\"data\":{\"id\":\"q\"}}", FF_E_MALFORMED, ""},
		/* an address that would grow into a list or a header on its way to SMTP */
		{"{\"id\":\"x20\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"email\":\"x>,<evil@z.example\"}}",
		 FF_E_INVALID, "data.email"},
		{"{\"id\":\"x21\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"email\":\"a b@example.com\"}}",
		 FF_E_INVALID, "data.email"},
		{"{\"id\":\"x22\",\"type\":\"participant\",\"data\":{\"id\":\"q\",\"email\":\"jo@.example\"}}",
		 FF_E_INVALID, "data.email"},
		{"{\"id\":\"x23\",\"type\":\"referral\",\"data\":{\"program\":\"give20\",\"referrer\":\"jessica\","
		 "\"referred_email\":\"a;b@example.com\"}}",
		 FF_E_INVALID, "data.referred_email"},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct ingest_item items[32];
	memset(items, 0, sizeof(items));
	for (size_t i = 0; i < n; i++) {
		items[i].text = cases[i].text;
		items[i].len = strlen(cases[i].text);
	}
	/* a good event in the same batch is unaffected */
	const char *good = "{\"id\":\"good\",\"type\":\"conversion\",\"data\":{\"id\":\"o1\",\"participant\":\"tom\","
			   "\"amount\":7500,\"currency\":\"USD\"}}";
	items[n].text = good;
	items[n].len = strlen(good);
	struct ff_diag d;
	cr_assert_eq(engine_ingest(F.e, &F.cli, items, n + 1, &d), FF_OK);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(items[i].err, cases[i].err, "case %zu (%s): got %s: %s", i, cases[i].text,
			     ff_err_code(items[i].err), items[i].diag.message);
		cr_expect_str_eq(items[i].diag.param, cases[i].param, "case %zu param", i);
		cr_expect(items[i].diag.message[0], "case %zu has a message", i);
		cr_expect_null(items[i].result);
	}
	cr_assert_eq(items[n].err, FF_OK, "%s", items[n].diag.message);
	cr_assert_eq(json_array_size(json_object_get(items[n].result, "rewards")), 2);
	json_decref(items[n].result);
	json_t *q = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "q", &q, &d), FF_E_NOT_FOUND, "nothing stored");
	cr_assert_eq(engine_conversion_get(F.e, &F.cli, "o", &q, &d), FF_E_NOT_FOUND, "nothing stored");

	/* a too-large event and a re-sent rejected id */
	size_t big = (1 << 20) + 10;
	char *huge = malloc(big + 1);
	memset(huge, ' ', big);
	huge[big] = '\0';
	struct ingest_item it = {.text = huge, .len = big};
	cr_assert_eq(engine_ingest(F.e, &F.cli, &it, 1, &d), FF_OK);
	cr_assert_eq(it.err, FF_E_TOO_LARGE);
	free(huge);
	/* a rejected event id was not remembered: fixed, it is accepted */
	fx_ok(&F, "{\"id\":\"x9\",\"type\":\"participant\",\"data\":{\"id\":\"ghost\"}}");
}

/* A write whose answer nobody waits for (PostgreSQL pipelines it: store_exec_ahead)
 * and that fails must still fail its own event alone, wherever it sits in a batch,
 * and leave nothing of that event behind. The conversion insert fails for amount 13
 * (a trigger on SQLite, an index expression dividing by zero on PostgreSQL). */
/* An item parsed beforehand (as the HTTP threads do) is ingested from that value, and
 * its text, as received, is what is stored; a text that does not parse fails as it
 * would in the engine. */
Test(ingest, preparsed_items_store_their_text)
{
	fx_participant(&F, "jessica");
	const char *text = "{ \"id\" : \"c-pre\", \"type\":\"conversion\",\n \"data\": {\"id\": \"ord-pre\", "
			   "\"participant\": \"jessica\", \"amount\": 1200, \"currency\": \"USD\"} }";
	struct ingest_item it = {.text = text, .len = strlen(text)};
	struct ff_diag d;
	cr_assert_eq(engine_event_parse(it.text, it.len, &it.parsed, &d), FF_OK, "%s", d.message);
	cr_assert_eq(engine_ingest(F.e, &F.cli, &it, 1, &d), FF_OK, "%s", d.message);
	cr_assert_eq(it.err, FF_OK, "%s", it.diag.message);
	cr_assert_str_eq(json_string_value(json_object_get(it.result, "outcome")), "accepted");
	cr_assert_eq(it.parsed->refcount, 1, "the engine kept a reference");
	json_decref(it.parsed);
	json_decref(it.result);
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM events WHERE id = 'c-pre' AND body = '%s'", text);
	cr_assert_eq(fx_sql_int(&F, sql), 1, "the stored body is not the text as received");
	/* what does not parse: the engine's own errors */
	json_t *v = NULL;
	cr_assert_eq(engine_event_parse("{\"id\":", 7, &v, &d), FF_E_MALFORMED);
	cr_assert_null(v);
	cr_assert_eq(engine_event_parse("{\"a\":1,\"a\":2}", 13, &v, &d), FF_E_MALFORMED);
	cr_assert_eq(engine_event_parse("\"\xff\"", 3, &v, &d), FF_E_INVALID_UTF8);
	fx_check_invariants(&F);
}

Test(ingest, failed_write_sent_ahead_fails_its_event_alone)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	fx_referral(&F, "ref_2", "give20", "jessica", "ann");
	if (!strncmp(F.cfg.db_url, "postgresql://", 13))
		fx_sql(&F, "CREATE INDEX boom ON conversions ((1 / (amount - 13)))");
	else
		fx_sql(&F, "CREATE TRIGGER boom BEFORE INSERT ON conversions WHEN NEW.amount = 13 "
			   "BEGIN SELECT RAISE(ABORT, 'boom'); END");
	static const char *const texts[] = {
		"{\"id\":\"c1\",\"type\":\"conversion\",\"data\":{\"id\":\"o1\",\"participant\":\"tom\","
		"\"amount\":7500,\"currency\":\"USD\"}}",
		"{\"id\":\"c2\",\"type\":\"conversion\",\"data\":{\"id\":\"o2\",\"participant\":\"tom\","
		"\"amount\":13,\"currency\":\"USD\"}}",
		"{\"id\":\"c3\",\"type\":\"conversion\",\"data\":{\"id\":\"o3\",\"participant\":\"ann\","
		"\"amount\":7500,\"currency\":\"USD\"}}",
		"{\"id\":\"c4\",\"type\":\"conversion\",\"data\":{\"id\":\"o4\",\"participant\":\"ann\","
		"\"amount\":13,\"currency\":\"USD\"}}",
	};
	struct ingest_item items[4];
	memset(items, 0, sizeof(items));
	for (size_t i = 0; i < 4; i++) {
		items[i].text = texts[i];
		items[i].len = strlen(texts[i]);
	}
	struct ff_diag d;
	cr_assert_eq(engine_ingest(F.e, &F.cli, items, 4, &d), FF_OK, "%s", d.message);
	for (size_t i = 0; i < 4; i++) {
		bool bad = i % 2;
		cr_expect_eq(items[i].err, bad ? FF_E_STORE : FF_OK, "event %zu: %s: %s", i, ff_err_code(items[i].err),
			     items[i].diag.message);
		if (!bad)
			cr_expect_eq(json_array_size(json_object_get(items[i].result, "rewards")), 2, "event %zu", i);
		json_decref(items[i].result);
	}
	json_t *q = NULL;
	cr_assert_eq(engine_conversion_get(F.e, &F.cli, "o2", &q, &d), FF_E_NOT_FOUND, "nothing stored");
	cr_assert_eq(engine_conversion_get(F.e, &F.cli, "o4", &q, &d), FF_E_NOT_FOUND, "nothing stored");
	json_t *rw = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_array_size(rw), 2, "only the good events' rewards");
	json_decref(rw);
	/* one event on its own (the single-event path of the HTTP API) */
	json_t *ev = json_loads(texts[3], 0, NULL), *out = NULL;
	cr_assert_eq(engine_ingest_json(F.e, &F.cli, ev, &out, &d), FF_E_STORE);
	json_decref(ev);
	/* the events were not remembered: fixed, they are accepted */
	fx_sql(&F, !strncmp(F.cfg.db_url, "postgresql://", 13) ? "DROP INDEX boom" : "DROP TRIGGER boom");
	fx_ok(&F, "%s", texts[1]);
}
