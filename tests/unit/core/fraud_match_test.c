/*
 * fraud_match_test.c - what the fraud signals count and match: the referred person's
 * prior conversions over the whole mailbox (live and simulated), the mailbox queries'
 * plans on PostgreSQL (the duplicate-referral ones on a realistic table), velocity per
 * program (and the index that serves it), domain blocklist entries over subdomains, and
 * migration 12's clean-up of domain entries saved with dots around them, and that the
 * reward-time checks see participant changes made since their rows were cached.
 */
#include <sqlite3.h>

#include "core/fraud.h"
#include "engine_fixture.h"
#include "store/store_int.h"

static struct fx F;
static void setup(void) { fx_open(&F); }
static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

TestSuite(fraud_match, .init = setup, .fini = teardown);

static void person(const char *id, const char *email)
{
	fx_ok(&F, "{\"id\":\"p-%s\",\"type\":\"participant\",\"data\":{\"id\":\"%s\",\"email\":\"%s\",\"country\":\"US\"}}",
	      id, id, email);
}

/* Ingest a referral in `program`; returns its status, with its first signal and that
 * signal's detail ("" for none) in static buffers. */
static const char *refer(const char *program, const char *ref, const char *referrer, const char *referred,
			 const char **out_signal, const char **out_detail)
{
	static char status[32], signal[64], detail[800];
	fx_ok(&F,
	      "{\"id\":\"r-%s\",\"type\":\"referral\",\"data\":{\"id\":\"%s\",\"program\":\"%s\",\"referrer\":\"%s\","
	      "\"referred\":\"%s\"}}",
	      ref, ref, program, referrer, referred);
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_referral_get(F.e, &F.cli, ref, &r, &d), FF_OK);
	snprintf(status, sizeof(status), "%s", json_string_value(json_object_get(r, "status")));
	json_t *s0 = json_array_get(json_object_get(r, "signals"), 0);
	snprintf(signal, sizeof(signal), "%s", s0 ? json_string_value(json_object_get(s0, "signal")) : "");
	snprintf(detail, sizeof(detail), "%s", s0 ? json_string_value(json_object_get(s0, "detail")) : "");
	json_decref(r);
	if (out_signal)
		*out_signal = signal;
	if (out_detail)
		*out_detail = detail;
	return status;
}

/* stats.referred_prior_conversions in the context stored with conversion `id`. */
static int64_t prior_conversions_seen(const char *id)
{
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT context FROM conversions WHERE id = '%s'", id);
	json_t *rows = fx_sql_texts(&F, sql);
	json_t *ctx = json_loads(json_string_value(json_array_get(rows, 0)), 0, NULL);
	cr_assert_not_null(ctx, "conversion %s has no context", id);
	json_t *n = json_object_get(json_object_get(ctx, "stats"), "referred_prior_conversions");
	cr_assert(json_is_integer(n), "conversion %s: no stats.referred_prior_conversions", id);
	int64_t v = json_integer_value(n);
	json_decref(ctx);
	json_decref(rows);
	return v;
}

/* existing_customer is off in these programs: the stat alone decides */
#define FIRST_PURCHASE_ONLY(id)                                                                          \
	"{\"id\":\"" id "\",\"name\":\"P\",\"currency\":\"USD\",\"fraud\":{\"existing_customer\":\"off\"},"   \
	"\"eligibility\":{\"==\":[{\"var\":\"stats.referred_prior_conversions\"},0]},\"rewards\":[{\"to\":"  \
	"\"referrer\",\"type\":\"credit\",\"amount\":1000}]}"

/* A second participant id of a mailbox that already bought is not a first-time buyer:
 * the stat counts the purchases of every id with the same normalized e-mail (upper
 * case, Gmail dots and +tags aside), as existing_customer does. */
