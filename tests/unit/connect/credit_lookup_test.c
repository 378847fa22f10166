/*
 * credit_lookup_test.c - a credit whose answer was lost is never paid twice, through the
 * real worker against the fake providers (tests/fakes/fake_provider.py). Stripe and
 * Recurly forget an idempotency key after about a day (the fake's "no_replay" mode); a
 * re-drive first looks for the credit the earlier attempt may have made (connector.h,
 * connector_lookup_*), and sends one only when the provider's list has none. What goes
 * on the wire is pinned in wire_test.c.
 */
#include "connect_fixture.h"

TestSuite(credit_lookup, .init = setup, .fini = teardown, .timeout = 60);

/* A request made at the fake by someone else than fulfill (the merchant's own credits
 * on the same customer or account); its answer must be a 2xx. */
static void provider_post(const char *path, const char *auth, const char *ctype, const char *body)
{
	char url[256];
	snprintf(url, sizeof(url), "%s%s", P.url, path);
	struct http_call c;
	http_call_init(&c, "POST", url);
	http_call_header(&c, "%s", auth);
	http_call_header(&c, "Content-Type: %s", ctype);
	http_call_header(&c, "Accept: application/vnd.recurly.v2021-02-25+json");
	http_call_body(&c, body, strlen(body));
	struct http_call *cs[1] = {&c};
	http_run(cs, 1, 1, "127.0.0.1");
	cr_assert(c.status >= 200 && c.status < 300, "%s: %ld %s", path, c.status, c.response.data);
	http_call_release(&c);
}

/* `n` credits on Stripe customer `cus` that are not fulfill's. */
static void stripe_foreign_credits(const char *cus, int n)
{
	char path[128];
	snprintf(path, sizeof(path), "/v1/customers/%s/balance_transactions", cus);
	for (int i = 0; i < n; i++)
		provider_post(path, "Authorization: Bearer sk_test_1234567890", "application/x-www-form-urlencoded",
			      "amount=-100&currency=usd&description=Goodwill");
}

/* The count of `kind` objects the fake made. */
static int64_t effects(const char *kind)
{
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	int64_t n = json_integer_value(json_object_get(json_object_get(s, "effects"), kind));
	json_decref(s);
	return n;
}

/* Requests of `method` the fake saw. */
static int64_t requests(const char *method)
{
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	int64_t n = json_integer_value(json_object_get(json_object_get(s, "methods"), method));
	json_decref(s);
	return n;
}

/* One Stripe credit reward for ann (cus_ann) whose first attempt did the work at
 * Stripe and lost the answer: approved, outcome unknown. */
static void stripe_credit_answer_lost(const char *extra)
{
	stripe_credit_program(extra);
	earn("s", "ann", "{\"stripe_customer_id\":\"cus_ann\"}", 1);
	fake_mode(&P, "{\"fail_after_rate\":1}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(effects("balance_transaction"), 1);
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	fake_mode(&P, "{}");
}

/* Within the key window: the re-drive looks first and finds the credit (the key would
 * have replayed it too): fulfilled with that credit, no second request to make one. */
Test(credit_lookup, stripe_redrive_within_the_window_finds_the_one_credit)
{
	stripe_credit_answer_lost(",\"backoff_base_ms\":0");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "%s", first_field(NULL, "last_error"));
	cr_assert_eq(effects("balance_transaction"), 1);
	cr_assert_eq(requests("POST"), 1, "the lost one only: the look-up found it");
	cr_assert_eq(requests("GET"), 1);
	/* the fake numbers its objects from 1: the lost credit was its first */
	cr_assert_str_eq(first_field("fulfilled", "external_reference"), "cbtxn_00000001");
	cr_assert_str_eq(first_field("fulfilled", "last_error"), "");
}

/* After the key window (Stripe forgot the key, so sending again would pay twice), the
 * lost credit is found on the third page of the customer's balance transactions, behind
 * newer credits that are not fulfill's: fulfilled with it, one credit in all. */
