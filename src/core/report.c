/*
 * report.c - finance reports (SPEC §6, §10): payouts (expected vs actual per period and
 * currency, converted to a reporting currency), pending aging, KPIs (payout accuracy,
 * cycle time, cost per payout, exception queue) and the per-fulfiller credit status;
 * plus the one CSV renderer every report shares.
 *
 * Each report is {"object": "report.<name>", "columns": [...], "data": [flat rows],
 * ...extras}: the rows are what a spreadsheet wants, the extras what a chart wants.
 * The database aggregates per day (integer division of the millisecond timestamps,
 * the same in SQLite and PostgreSQL); weeks and months are rolled up here, in UTC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/buf.h"
#include "fulfill/csv.h"
#include "fulfill/money.h"

#define FOREVER INT64_MAX

static bool scoped(const struct actor *a)
{
	return a->participant[0] || a->fulfiller[0];
}

int report_group_parse(const char *s)
{
	if (!s || !strcmp(s, "day"))
		return REPORT_DAY;
	if (!strcmp(s, "week"))
		return REPORT_WEEK;
	if (!strcmp(s, "month"))
		return REPORT_MONTH;
	return -1;
}

/* Civil date of a day number (days since 1970-01-01), and back (H. Hinnant). */
static void civil(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_of(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* First day of the period holding day `day`. */
static int64_t period_start(int64_t day, enum report_group g)
{
	if (g == REPORT_WEEK)
		return day - (((day + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
	if (g == REPORT_MONTH) {
		int64_t y;
		int m, d;
		civil(day, &y, &m, &d);
		return days_of(y, m, 1);
	}
	return day;
}

static void period_label(int64_t day, enum report_group g, char *out, size_t n)
{
	int64_t y;
	int m, d;
	civil(day, &y, &m, &d);
	if (g == REPORT_MONTH)
		snprintf(out, n, "%04lld-%02d", (long long)y, m);
	else
		snprintf(out, n, "%04lld-%02d-%02d", (long long)y, m, d);
}

static const char *const group_names[] = {"day", "week", "month"};

struct prow {
	int64_t start; /* day number */
	char currency[8];
	int64_t exp_n, exp_amount, act_n, act_amount, rec_n, rec_amount;
};

static int prow_cmp(const void *a, const void *b)
{
	const struct prow *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->currency, y->currency);
}

struct prows {
	struct prow *v;
	size_t n, cap;
	json_t *index; /* "start|currency" -> position */
};

static struct prow *prow_get(struct prows *t, int64_t start, const char *currency)
{
	char key[48];
	snprintf(key, sizeof(key), "%lld|%s", (long long)start, currency);
	json_t *pos = json_object_get(t->index, key);
	if (pos)
		return &t->v[json_integer_value(pos)];
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = ff_realloc(t->v, t->cap * sizeof(*t->v));
	}
	struct prow *r = &t->v[t->n];
	memset(r, 0, sizeof(*r));
	r->start = start;
	copy_str(r->currency, sizeof(r->currency), currency);
	json_object_set_new(t->index, key, json_integer((json_int_t)t->n));
	t->n++;
	return r;
}

static json_t *window_json(int64_t ms)
{
	return ms ? json_time(ms, true) : json_null();
}

enum ff_err engine_report_payouts(struct engine *e, const struct actor *a, int64_t from, int64_t to,
				  enum report_group group, const char *reporting, json_t **out, struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "the payouts report is not in this key's scope"));
	if ((int)group < REPORT_DAY || group > REPORT_MONTH)
		return core_done(e, ff_fail(d, FF_E_INVALID, "group", "group must be day, week or month"));
	if (from < 0 || to < 0 || (to && to <= from))
		return core_done(e, ff_fail(d, FF_E_INVALID, "to", "the window [from, to) is empty"));
	char rep[8];
	if (reporting && *reporting) {
		if (!money_currency_valid(reporting) || !strcmp(reporting, "POINT"))
			return core_done(e, ff_fail(d, FF_E_INVALID_CURRENCY, "reporting", "unknown reporting currency \"%.8s\"",
						    reporting));
		copy_str(rep, sizeof(rep), reporting);
	} else {
		fx_reporting_currency(e, rep);
	}
	struct prows t = {.index = json_object()};
	struct store_stmt *st = store_query(e->st, Q_REPORT_EARNED_DAILY);
	store_bind_int(st, 1, from);
	store_bind_int(st, 2, to ? to : FOREVER);
	while (store_step(st) == 1) {
		struct prow *r = prow_get(&t, period_start(store_col_int(st, 0), group), store_col_text(st, 1));
		r->exp_n += store_col_int(st, 2);
		r->exp_amount += store_col_int(st, 3);
	}
	st = store_query(e->st, Q_REPORT_PAID_DAILY);
	store_bind_int(st, 1, from);
	store_bind_int(st, 2, to ? to : FOREVER);
	while (store_step(st) == 1) {
		struct prow *r = prow_get(&t, period_start(store_col_int(st, 0), group), store_col_text(st, 1));
		r->act_n += store_col_int(st, 2);
		r->act_amount += store_col_int(st, 3);
		r->rec_n += store_col_int(st, 4);
		r->rec_amount += store_col_int(st, 5);
	}
	json_decref(t.index);
	if (t.n)
		qsort(t.v, t.n, sizeof(*t.v), prow_cmp);
	json_t *data = json_array(), *converted = json_array(), *missing = json_array(), *totals = json_object();
	json_t *conv = NULL;
	int64_t conv_start = -1;
	for (size_t i = 0; i < t.n; i++) {
		struct prow *r = &t.v[i];
		char label[16], dbuf[48];
		period_label(r->start, group, label, sizeof(label));
		json_t *row = json_object();
		json_object_set_new(row, "period", json_string(label));
		json_object_set_new(row, "period_start", json_time(r->start * FFTIME_DAY_MS, true));
		json_object_set_new(row, "currency", json_string(r->currency));
		json_object_set_new(row, "expected_count", json_integer(r->exp_n));
		json_object_set_new(row, "expected_amount", json_integer(r->exp_amount));
		json_object_set_new(row, "actual_count", json_integer(r->act_n));
		json_object_set_new(row, "actual_amount", json_integer(r->act_amount));
		json_object_set_new(row, "reconciled_count", json_integer(r->rec_n));
		json_object_set_new(row, "reconciled_amount", json_integer(r->rec_amount));
		json_object_set_new(row, "difference", json_integer(r->exp_amount - r->act_amount));
		json_object_set_new(row, "reporting_currency", json_string(rep));
		json_object_set_new(row, "expected_decimal", json_string(money_format(r->exp_amount, r->currency, dbuf, sizeof(dbuf))));
		json_object_set_new(row, "actual_decimal", json_string(money_format(r->act_amount, r->currency, dbuf, sizeof(dbuf))));
		json_array_append_new(data, row);
		/* per-currency totals over the window */
		json_t *tot = json_object_get(totals, r->currency);
		if (!tot) {
			tot = json_pack("{s:s, s:I, s:I, s:I}", "currency", r->currency, "expected_amount", (json_int_t)0,
					"actual_amount", (json_int_t)0, "reconciled_amount", (json_int_t)0);
			json_object_set_new(totals, r->currency, tot);
		}
		json_object_set_new(tot, "expected_amount",
				    json_integer(json_integer_value(json_object_get(tot, "expected_amount")) + r->exp_amount));
		json_object_set_new(tot, "actual_amount",
				    json_integer(json_integer_value(json_object_get(tot, "actual_amount")) + r->act_amount));
		json_object_set_new(tot, "reconciled_amount",
				    json_integer(json_integer_value(json_object_get(tot, "reconciled_amount")) + r->rec_amount));
		/* converted into the reporting currency, one entry per period */
		if (r->start != conv_start) {
			conv = json_pack("{s:s, s:o, s:s, s:I, s:I, s:I}", "period", label, "period_start",
					 json_time(r->start * FFTIME_DAY_MS, true), "currency", rep, "expected_amount",
					 (json_int_t)0, "actual_amount", (json_int_t)0, "reconciled_amount", (json_int_t)0);
			json_array_append_new(converted, conv);
			conv_start = r->start;
		}
		int64_t ve, va, vr;
		if (fx_convert(e, r->exp_amount, r->currency, rep, &ve) && fx_convert(e, r->act_amount, r->currency, rep, &va) &&
		    fx_convert(e, r->rec_amount, r->currency, rep, &vr)) {
			/* the row's own conversion too (the CSV has no `converted` list): the
			 * period's converted amounts are the sums of its rows' */
			json_object_set_new(row, "converted_expected_amount", json_integer(ve));
			json_object_set_new(row, "converted_actual_amount", json_integer(va));
			json_object_set_new(row, "converted_reconciled_amount", json_integer(vr));
			json_object_set_new(conv, "expected_amount",
					    json_integer(money_add_sat(json_integer_value(json_object_get(conv, "expected_amount")), ve)));
			json_object_set_new(conv, "actual_amount",
					    json_integer(money_add_sat(json_integer_value(json_object_get(conv, "actual_amount")), va)));
			json_object_set_new(conv, "reconciled_amount",
					    json_integer(money_add_sat(json_integer_value(json_object_get(conv, "reconciled_amount")), vr)));
		} else {
			json_object_set_new(row, "converted_expected_amount", json_null());
			json_object_set_new(row, "converted_actual_amount", json_null());
			json_object_set_new(row, "converted_reconciled_amount", json_null());
			bool listed = false;
			size_t k;
			json_t *m;
			json_array_foreach(missing, k, m) listed |= !strcmp(json_string_value(m), r->currency);
			if (!listed)
				json_array_append_new(missing, json_string(r->currency));
		}
	}
	free(t.v);
	json_t *tot_list = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(totals, k, v) json_array_append(tot_list, v);
	json_decref(totals);
	json_t *cols = json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s]", "period", "period_start", "currency",
				 "expected_count", "expected_amount", "actual_count", "actual_amount",
				 "reconciled_count", "reconciled_amount", "difference", "reporting_currency",
				 "converted_expected_amount", "converted_actual_amount", "converted_reconciled_amount");
	*out = json_pack("{s:s, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "object", "report.payouts", "from",
			 window_json(from), "to", window_json(to), "group", group_names[group], "reporting_currency", rep,
			 "columns", cols, "data", data, "totals", tot_list, "converted", converted, "missing_rates",
			 missing);
	return core_done(e, FF_OK);
}