Test(fraud_match, prior_conversions_count_the_whole_mailbox)
{
	fx_program(&F, FIRST_PURCHASE_ONLY("p"));
	person("ann", "ann@example.com");
	person("bob1", "Bob.Smith@gmail.com");
	person("bob2", "bobsmith+again@GMAIL.com");
	person("cid", "cid@example.com");
	cr_assert_eq(fx_conversion(&F, "o1", "bob1", 5000), 0, "no referral: nothing to earn");
	refer("p", "r1", "ann", "bob2", NULL, NULL);
	cr_assert_eq(fx_conversion(&F, "o2", "bob2", 5000), 0, "the mailbox bought before");
	cr_assert_eq(prior_conversions_seen("o2"), 1);
	/* someone else's first purchase earns; their second does not (their own id) */
	refer("p", "r2", "ann", "cid", NULL, NULL);
	cr_assert_eq(fx_conversion(&F, "o3", "cid", 5000), 1);
	cr_assert_eq(prior_conversions_seen("o3"), 0);
	cr_assert_eq(fx_conversion(&F, "o4", "cid", 5000), 0);
	cr_assert_eq(prior_conversions_seen("o4"), 1);
	/* a participant without an e-mail is its own mailbox */
	refer("p", "r3", "ann", "dan", NULL, NULL);
	cr_assert_eq(fx_conversion(&F, "o5", "dan", 5000), 1);
	cr_assert_eq(prior_conversions_seen("o5"), 0);
}

/* Simulating a draft that reads the stat (the active version did not, so the stored
 * contexts lack it) counts the mailbox's purchases ingested before each conversion:
 * not the ones after it. */
Test(fraud_match, simulated_prior_conversions_count_the_mailbox_as_it_stood)
{
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"fraud\":{\"existing_customer\":\"off\"},"
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000}]}");
	person("ann", "ann@example.com");
	person("bob1", "bob@example.com");
	person("bob2", "BOB+2@example.com");
	fx_conversion(&F, "o1", "bob1", 5000);
	refer("p", "r1", "ann", "bob2", NULL, NULL);
	fftime_set_now(T0 + 1000);
	cr_assert_eq(fx_conversion(&F, "o2", "bob2", 5000), 1);
	fftime_set_now(T0 + 2000);
	fx_conversion(&F, "o3", "bob1", 5000); /* after o2: not counted for it */
	/* draft 2: pays only a buyer whose mailbox bought exactly once before */
	json_t *v2 = json_loads("{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"fraud\":{\"existing_customer\":"
				"\"off\"},\"eligibility\":{\"==\":[{\"var\":\"stats.referred_prior_conversions\"},1]},"
				"\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000}]}",
				0, NULL),
	       *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_put(F.e, &F.cli, "p", v2, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	json_decref(v2);
	cr_assert_eq(engine_program_simulate(F.e, &F.cli, "p", 2, T0 - DAY, T0 + DAY, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "conversions")), 1, "%s", json_dumps(out, 0));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "simulated"), "rewards")), 1, "%s",
		     json_dumps(out, 0));
	json_decref(out);
}

/* On PostgreSQL, the queries over a person's mailbox find each of its ids by an index:
 * `x = ?1 OR x IN (subquery)` cannot use one (the IN stays a hashed SubPlan filtering
 * every row the rest of the query reads: all the conversions, or every referral of the
 * program, per referral ingested); `x IN (MAILBOX_OF(?1))` becomes a join. */
Test(fraud_match, mailbox_queries_join_on_postgresql)
{
	if (strncmp(F.cfg.db_url, "postgresql://", 13))
		cr_skip_test("PostgreSQL plan");
	static const enum store_query qs[] = {Q_STATS_PRIOR_CONVERSIONS, Q_SIM_STATS_PRIOR_CONVERSIONS,
					      Q_FRAUD_CONVERTED_BEFORE, Q_FRAUD_DUPLICATE,
					      Q_FRAUD_CUSTOMER_BEFORE_REFERRAL};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		/* literals for the parameters: '1', '2', '3' (PostgreSQL types them) */
		char sql[2048] = "EXPLAIN ";
		for (const char *c = store_sql[qs[i]]; *c; c++) {
			size_t n = strlen(sql);
			cr_assert_lt(n + 4, sizeof(sql));
			if (c[0] == '?' && c[1] >= '1' && c[1] <= '9')
				n += (size_t)snprintf(sql + n, sizeof(sql) - n, "'%c'", *++c);
			else
				sql[n++] = *c, sql[n] = '\0';
		}
		json_t *plan = fx_sql_texts(&F, sql);
		char *text = json_dumps(plan, 0);
		cr_assert_null(strstr(text, "SubPlan"), "query %d: %s", (int)qs[i], text);
		free(text);
		json_decref(plan);
	}
}