Test(credit_lookup, stripe_redrive_after_the_window_finds_the_credit)
{
	stripe_credit_answer_lost(",\"backoff_base_ms\":0");
	stripe_foreign_credits("cus_ann", 4);
	fake_mode(&P, "{\"no_replay\":true,\"page_size\":2}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "%s", first_field(NULL, "last_error"));
	cr_assert_eq(effects("balance_transaction"), 5, "the lost credit and the 4 others, no second one");
	cr_assert_eq(requests("GET"), 3, "three pages");
	cr_assert_str_eq(first_field("fulfilled", "external_reference"), "cbtxn_00000001");
}

/* After the window, when the earlier attempt did nothing (a 500 before any work): the
 * look-up finds no credit, and one is sent - once. */
Test(credit_lookup, stripe_redrive_after_the_window_without_a_credit_sends_once)
{
	stripe_credit_program(",\"backoff_base_ms\":0");
	earn("s", "ann", "{\"stripe_customer_id\":\"cus_ann\"}", 1);
	stripe_foreign_credits("cus_ann", 1);
	fake_mode(&P, "{\"fail_next\":1,\"fail_status\":500}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	cr_assert_eq(effects("balance_transaction"), 1, "the foreign one");
	fake_mode(&P, "{\"no_replay\":true}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "%s", first_field(NULL, "last_error"));
	cr_assert_eq(effects("balance_transaction"), 2);
	cr_assert_eq(requests("GET"), 1, "looked first");
	cr_assert_eq(requests("POST"), 3, "the foreign credit, the failed attempt, the credit");
	json_decref(fx_worker(&F, T0 + 3000));
	cr_assert_eq(effects("balance_transaction"), 2, "once");
}

/* A look-up that cannot decide sends nothing: refused (a 400) or past lookup_max_pages,
 * the reward waits, approved with reason outcome_unknown (it still cannot be cancelled),
 * and the connector's breaker does not count it. Raising lookup_max_pages lets the next
 * attempt find the credit. */
Test(credit_lookup, stripe_lookup_that_cannot_decide_holds_the_reward)
{
	stripe_credit_answer_lost(",\"backoff_base_ms\":0,\"lookup_max_pages\":2");
	stripe_foreign_credits("cus_ann", 4);
	fake_mode(&P, "{\"no_replay\":true,\"page_size\":2,\"fail_next\":1,\"fail_status\":400,"
		      "\"fail_type\":\"invalid_request_error\"}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "approved"), 1, "status %s", first_field(NULL, "status"));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	const char *err = first_field("approved", "last_error");
	cr_assert_eq(strncmp(err, "outcome unknown: ", 17), 0, "%s", err);
	cr_assert_not_null(strstr(err, "injected failure"), "%s", err);
	cr_assert_eq(requests("POST"), 5, "the lost credit and the 4 others: nothing sent");

	fake_mode(&P, "{\"no_replay\":true,\"page_size\":2}");
	json_decref(fx_worker(&F, T0 + 3000));
	cr_assert_eq(fx_count_status(&F, "approved"), 1, "status %s", first_field(NULL, "status"));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	err = first_field("approved", "last_error");
	cr_assert_not_null(strstr(err, "lookup_max_pages"), "%s", err);
	cr_assert_eq(requests("POST"), 5, "nothing sent");
	cr_assert_eq(requests("GET"), 3, "the refused page, then two pages");
	json_t *out = NULL;
	struct ff_diag d;
	char id[64];
	snprintf(id, sizeof(id), "%s", first_field("approved", "id"));
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_CANCEL, "oops", &out, &d), FF_E_INVALID_TRANSITION);
	json_t *conn = put_connector("stripe", "{\"type\":\"stripe\",\"config\":{\"api_key\":\"sk_test_1234567890\","
					       "\"base_url\":\"%s\",\"backoff_base_ms\":0,\"lookup_max_pages\":3}}",
				     P.url);
	json_decref(conn);
	json_decref(fx_worker(&F, T0 + 4000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "%s", first_field(NULL, "last_error"));
	cr_assert_str_eq(first_field("fulfilled", "external_reference"), "cbtxn_00000001");
	cr_assert_eq(effects("balance_transaction"), 5);
}

/* A look-up held past its bound is no failure of the provider: the connector's
 * breaker does not count it (with breaker_threshold 1, one count would open it). */
Test(credit_lookup, a_held_lookup_does_not_open_the_breaker)
{
	stripe_credit_answer_lost(",\"backoff_base_ms\":0");
	stripe_foreign_credits("cus_ann", 2);
	/* saving closes the breaker the lost answer counted in */
	use_provider("stripe", ",\"backoff_base_ms\":0,\"lookup_max_pages\":1,\"breaker_threshold\":1");
	fake_mode(&P, "{\"no_replay\":true,\"page_size\":1}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_connector_get(F.e, &F.cli, "stripe", &out, &d), FF_OK, "%s", d.message);
	json_t *breaker = json_object_get(out, "breaker");
	cr_assert_str_eq(json_string_value(json_object_get(breaker, "state")), "closed");
	cr_assert_eq(json_integer_value(json_object_get(breaker, "failures")), 0);
	json_decref(out);
}

/* Recurly: the credit line item made by the attempt whose answer was lost, after the
 * key window, is found on the account's second page of credits (its description carries
 * the reward id): fulfilled with it, one line item of ours. */
Test(credit_lookup, recurly_redrive_after_the_window_finds_the_credit)
{
	fx_program(&F, PROGRAM("rc", "\"type\":\"credit\",\"amount\":2000", "{\"credit\":\"recurly\"}"));
	use_provider("recurly", ",\"backoff_base_ms\":0");
	earn("rc", "kim", "{\"recurly_account_code\":\"kim1\"}", 1);
	fake_mode(&P, "{\"fail_after_rate\":1}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	fake_mode(&P, "{}");
	provider_post("/accounts/code-kim1/line_items", "Authorization: Basic cms6", "application/json",
		      "{\"type\":\"credit\",\"currency\":\"USD\",\"unit_amount\":1,\"description\":\"Goodwill\"}");
	fake_mode(&P, "{\"no_replay\":true,\"page_size\":1}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "%s", first_field(NULL, "last_error"));
	cr_assert_eq(effects("line_item"), 2, "ours (the lost one) and the goodwill credit, no second of ours");
	cr_assert_eq(requests("GET"), 2, "two pages");
	cr_assert_str_eq(first_field("fulfilled", "external_reference"), "li_00000001");
}

/* Recurly, after the window, when the earlier attempt did nothing: one credit is sent. */
Test(credit_lookup, recurly_redrive_after_the_window_without_a_credit_sends_once)
{
	fx_program(&F, PROGRAM("rc", "\"type\":\"credit\",\"amount\":2000", "{\"credit\":\"recurly\"}"));
	use_provider("recurly", ",\"backoff_base_ms\":0");
	earn("rc", "kim", "{\"recurly_account_code\":\"kim1\"}", 1);
	fake_mode(&P, "{\"fail_next\":1,\"fail_status\":503}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	fake_mode(&P, "{\"no_replay\":true}");
	json_decref(fx_worker(&F, T0 + 2000));
	json_decref(fx_worker(&F, T0 + 3000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "%s", first_field(NULL, "last_error"));
	cr_assert_eq(effects("line_item"), 1);
	cr_assert_eq(requests("GET"), 1, "looked first");
}

/* A participant event for ann with `attrs` (an upsert: attributes merge key by key, a
 * null removes one). */
static void ann_attributes(const char *event, const char *attrs)
{
	fx_ok(&F,
	      "{\"id\":\"%s\",\"type\":\"participant\",\"data\":{\"id\":\"ann\",\"email\":\"ann@example.com\","
	      "\"name\":\"ann\",\"country\":\"US\",\"currency\":\"USD\",\"status\":\"active\",\"attributes\":%s}}",
	      event, attrs);
}

/* The customer id is gone when a credit whose outcome is unknown is re-driven: the
 * earlier attempt may have paid, so the reward neither fails (which would clear that
 * mark, and a retry with a new id would pay twice) nor sends anything. It waits,
 * approved with reason outcome_unknown and a last_error naming the attribute, and
 * cannot be cancelled; with the id restored, the re-drive finds the credit. */
Test(credit_lookup, a_customer_id_gone_while_the_outcome_is_unknown_holds_the_reward)
{
	stripe_credit_answer_lost(",\"backoff_base_ms\":0");
	ann_attributes("p-ann-2", "{\"stripe_customer_id\":null}");
	fake_mode(&P, "{\"no_replay\":true}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "approved"), 1, "status %s: %s", first_field(NULL, "status"),
		     first_field(NULL, "last_error"));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	const char *err = first_field("approved", "last_error");
	cr_assert_eq(strncmp(err, "outcome unknown: ", 17), 0, "%s", err);
	cr_assert_not_null(strstr(err, "attributes.stripe_customer_id"), "%s", err);
	cr_assert_eq(requests("POST"), 1, "the lost credit only: nothing sent");
	cr_assert_eq(requests("GET"), 0);
	json_t *out = NULL;
	struct ff_diag d;
	char id[64];
	snprintf(id, sizeof(id), "%s", first_field("approved", "id"));
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_CANCEL, "oops", &out, &d), FF_E_INVALID_TRANSITION);

	ann_attributes("p-ann-3", "{\"stripe_customer_id\":\"cus_ann\"}");
	json_decref(fx_worker(&F, T0 + 3000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "%s", first_field(NULL, "last_error"));
	cr_assert_str_eq(first_field("fulfilled", "external_reference"), "cbtxn_00000001");
	cr_assert_eq(effects("balance_transaction"), 1, "paid once");
}

/* Held that way until max_attempts, the reward is failed (attempts_exhausted) still
 * outcome unknown: not cancellable, and an operator's retry keeps the mark, so the
 * retry looks for the credit before it sends one. */
Test(credit_lookup, a_recurly_account_gone_fails_only_when_attempts_run_out_and_stays_unknown)
{
	fx_program(&F, PROGRAM("rc", "\"type\":\"credit\",\"amount\":2000", "{\"credit\":\"recurly\"}"));
	json_decref(put_connector("recurly", "{\"type\":\"recurly\",\"config\":{\"api_key\":\"rk_123456789012\","
					     "\"base_url\":\"%s\",\"backoff_base_ms\":0,\"max_attempts\":2}}",
				  P.url));
	earn("rc", "ann", "{\"recurly_account_code\":\"ann1\"}", 1);
	fake_mode(&P, "{\"fail_after_rate\":1}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	fake_mode(&P, "{\"no_replay\":true}");
	ann_attributes("p-ann-2", "{\"recurly_account_code\":null}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "failed"), 1, "status %s", first_field(NULL, "status"));
	const char *err = first_field("failed", "last_error");
	cr_assert_eq(strncmp(err, "outcome unknown: ", 17), 0, "%s", err);
	cr_assert_not_null(strstr(err, "attributes.recurly_account_code"), "%s", err);
	cr_assert_eq(effects("line_item"), 1);
	json_t *out = NULL;
	struct ff_diag d;
	char id[64];
	snprintf(id, sizeof(id), "%s", first_field("failed", "id"));
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_CANCEL, "oops", &out, &d), FF_E_INVALID_TRANSITION);

	ann_attributes("p-ann-3", "{\"recurly_account_code\":\"ann1\"}");
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_RETRY, NULL, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	json_decref(fx_worker(&F, T0 + 3000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "%s", first_field(NULL, "last_error"));
	cr_assert_str_eq(first_field("fulfilled", "external_reference"), "li_00000001");
	cr_assert_eq(effects("line_item"), 1, "paid once");
}