static const char *const buckets[] = {"0-7", "8-30", "31-60", "61-90", "90+"};

static int bucket_of(int64_t days)
{
	return days <= 7 ? 0 : days <= 30 ? 1 : days <= 60 ? 2 : days <= 90 ? 3 : 4;
}

enum ff_err engine_report_aging(struct engine *e, const struct actor *a, int64_t now, json_t **out,
				struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "the aging report is not in this key's scope"));
	if (!now)
		now = fftime_now();
	json_t *index = json_object(), *data = json_array();
	json_t *by_bucket = json_object(), *by_reason = json_object();
	for (int b = 0; b < 5; b++)
		json_object_set_new(by_bucket, buckets[b], json_integer(0));
	struct store_stmt *st = store_query(e->st, Q_REPORT_AGING);
	store_bind_int(st, 1, now);
	int rc;
	while ((rc = store_step(st)) == 1) {
		const char *status = store_col_text(st, 0), *reason = store_col_text(st, 1);
		const char *bucket = buckets[bucket_of(store_col_int(st, 2))];
		const char *currency = store_col_text(st, 3);
		int64_t n = store_col_int(st, 4), amount = store_col_int(st, 5);
		char key[300];
		snprintf(key, sizeof(key), "%s|%s|%s|%s", status, reason, bucket, currency);
		json_t *row = json_object_get(index, key);
		if (!row) {
			/* no reason or no currency (a code or goods): null, as in the other reports */
			row = json_pack("{s:s, s:s?, s:s, s:s?, s:I, s:I}", "status", status,
					"reason", text_or_null(reason), "bucket", bucket,
					"currency", text_or_null(currency), "count", (json_int_t)0,
					"amount", (json_int_t)0);
			json_object_set(index, key, row);
			json_array_append_new(data, row);
		}
		json_object_set_new(row, "count", json_integer(json_integer_value(json_object_get(row, "count")) + n));
		json_object_set_new(row, "amount", json_integer(json_integer_value(json_object_get(row, "amount")) + amount));
		json_object_set_new(by_bucket, bucket,
				    json_integer(json_integer_value(json_object_get(by_bucket, bucket)) + n));
		char rkey[200];
		snprintf(rkey, sizeof(rkey), "%s%s%s", status, *reason ? ":" : "", reason);
		json_t *rb = json_object_get(by_reason, rkey);
		if (!rb) {
			rb = json_object();
			for (int b = 0; b < 5; b++)
				json_object_set_new(rb, buckets[b], json_integer(0));
			json_object_set_new(by_reason, rkey, rb);
		}
		json_object_set_new(rb, bucket, json_integer(json_integer_value(json_object_get(rb, bucket)) + n));
	}
	json_decref(index);
	if (rc < 0) {
		json_decref(data);
		json_decref(by_bucket);
		json_decref(by_reason);
		return core_done(e, core_store_fail(e, d, "aging report"));
	}
	json_t *cols = json_pack("[s,s,s,s,s,s]", "status", "reason", "bucket", "currency", "count", "amount");
	*out = json_pack("{s:s, s:o, s:[s,s,s,s,s], s:o, s:o, s:o, s:o}", "object", "report.aging", "as_of",
			 json_time(now, true), "buckets", buckets[0], buckets[1], buckets[2], buckets[3], buckets[4],
			 "columns", cols, "data", data, "by_bucket", by_bucket, "by_reason", by_reason);
	return core_done(e, FF_OK);
}

