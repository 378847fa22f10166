/*
 * finance_test.c - the finance side through the engine API: batch life cycle and
 * fulfiller scope, reconciliation (short payment, unknown line, duplicates, missing,
 * CSV edge cases and header aliases, streaming from a FILE*), connector reconciliation
 * by external reference, tax thresholds and holds, fx conversion, fees, the payouts,
 * aging, KPI, credit-status and tax reports against hand-computed numbers, and payout
 * schedules on calendar boundaries in a program's time zone. Runs on SQLite and, under
 * tests/with-postgres, on PostgreSQL.
 */
#include "core/core.h"
#include "engine_fixture.h"
#include "fulfill/buf.h"

static struct fx F;
static struct actor FIN, ACME, ZETA;

static void setup(void)
{
	fx_open(&F);
	memset(&FIN, 0, sizeof(FIN));
	FIN.role = ROLE_FINANCE;
	snprintf(FIN.label, sizeof(FIN.label), "key:fin");
	memset(&ACME, 0, sizeof(ACME));
	ACME.role = ROLE_FULFILLER;
	snprintf(ACME.label, sizeof(ACME.label), "key:acme");
	snprintf(ACME.fulfiller, sizeof(ACME.fulfiller), "acme");
	ZETA = ACME;
	snprintf(ZETA.label, sizeof(ZETA.label), "key:zeta");
	snprintf(ZETA.fulfiller, sizeof(ZETA.fulfiller), "zeta");
}

static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

TestSuite(finance, .init = setup, .fini = teardown);

/* $25 cash to the referrer on the referred person's purchase, paid by distributor acme */
#define CASH_ACME                                                                                  \
	"{\"id\":\"cash\",\"name\":\"Cash\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","  \
	"\"type\":\"cash\",\"amount\":2500}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}"
#define CASH_ZETA                                                                                  \
	"{\"id\":\"zcash\",\"name\":\"Z\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","     \
	"\"type\":\"cash\",\"amount\":1000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"zeta\"}}"

/* `who` refers a friend who buys: one reward of program `prog` for `who`. */
static void earn(const char *prog, const char *who, int n)
{
	char ref[64], friend[64], order[64];
	snprintf(ref, sizeof(ref), "ref-%s-%s-%d", prog, who, n);
	snprintf(friend, sizeof(friend), "f-%s-%s-%d", prog, who, n);
	snprintf(order, sizeof(order), "o-%s-%s-%d", prog, who, n);
	fx_referral(&F, ref, prog, who, friend);
	cr_assert_eq(fx_conversion(&F, order, friend, 9000), 1, "one reward for %s", who);
}

/* Three acme rewards (jessica, tom, ann: $25 each) and one zeta reward. */
static void three_rewards(void)
{
	fx_program(&F, CASH_ACME);
	fx_program(&F, CASH_ZETA);
	fx_participant(&F, "jessica");
	fx_participant(&F, "tom");
	fx_participant(&F, "ann");
	earn("cash", "jessica", 1);
	earn("cash", "tom", 1);
	earn("cash", "ann", 1);
	earn("zcash", "jessica", 1);
}

static json_t *make_batch(const struct actor *a, const char *fulfiller)
{
	struct batch_params p = {.fulfiller = fulfiller};
	json_t *b = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_create(F.e, a, &p, &b, &d), FF_OK, "batch: %s", d.message);
	return b;
}

static const char *bid(json_t *b)
{
	return json_string_value(json_object_get(b, "id"));
}

