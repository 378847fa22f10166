/*
 * recon_test.c - reconciliation through the engine API (finance_fixture.h): a batch's
 * memo (short payment, unknown line, duplicates, missing, CSV edge cases and header
 * aliases, decimals, a wrong header, streaming from a FILE*, per-reward history,
 * reversed rewards, capped line lists) and a connector's report by external reference
 * (set-based moves, reward id against reference, shared references told apart by
 * amount). Runs on SQLite and, under tests/with-postgres, on PostgreSQL.
 */
#include "finance_fixture.h"

TestSuite(recon, .init = setup, .fini = teardown);

Test(recon, short_payment_and_unknown_line_dispute_then_clean_memo_reconciles)
{
	json_t *b = fulfilled_batch();
	fx_sql(&F, "INSERT INTO webhook_endpoints (id, url, secret, events, status, created_at, updated_at) VALUES "
		   "('we_batches', 'https://hooks.example.com/b', 'whsec_x', '[\"batch.reconciled\"]', 'enabled', 0, 0)");
	char memo[1024];
	snprintf(memo, sizeof(memo),
		 "reward_id,amount,currency,reference\n%s,2500,USD,CM-1001\n%s,2400,USD,CM-1001\n%s,2500,USD,CM-1001\n"
		 "rwd_nobody,900,USD,CM-1001\n",
		 rid(b, 0), rid(b, 1), rid(b, 2));
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "disputed");
	cr_assert_eq(iget(o, "matched"), 2);
	cr_assert_eq(iget(o, "amount_mismatch"), 1);
	cr_assert_eq(iget(o, "unexpected"), 1);
	cr_assert_eq(iget(o, "missing"), 0);
	cr_assert_eq(iget(o, "duplicate"), 0);
	json_t *lines = json_object_get(o, "lines");
	cr_assert_eq(json_array_size(lines), 4);
	json_t *short_line = json_array_get(lines, 1);
	cr_assert_str_eq(sget(short_line, "result"), "amount_mismatch");
	cr_assert_str_eq(sget(short_line, "reward_id"), rid(b, 1));
	cr_assert_eq(iget(json_object_get(short_line, "expected"), "amount"), 2500);
	cr_assert_eq(iget(json_object_get(short_line, "actual"), "amount"), 2400);
	cr_assert_eq(iget(short_line, "line"), 3);
	json_t *unknown = json_array_get(lines, 3);
	cr_assert_str_eq(sget(unknown, "result"), "unexpected");
	cr_assert(json_is_null(json_object_get(unknown, "expected")));
	cr_assert(json_is_false(json_object_get(o, "lines_truncated")));
	json_decref(o);
	/* nothing else changed */
	cr_assert_str_eq(reward_status(rid(b, 0)), "fulfilled");
	cr_assert_eq(engine_batch_get(F.e, &FIN, bid(b), &o, &d), FF_OK);
	cr_assert_str_eq(sget(o, "status"), "disputed");
	cr_assert_str_eq(sget(json_object_get(o, "reconciliation"), "status"), "disputed");
	json_decref(o);

	/* the corrected memo: all match */
	clean_memo(b, memo, sizeof(memo));
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "reconciled");
	cr_assert_eq(iget(o, "matched"), 3);
	json_decref(o);
	for (int i = 0; i < 3; i++)
		cr_assert_str_eq(reward_status(rid(b, i)), "reconciled");
	/* its webhook (queued for the one subscribed endpoint), with the batch's counts */
	struct store_stmt *st = store_query(F.e->st, Q_WH_DELIVERIES_DUE);
	store_bind_int(st, 1, INT64_MAX);
	store_bind_int(st, 2, 10);
	cr_assert_eq(store_step(st), 1);
	char dlv[64];
	snprintf(dlv, sizeof(dlv), "%s", store_col_text(st, 0));
	cr_assert_eq(store_step(st), 0, "one delivery");
	st = store_query(F.e->st, Q_WH_DELIVERY_GET);
	store_bind_text(st, 1, dlv);
	cr_assert_eq(store_step(st), 1);
	cr_assert_str_eq(store_col_text(st, 3), "batch.reconciled");
	cr_assert(strstr(store_col_text(st, 4), "\"rewards_by_status\":{\"reconciled\":3}"), "%s", store_col_text(st, 4));
	store_release(F.e->st);
	cr_assert_eq(engine_batch_get(F.e, &ACME, bid(b), &o, &d), FF_OK);
	cr_assert_str_eq(sget(o, "status"), "reconciled");
	cr_assert(json_is_string(json_object_get(o, "reconciled_at")));
	json_decref(o);
	/* reconciled is final */
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_E_INVALID_TRANSITION);
	json_decref(b);
}