static json_t *kpi_row(const char *metric, const char *connector, const char *currency, json_t *value)
{
	return json_pack("{s:s, s:s?, s:s?, s:o}", "metric", metric, "connector", connector, "currency", currency,
			 "value", value);
}

/* The value at rank ceil(q/100 * n) (nearest-rank percentile) of the cycle times. */
static int64_t cycle_percentile(struct engine *e, int64_t from, int64_t to, int64_t n, int q)
{
	int64_t rank = (q * n + 99) / 100;
	struct store_stmt *st = store_query(e->st, Q_REPORT_CYCLE_AT);
	store_bind_int(st, 1, from);
	store_bind_int(st, 2, to);
	store_bind_int(st, 3, rank > 0 ? rank - 1 : 0);
	return store_step(st) == 1 ? store_col_int(st, 0) : 0;
}

enum ff_err engine_report_kpis(struct engine *e, const struct actor *a, int64_t from, int64_t to, json_t **out,
			       struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "the KPI report is not in this key's scope"));
	if (from < 0 || to < 0 || (to && to <= from))
		return core_done(e, ff_fail(d, FF_E_INVALID, "to", "the window [from, to) is empty"));
	int64_t hi = to ? to : FOREVER;
	json_t *rows = json_array();

	/* payout accuracy: reconciliation lines without a discrepancy */
	struct store_stmt *st = store_query(e->st, Q_RECON_STATS);
	store_bind_int(st, 1, from);
	store_bind_int(st, 2, hi);
	int64_t s[9] = {0};
	if (store_step(st) == 1)
		for (int i = 0; i < 9; i++)
			s[i] = store_col_int(st, i);
	int64_t matched = s[3], discrepancies = s[4] + s[5] + s[6] + s[7] + s[8];
	int64_t checked = matched + discrepancies;
	json_t *acc = json_pack("{s:o, s:I, s:I, s:I, s:I}", "accuracy_bp",
				checked ? json_integer(money_mul_div(matched, 10000, checked)) : json_null(), "matched",
				(json_int_t)matched, "discrepancies", (json_int_t)discrepancies, "runs", (json_int_t)s[0],
				"runs_reconciled", (json_int_t)s[1]);
	json_array_append_new(rows, kpi_row("payout_accuracy_bp", NULL, NULL, json_incref(json_object_get(acc, "accuracy_bp"))));

	/* cycle time conversion -> fulfilled */
	st = store_query(e->st, Q_REPORT_CYCLE_COUNT);
	store_bind_int(st, 1, from);
	store_bind_int(st, 2, hi);
	int64_t n = store_step(st) == 1 ? store_col_int(st, 0) : 0;
	json_t *cyc = json_pack("{s:I, s:o, s:o}", "count", (json_int_t)n, "p50_ms",
				n ? json_integer(cycle_percentile(e, from, hi, n, 50)) : json_null(), "p95_ms",
				n ? json_integer(cycle_percentile(e, from, hi, n, 95)) : json_null());
	json_array_append_new(rows, kpi_row("cycle_time_p50_ms", NULL, NULL, json_incref(json_object_get(cyc, "p50_ms"))));
	json_array_append_new(rows, kpi_row("cycle_time_p95_ms", NULL, NULL, json_incref(json_object_get(cyc, "p95_ms"))));

	/* cost per payout, per connector and currency, from the fee table */
	json_t *costs = json_array();
	st = store_query(e->st, Q_REPORT_PAYOUTS_BY_CONNECTOR);
	store_bind_int(st, 1, from);
	store_bind_int(st, 2, hi);
	while (store_step(st) == 1) /* payouts without a currency (codes, goods): null */
		json_array_append_new(costs, json_pack("{s:s, s:s?, s:I, s:I}", "connector",
						       store_col_text(st, 0), "currency",
						       text_or_null(store_col_text(st, 1)),
						       "payouts", (json_int_t)store_col_int(st, 2),
						       "amount", (json_int_t)store_col_int(st, 3)));
	size_t i;
	json_t *c;
	json_array_foreach(costs, i, c)
	{
		const char *conn = json_string_value(json_object_get(c, "connector"));
		const char *cur = json_string_value(json_object_get(c, "currency"));
		int64_t payouts = json_integer_value(json_object_get(c, "payouts"));
		int64_t amount = json_integer_value(json_object_get(c, "amount"));
		st = store_query(e->st, Q_FEE_GET);
		store_bind_text(st, 1, conn);
		store_bind_text(st, 2, cur); /* NULL without a currency: no fee matches */
		if (store_step(st) == 1 && payouts > 0) {
			int64_t fixed = store_col_int(st, 0), bp = store_col_int(st, 1);
			int64_t total = fixed * payouts + money_percent_bp(amount, bp);
			int64_t per = money_mul_div(total, 1, payouts);
			json_object_set_new(c, "fixed_amount", json_integer(fixed));
			json_object_set_new(c, "percent_bp", json_integer(bp));
			json_object_set_new(c, "cost", json_integer(total));
			json_object_set_new(c, "cost_per_payout", json_integer(per));
		} else {
			json_object_set_new(c, "cost", json_null());
			json_object_set_new(c, "cost_per_payout", json_null()); /* no fee configured */
		}
		json_array_append_new(rows, kpi_row("cost_per_payout", conn, cur, json_incref(json_object_get(c, "cost_per_payout"))));
	}

	/* exception queue */
	st = store_query(e->st, Q_REPORT_FAILED_COUNT);
	int64_t failed = store_step(st) == 1 ? store_col_int(st, 0) : 0;
	json_array_append_new(rows, kpi_row("exception_queue", NULL, NULL, json_integer(failed)));

	json_t *cols = json_pack("[s,s,s,s]", "metric", "connector", "currency", "value");
	*out = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "object", "report.kpis", "from", window_json(from),
			 "to", window_json(to), "payout_accuracy", acc, "cycle_time", cyc, "cost_per_payout", costs,
			 "exception_queue", (json_int_t)failed, "columns", cols, "data", rows);
	return core_done(e, FF_OK);
}

