/*
 * provider_cases_test.c - edge cases real payment providers produce, through the real
 * worker against the fake providers (tests/fakes/fake_provider.py): a Recurly re-drive
 * after its 24-hour idempotency window, Stripe's Stripe-Should-Retry header, and
 * amounts Stripe cannot carry in a three-decimal currency. What goes on the wire for
 * each is in wire_test.c.
 */
#include "connect_fixture.h"

TestSuite(providers, .init = setup, .fini = teardown, .timeout = 60);

/* A Recurly percent discount whose coupon and redemption were both made while every
 * answer was lost, re-driven after Recurly forgot the keys: the coupon exists (looked
 * up), and its redemption is refused (the single-use coupon is maxed out - by our own
 * lost redemption). The account's redemption of our coupon is found: fulfilled with it
 * as the reference, not failed while the customer has the discount. */
Test(providers, recurly_redrive_after_the_key_window_finds_the_redemption)
{
	fx_program(&F, PROGRAM("rp", "\"type\":\"percent_discount\",\"percent_bp\":2000",
			       "{\"percent_discount\":\"recurly\"}"));
	use_provider("recurly", ",\"backoff_base_ms\":0");
	earn("rp", "kim", "{\"recurly_account_code\":\"kim1\"}", 1);
	fake_mode(&P, "{\"fail_after_rate\":1}");
	json_decref(fx_worker(&F, T0 + 1000));  /* the coupon made, its answer lost */
	json_decref(fx_worker(&F, T0 + 60000)); /* the coupon replayed; the redemption made, lost */
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 0);
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	fake_mode(&P, "{\"no_replay\":true}"); /* a day later: the keys are forgotten */
	json_decref(fx_worker(&F, T0 + 120000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "failed with: %s", first_field("failed", "last_error"));
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	json_t *eff = json_object_get(s, "effects");
	cr_assert_eq(json_integer_value(json_object_get(eff, "recurly_coupon")), 1);
	cr_assert_eq(json_integer_value(json_object_get(eff, "coupon_redemption")), 1, "the lost one, not a second");
	json_decref(s);
	cr_assert_eq(strncmp(first_field("fulfilled", "external_reference"), "rdm_", 4), 0);
	cr_assert_eq(strncmp(first_field("fulfilled", "code"), "fulfill-", 8), 0);
	cr_assert_str_eq(first_field("fulfilled", "last_error"), "");
}

/* Stripe-Should-Retry: false ends a reward at once, whatever the status says: a 500
 * (which may follow an executed request: the outcome stays unknown, so nobody cancels
 * it) and a 429 (nothing was done: a plain permanent failure). */