/* The plan PostgreSQL makes for store query q with ?N bound to args[N-1] (quoted):
 * with the values in the text, as for a custom plan, or (generic) as the prepared
 * statement's generic plan that PostgreSQL may settle on after five executions. */
static char *pg_plan(enum store_query q, const char *const *args, bool generic)
{
	char sql[4096];
	size_t n = (size_t)snprintf(sql, sizeof(sql), "%s",
				    generic ? "SET plan_cache_mode = force_generic_plan; PREPARE q AS " : "EXPLAIN ");
	for (const char *c = store_sql[q]; *c; c++) {
		cr_assert_lt(n + 64, sizeof(sql));
		if (c[0] == '?' && c[1] >= '1' && c[1] <= '9') {
			c++;
			n += (size_t)(generic ? snprintf(sql + n, sizeof(sql) - n, "$%c", *c)
					      : snprintf(sql + n, sizeof(sql) - n, "'%s'", args[*c - '1']));
		} else {
			sql[n++] = *c, sql[n] = '\0';
		}
	}
	if (generic) {
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "; EXPLAIN EXECUTE q(");
		for (int i = 0; args[i]; i++)
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s'%s'", i ? ", " : "", args[i]);
		snprintf(sql + n, sizeof(sql) - n, ")");
	}
	json_t *plan = fx_sql_texts(&F, sql);
	char *text = json_dumps(plan, 0);
	json_decref(plan);
	return text;
}

/* The duplicate-referral look-ups read a person's few referrals in the program by an
 * index (referrals_pair), never every referral of the program, with the statistics of
 * a realistic table (20,000 participants, a mailbox of three ids, 50,000 referrals in
 * four programs, most of them successful), custom plan and generic. */
Test(fraud_match, duplicate_referral_queries_use_an_index_on_postgresql)
{
	if (strncmp(F.cfg.db_url, "postgresql://", 13))
		cr_skip_test("PostgreSQL plan");
	fx_sql(&F, "INSERT INTO participants (id, email_hash, status, created_at, updated_at) SELECT 'u' || g, "
		   "CASE WHEN g <= 3 THEN 'mailbox-u1' WHEN g % 4 = 0 THEN NULL ELSE 'hash-' || g END, 'active', 0, 0 "
		   "FROM generate_series(1, 20000) g");
	fx_sql(&F, "INSERT INTO referrals (id, program, referrer, referred, occurred_at, status, created_at, "
		   "updated_at) SELECT 'x' || g, 'prog' || (g % 4), 'u' || (g % 500 + 10), 'u' || (g % 19990 + 1), g, "
		   "CASE WHEN g % 5 = 0 THEN 'pending' ELSE 'successful' END, 0, 0 FROM generate_series(1, 50000) g");
	fx_sql(&F, "ANALYZE participants; ANALYZE referrals");
	static const char *const dup[] = {"u1", "prog1", "u20", NULL}, *const succeeded[] = {"u1", "prog1", NULL};
	static const struct {
		enum store_query q;
		const char *const *args;
	} cases[] = {{Q_FRAUD_DUPLICATE, dup}, {Q_FRAUD_DUPLICATE_SUCCEEDED, succeeded}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int generic = 0; generic < 2; generic++) {
			char *plan = pg_plan(cases[i].q, cases[i].args, generic);
			cr_assert_null(strstr(plan, "Seq Scan on referrals"), "query %d%s: %s", (int)cases[i].q,
				       generic ? " (generic)" : "", plan);
			cr_assert_not_null(strstr(plan, "referrals_pair"), "query %d%s: %s", (int)cases[i].q,
					   generic ? " (generic)" : "", plan);
			free(plan);
		}
	}
}