static const char *const credit_states[] = {"new", "in_batch", "fulfilled", "reconciled"};

enum ff_err engine_report_credit_status(struct engine *e, const struct actor *a, const char *fulfiller,
					json_t **out, struct ff_diag *d)
{
	if (a->fulfiller[0]) {
		if (fulfiller && *fulfiller && strcmp(fulfiller, a->fulfiller))
			return core_done(e, ff_fail(d, FF_E_NOT_FOUND, "fulfiller", "no fulfiller %s", fulfiller));
		fulfiller = a->fulfiller;
	}
	struct store_stmt *st = store_query(e->st, Q_REPORT_CREDIT_STATUS);
	store_bind_text(st, 1, fulfiller && *fulfiller ? fulfiller : NULL);
	store_bind_text(st, 2, a->participant[0] ? a->participant : NULL);
	json_t *index = json_object(), *data = json_array();
	int rc;
	while ((rc = store_step(st)) == 1) {
		char key[400];
		snprintf(key, sizeof(key), "%s|%s|%s", store_col_text(st, 0), store_col_text(st, 1), store_col_text(st, 2));
		json_t *row = json_object_get(index, key);
		if (!row) {
			row = json_pack("{s:s, s:s, s:s?}", "participant", store_col_text(st, 0),
					"fulfiller", store_col_text(st, 1), "currency",
					text_or_null(store_col_text(st, 2)));
			for (int k = 0; k < 4; k++) {
				char f[32];
				snprintf(f, sizeof(f), "%s_count", credit_states[k]);
				json_object_set_new(row, f, json_integer(0));
				snprintf(f, sizeof(f), "%s_amount", credit_states[k]);
				json_object_set_new(row, f, json_integer(0));
			}
			json_object_set(index, key, row);
			json_array_append_new(data, row);
		}
		char f[32];
		snprintf(f, sizeof(f), "%s_count", store_col_text(st, 3));
		json_object_set_new(row, f, json_integer(store_col_int(st, 4)));
		snprintf(f, sizeof(f), "%s_amount", store_col_text(st, 3));
		json_object_set_new(row, f, json_integer(store_col_int(st, 5)));
	}
	json_decref(index);
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "credit status report"));
	}
	json_t *cols = json_pack("[s,s,s,s,s,s,s,s,s,s,s]", "participant", "fulfiller", "currency", "new_count",
				 "new_amount", "in_batch_count", "in_batch_amount", "fulfilled_count", "fulfilled_amount",
				 "reconciled_count", "reconciled_amount");
	*out = json_pack("{s:s, s:s?, s:o, s:o}", "object", "report.credit_status", "fulfiller",
			 fulfiller && *fulfiller ? fulfiller : NULL, "columns", cols, "data", data);
	return core_done(e, FF_OK);
}