Test(providers, stripe_should_retry_false_fails_at_once)
{
	stripe_credit_program(",\"backoff_base_ms\":0,\"breaker_threshold\":1000");
	earn("s", "ann", "{\"stripe_customer_id\":\"cus_ann\"}", 1);
	fake_mode(&P, "{\"fail_next\":1,\"fail_status\":500,\"should_retry\":\"false\"}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "failed"), 1, "reason %s", first_field(NULL, "reason"));
	cr_assert_str_eq(first_field("failed", "reason"), "permanent_error");
	const char *err = first_field("failed", "last_error");
	cr_assert_eq(strncmp(err, "outcome unknown: ", 17), 0, "%s", err);
	cr_assert_not_null(strstr(err, "Stripe-Should-Retry: false"), "%s", err);
	cr_assert_eq(fake_stat(&P, "requests"), 1, "no retry");

	earn("s", "ben", "{\"stripe_customer_id\":\"cus_ben\"}", 1);
	fake_mode(&P, "{\"fail_next\":1,\"fail_status\":429,\"should_retry\":\"false\"}");
	json_decref(fx_worker(&F, T0 + 2000));
	json_t *r = fx_rewards(&F, "failed", "ben");
	cr_assert_eq(json_array_size(r), 1);
	err = json_string_value(json_object_get(json_array_get(r, 0), "last_error"));
	cr_assert_not_null(strstr(err, "Stripe-Should-Retry: false"), "%s", err);
	cr_assert_neq(strncmp(err, "outcome unknown: ", 17), 0, "a 429 did nothing: %s", err);
	json_decref(r);
}

/* Stripe-Should-Retry: true retries what the status alone would end (a 400 lock
 * timeout): the reward waits for its retry, which pays. */
Test(providers, stripe_should_retry_true_retries_a_lock_timeout)
{
	stripe_credit_program(",\"backoff_base_ms\":0");
	earn("s", "cai", "{\"stripe_customer_id\":\"cus_cai\"}", 1);
	fake_mode(&P, "{\"fail_next\":1,\"fail_status\":400,\"fail_type\":\"invalid_request_error\","
		      "\"fail_code\":\"lock_timeout\",\"should_retry\":\"true\"}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "approved"), 1, "status %s: %s", first_field(NULL, "status"),
		     first_field(NULL, "last_error"));
	cr_assert_str_eq(first_field("approved", "reason"), "retry_scheduled");
	fake_mode(&P, "{}");
	json_decref(fx_worker(&F, T0 + 5000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
	cr_assert_eq(fake_stat(&P, "distinct_keys"), 1);
}

/* A program in Bahraini dinars (three decimals): Stripe takes an amount whose last
 * digit is 0 (1.500 BHD) and not 1.505 BHD. fulfill does not round money: that reward
 * fails for an operator with the reason, and nothing about it reaches Stripe. */
Test(providers, stripe_three_decimal_amount_is_refused_not_rounded)
{
	fx_program(&F, "{\"id\":\"bh\",\"name\":\"BH\",\"currency\":\"BHD\",\"eligibility\":{\">=\":[{\"var\":"
		       "\"conversion.amount\"},1]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1505},"
		       "{\"to\":\"referred\",\"type\":\"credit\",\"amount\":1500}],\"hold_days\":0,\"expires_days\":365,"
		       "\"fulfillment\":{\"credit\":\"stripe\"}}");
	use_provider("stripe", "");
	fx_ok(&F, "{\"id\":\"p-hala\",\"type\":\"participant\",\"data\":{\"id\":\"hala\",\"attributes\":"
		  "{\"stripe_customer_id\":\"cus_hala\"}}}");
	fx_ok(&F, "{\"id\":\"p-isa\",\"type\":\"participant\",\"data\":{\"id\":\"isa\",\"attributes\":"
		  "{\"stripe_customer_id\":\"cus_isa\"}}}");
	fx_referral(&F, "r-hi", "bh", "hala", "isa");
	cr_assert_eq(fx_ok(&F, "{\"id\":\"c-hi\",\"type\":\"conversion\",\"data\":{\"id\":\"c-hi\",\"participant\":"
			       "\"isa\",\"amount\":50000,\"currency\":\"BHD\"}}"),
		     2);
	json_decref(fx_worker(&F, T0 + 1000));
	json_t *r = fx_rewards(&F, "failed", "hala");
	cr_assert_eq(json_array_size(r), 1, "%s", first_field(NULL, "status"));
	json_t *x = json_array_get(r, 0);
	cr_assert_str_eq(json_string_value(json_object_get(x, "reason")), "permanent_error");
	const char *err = json_string_value(json_object_get(x, "last_error"));
	cr_assert_not_null(strstr(err, "1.505 BHD cannot be sent exactly"), "%s", err);
	json_decref(r);
	r = fx_rewards(&F, "fulfilled", "isa");
	cr_assert_eq(json_array_size(r), 1, "1.500 BHD is sent as 1500");
	json_decref(r);
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	cr_assert_eq(json_integer_value(json_object_get(s, "requests")), 1, "the refused reward was never sent");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "effects"), "balance_transaction")), 1);
	json_decref(s);
}