#define VELOCITY(id)                                                                                           \
	"{\"id\":\"" id "\",\"name\":\"V\",\"currency\":\"USD\",\"fraud\":{\"velocity\":\"review\",\"velocity_max\":2}," \
	"\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000}]}"

/* A program's velocity limit counts that program's referrals: another program's
 * traffic by the same referrer does not trip it. */
Test(fraud_match, velocity_counts_the_programs_own_referrals)
{
	fx_program(&F, VELOCITY("p"));
	fx_program(&F, VELOCITY("q"));
	person("ann", "ann@example.com");
	person("bea", "bea@example.com");
	const char *sig, *detail;
	refer("q", "q1", "ann", "f1", NULL, NULL);
	refer("q", "q2", "ann", "f2", NULL, NULL);
	refer("q", "q3", "ann", "f3", &sig, NULL);
	cr_assert_str_eq(sig, "velocity", "three in q, above q's two");
	refer("p", "p1", "ann", "g1", &sig, NULL);
	cr_assert_str_eq(sig, "", "q's referrals do not count for p");
	refer("p", "p2", "ann", "g2", &sig, NULL);
	cr_assert_str_eq(sig, "");
	refer("p", "p3", "ann", "g3", &sig, &detail);
	cr_assert_str_eq(sig, "velocity");
	cr_assert_str_eq(detail, "3 referrals within 24 hours (more than 2)");
	/* another referrer in p starts from zero */
	refer("p", "p4", "bea", "g4", &sig, NULL);
	cr_assert_str_eq(sig, "");
}

/* The velocity count is one range of referrals_referrer (referrer, program,
 * occurred_at): no scan of the referrer's referrals in other programs or outside the
 * window. SQLite's plan; PostgreSQL's depends on its statistics. */
Test(fraud_match, velocity_count_is_one_index_range)
{
	if (strncmp(F.cfg.db_url, "sqlite:", 7))
		cr_skip_test("SQLite plan");
	sqlite3 *db;
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_open(F.cfg.db_url + 7, &db), SQLITE_OK);
	char sql[600];
	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", store_sql[Q_FRAUD_VELOCITY]);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	char plan[1000] = "";
	while (sqlite3_step(st) == SQLITE_ROW)
		snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s\n", sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	sqlite3_close(db);
	cr_assert_not_null(strstr(plan, "COVERING INDEX referrals_referrer (referrer=? AND program=? AND occurred_at>? "
					 "AND occurred_at<?)"),
			   "%s", plan);
}

static void block_domain(const char *value)
{
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "domain", value, NULL, &out, &d), FF_OK, "%s: %s", value,
		     d.message);
	json_decref(out);
}

/* The domain entries' values, as listed. */
static char *listed_domains(void)
{
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_blocklist_list(F.e, &F.cli, &out, &d), FF_OK);
	static char text[600];
	text[0] = '\0';
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(out, "data"), i, v) if (!strcmp(
		json_string_value(json_object_get(v, "kind")), "domain")) snprintf(text + strlen(text),
										   sizeof(text) - strlen(text), "%s ",
										   json_string_value(json_object_get(v, "value")));
	json_decref(out);
	return text;
}

/* A blocklisted domain also blocks its subdomains, at a label boundary only, for the
 * referrer and the referred person; entries are stored lower-case without leading or
 * trailing dots; UTF-8 (IDN) domains match byte for byte. */