/* ---- CSV ---- */

static void csv_value(struct ffbuf *b, json_t *v)
{
	char num[32];
	if (json_is_string(v))
		csv_write_field(b, json_string_value(v));
	else if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		ffbuf_adds(b, num);
	} else if (json_is_true(v))
		ffbuf_adds(b, "true");
	else if (json_is_false(v))
		ffbuf_adds(b, "false");
	/* null, missing: an empty field */
}

static void csv_row(struct ffbuf *b, json_t *cols, json_t *row)
{
	size_t i;
	json_t *c;
	json_array_foreach(cols, i, c)
	{
		if (i)
			ffbuf_adds(b, ",");
		csv_value(b, row ? json_object_get(row, json_string_value(c)) : c);
	}
	ffbuf_adds(b, "\r\n");
}

/* engine_report_participants has nested per-status and per-currency parts: one line
 * per participant and currency. */
static void participants_csv(json_t *report, struct ffbuf *b)
{
	json_t *cols = json_pack("[s,s,s,s,s,s,s,s]", "participant", "referrals", "successful_referrals",
				 "rewards_earned", "rewards_fulfilled", "currency", "earned", "fulfilled");
	csv_row(b, cols, NULL);
	size_t i, j;
	json_t *p, *m;
	json_array_foreach(json_object_get(report, "data"), i, p)
	{
		json_t *amounts = json_object_get(p, "amounts");
		json_t *flat = json_deep_copy(p);
		if (!json_array_size(amounts)) {
			csv_row(b, cols, flat);
		} else {
			json_array_foreach(amounts, j, m)
			{
				json_object_update(flat, m);
				csv_row(b, cols, flat);
			}
		}
		json_decref(flat);
	}
	json_decref(cols);
}

enum ff_err engine_report_csv(json_t *report, struct ffbuf *out, struct ff_diag *d)
{
	const char *obj = json_string_value(json_object_get(report, "object"));
	if (!obj || strncmp(obj, "report.", 7))
		return ff_fail(d, FF_E_INVALID, NULL, "not a report");
	if (!strcmp(obj, "report.participants")) {
		participants_csv(report, out);
		return FF_OK;
	}
	json_t *cols = json_object_get(report, "columns");
	json_t *data = json_object_get(report, "data");
	if (!json_is_array(cols) || !json_is_array(data))
		return ff_fail(d, FF_E_INVALID, NULL, "report %s has no tabular form", obj);
	csv_row(out, cols, NULL);
	size_t i;
	json_t *row;
	json_array_foreach(data, i, row) csv_row(out, cols, row);
	return FF_OK;
}
