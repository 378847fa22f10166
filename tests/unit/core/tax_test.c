/*
 * tax_test.c - tax holds through the engine API (finance_fixture.h): the reporting
 * threshold reached exactly, the worker holding for a tax form and the form releasing,
 * a reviewed reward's approval applying the hold, a reward crossing the threshold
 * waiting at creation, last year's hold judged again in the new year, settings that
 * lift a hold, and the tax report. Runs on SQLite and, under tests/with-postgres, on
 * PostgreSQL.
 */
#include "finance_fixture.h"

TestSuite(tax, .init = setup, .fini = teardown);

Test(tax, tax_threshold_is_reached_exactly_at_600)
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

Test(tax, worker_holds_for_tax_form_and_the_form_releases)
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
Test(tax, approving_a_reviewed_reward_applies_the_tax_hold)
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

Test(tax, tax_report)
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

Test(tax, reward_crossing_the_threshold_waits_for_the_form_at_creation)
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

/* A reward held in December for that year's total is paid, and reported, in January:
 * the first worker pass of the new year judges it against the new year's total (it
 * waited for a form for ever). One the new year's total still reaches stays held. */
Test(tax, tax_hold_of_last_year_is_judged_again_in_the_new_year)
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
Test(tax, tax_settings_that_lift_a_hold_release_it_at_once)
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