static const char *sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_int_t iget(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The reward ids of a batch, in order. */
static const char *rid(json_t *b, size_t i)
{
	return json_string_value(json_array_get(json_object_get(b, "rewards"), i));
}

static enum ff_err reconcile(const char *batch, const char *csv, json_t **out, struct ff_diag *d)
{
	struct recon_input in = {.data = csv, .len = strlen(csv)};
	return engine_batch_reconcile(F.e, &FIN, batch, &in, out, d);
}

static json_t *fulfilled_batch(void)
{
	three_rewards();
	json_t *b = make_batch(&FIN, "acme");
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_fulfill(F.e, &ACME, bid(b), "CM-1001", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	return b;
}

/* A memo that pays each of the three rewards of fulfilled_batch() in full. */
static void clean_memo(json_t *b, char *memo, size_t size)
{
	snprintf(memo, size, "reward_id,amount,currency,reference\n%s,2500,USD,CM-1001\n%s,2500,USD,CM-1001\n%s,2500,USD,CM-1001\n",
		 rid(b, 0), rid(b, 1), rid(b, 2));
}

static const char *reward_status(const char *id)
{
	static char buf[32];
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reward_get(F.e, &F.cli, id, &r, &d), FF_OK, "%s", d.message);
	snprintf(buf, sizeof(buf), "%s", sget(r, "status"));
	json_decref(r);
	return buf;
}

Test(finance, batch_life_cycle)
{
	three_rewards();
	json_t *b = make_batch(&FIN, "acme");
	cr_assert_str_eq(sget(b, "status"), "open");
	cr_assert_eq(iget(b, "count"), 3);
	cr_assert_eq(json_array_size(json_object_get(b, "rewards")), 3);
	json_t *tot = json_array_get(json_object_get(b, "totals"), 0);
	cr_assert_str_eq(sget(tot, "currency"), "USD");
	cr_assert_eq(iget(tot, "amount"), 7500);
	cr_assert_eq(iget(tot, "count"), 3);

	/* each reward: still approved, reason in_batch, a history row, the batch id */
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reward_get(F.e, &F.cli, rid(b, 0), &r, &d), FF_OK);
	cr_assert_str_eq(sget(r, "status"), "approved");
	cr_assert_str_eq(sget(r, "reason"), "in_batch");
	cr_assert_str_eq(sget(r, "batch"), bid(b));
	json_t *h = json_object_get(r, "history");
	json_t *last = json_array_get(h, json_array_size(h) - 1);
	cr_assert_str_eq(sget(last, "reason"), "in_batch");
	cr_assert_str_eq(sget(last, "actor"), "key:fin");
	json_decref(r);

	/* a reward is in at most one batch: nothing left for a second one */
	struct batch_params p = {.fulfiller = "acme"};
	json_t *b2 = NULL;
	cr_assert_eq(engine_batch_create(F.e, &FIN, &p, &b2, &d), FF_E_INVALID);
	p.connector = "stripe";
	cr_assert_eq(engine_batch_create(F.e, &FIN, &p, &b2, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "connector");

	/* the report */
	struct ffbuf csv;
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_batch_report_csv(F.e, &FIN, bid(b), &csv, &d), FF_OK);
	cr_assert(!strncmp(csv.data, "reward_id,participant,type,amount,currency,reference\r\n", 54), "%s", csv.data);
	char line[200];
	snprintf(line, sizeof(line), "\r\n%s,jessica,cash,2500,USD,\r\n", rid(b, 0));
	cr_assert_not_null(strstr(csv.data, line), "%s", csv.data);
	ffbuf_release(&csv);

	/* close, then fulfil by the fulfiller itself */
	json_t *o = NULL;
	cr_assert_eq(engine_batch_close(F.e, &FIN, bid(b), &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "closed");
	json_decref(o);
	cr_assert_eq(engine_batch_close(F.e, &FIN, bid(b), &o, &d), FF_E_INVALID_TRANSITION);
	cr_assert_eq(engine_batch_fulfill(F.e, &ACME, bid(b), "", &o, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "reference");
	cr_assert_eq(engine_batch_fulfill(F.e, &ACME, bid(b), "CM-1001", &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "fulfilled");
	cr_assert_str_eq(sget(o, "reference"), "CM-1001");
	cr_assert_eq(iget(json_object_get(o, "rewards_by_status"), "fulfilled"), 3);
	json_decref(o);
	cr_assert_eq(engine_batch_fulfill(F.e, &ACME, bid(b), "CM-1002", &o, &d), FF_E_INVALID_TRANSITION);
	cr_assert_eq(engine_reward_get(F.e, &F.cli, rid(b, 1), &r, &d), FF_OK);
	cr_assert_str_eq(sget(r, "status"), "fulfilled");
	cr_assert_str_eq(sget(r, "external_reference"), "CM-1001");
	cr_assert(json_is_null(json_object_get(r, "reason")));
	json_decref(r);

	/* the list */
	struct page pg = {.limit = 10};
	json_t *l = NULL;
	cr_assert_eq(engine_batches_list(F.e, &FIN, NULL, &pg, &l, &d), FF_OK);
	cr_assert_eq(json_array_size(json_object_get(l, "data")), 1);
	json_decref(l);
	json_decref(b);
}

Test(finance, fulfiller_sees_only_its_own_batches)
{
	three_rewards();
	json_t *b = make_batch(&FIN, "acme");
	json_t *z = make_batch(&ZETA, "zeta"); /* a fulfiller may batch its own */
	json_t *o = NULL;
	struct ff_diag d;
	struct ffbuf csv;
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_batch_get(F.e, &ZETA, bid(b), &o, &d), FF_E_NOT_FOUND);
	cr_assert_eq(engine_batch_report_csv(F.e, &ZETA, bid(b), &csv, &d), FF_E_NOT_FOUND);
	cr_assert_eq(engine_batch_close(F.e, &ZETA, bid(b), &o, &d), FF_E_NOT_FOUND);
	cr_assert_eq(engine_batch_fulfill(F.e, &ZETA, bid(b), "X", &o, &d), FF_E_NOT_FOUND);
	cr_assert_eq(reconcile(bid(b), "reward_id,amount\n", &o, &d), FF_E_INVALID_TRANSITION, "finance may");
	struct recon_input in = {.data = "reward_id,amount\n", .len = 17};
	cr_assert_eq(engine_batch_reconcile(F.e, &ZETA, bid(b), &in, &o, &d), FF_E_NOT_FOUND);
	struct batch_params p = {.fulfiller = "acme"};
	cr_assert_eq(engine_batch_create(F.e, &ZETA, &p, &o, &d), FF_E_NOT_FOUND);
	struct page pg = {.limit = 10};
	cr_assert_eq(engine_batches_list(F.e, &ZETA, NULL, &pg, &o, &d), FF_OK);
	cr_assert_eq(json_array_size(json_object_get(o, "data")), 1);
	cr_assert_str_eq(sget(json_array_get(json_object_get(o, "data"), 0), "id"), bid(z));
	json_decref(o);
	struct batch_filter bf = {.fulfiller = "acme"};
	cr_assert_eq(engine_batches_list(F.e, &ZETA, &bf, &pg, &o, &d), FF_OK);
	cr_assert_eq(json_array_size(json_object_get(o, "data")), 0);
	json_decref(o);
	cr_assert_eq(engine_batch_get(F.e, &ACME, bid(b), &o, &d), FF_OK);
	json_decref(o);
	cr_assert_eq(engine_batch_report_csv(F.e, &ACME, bid(b), &csv, &d), FF_OK);
	ffbuf_release(&csv);
	json_decref(b);
	json_decref(z);
}

Test(finance, short_payment_and_unknown_line_dispute_then_clean_memo_reconciles)
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

Test(finance, duplicate_and_missing_lines)
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

Test(finance, csv_edge_cases_and_header_aliases)
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
Test(finance, report_decimals_beyond_the_currency_digits)
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

Test(finance, wrong_header_is_a_clear_error)
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

Test(finance, reconcile_streams_from_a_file)
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
Test(finance, batch_reconciliation_history_reads_per_reward)
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
Test(finance, reversed_reward_of_a_batch_is_not_expected)
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

Test(finance, connector_reconciliation_by_external_reference)
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

Test(finance, connector_reconciliation_moves_many_rewards_set_based)
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

Test(finance, tax_threshold_is_reached_exactly_at_600)
{
	fx_program(&F, "{\"id\":\"big\",\"name\":\"Big\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"cash\",\"amount\":50000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	earn("big", "jessica", 1); /* $500 this year */
	/* $500 + $99.99 stays below, + $100 reaches $600 */
	cr_assert_not(tax_form_required(F.e, "jessica", "cash", 9999, "USD", T0));
	cr_assert(tax_form_required(F.e, "jessica", "cash", 10000, "USD", T0));
	cr_assert(tax_form_required(F.e, "jessica", "gift_card", 10000, "USD", T0));
	cr_assert_not(tax_form_required(F.e, "jessica", "credit", 10000, "USD", T0), "credit is not reportable");
	/* paid this year, so next year starts from zero again */
	json_t *b = make_batch(&FIN, "acme");
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_fulfill(F.e, &FIN, bid(b), "CM-9", &o, &d), FF_OK);
	json_decref(o);
	cr_assert_not(tax_form_required(F.e, "jessica", "cash", 10000, "USD", T0 + 365 * DAY));
	/* configurable: a lower threshold, another country, reportable types */
	cr_assert_eq(engine_tax_threshold_set(F.e, &FIN, "US", 50000, "USD", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert(tax_form_required(F.e, "jessica", "cash", 0, "USD", T0));
	json_t *types = json_pack("[s]", "gift_card");
	cr_assert_eq(engine_tax_reportable_types_set(F.e, &FIN, types, &o, &d), FF_OK, "%s", d.message);
	json_decref(types);
	cr_assert_eq(json_array_size(json_object_get(o, "reportable_types")), 1);
	json_decref(o);
	cr_assert_not(tax_form_required(F.e, "jessica", "cash", 100000, "USD", T0));
	cr_assert_eq(engine_tax_threshold_set(F.e, &FIN, "usa", 1, "USD", &o, &d), FF_E_INVALID);
	cr_assert_eq(engine_tax_threshold_set(F.e, &ACME, "US", 1, "USD", &o, &d), FF_E_FORBIDDEN);
	/* a form on file: never */
	cr_assert_eq(engine_participant_tax_form(F.e, &F.cli, "jessica", "w9", &o, &d), FF_OK);
	json_decref(o);
	cr_assert_not(tax_form_required(F.e, "jessica", "gift_card", 100000, "USD", T0));
	json_decref(b);
}

Test(finance, worker_holds_for_tax_form_and_the_form_releases)
{
	fx_program(&F, "{\"id\":\"held\",\"name\":\"Held\",\"currency\":\"USD\",\"hold_days\":1,\"rewards\":[{\"to\":"
		       "\"referrer\",\"type\":\"cash\",\"amount\":60000}],\"fulfillment\":{\"cash\":\"manual\","
		       "\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	/* below the threshold when earned ... */
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_tax_threshold_set(F.e, &FIN, "US", 100000, "USD", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	earn("held", "jessica", 1);
	json_t *all = fx_rewards(&F, NULL, "jessica");
	cr_assert_str_eq(sget(json_array_get(all, 0), "reason"), "hold_period");
	char id[64];
	snprintf(id, sizeof(id), "%s", sget(json_array_get(all, 0), "id"));
	json_decref(all);
	/* ... but the threshold is lowered before its release: the worker holds it */
	cr_assert_eq(engine_tax_threshold_set(F.e, &FIN, "US", 60000, "USD", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	json_t *w = fx_worker(&F, T0 + 2 * DAY);
	cr_assert_eq(iget(w, "released"), 0);
	json_decref(w);
	json_t *r = NULL;
	cr_assert_eq(engine_reward_get(F.e, &F.cli, id, &r, &d), FF_OK);
	cr_assert_str_eq(sget(r, "status"), "pending");
	cr_assert_str_eq(sget(r, "reason"), "tax_form_required");
	json_decref(r);
	w = fx_worker(&F, T0 + 3 * DAY); /* stays put, no second history row */
	json_decref(w);
	cr_assert_eq(engine_participant_tax_form(F.e, &F.cli, "jessica", "w9", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert_eq(engine_reward_get(F.e, &F.cli, id, &r, &d), FF_OK);
	cr_assert_str_eq(sget(r, "status"), "approved");
	cr_assert_str_eq(sget(r, "reason"), "awaiting_batch");
	json_decref(r);
}

/* A reward sent to review skips the tax check at creation; approving it applies the
 * check then (its own amount counted once), and so does a retry. */
Test(finance, approving_a_reviewed_reward_applies_the_tax_hold)
{
	fx_program(&F, "{\"id\":\"rv\",\"name\":\"Reviewed\",\"currency\":\"USD\",\"review\":{\"amount_at_least\":"
		       "20000},\"rewards\":[{\"to\":\"referrer\",\"type\":\"cash\",\"amount\":35000}],"
		       "\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	earn("rv", "jessica", 1); /* $350: below $600 on its own */
	earn("rv", "jessica", 2); /* $700 with the first */
	json_t *all = fx_rewards(&F, NULL, "jessica");
	cr_assert_eq(json_array_size(all), 2);
	char first[64], second[64];
	snprintf(first, sizeof(first), "%s", sget(json_array_get(all, 0), "id"));
	snprintf(second, sizeof(second), "%s", sget(json_array_get(all, 1), "id"));
	cr_assert_str_eq(sget(json_array_get(all, 0), "status"), "review");
	cr_assert_str_eq(sget(json_array_get(all, 1), "status"), "review");
	json_decref(all);
	json_t *o = NULL;
	struct ff_diag d;
	/* the first cancelled: the second alone ($350) is not held - not counted twice */
	cr_assert_eq(engine_reward_action(F.e, &F.cli, first, REWARD_REJECT, "dup", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert_eq(engine_reward_action(F.e, &F.cli, second, REWARD_APPROVE, NULL, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "approved");
	json_decref(o);
	/* a third ($350 + $350 = $700) is held when approved */
	earn("rv", "jessica", 3);
	all = fx_rewards(&F, "review", "jessica");
	cr_assert_eq(json_array_size(all), 1);
	char third[64];
	snprintf(third, sizeof(third), "%s", sget(json_array_get(all, 0), "id"));
	json_decref(all);
	cr_assert_eq(engine_reward_action(F.e, &F.cli, third, REWARD_APPROVE, NULL, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(sget(o, "status"), "pending");
	cr_assert_str_eq(sget(o, "reason"), "tax_form_required");
	json_decref(o);
	json_t *w = fx_worker(&F, T0 + DAY); /* and the worker keeps it there */
	json_decref(w);
	cr_assert_str_eq(reward_status(third), "pending");
	/* the form, sent in a participant event, releases it */
	fx_ok(&F, "{\"id\":\"form-1\",\"type\":\"participant\",\"data\":{\"id\":\"jessica\",\"tax_form\":\"w9\"}}");
	cr_assert_str_eq(reward_status(third), "approved");
}

/* A batch holds its rewards while the distributor pays it: in an open batch a cancel
 * takes the reward out (count, totals and report follow); once closed, cancel is
 * refused, expiry passes it by, and a refund waits until the batch is fulfilled, which
 * then reverses the paid reward. */
Test(finance, a_closed_batch_holds_its_rewards)
{
	fx_program(&F, "{\"id\":\"cash\",\"name\":\"Cash\",\"currency\":\"USD\",\"expires_days\":30,\"rewards\":[{"
		       "\"to\":\"referrer\",\"type\":\"cash\",\"amount\":2500}],\"fulfillment\":{\"cash\":\"manual\","
		       "\"fulfiller\":\"acme\"}}");
	const char *who[] = {"jessica", "tom", "ann", "bob"};
	for (int i = 0; i < 4; i++) {
		fx_participant(&F, who[i]);
		earn("cash", who[i], 1);
	}
	json_t *b = make_batch(&FIN, "acme");
	cr_assert_eq(iget(b, "count"), 4);
	json_t *o = NULL;
	struct ff_diag d;
	/* open: the cancelled reward leaves the batch */
	cr_assert_eq(engine_reward_action(F.e, &F.cli, rid(b, 0), REWARD_CANCEL, "dup", &o, &d), FF_OK, "%s", d.message);
	cr_assert(json_is_null(json_object_get(o, "batch")) || !json_object_get(o, "batch"), "%s", json_dumps(o, 0));
	json_decref(o);
	cr_assert_eq(engine_batch_get(F.e, &FIN, bid(b), &o, &d), FF_OK);
	cr_assert_eq(iget(o, "count"), 3);
	cr_assert_eq(iget(json_array_get(json_object_get(o, "totals"), 0), "amount"), 7500, "%s", json_dumps(o, 0));
	json_decref(o);
	struct ffbuf csv;
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_batch_report_csv(F.e, &FIN, bid(b), &csv, &d), FF_OK, "%s", d.message);
	cr_assert_null(strstr(csv.data, rid(b, 0)), "the cancelled reward is not exported");
	cr_assert_not_null(strstr(csv.data, rid(b, 1)));
	ffbuf_release(&csv);
	/* closed: being paid */
	cr_assert_eq(engine_batch_close(F.e, &FIN, bid(b), &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert_eq(engine_reward_action(F.e, &F.cli, rid(b, 1), REWARD_CANCEL, "late", &o, &d),
		     FF_E_INVALID_TRANSITION);
	cr_assert_not_null(strstr(d.message, "being paid"), "%s", d.message);
	cr_assert_str_eq(reward_status(rid(b, 1)), "approved");
	json_decref(fx_worker(&F, T0 + 60 * DAY)); /* past expiry */
	cr_assert_str_eq(reward_status(rid(b, 1)), "approved", "a reward being paid does not expire");
	/* tom's friend's order is refunded while the batch is being paid */
	fx_ok(&F, "{\"id\":\"rf-tom\",\"type\":\"refund\",\"data\":{\"conversion\":\"o-cash-tom-1\"}}");
	cr_assert_str_eq(reward_status(rid(b, 1)), "approved");
	cr_assert_eq(engine_batch_fulfill(F.e, &ACME, bid(b), "CM-7", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert_str_eq(reward_status(rid(b, 1)), "reversed", "paid, then reversed for the refund");
	cr_assert_str_eq(reward_status(rid(b, 2)), "fulfilled");
	cr_assert_str_eq(reward_status(rid(b, 3)), "fulfilled");
	cr_assert_str_eq(reward_status(rid(b, 0)), "cancelled");
	json_decref(b);
}

Test(finance, tax_report)
{
	fx_program(&F, "{\"id\":\"big\",\"name\":\"Big\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"cash\",\"amount\":30000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	fx_participant(&F, "tom");
	/* the threshold is raised while they earn, and set back for the report */
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_tax_threshold_set(F.e, &FIN, "US", 100000, "USD", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	earn("big", "jessica", 1);
	earn("big", "jessica", 2);
	earn("big", "tom", 1);
	json_t *b = make_batch(&FIN, "acme");
	cr_assert_eq(engine_batch_fulfill(F.e, &FIN, bid(b), "CM-1", &o, &d), FF_OK);
	json_decref(o);
	cr_assert_eq(engine_tax_threshold_set(F.e, &FIN, "US", 60000, "USD", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert_eq(engine_report_tax(F.e, &FIN, 2026, &o, &d), FF_OK, "%s", d.message);
	json_t *data = json_object_get(o, "data");
	cr_assert_eq(json_array_size(data), 2);
	json_t *j = json_array_get(data, 0);
	cr_assert_str_eq(sget(j, "participant"), "jessica");
	cr_assert_eq(iget(j, "amount"), 60000);
	cr_assert_str_eq(sget(j, "amount_decimal"), "600.00");
	cr_assert_eq(iget(j, "rewards"), 2);
	cr_assert_str_eq(sget(j, "email"), "jessica@example.com");
	cr_assert(json_is_true(json_object_get(j, "threshold_reached")));
	cr_assert(json_is_true(json_object_get(j, "form_missing")));
	cr_assert(json_is_false(json_object_get(json_array_get(data, 1), "threshold_reached")));
	struct ffbuf csv;
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_report_csv(o, &csv, &d), FF_OK);
	cr_assert(!strncmp(csv.data, "participant,name,email,country,tax_form,currency,amount,", 56), "%s", csv.data);
	cr_assert_not_null(strstr(csv.data, "\r\njessica,,jessica@example.com,US,none,USD,60000,600.00,2,60000,USD,true,true\r\n"),
			   "%s", csv.data);
	ffbuf_release(&csv);
	json_decref(o);
	cr_assert_eq(engine_report_tax(F.e, &FIN, 2025, &o, &d), FF_OK);
	cr_assert_eq(json_array_size(json_object_get(o, "data")), 0);
	json_decref(o);
	json_decref(b);
}

/* A coupon with a face value has an amount and no currency: the tax and KPI reports write
 * null for its currency (an empty cell in the CSV), as the aging and credit-status
 * reports do, never "". */
Test(finance, reports_write_null_for_a_missing_currency)
{
	fx_program(&F, "{\"id\":\"cpn\",\"name\":\"Coupons\",\"currency\":\"USD\",\"rewards\":[{"
		       "\"to\":\"referrer\",\"type\":\"coupon\",\"pool\":\"spring\",\"amount\":500}],"
		       "\"hold_days\":0}");
	json_t *o = NULL, *body = json_pack("{s:[s]}", "codes", "C1");
	struct ff_diag d;
	cr_assert_eq(engine_code_pool_upload(F.e, &F.cli, "spring", body, &o, &d), FF_OK, "%s", d.message);
	json_decref(body);
	json_decref(o);
	json_t *types = json_pack("[s,s,s]", "cash", "gift_card", "coupon");
	cr_assert_eq(engine_tax_reportable_types_set(F.e, &FIN, types, &o, &d), FF_OK, "%s", d.message);
	json_decref(types);
	json_decref(o);
	fx_participant(&F, "jessica");
	earn("cpn", "jessica", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);

	cr_assert_eq(engine_report_tax(F.e, &FIN, 2026, &o, &d), FF_OK, "%s", d.message);
	json_t *row = json_array_get(json_object_get(o, "data"), 0);
	cr_assert_eq(json_array_size(json_object_get(o, "data")), 1, "%s", json_dumps(o, 0));
	cr_assert(json_is_null(json_object_get(row, "currency")), "%s", json_dumps(row, 0));
	cr_assert_eq(iget(row, "amount"), 500);
	struct ffbuf csv;
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_report_csv(o, &csv, &d), FF_OK);
	cr_assert_not_null(strstr(csv.data, "\r\njessica,,jessica@example.com,US,none,,500,500,1,60000,USD,false,false\r\n"),
			   "%s", csv.data);
	ffbuf_release(&csv);
	json_decref(o);

	cr_assert_eq(engine_report_kpis(F.e, &FIN, 0, 0, &o, &d), FF_OK, "%s", d.message);
	json_t *cost = json_array_get(json_object_get(o, "cost_per_payout"), 0);
	cr_assert_str_eq(sget(cost, "connector"), "code_pool");
	cr_assert(json_is_null(json_object_get(cost, "currency")), "%s", json_dumps(cost, 0));
	size_t i;
	json_t *k, *kpi = NULL;
	json_array_foreach(json_object_get(o, "data"), i, k)
	{
		if (!strcmp(sget(k, "metric"), "cost_per_payout"))
			kpi = k;
	}
	cr_assert_not_null(kpi);
	cr_assert(json_is_null(json_object_get(kpi, "currency")), "%s", json_dumps(kpi, 0));
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_report_csv(o, &csv, &d), FF_OK);
	cr_assert_not_null(strstr(csv.data, "\r\ncost_per_payout,code_pool,,\r\n"), "%s", csv.data);
	ffbuf_release(&csv);
	json_decref(o);
}

Test(finance, fx_conversion_is_exact_and_respects_exponents)
{
	json_t *o = NULL;
	struct ff_diag d;
	json_t *rates = json_pack("{s:s, s:s, s:s}", "EUR", "1.0845", "JPY", "0.0067", "BHD", "2.65");
	cr_assert_eq(engine_fx_rates_set(F.e, &FIN, "USD", rates, &o, &d), FF_OK, "%s", d.message);
	json_decref(rates);
	cr_assert_str_eq(sget(o, "reporting_currency"), "USD");
	cr_assert_eq(json_array_size(json_object_get(o, "data")), 3);
	json_decref(o);
	int64_t v;
	cr_assert(fx_convert(F.e, 10000, "EUR", "USD", &v)); /* 100.00 EUR */
	cr_assert_eq(v, 10845);
	cr_assert(fx_convert(F.e, 10000, "JPY", "USD", &v)); /* 10,000 JPY = 67.00 USD */
	cr_assert_eq(v, 6700);
	cr_assert(fx_convert(F.e, 1000, "BHD", "USD", &v)); /* 1.000 BHD = 2.65 USD */
	cr_assert_eq(v, 265);
	cr_assert(fx_convert(F.e, 5, "EUR", "USD", &v)); /* 0.05 * 1.0845 = 0.054225 -> 0.05 */
	cr_assert_eq(v, 5);
	cr_assert(fx_convert(F.e, 2, "JPY", "USD", &v)); /* 0.0134 USD -> 1 cent */
	cr_assert_eq(v, 1);
	cr_assert_not(fx_convert(F.e, 100, "GBP", "USD", &v));
	cr_assert_not(fx_convert(F.e, 100, "USD", "GBP", &v));
	cr_assert(fx_convert(F.e, 100, "GBP", "GBP", &v));
	/* the other way: 67.00 USD = 10,000 JPY; 2.65 USD = 1.000 BHD; 1.00 USD = 0.92 EUR
	 * (1 / 1.0845 = 0.92208... -> 92 cents) */
	cr_assert(fx_convert(F.e, 6700, "USD", "JPY", &v));
	cr_assert_eq(v, 10000);
	cr_assert(fx_convert(F.e, 265, "USD", "BHD", &v));
	cr_assert_eq(v, 1000);
	cr_assert(fx_convert(F.e, 100, "USD", "EUR", &v));
	cr_assert_eq(v, 92);
	/* between two other currencies, through USD: 100.00 EUR = 108.45 USD = 16,187 JPY
	 * (108.45 / 0.0067 = 16,186.567...) */
	cr_assert(fx_convert(F.e, 10000, "EUR", "JPY", &v));
	cr_assert_eq(v, 16187);
	/* floats are refused */
	rates = json_pack("{s:f}", "EUR", 1.08);
	cr_assert_eq(engine_fx_rates_set(F.e, &FIN, "USD", rates, &o, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "rates.EUR");
	json_decref(rates);
	rates = json_pack("{s:s}", "EUR", "1e3");
	cr_assert_eq(engine_fx_rates_set(F.e, &FIN, "USD", rates, &o, &d), FF_E_INVALID);
	json_decref(rates);
}

Test(finance, reports_against_hand_computed_numbers)
{
	three_rewards(); /* created at T0: 3 x $25 acme, 1 x $10 zeta */
	json_t *b = make_batch(&FIN, "acme");
	fftime_set_now(T0 + 2 * DAY);
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_fulfill(F.e, &ACME, bid(b), "CM-1", &o, &d), FF_OK);
	json_decref(o);
	char memo[1024];
	snprintf(memo, sizeof(memo), "reward_id,amount,currency\n%s,2500,USD\n%s,2400,USD\n%s,2500,USD\nrwd_x,1,USD\n",
		 rid(b, 0), rid(b, 1), rid(b, 2));
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK);
	json_decref(o);
	snprintf(memo, sizeof(memo), "reward_id,amount,currency\n%s,2500,USD\n%s,2500,USD\n%s,2500,USD\n", rid(b, 0),
		 rid(b, 1), rid(b, 2));
	cr_assert_eq(reconcile(bid(b), memo, &o, &d), FF_OK);
	json_decref(o);

	/* payouts by day: earned Oct 1 (4 rewards, $85), paid Oct 3 (3, $75, reconciled) */
	cr_assert_eq(engine_report_payouts(F.e, &FIN, T0, T0 + 31 * DAY, REPORT_DAY, "EUR", &o, &d), FF_OK, "%s",
		     d.message);
	json_t *data = json_object_get(o, "data");
	cr_assert_eq(json_array_size(data), 2);
	json_t *d1 = json_array_get(data, 0), *d3 = json_array_get(data, 1);
	cr_assert_str_eq(sget(d1, "period"), "2026-10-01");
	cr_assert_eq(iget(d1, "expected_amount"), 8500);
	cr_assert_eq(iget(d1, "expected_count"), 4);
	cr_assert_eq(iget(d1, "actual_amount"), 0);
	cr_assert_str_eq(sget(d3, "period"), "2026-10-03");
	cr_assert_eq(iget(d3, "actual_amount"), 7500);
	cr_assert_eq(iget(d3, "reconciled_amount"), 7500);
	cr_assert_eq(iget(d3, "difference"), -7500);
	cr_assert_eq(json_array_size(json_object_get(o, "missing_rates")), 1, "no USD->EUR rate yet");
	json_decref(o);
	json_t *rates = json_pack("{s:s}", "USD", "0.9");
	cr_assert_eq(engine_fx_rates_set(F.e, &FIN, "EUR", rates, &o, &d), FF_OK, "%s", d.message);
	json_decref(rates);
	json_decref(o);
	cr_assert_eq(engine_report_payouts(F.e, &FIN, 0, 0, REPORT_MONTH, NULL, &o, &d), FF_OK);
	data = json_object_get(o, "data");
	cr_assert_eq(json_array_size(data), 1);
	cr_assert_str_eq(sget(json_array_get(data, 0), "period"), "2026-10");
	cr_assert_eq(iget(json_array_get(data, 0), "expected_amount"), 8500);
	cr_assert_eq(iget(json_array_get(data, 0), "actual_amount"), 7500);
	json_t *conv = json_array_get(json_object_get(o, "converted"), 0);
	cr_assert_str_eq(sget(conv, "currency"), "EUR");
	cr_assert_eq(iget(conv, "expected_amount"), 7650);
	cr_assert_eq(iget(conv, "actual_amount"), 6750);
	struct ffbuf csv;
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_report_csv(o, &csv, &d), FF_OK);
	cr_assert_str_eq(csv.data, "period,period_start,currency,expected_count,expected_amount,actual_count,actual_amount,"
				   "reconciled_count,reconciled_amount,difference,reporting_currency,"
				   "converted_expected_amount,converted_actual_amount,converted_reconciled_amount\r\n"
				   "2026-10,2026-10-01T00:00:00.000Z,USD,4,8500,3,7500,3,7500,1000,EUR,7650,6750,6750\r\n");
	ffbuf_release(&csv);
	json_decref(o);
	/* weeks start on Monday: Oct 1 2026 is a Thursday -> week of Sep 28 */
	cr_assert_eq(engine_report_payouts(F.e, &FIN, 0, 0, REPORT_WEEK, "USD", &o, &d), FF_OK);
	cr_assert_str_eq(sget(json_array_get(json_object_get(o, "data"), 0), "period"), "2026-09-28");
	json_decref(o);

	/* aging at Oct 12: the zeta reward (approved, created Oct 1) is 11 days old */
	cr_assert_eq(engine_report_aging(F.e, &FIN, T0 + 11 * DAY, &o, &d), FF_OK, "%s", d.message);
	cr_assert_eq(iget(json_object_get(o, "by_bucket"), "8-30"), 1);
	cr_assert_eq(iget(json_object_get(o, "by_bucket"), "0-7"), 0);
	json_t *row = json_array_get(json_object_get(o, "data"), 0);
	cr_assert_str_eq(sget(row, "status"), "approved");
	cr_assert_str_eq(sget(row, "reason"), "awaiting_batch");
	cr_assert_eq(iget(row, "amount"), 1000);
	json_decref(o);
	cr_assert_eq(engine_report_aging(F.e, &FIN, T0 + 100 * DAY, &o, &d), FF_OK);
	cr_assert_eq(iget(json_object_get(o, "by_bucket"), "90+"), 1);
	json_decref(o);

	/* KPIs: lines 2 matched + 2 discrepancies, then 3 matched: 5/7 = 71.43% */
	cr_assert_eq(engine_fee_set(F.e, &FIN, "manual", "USD", 50, 100, &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert_eq(engine_report_kpis(F.e, &FIN, 0, 0, &o, &d), FF_OK, "%s", d.message);
	json_t *acc = json_object_get(o, "payout_accuracy");
	cr_assert_eq(iget(acc, "accuracy_bp"), 7143);
	cr_assert_eq(iget(acc, "runs"), 2);
	cr_assert_eq(iget(acc, "runs_reconciled"), 1);
	json_t *cyc = json_object_get(o, "cycle_time");
	cr_assert_eq(iget(cyc, "count"), 3);
	cr_assert_eq(iget(cyc, "p50_ms"), 2 * DAY);
	cr_assert_eq(iget(cyc, "p95_ms"), 2 * DAY);
	json_t *cost = json_array_get(json_object_get(o, "cost_per_payout"), 0);
	cr_assert_str_eq(sget(cost, "connector"), "manual");
	cr_assert_eq(iget(cost, "payouts"), 3);
	cr_assert_eq(iget(cost, "cost"), 225); /* 3 x 50 + 1% of 7500 */
	cr_assert_eq(iget(cost, "cost_per_payout"), 75);
	cr_assert_eq(iget(o, "exception_queue"), 0);
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_report_csv(o, &csv, &d), FF_OK);
	cr_assert_not_null(strstr(csv.data, "\r\ncost_per_payout,manual,USD,75\r\n"), "%s", csv.data);
	ffbuf_release(&csv);
	json_decref(o);

	/* credit status per participant, as acme sees it */
	earn("cash", "jessica", 2); /* new, not batched */
	cr_assert_eq(engine_report_credit_status(F.e, &ACME, NULL, &o, &d), FF_OK, "%s", d.message);
	data = json_object_get(o, "data");
	cr_assert_eq(json_array_size(data), 3);
	json_t *j = json_array_get(data, 1);
	cr_assert_str_eq(sget(j, "participant"), "jessica");
	cr_assert_str_eq(sget(j, "fulfiller"), "acme");
	cr_assert_eq(iget(j, "reconciled_count"), 1);
	cr_assert_eq(iget(j, "reconciled_amount"), 2500);
	cr_assert_eq(iget(j, "new_count"), 1);
	json_decref(o);
	cr_assert_eq(engine_report_credit_status(F.e, &ACME, "zeta", &o, &d), FF_E_NOT_FOUND);
	cr_assert_eq(engine_report_credit_status(F.e, &FIN, "zeta", &o, &d), FF_OK);
	cr_assert_eq(iget(json_array_get(json_object_get(o, "data"), 0), "new_count"), 1);
	json_decref(o);
	cr_assert_eq(engine_report_kpis(F.e, &ACME, 0, 0, &o, &d), FF_E_FORBIDDEN);

	/* the participants report renders as CSV too */
	cr_assert_eq(engine_report_participants(F.e, &FIN, &o, &d), FF_OK);
	ffbuf_init(&csv, 0);
	cr_assert_eq(engine_report_csv(o, &csv, &d), FF_OK);
	cr_assert(!strncmp(csv.data, "participant,referrals,", 22));
	ffbuf_release(&csv);
	json_decref(o);
	json_decref(b);
}

Test(finance, batch_in_progress_and_in_batch_in_credit_status)
{
	three_rewards();
	json_t *b = make_batch(&FIN, "acme");
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_report_credit_status(F.e, &FIN, "acme", &o, &d), FF_OK);
	json_t *row = json_array_get(json_object_get(o, "data"), 0);
	cr_assert_eq(iget(row, "in_batch_count"), 1);
	cr_assert_eq(iget(row, "in_batch_amount"), 2500);
	json_decref(o);
	/* a batch that is only open cannot be reconciled */
	cr_assert_eq(reconcile(bid(b), "reward_id,amount\n", &o, &d), FF_E_INVALID_TRANSITION);
	json_decref(b);
}

Test(finance, weekly_and_monthly_schedules_release_on_local_boundaries)
{
	/* weekly in New York: a conversion on Wednesday Oct 7 waits for Monday Oct 12 00:00
	 * EDT = 04:00Z */
	fx_program(&F, "{\"id\":\"wk\",\"name\":\"Weekly\",\"currency\":\"USD\",\"schedule\":\"weekly\",\"timezone\":"
		       "\"America/New_York\",\"rewards\":[{\"to\":\"referrer\",\"type\":\"cash\",\"amount\":100}],"
		       "\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	/* monthly in Berlin: Nov 1 00:00 CET (after the DST change of Oct 25) = Oct 31 23:00Z */
	fx_program(&F, "{\"id\":\"mo\",\"name\":\"Monthly\",\"currency\":\"USD\",\"schedule\":\"monthly\",\"timezone\":"
		       "\"Europe/Berlin\",\"rewards\":[{\"to\":\"referrer\",\"type\":\"cash\",\"amount\":100}],"
		       "\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	fftime_set_now(T0 + 6 * DAY + DAY / 2);
	earn("wk", "jessica", 1);
	earn("mo", "jessica", 1);
	json_t *all = fx_rewards(&F, "pending", NULL);
	cr_assert_eq(json_array_size(all), 2);
	cr_assert_str_eq(sget(json_array_get(all, 0), "release_at"), "2026-10-12T04:00:00.000Z");
	cr_assert_str_eq(sget(json_array_get(all, 1), "release_at"), "2026-10-31T23:00:00.000Z");
	cr_assert_str_eq(sget(json_array_get(all, 0), "reason"), "schedule");
	json_decref(all);
	int64_t mon = T0 + 11 * DAY + 4 * 3600 * 1000;
	json_t *w = fx_worker(&F, mon - 1);
	cr_assert_eq(iget(w, "released"), 0);
	json_decref(w);
	w = fx_worker(&F, mon);
	cr_assert_eq(iget(w, "released"), 1);
	json_decref(w);
	int64_t nov = T0 + 30 * DAY + 23 * 3600 * 1000;
	w = fx_worker(&F, nov - 1);
	cr_assert_eq(iget(w, "released"), 0);
	json_decref(w);
	w = fx_worker(&F, nov);
	cr_assert_eq(iget(w, "released"), 1);
	json_decref(w);
}

Test(finance, huge_reports_cap_the_listed_lines_not_the_counts)
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

Test(finance, reward_crossing_the_threshold_waits_for_the_form_at_creation)
{
	fx_program(&F, "{\"id\":\"big\",\"name\":\"Big\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"cash\",\"amount\":30000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	earn("big", "jessica", 1);
	earn("big", "jessica", 2); /* 300 + 300 reaches $600 exactly */
	json_t *all = fx_rewards(&F, NULL, "jessica");
	cr_assert_str_eq(sget(json_array_get(all, 0), "status"), "approved");
	cr_assert_str_eq(sget(json_array_get(all, 1), "status"), "pending");
	cr_assert_str_eq(sget(json_array_get(all, 1), "reason"), "tax_form_required");
	char id[64];
	snprintf(id, sizeof(id), "%s", sget(json_array_get(all, 1), "id"));
	json_decref(all);
	json_t *o = NULL, *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_participant_tax_form(F.e, &F.cli, "jessica", "w9", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert_eq(engine_reward_get(F.e, &F.cli, id, &r, &d), FF_OK);
	cr_assert_str_eq(sget(r, "status"), "approved");
	json_decref(r);
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
Test(finance, connector_reconciliation_checks_reward_id_against_reference)
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
Test(finance, connector_reconciliation_shared_reference_by_amount)
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

/* A reward held in December for that year's total is paid, and reported, in January:
 * the first worker pass of the new year judges it against the new year's total (it
 * waited for a form for ever). One the new year's total still reaches stays held. */
Test(finance, tax_hold_of_last_year_is_judged_again_in_the_new_year)
{
	fx_program(&F, "{\"id\":\"big\",\"name\":\"Big\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"cash\",\"amount\":55000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_program(&F, "{\"id\":\"small\",\"name\":\"Small\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"cash\",\"amount\":10000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_program(&F, "{\"id\":\"huge\",\"name\":\"Huge\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"cash\",\"amount\":60000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "jessica");
	fx_participant(&F, "tom");
	earn("big", "jessica", 1); /* $550, paid in October 2026 */
	json_t *b = make_batch(&FIN, "acme");
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_fulfill(F.e, &FIN, bid(b), "CM-1", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	json_decref(b);
	fftime_set_now(T0 + 80 * DAY); /* 2026-12-20: $550 + $100 reaches $600 */
	earn("small", "jessica", 1);
	earn("huge", "tom", 1); /* $600 alone */
	json_t *all = fx_rewards(&F, "pending", NULL);
	cr_assert_eq(json_array_size(all), 2);
	char small[64], huge[64];
	for (size_t i = 0; i < 2; i++) {
		json_t *r = json_array_get(all, i);
		cr_assert_str_eq(sget(r, "reason"), "tax_form_required");
		snprintf(!strcmp(sget(r, "participant"), "jessica") ? small : huge, 64, "%s", sget(r, "id"));
	}
	json_decref(all);
	json_t *w = fx_worker(&F, T0 + 81 * DAY);
	cr_assert_eq(iget(w, "released"), 0);
	json_decref(w);
	w = fx_worker(&F, T0 + 93 * DAY); /* 2027-01-02 */
	cr_assert_eq(iget(w, "released"), 1);
	json_decref(w);
	json_t *r = NULL;
	cr_assert_eq(engine_reward_get(F.e, &F.cli, small, &r, &d), FF_OK);
	cr_assert_str_eq(sget(r, "status"), "approved");
	cr_assert_str_eq(sget(r, "reason"), "awaiting_batch");
	json_t *h = json_object_get(r, "history");
	json_t *last = json_array_get(h, json_array_size(h) - 1);
	cr_assert_str_eq(sget(last, "from"), "pending");
	cr_assert_str_eq(sget(last, "to"), "approved");
	json_decref(r);
	cr_assert_str_eq(reward_status(huge), "pending");
	w = fx_worker(&F, T0 + 94 * DAY); /* once a year */
	cr_assert_eq(iget(w, "released"), 0);
	json_decref(w);
	cr_assert_str_eq(reward_status(huge), "pending");
}

/* A tax setting that no longer justifies a hold lifts it at once: a raised threshold,
 * then a type that is no longer reportable. */
Test(finance, tax_settings_that_lift_a_hold_release_it_at_once)
{
	fx_program(&F, "{\"id\":\"huge\",\"name\":\"Huge\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"cash\",\"amount\":60000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}");
	fx_participant(&F, "tom");
	fx_participant(&F, "ann");
	earn("huge", "tom", 1); /* $600: held */
	json_t *held = fx_rewards(&F, "pending", NULL);
	cr_assert_eq(json_array_size(held), 1);
	char tom[64];
	snprintf(tom, sizeof(tom), "%s", sget(json_array_get(held, 0), "id"));
	cr_assert_str_eq(sget(json_array_get(held, 0), "reason"), "tax_form_required");
	json_decref(held);
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_tax_threshold_set(F.e, &FIN, "US", 100000, "USD", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	cr_assert_str_eq(reward_status(tom), "approved", "released by the higher threshold");

	cr_assert_eq(engine_tax_threshold_set(F.e, &FIN, "US", 60000, "USD", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	earn("huge", "ann", 1); /* held again under $600 */
	held = fx_rewards(&F, "pending", NULL);
	cr_assert_eq(json_array_size(held), 1);
	char ann[64];
	snprintf(ann, sizeof(ann), "%s", sget(json_array_get(held, 0), "id"));
	json_decref(held);
	json_t *types = json_pack("[s]", "gift_card");
	cr_assert_eq(engine_tax_reportable_types_set(F.e, &FIN, types, &o, &d), FF_OK, "%s", d.message);
	json_decref(types);
	json_decref(o);
	cr_assert_str_eq(reward_status(ann), "approved", "cash is no longer reportable");
}