Test(recon, duplicate_and_missing_lines)
{
	json_t *b = fulfilled_batch();
	char memo[1024];
	snprintf(memo, sizeof(memo), "reward_id,amount,currency,reference\n%s,2500,USD,A\n%s,2500,USD,A\n%s,2500,USD,A\n",
		 rid(b, 0), rid(b, 1), rid(b, 0));
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "disputed");
	cr_assert_eq(iget(o, "matched"), 2);
	cr_assert_eq(iget(o, "duplicate"), 1);
	cr_assert_eq(iget(o, "missing"), 1);
	json_t *lines = json_object_get(o, "lines");
	cr_assert_str_eq(sget(json_array_get(lines, 2), "result"), "duplicate");
	json_t *miss = json_array_get(lines, 3);
	cr_assert_str_eq(sget(miss, "result"), "missing");
	cr_assert_str_eq(sget(miss, "reward_id"), rid(b, 2));
	cr_assert(json_is_null(json_object_get(miss, "actual")));
	cr_assert(json_is_null(json_object_get(miss, "line")));
	json_decref(o);
	json_decref(b);
}

Test(recon, csv_edge_cases_and_header_aliases)
{
	json_t *b = fulfilled_batch();
	json_t *o = NULL;
	struct ff_diag d;
	/* BOM, aliases in another order and case, CRLF, quoted commas, blank lines (and
	 * lines of blanks and commas, as spreadsheets end their exports), decimal amounts
	 * (zero-padded past the currency's digits, or with a bare point), a status column,
	 * an extra column */
	char memo[1024];
	snprintf(memo, sizeof(memo),
		 "\xEF\xBB\xBF"
		 "Memo,ID,Total,CUR,Note,Status\r\n"
		 "\"CM, 1001\",%s,25.00,usd,\"said \"\"hi\"\"\",paid\r\n"
		 "\r\n"
		 "\"CM, 1001\",%s,25.000,USD,,Completed\r\n"
		 "   \r\n"
		 "\"CM, 1001\",\" %s \",\"25.\",USD,x,\r\n"
		 ",,,,,\r\n"
		 "\"CM, 1001\",%s,2500,USD,retry,failed\r\n"
		 " , ,\r\n",
		 rid(b, 0), rid(b, 1), rid(b, 2), rid(b, 2));
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK, "%s (%s)", d.message, d.param);
	cr_assert_str_eq(sget(o, "status"), "reconciled", "%s", json_dumps(o, 0));
	cr_assert_eq(iget(o, "matched"), 3);
	cr_assert_eq(iget(o, "not_paid"), 1);
	cr_assert_eq(iget(o, "lines_read"), 4);
	json_t *cols = json_object_get(o, "columns");
	cr_assert_str_eq(sget(cols, "reward_id"), "ID");
	cr_assert_str_eq(sget(cols, "amount"), "Total");
	cr_assert_str_eq(sget(cols, "reference"), "Memo");
	cr_assert_str_eq(sget(json_array_get(json_object_get(o, "lines"), 0), "reference"), "CM, 1001");
	json_decref(o);
	json_decref(b);
}