Test(fraud_match, domain_entries_match_subdomains)
{
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1000}]}");
	person("ann", "ann@clean.test");
	block_domain("Example.COM");
	block_domain(".leading.test");
	block_domain("trailing.test.");
	block_domain("b\xc3\xbc" "cher.example");
	cr_assert_str_eq(listed_domains(), "b\xc3\xbc" "cher.example example.com leading.test trailing.test ");
	struct {
		const char *email, *status;
	} cases[] = {
	    {"x@example.com", "rejected"},		 /* the entry itself */
	    {"x@mail.example.com", "rejected"},		 /* a subdomain */
	    {"x@A.B.Example.Com", "rejected"},		 /* deeper, in upper case */
	    {"x@badexample.com", "pending"},		 /* not at a label boundary */
	    {"x@example.com.evil.test", "pending"},	 /* a prefix, not a suffix */
	    {"x@example.co", "pending"},
	    {"x@leading.test", "rejected"},		 /* an entry given with a leading dot */
	    {"x@sub.leading.test", "rejected"},
	    {"x@www.trailing.test", "rejected"},	 /* ... or a trailing one */
	    {"x@mail.b\xc3\xbc" "cher.example", "rejected"}, /* UTF-8 */
	    {"x@bucher.example", "pending"},
	    {"x@xn--bcher-kva.example", "pending"},	 /* the xn-- form is another name */
	};
	char id[16], ref[16];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(id, sizeof(id), "f%zu", i);
		snprintf(ref, sizeof(ref), "r%zu", i);
		person(id, cases[i].email);
		const char *sig;
		cr_assert_str_eq(refer("p", ref, "ann", id, &sig, NULL), cases[i].status, "%s", cases[i].email);
		cr_assert_str_eq(sig, !strcmp(cases[i].status, "rejected") ? "blocklist" : "", "%s", cases[i].email);
	}
	/* the detail names the entry that matched */
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_referral_get(F.e, &F.cli, "r2", &r, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(r, "rejection_reason")),
			 "blocklist: the referred's e-mail domain a.b.example.com is blocklisted (as a subdomain of "
			 "example.com)");
	json_decref(r);
	/* the referrer's domain too */
	person("eve", "eve@shop.example.com");
	person("ok", "ok@fine.test");
	const char *sig, *detail;
	cr_assert_str_eq(refer("p", "re", "eve", "ok", &sig, &detail), "rejected");
	cr_assert_str_eq(detail, "the referrer's e-mail domain shop.example.com is blocklisted (as a subdomain of "
				 "example.com)");
	/* at reward time: an entry added after the referral */
	person("late", "late@a.late.test");
	cr_assert_str_eq(refer("p", "rl", "ann", "late", NULL, NULL), "pending");
	block_domain("late.test");
	cr_assert_eq(fx_conversion(&F, "ol", "late", 5000), 0);
	/* removed by any spelling of its value: mail.example.com is welcome again */
	json_t *out = NULL;
	cr_assert_eq(engine_blocklist_delete(F.e, &F.cli, "domain", ".EXAMPLE.com.", &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	person("back", "x@mail.example.com");
	cr_assert_str_eq(refer("p", "rb", "ann", "back", NULL, NULL), "pending");
}

/* A value that names no domain once its dots are trimmed is refused, and changes
 * nothing. */
Test(fraud_match, domain_entries_without_a_dot_inside_are_refused)
{
	static const char *const bad[] = {".", "..", ".com", "com.", "..com..", "a@b.test", "b.test/x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *out = NULL;
		struct ff_diag d;
		cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "domain", bad[i], NULL, &out, &d), FF_E_INVALID, "%s",
			     bad[i]);
		cr_assert_str_eq(d.param, "value");
	}
	cr_assert_str_eq(listed_domains(), "");
}

/* Migration 12 rewrites domain entries saved with dots around them (which matched
 * nothing and could not be removed by their normalized value), keeping one entry per
 * domain, and drops those with no dot inside. */
