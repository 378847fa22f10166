/*
 * finance_test.c - the finance side through the engine API (finance_fixture.h): batch
 * life cycle and fulfiller scope, a closed batch holding its rewards, fx conversion,
 * fees, the payouts, aging, KPI and credit-status reports against hand-computed
 * numbers, and payout schedules on calendar boundaries in a program's time zone.
 * Reconciliation is in recon_test.c, tax in tax_test.c. Runs on SQLite and, under
 * tests/with-postgres, on PostgreSQL.
 */
#include "finance_fixture.h"

TestSuite(finance, .init = setup, .fini = teardown);

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