/* Zeros past the currency's digits are dropped; any other digit there is an error. */
Test(recon, report_decimals_beyond_the_currency_digits)
{
	json_t *b = fulfilled_batch();
	json_t *o = NULL;
	struct ff_diag d;
	char memo[512];
	snprintf(memo, sizeof(memo), "reward_id,amount,currency\n%s,25.001,USD\n%s,25.0000,USD\n%s,2500.,JPY\n",
		 rid(b, 0), rid(b, 1), rid(b, 2));
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK, "%s", d.message);
	cr_assert_eq(iget(o, "invalid"), 1, "%s", json_dumps(o, 0));
	cr_assert_eq(iget(o, "matched"), 1);
	cr_assert_eq(iget(o, "currency_mismatch") + iget(o, "amount_mismatch"), 1, "%s", json_dumps(o, 0));
	json_decref(o);
	json_decref(b);
}

Test(recon, wrong_header_is_a_clear_error)
{
	json_t *b = fulfilled_batch();
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(reconcile(bid(b), "participant,value_usd\nx,1\n", &o, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "header");
	cr_assert_not_null(strstr(d.message, "reward_id"), "%s", d.message);
	cr_assert_eq(reconcile(bid(b), "", &o, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "header");
	cr_assert_eq(reconcile(bid(b), "reward_id,amount,reward_id\n", &o, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "header");
	/* a bad line is reported, not fatal */
	char memo[512];
	snprintf(memo, sizeof(memo), "reward_id,amount,currency\n%s,twenty,USD\n%s,2500,USD\n%s,2500,USD\n", rid(b, 0),
		 rid(b, 1), rid(b, 2));
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "disputed");
	cr_assert_eq(iget(o, "invalid"), 1);
	cr_assert_eq(iget(o, "missing"), 0, "an unreadable line still names its reward");
	json_decref(o);
	json_decref(b);
}

struct progress {
	uint64_t calls, last;
};

static void on_progress(void *ctx, uint64_t lines)
{
	struct progress *p = ctx;
	p->calls++;
	p->last = lines;
}

Test(recon, reconcile_streams_from_a_file)
{
	json_t *b = fulfilled_batch();
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	fprintf(f, "reward_id,amount,currency,reference\n");
	for (int i = 0; i < 3; i++)
		fprintf(f, "%s,2500,USD,CM-1001\n", rid(b, (size_t)i));
	rewind(f);
	struct progress pr = {0};
	struct recon_input in = {.file = f, .progress = on_progress, .progress_ctx = &pr};
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_reconcile(F.e, &FIN, bid(b), &in, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "reconciled");
	cr_assert_eq(pr.last, 3);
	cr_assert_geq(pr.calls, 1);
	json_decref(o);
	fclose(f);
	json_decref(b);
}

static void reverse_second(void *ctx, uint64_t lines)
{
	(void)lines;
	const char *id = ctx;
	char sql[300];
	snprintf(sql, sizeof(sql),
		 "UPDATE rewards SET status = 'reversed' WHERE id = '%s';"
		 "INSERT INTO reward_history (reward, from_status, to_status, actor, at) "
		 "VALUES ('%s', 'fulfilled', 'reversed', 'test', 1)", id, id);
	fx_sql(&F, sql);
}

/* A batch reconciliation stores one history row for the batch, not one per reward;
 * each reward's history still shows its move, in order, and only rewards it moved. */
Test(recon, batch_reconciliation_history_reads_per_reward)
{
	json_t *b = fulfilled_batch();
	char memo[1024], second[64];
	clean_memo(b, memo, sizeof(memo));
	snprintf(second, sizeof(second), "%s", rid(b, 1));
	int64_t rows_before = fx_sql_int(&F, "SELECT COUNT(*) FROM reward_history");
	/* the second reward is reversed while the memo is read: it is left alone */
	struct recon_input in = {.data = memo, .len = strlen(memo), .progress = reverse_second, .progress_ctx = second};
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_reconcile(F.e, &FIN, bid(b), &in, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "reconciled");
	char why[80];
	snprintf(why, sizeof(why), "reconciliation %s", sget(o, "id"));
	json_decref(o);
	/* the progress hook's reversal row, and one row for the batch */
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM reward_history"), rows_before + 2);
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM reward_history WHERE reward = '%s' AND to_status = 'reconciled'",
		 bid(b));
	cr_assert_eq(fx_sql_int(&F, sql), 1);
	/* a later move of the first reward comes after the reconciliation in its history */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO reward_history (reward, from_status, to_status, actor, at) "
		 "VALUES ('%s', 'reconciled', 'reconciled', 'later', 2)", rid(b, 0));
	fx_sql(&F, sql);
	for (size_t i = 0; i < 3; i++) {
		json_t *r = NULL;
		cr_assert_eq(engine_reward_get(F.e, &F.cli, rid(b, i), &r, &d), FF_OK, "%s", d.message);
		json_t *h = json_object_get(r, "history");
		size_t n = json_array_size(h), reconciled = 0;
		for (size_t k = 0; k < n; k++)
			if (!strcmp(sget(json_array_get(h, k), "to"), "reconciled") &&
			    !strcmp(sget(json_array_get(h, k), "from"), "fulfilled")) {
				reconciled++;
				cr_assert_str_eq(sget(json_array_get(h, k), "reason"), why);
				cr_assert_str_eq(sget(json_array_get(h, k), "actor"), "key:fin");
				cr_assert_str_eq(sget(json_array_get(h, k - 1), "to"), "fulfilled");
			}
		json_t *last = json_array_get(h, n - 1);
		if (i == 1) {
			cr_assert_str_eq(sget(r, "status"), "reversed");
			cr_assert_eq(reconciled, 0);
			cr_assert_str_eq(sget(last, "to"), "reversed");
		} else {
			cr_assert_str_eq(sget(r, "status"), "reconciled");
			cr_assert_eq(reconciled, 1);
			cr_assert_str_eq(sget(last, "actor"), i == 0 ? "later" : "key:fin");
		}
		/* the text form reads the same rows */
		struct ffbuf t;
		ffbuf_init(&t, 0);
		cr_assert_eq(engine_reward_text(F.e, &F.cli, rid(b, i), &t, &d), FF_OK, "%s", d.message);
		json_t *parsed = json_loadb(t.data, t.len, 0, NULL);
		cr_assert(json_equal(parsed, r), "%.*s", (int)t.len, t.data);
		json_decref(parsed);
		ffbuf_release(&t);
		json_decref(r);
	}
	json_decref(b);
}