Test(fraud_match, migration_12_normalizes_old_domain_entries)
{
	fx_sql(&F, "INSERT INTO blocklist (kind, value, created_at) VALUES ('domain', '.legacy.test', 1), "
		   "('domain', 'legacy.test.', 2), ('domain', '..dup.test', 3), ('domain', 'dup.test', 4), "
		   "('domain', 'com.', 5), ('domain', '.', 6), ('domain', 'ok.test', 7), ('device', '.odd.', 8)");
	/* as a database left by the release before it */
	fx_sql(&F, "UPDATE meta SET value = '11' WHERE key = 'schema_version'");
	engine_close(F.e);
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	json_t *rows = fx_sql_texts(&F, "SELECT kind || ':' || value FROM blocklist ORDER BY kind, value");
	char *text = json_dumps(rows, 0);
	cr_assert_str_eq(text, "[\"device:.odd.\", \"domain:dup.test\", \"domain:legacy.test\", \"domain:ok.test\"]");
	free(text);
	json_decref(rows);
	cr_assert_eq(fx_sql_int(&F, "SELECT value FROM meta WHERE key = 'schema_version'"), 12);
	/* and each is removed by its plain value */
	json_t *out = NULL;
	cr_assert_eq(engine_blocklist_delete(F.e, &F.cli, "domain", "legacy.test", &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
}

/* The reward-time checks read the participants' rows from the transaction's context
 * cache (participant_cached_row()): a change to a participant, in the same chunk of
 * events or in an earlier transaction whose cache the next one keeps, is seen. */
Test(fraud_match, reward_time_checks_see_changes_made_since_the_cache_was_filled)
{
	fx_program(&F, "{\"id\":\"p\",\"name\":\"P\",\"currency\":\"USD\",\"fraud\":{\"self_referral\":\"review\"},"
		       "\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1000},"
		       "{\"to\":\"referred\",\"type\":\"credit\",\"amount\":500}]}");
	person("ann", "ann@example.com");
	person("cid", "cid@example.com");
	person("dan", "dan@example.com");
	person("eve", "eve@example.com");
	const char *sig;
	cr_assert_str_eq(refer("p", "r1", "ann", "cid", &sig, NULL), "pending");
	cr_assert_str_eq(refer("p", "r2", "ann", "dan", &sig, NULL), "pending");
	cr_assert_str_eq(refer("p", "r3", "ann", "eve", &sig, NULL), "pending");

	/* one chunk: cid buys (ann's and cid's rows are cached), dan takes ann's device,
	 * dan buys */
	char l1[300], l2[300], l3[300];
	snprintf(l1, sizeof(l1),
		 "{\"id\":\"c-o1\",\"type\":\"conversion\",\"data\":{\"id\":\"o1\",\"participant\":\"cid\","
		 "\"amount\":100,\"currency\":\"USD\"}}");
	snprintf(l2, sizeof(l2),
		 "{\"id\":\"p-ann-2\",\"type\":\"participant\",\"data\":{\"id\":\"ann\",\"device_id\":\"dev-1\"}}");
	snprintf(l3, sizeof(l3),
		 "{\"id\":\"p-dan-2\",\"type\":\"participant\",\"data\":{\"id\":\"dan\",\"device_id\":\"dev-1\"}}");
	char l4[300];
	snprintf(l4, sizeof(l4),
		 "{\"id\":\"c-o2\",\"type\":\"conversion\",\"data\":{\"id\":\"o2\",\"participant\":\"dan\","
		 "\"amount\":100,\"currency\":\"USD\"}}");
	struct ingest_item items[4] = {{.text = l1, .len = strlen(l1)},
				       {.text = l2, .len = strlen(l2)},
				       {.text = l3, .len = strlen(l3)},
				       {.text = l4, .len = strlen(l4)}};
	struct ff_diag d;
	cr_assert_eq(engine_ingest(F.e, &F.cli, items, 4, &d), FF_OK, "%s", d.message);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(items[i].err, FF_OK, "line %d: %s", i + 1, items[i].diag.message);
		json_decref(items[i].result);
	}
	cr_assert_eq(fx_count_status(&F, "approved"), 2, "cid's conversion pays");
	cr_assert_eq(fx_count_status(&F, "review"), 2, "dan shares ann's device since this chunk");

	/* a later transaction keeps the cache (nobody else wrote): eve takes ann's device in
	 * one, buys in the next */
	fx_ok(&F, "{\"id\":\"p-eve-2\",\"type\":\"participant\",\"data\":{\"id\":\"eve\",\"device_id\":\"dev-1\"}}");
	cr_assert_eq(fx_conversion(&F, "o3", "eve", 100), 2);
	cr_assert_eq(fx_count_status(&F, "review"), 4);
}