/* A reward of the batch reversed before the memo comes is not expected any more: its
 * line is unexpected, the others still match (read from the batch's index, less the
 * rewards that are neither fulfilled nor reconciled). */
Test(recon, reversed_reward_of_a_batch_is_not_expected)
{
	json_t *b = fulfilled_batch();
	char memo[1024], sql[200];
	snprintf(sql, sizeof(sql), "UPDATE rewards SET status = 'reversed' WHERE id = '%s'", rid(b, 2));
	fx_sql(&F, sql);
	clean_memo(b, memo, sizeof(memo));
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "disputed");
	cr_assert_eq(iget(o, "matched"), 2);
	cr_assert_eq(iget(o, "unexpected"), 1);
	cr_assert_eq(iget(o, "missing"), 0);
	json_decref(o);
	cr_assert_str_eq(reward_status(rid(b, 0)), "fulfilled");
	json_decref(b);
}

Test(recon, connector_reconciliation_by_external_reference)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	fx_conversion(&F, "o1", "tom", 7500);
	json_decref(fx_worker(&F, T0 + 1000));
	fx_sql(&F, "UPDATE rewards SET external_reference = 'L-' || role WHERE status = 'fulfilled'");
	json_t *o = NULL;
	struct ff_diag d;
	struct recon_input in = {.data = "reference,amount,currency\nL-referrer,2000,USD\nL-other,5,USD\n"};
	in.len = strlen(in.data);
	cr_assert_eq(engine_reconcile_connector(F.e, &FIN, "ledger", 0, 0, &in, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "disputed");
	cr_assert_eq(iget(o, "matched"), 1);
	cr_assert_eq(iget(o, "unexpected"), 1);
	cr_assert_eq(iget(o, "missing"), 1);
	json_decref(o);
	in.data = "ref,value,cur\nL-referred,20.00,USD\nL-referrer,2000,USD\n";
	in.len = strlen(in.data);
	cr_assert_eq(engine_reconcile_connector(F.e, &FIN, "ledger", 0, 0, &in, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "reconciled");
	cr_assert_eq(iget(o, "rewards_reconciled"), 2);
	json_decref(o);
	json_t *all = fx_rewards(&F, "reconciled", NULL);
	cr_assert_eq(json_array_size(all), 2);
	json_decref(all);
	cr_assert_eq(engine_reconcile_connector(F.e, &ACME, "ledger", 0, 0, &in, &o, &d), FF_E_FORBIDDEN);
	/* a batch's rewards share its reference: manual ones are reconciled per batch */
	cr_assert_eq(engine_reconcile_connector(F.e, &FIN, "manual", 0, 0, &in, &o, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "connector");
	cr_assert_not_null(strstr(d.message, "/v1/batches/{id}/reconcile"), "%s", d.message);
}

/* A reward reversed while the report is being read: the progress callback runs after
 * the last line, outside any transaction. */
static void reverse_one(void *ctx, uint64_t lines)
{
	(void)lines;
	fx_sql(ctx, "UPDATE rewards SET status = 'reversed' WHERE id = 'rwd_c300'");
}

Test(recon, connector_reconciliation_moves_many_rewards_set_based)
{
	/* 600 fulfilled rewards of one connector: more than one statement's worth */
	fx_sql(&F, "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 600) "
		   "INSERT INTO rewards (id, program, program_version, participant, role, type, amount, currency, "
		   "status, connector, fulfiller, external_reference, fulfilled_at, created_at, updated_at) "
		   "SELECT 'rwd_c' || n, 'give20', 1, 'jessica', 'referrer', 'credit', 1000 + n, 'USD', 'fulfilled', "
		   "'giftcard', 'giftcard', 'GC-' || n, 1790812800000, 1790812800000, 1790812800000 FROM s");
	struct ffbuf memo;
	ffbuf_init(&memo, 0);
	ffbuf_adds(&memo, "reference,amount,currency\n");
	for (int n = 1; n <= 600; n++)
		ffbuf_addf(&memo, "GC-%d,%d,USD\n", n, 1000 + n);
	struct recon_input in = {.data = memo.data, .len = memo.len, .progress = reverse_one, .progress_ctx = &F};
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reconcile_connector(F.e, &FIN, "giftcard", 0, 0, &in, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "reconciled");
	cr_assert_eq(iget(o, "matched"), 600);
	cr_assert_eq(iget(o, "rewards_reconciled"), 599); /* the reversed one is left alone */
	char why[80];
	snprintf(why, sizeof(why), "reconciliation %s", sget(o, "id"));
	json_decref(o);
	ffbuf_release(&memo);
	json_t *all = fx_rewards(&F, "reconciled", NULL);
	cr_assert_eq(json_array_size(all), 599);
	json_decref(all);
	const char *ids[] = {"rwd_c1", "rwd_c24", "rwd_c25", "rwd_c600", "rwd_c300"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		json_t *r = NULL;
		cr_assert_eq(engine_reward_get(F.e, &F.cli, ids[i], &r, &d), FF_OK, "%s", d.message);
		json_t *h = json_object_get(r, "history");
		json_t *last = json_array_get(h, json_array_size(h) - 1);
		if (i == 4) {
			cr_assert_str_eq(sget(r, "status"), "reversed");
			cr_assert_eq(json_array_size(h), 0);
		} else {
			cr_assert_str_eq(sget(r, "status"), "reconciled");
			cr_assert_eq(json_array_size(h), 1);
			cr_assert_str_eq(sget(last, "from"), "fulfilled");
			cr_assert_str_eq(sget(last, "to"), "reconciled");
			cr_assert_str_eq(sget(last, "actor"), "key:fin");
			cr_assert_str_eq(sget(last, "reason"), why);
		}
		json_decref(r);
	}
}

Test(recon, huge_reports_cap_the_listed_lines_not_the_counts)
{
	json_t *b = fulfilled_batch();
	struct ffbuf memo;
	ffbuf_init(&memo, 0);
	ffbuf_adds(&memo, "reward_id,amount,currency\n");
	for (int i = 0; i < 3; i++)
		ffbuf_addf(&memo, "%s,2500,USD\n", rid(b, (size_t)i));
	for (int i = 0; i < 10005; i++)
		ffbuf_addf(&memo, "rwd_stranger_%d,100,USD\n", i);
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(reconcile(bid(b), memo.data, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "disputed");
	cr_assert_eq(iget(o, "matched"), 3);
	cr_assert_eq(iget(o, "unexpected"), 10005);
	cr_assert_eq(iget(o, "lines_read"), 10008);
	cr_assert_eq(json_array_size(json_object_get(o, "lines")), 3 + 10000);
	cr_assert(json_is_true(json_object_get(o, "lines_truncated")));
	json_decref(o);
	ffbuf_release(&memo);
	cr_assert_str_eq(reward_status(rid(b, 0)), "fulfilled");
	json_decref(b);
}

static json_t *reconcile_connector(const char *connector, const char *csv)
{
	struct recon_input in = {.data = csv, .len = strlen(csv)};
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reconcile_connector(F.e, &FIN, connector, 0, 0, &in, &o, &d), FF_OK, "%s", d.message);
	return o;
}

/* A connector report that also names the reward: a line whose reward_id and reference
 * belong to different rewards pays neither (it was matched by reference alone, and
 * listed under the reference's reward id); rewards that share one reference are told
 * apart by the reward_id, or else by amount. */
Test(recon, connector_reconciliation_checks_reward_id_against_reference)
{
	fx_sql(&F, "INSERT INTO rewards (id, program, program_version, participant, role, type, amount, currency, "
		   "status, connector, fulfiller, external_reference, fulfilled_at, created_at, updated_at) VALUES "
		   "('rwd_a', 'give20', 1, 'jessica', 'referrer', 'gift_card', 1000, 'USD', 'fulfilled', 'giftcard', "
		   "'giftcard', 'GC-1', 1790812800000, 1790812800000, 1790812800000),"
		   "('rwd_b', 'give20', 1, 'tom', 'referrer', 'gift_card', 1000, 'USD', 'fulfilled', 'giftcard', "
		   "'giftcard', 'GC-2', 1790812800000, 1790812800000, 1790812800000),"
		   "('rwd_c', 'give20', 1, 'jessica', 'referrer', 'credit', 1000, 'USD', 'fulfilled', 'webhook', "
		   "'webhook', 'PAY-1', 1790812800000, 1790812800000, 1790812800000),"
		   "('rwd_d', 'give20', 1, 'tom', 'referrer', 'credit', 1500, 'USD', 'fulfilled', 'webhook', "
		   "'webhook', 'PAY-1', 1790812800000, 1790812800000, 1790812800000)");
	/* each line names the other reward than its reference's */
	json_t *o = reconcile_connector("giftcard", "reward_id,reference,amount,currency\nrwd_b,GC-1,1000,USD\n"
						    "rwd_a,GC-2,1000,USD\n");
	cr_assert_str_eq(sget(o, "status"), "disputed", "%s", json_dumps(o, 0));
	cr_assert_eq(iget(o, "matched"), 0);
	cr_assert_eq(iget(o, "unexpected"), 2);
	cr_assert_eq(iget(o, "missing"), 2);
	json_t *first = json_array_get(json_object_get(o, "lines"), 0);
	cr_assert_str_eq(sget(first, "reward_id"), "rwd_b", "the report's reward, not the reference's");
	cr_assert_str_eq(sget(first, "result"), "unexpected");
	cr_assert_not_null(strstr(sget(first, "error"), "rwd_b has reference GC-2"), "%s", sget(first, "error"));
	json_decref(o);
	/* a reward this run does not expect, under an expected reward's reference */
	o = reconcile_connector("giftcard", "reward_id,reference,amount,currency\nrwd_a,GC-1,1000,USD\n"
					    "rwd_zz,GC-2,1000,USD\n");
	cr_assert_str_eq(sget(o, "status"), "disputed");
	cr_assert_eq(iget(o, "matched"), 1);
	cr_assert_eq(iget(o, "unexpected"), 1);
	cr_assert_eq(iget(o, "missing"), 1);
	json_decref(o);
	cr_assert_str_eq(reward_status("rwd_a"), "fulfilled");
	/* a provider's own id in a column read as reward_id ("id") is not a reward id: the
	 * reference decides */
	o = reconcile_connector("giftcard", "id,reference,amount,currency\nORD-77,GC-1,1000,USD\n"
					    "ORD-78,GC-2,1000,USD\n");
	cr_assert_str_eq(sget(o, "status"), "reconciled", "%s", json_dumps(o, 0));
	json_decref(o);
	/* two rewards paid under one reference: by reward id ... */
	o = reconcile_connector("webhook", "reward_id,reference,amount,currency\nrwd_d,PAY-1,1500,USD\n"
					   "rwd_c,PAY-1,1000,USD\n");
	cr_assert_str_eq(sget(o, "status"), "reconciled", "%s", json_dumps(o, 0));
	cr_assert_eq(iget(o, "rewards_reconciled"), 2);
	json_decref(o);
	cr_assert_str_eq(reward_status("rwd_c"), "reconciled");
	cr_assert_str_eq(reward_status("rwd_d"), "reconciled");
}

/* Without a reward_id column, the lines of one shared reference go to the rewards
 * whose amount they pay, not to the first reward twice (a duplicate, the other missing). */
Test(recon, connector_reconciliation_shared_reference_by_amount)
{
	fx_sql(&F, "INSERT INTO rewards (id, program, program_version, participant, role, type, amount, currency, "
		   "status, connector, fulfiller, external_reference, fulfilled_at, created_at, updated_at) VALUES "
		   "('rwd_c', 'give20', 1, 'jessica', 'referrer', 'credit', 1000, 'USD', 'fulfilled', 'webhook', "
		   "'webhook', 'PAY-1', 1790812800000, 1790812800000, 1790812800000),"
		   "('rwd_d', 'give20', 1, 'tom', 'referrer', 'credit', 1500, 'USD', 'fulfilled', 'webhook', "
		   "'webhook', 'PAY-1', 1790812800000, 1790812800000, 1790812800000)");
	json_t *o = reconcile_connector("webhook", "reference,amount,currency\nPAY-1,15.00,USD\nPAY-1,1000,USD\n"
						   "PAY-1,1000,USD\n");
	cr_assert_str_eq(sget(o, "status"), "disputed", "%s", json_dumps(o, 0));
	cr_assert_eq(iget(o, "matched"), 2);
	cr_assert_eq(iget(o, "duplicate"), 1);
	cr_assert_eq(iget(o, "missing"), 0);
	json_t *lines = json_object_get(o, "lines");
	cr_assert_str_eq(sget(json_array_get(lines, 0), "reward_id"), "rwd_d");
	cr_assert_str_eq(sget(json_array_get(lines, 1), "reward_id"), "rwd_c");
	json_decref(o);
	o = reconcile_connector("webhook", "reference,amount,currency\nPAY-1,1500,USD\nPAY-1,1000,USD\n");
	cr_assert_str_eq(sget(o, "status"), "reconciled", "%s", json_dumps(o, 0));
	cr_assert_eq(iget(o, "rewards_reconciled"), 2);
	json_decref(o);
}
