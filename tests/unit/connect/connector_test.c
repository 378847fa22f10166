/*
 * connector_test.c - fulfillment end to end through the engine API and the real
 * worker, against the local fake providers (tests/fakes/fake_provider.py) on loopback:
 * connector configuration and sealed secrets, exactly-once issuing (re-drive after a
 * crash, replayed idempotency keys), retries, backoff, attempts exhausted, the
 * breaker, permanent errors, refunds and reversals at the provider, the webhook
 * connector, the SSRF guard, and what a master key rotation must keep readable. Each
 * provider's reward types are in provider_rewards_test.c.
 */
#include <pthread.h>

#include "connect_fixture.h"

TestSuite(connect, .init = setup, .fini = teardown, .timeout = 60);

Test(connect, config_secrets_are_sealed_and_masked)
{
	json_t *c = put_connector("stripe", "{\"type\":\"stripe\",\"config\":{\"api_key\":\"sk_test_abcdefgh1234\","
					    "\"base_url\":\"%s\",\"timeout_ms\":2000}}",
				  P.url);
	json_t *cfg = json_object_get(c, "config");
	cr_assert_str_eq(json_string_value(json_object_get(cfg, "api_key")), "sk_...1234");
	cr_assert_eq(json_integer_value(json_object_get(cfg, "timeout_ms")), 2000);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "breaker"), "state")), "closed");
	json_decref(c);
	/* the key is not stored in clear anywhere */
	if (!strncmp(F.cfg.db_url, "sqlite:", 7)) {
		sqlite3 *db;
		sqlite3_open(F.cfg.db_url + 7, &db);
		sqlite3_stmt *st;
		sqlite3_prepare_v2(db, "SELECT config || coalesce(secrets, '') FROM connectors", -1, &st, NULL);
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
		cr_assert_null(strstr((const char *)sqlite3_column_text(st, 0), "abcdefgh1234"));
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	/* a later PUT without the secret keeps it */
	c = put_connector("stripe", "{\"type\":\"stripe\",\"config\":{\"base_url\":\"%s\"}}", P.url);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "config"), "api_key")), "sk_...1234");
	json_decref(c);
	/* unknown fields and bad values are refused with the field named */
	json_t *body = json_loads("{\"type\":\"stripe\",\"config\":{\"api_key\":\"sk_x\",\"colour\":1}}", 0, NULL);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_connector_put(F.e, &F.cli, "stripe", body, &out, &d), FF_E_UNKNOWN_FIELD);
	cr_assert_str_eq(d.param, "config.colour");
	json_decref(body);
	body = json_loads("{\"type\":\"stripe\",\"config\":{\"base_url\":\"http://10.0.0.1/\"}}", 0, NULL);
	cr_assert_eq(engine_connector_put(F.e, &F.cli, "stripe", body, &out, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "config.base_url");
	json_decref(body);
	cr_assert_eq(engine_connectors_list(F.e, &F.cli, NULL, &out, &d), FF_OK);
	cr_assert_eq(json_array_size(json_object_get(out, "data")), 1);
	json_decref(out);
}

Test(connect, stripe_credit_exactly_once_with_failures_after_the_effect)
{
	/* attempts to spare: a re-drive first looks for the credit, and the fake loses the
	 * answers of those look-ups as often as any other */
	stripe_credit_program(",\"backoff_base_ms\":0,\"breaker_threshold\":1000,\"max_attempts\":30");
	earn("s", "alice", "{\"stripe_customer_id\":\"cus_alice\"}", 20);
	/* Stripe did the work but the answer was lost: the retry finds the credit (or
	 * replays the same key) */
	fake_mode(&P, "{\"fail_after_rate\":0.5,\"drop_rate\":0.2}");
	for (int i = 0; i < 30 && fx_count_status(&F, "fulfilled") < 20; i++)
		json_decref(fx_worker(&F, T0 + 1000 + i * 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 20);
	cr_assert_eq(fake_stat(&P, "distinct_keys"), 20, "one balance transaction per reward");
	cr_assert_eq(fake_stat(&P, "duplicates"), 0);
	cr_assert_eq(strncmp(first_field("fulfilled", "external_reference"), "cbtxn_", 6), 0);
}

Test(connect, restart_redrives_issuing_with_the_same_key)
{
	stripe_credit_program("");
	earn("s", "bob", "{\"stripe_customer_id\":\"cus_bob\"}", 3);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 3);
	cr_assert_eq(fake_stat(&P, "distinct_keys"), 3);
	/* A crash after the call, before the result committed: the reward is still
	 * issuing under a lease far in the future. */
	fx_sql(&F, "UPDATE rewards SET status = 'issuing', external_reference = NULL, attempt_id = 'att_dead', "
		   "next_attempt_at = 99999999999999 WHERE participant = 'bob'");
	json_decref(fx_worker(&F, T0 + 2000)); /* the same handle respects the lease */
	cr_assert_eq(fx_count_status(&F, "issuing"), 3);
	engine_close(F.e);
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	json_decref(fx_worker(&F, T0 + 3000)); /* a restarted worker re-drives them */
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 3);
	cr_assert_eq(fake_stat(&P, "distinct_keys"), 3, "no second payout");
	cr_assert_eq(fake_stat(&P, "duplicates"), 0);
}

Test(connect, retries_backoff_then_failed_then_operator_retry)
{
	fx_program(&F, PROGRAM("s", "\"type\":\"credit\",\"amount\":2000", "{\"credit\":\"stripe\"}"));
	use_provider("stripe", ",\"max_attempts\":3,\"backoff_base_ms\":1000,\"breaker_threshold\":1000");
	earn("s", "carol", "{\"stripe_customer_id\":\"cus_carol\"}", 1);
	fake_mode(&P, "{\"fail_rate\":1,\"fail_status\":500}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "approved"), 1);
	/* a 500 may follow an executed request: the outcome is unknown until an answer */
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	cr_assert_not_null(strstr(first_field("approved", "last_error"), "500"));
	cr_assert_eq(strncmp(first_field("approved", "last_error"), "outcome unknown: ", 17), 0);
	json_decref(fx_worker(&F, T0 + 1000 + 10000));
	json_decref(fx_worker(&F, T0 + 1000 + 30000));
	cr_assert_eq(fx_count_status(&F, "failed"), 1, "attempts exhausted");
	cr_assert_str_eq(first_field("failed", "reason"), "attempts_exhausted");
	/* still maybe paid: an operator cannot cancel it, only retry it */
	json_t *r = fx_rewards(&F, "failed", NULL);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reward_action(F.e, &F.cli, json_string_value(json_object_get(json_array_get(r, 0), "id")),
					  REWARD_CANCEL, "give up", &out, &d),
		     FF_E_INVALID_TRANSITION);
	/* the exception queue: an operator retries once the provider is back */
	fake_mode(&P, "{}");
	cr_assert_eq(engine_reward_action(F.e, &F.cli, json_string_value(json_object_get(json_array_get(r, 0), "id")),
					  REWARD_RETRY, NULL, &out, &d),
		     FF_OK, "%s", d.message);
	json_decref(out);
	json_decref(r);
	json_decref(fx_worker(&F, T0 + 100000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
}

Test(connect, rate_limited_and_permanent_errors)
{
	stripe_credit_program(",\"backoff_base_ms\":0");
	earn("s", "dave", "{}", 1); /* no Stripe customer id: permanent */
	earn("s", "erin", "{\"stripe_customer_id\":\"nope_1\"}", 1); /* 404 resource_missing: permanent */
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "failed"), 2);
	cr_assert_str_eq(first_field("failed", "reason"), "permanent_error");
	earn("s", "fay", "{\"stripe_customer_id\":\"cus_fay\"}", 1);
	fake_mode(&P, "{\"fail_next\":1,\"fail_status\":429}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_str_eq(first_field("approved", "reason"), "retry_scheduled");
	json_decref(fx_worker(&F, T0 + 5000)); /* after Retry-After: 1 s */
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
}

Test(connect, breaker_holds_one_connector_while_others_flow)
{
	fx_program(&F, "{\"id\":\"mix\",\"name\":\"M\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"
		       "\"conversion.amount\"},1]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":100},"
		       "{\"to\":\"referred\",\"type\":\"gift_card\",\"amount\":2500}],\"hold_days\":0,\"expires_days\":365,"
		       "\"fulfillment\":{\"credit\":\"ledger\",\"gift_card\":\"giftcard\"}}");
	json_decref(put_connector("giftcard", "{\"type\":\"giftcard\",\"config\":{\"api_key\":\"tr_key_123456789\","
					      "\"funding_source_id\":\"BALANCE\",\"product_id\":\"AMZN\",\"base_url\":\"%s\","
					      "\"breaker_threshold\":2,\"breaker_cooldown_ms\":60000,\"backoff_base_ms\":0}}",
				  P.url));
	fake_mode(&P, "{\"fail_rate\":1}");
	for (int i = 0; i < 5; i++) {
		char who[16];
		snprintf(who, sizeof(who), "g%d", i);
		earn("mix", who, "{}", 1);
	}
	json_decref(fx_worker(&F, T0 + 1000));
	/* the ledger rewards flowed; the gift cards wait */
	json_t *all = fx_rewards(&F, NULL, NULL);
	int ledger_ok = 0;
	size_t i;
	json_t *r;
	json_array_foreach(all, i, r) if (!strcmp(json_string_value(json_object_get(r, "connector")), "ledger") &&
					  !strcmp(json_string_value(json_object_get(r, "status")), "fulfilled")) ledger_ok++;
	json_decref(all);
	cr_assert_eq(ledger_ok, 5);
	json_t *c = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_connector_get(F.e, &F.cli, "giftcard", &c, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "breaker"), "state")), "open");
	json_decref(c);
	json_decref(fx_worker(&F, T0 + 2000)); /* breaker open: no calls, rewards say why */
	cr_assert_eq(fx_count_status(&F, "approved"), 5);
	cr_assert_str_eq(first_field("approved", "reason"), "connector_unavailable");
	int64_t before = fake_stat(&P, "requests");
	json_decref(fx_worker(&F, T0 + 3000));
	cr_assert_eq(fake_stat(&P, "requests"), before, "no calls while the breaker is open");
	/* after the cooldown it closes by itself on success */
	fake_mode(&P, "{}");
	json_decref(fx_worker(&F, T0 + 1000 + 61000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 10);
}

/* The webhook connector never posts unsigned: a secret is required, and it must be a
 * Standard Webhooks secret. */
/* A failed reward retried by an operator passes the tax-form check again: with the
 * threshold lowered meanwhile it waits for the form (failed -> pending). */
Test(connect, retry_applies_the_tax_form_hold)
{
	fx_program(&F, PROGRAM("w", "\"type\":\"cash\",\"amount\":1000", "{\"cash\":\"webhook\"}"));
	json_decref(put_connector("webhook", "{\"type\":\"webhook\",\"config\":{\"url\":\"%s/hooks/fulfil\","
					     "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}}",
				  P.url));
	fake_mode(&P, "{\"fail_rate\":1,\"fail_status\":400}"); /* a definite refusal */
	earn("w", "tina", "{}", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "failed"), 1);
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_tax_threshold_set(F.e, &F.cli, "US", 500, "USD", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	fake_mode(&P, "{}");
	json_t *r = fx_rewards(&F, "failed", NULL);
	char id[64];
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(json_array_get(r, 0), "id")));
	json_decref(r);
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_RETRY, NULL, &o, &d), FF_OK, "%s", d.message);
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "pending");
	cr_assert_str_eq(json_string_value(json_object_get(o, "reason")), "tax_form_required");
	json_decref(o);
	json_decref(fx_worker(&F, T0 + 100000));
	cr_assert_eq(fx_count_status(&F, "pending"), 1, "no payout without the form");
}

Test(connect, webhook_connector_needs_a_signing_secret)
{
	static const char *const bad[] = {
	    "{\"type\":\"webhook\",\"config\":{\"url\":\"https://hooks.example/f\"}}",
	    "{\"type\":\"webhook\",\"config\":{\"url\":\"https://hooks.example/f\",\"secret\":\"not-a-whsec\"}}",
	    "{\"type\":\"webhook\",\"config\":{\"url\":\"https://hooks.example/f\",\"secret\":\"whsec_c2hvcnQ=\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *body = json_loads(bad[i], 0, NULL), *out = NULL;
		struct ff_diag d;
		cr_assert_eq(engine_connector_put(F.e, &F.cli, "hook", body, &out, &d), FF_E_INVALID, "%s", bad[i]);
		cr_assert_str_eq(d.param, "config.secret", "%s: %s", bad[i], d.message);
		json_decref(body);
	}
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_connector_get(F.e, &F.cli, "hook", &out, &d), FF_E_NOT_FOUND, "nothing was stored");
}

Test(connect, webhook_connector_signed_post)
{
	fx_program(&F, PROGRAM("w", "\"type\":\"cash\",\"amount\":1000", "{\"cash\":\"webhook\"}"));
	json_decref(put_connector("webhook", "{\"type\":\"webhook\",\"config\":{\"url\":\"%s/hooks/fulfil\","
					     "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}}",
				  P.url));
	fake_mode(&P, "{\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}");
	earn("w", "hank", "{}", 2);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 2);
	cr_assert_eq(fake_stat(&P, "bad_signatures"), 0);
	cr_assert_eq(strncmp(first_field("fulfilled", "external_reference"), "ext_rwd_", 8), 0, "%s",
		     first_field("fulfilled", "external_reference"));
}

Test(connect, unconfigured_connector_waits_and_is_released_by_configuration)
{
	fx_program(&F, PROGRAM("s", "\"type\":\"credit\",\"amount\":2000", "{\"credit\":\"stripe\"}"));
	earn("s", "ivy", "{\"stripe_customer_id\":\"cus_ivy\"}", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_str_eq(first_field("approved", "reason"), "connector_unavailable");
	use_provider("stripe", "");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
}

Test(connect, ssrf_guard)
{
	static const char *const refused[] = {
		"http://127.0.0.1/x",	     "http://[::1]/x",		 "http://169.254.169.254/latest/meta-data",
		"http://10.0.0.1/",	     "http://[::ffff:127.0.0.1]/", "http://2130706433/",
		"http://0x7f000001/",	     "http://017700000001/",	 "http://127.1/",
		"http://192.168.1.1/",	     "http://172.16.0.1/",	 "http://[fe80::1]/",
		"http://224.0.0.1/",	     "http://0.0.0.0/",		 "http://[::]/",
		"http://[::ffff:a9fe:a9fe]/", "http://100.64.0.1/",	 "ftp://8.8.8.8/",
		"file:///etc/passwd",	     "http://[fd00::1]/",	 "http://[64:ff9b::7f00:1]/",
		NULL};
	char pin[256], err[200];
	for (int i = 0; refused[i]; i++)
		cr_expect_lt(http_url_check(refused[i], NULL, pin, sizeof(pin), err, sizeof(err)), 0, "%s was allowed",
			     refused[i]);
	cr_assert_eq(http_url_check("https://8.8.8.8/hook", NULL, pin, sizeof(pin), err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(pin, "8.8.8.8:443:8.8.8.8");
	cr_assert_eq(http_url_check("http://127.0.0.1:9/x", "example.com, 127.0.0.1", pin, sizeof(pin), err, sizeof(err)), 0);
	cr_assert_lt(http_url_check("http://127.0.0.2/", "127.0.0.1", pin, sizeof(pin), err, sizeof(err)), 0,
		     "only the listed host is allowed");
	/* a refused call is never sent */
	struct http_call c;
	http_call_init(&c, "POST", "http://169.254.169.254/latest");
	struct http_call *cs[1] = {&c};
	http_run(cs, 1, 1, NULL);
	cr_assert(c.refused);
	cr_assert_eq(c.status, 0);
	http_call_release(&c);
}

Test(connect, refund_after_payout_reverses_at_the_provider)
{
	stripe_credit_program("");
	earn("s", "max", "{\"stripe_customer_id\":\"cus_max\"}", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
	fx_ok(&F, "{\"id\":\"rf-1\",\"type\":\"refund\",\"data\":{\"conversion\":\"c-max-0\",\"reason\":\"chargeback\"}}");
	cr_assert_eq(fx_count_status(&F, "reversed"), 1);
	json_t *w = fx_worker(&F, T0 + 2000);
	cr_assert_eq(json_integer_value(json_object_get(w, "reversed")), 1);
	json_decref(w);
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "effects"), "balance_transaction")), 2,
		     "the credit and its reversal");
	json_decref(s);
	w = fx_worker(&F, T0 + 400000);
	cr_assert_null(json_object_get(w, "reversed"), "reversed once");
	json_decref(w);
}

/* A reversal the provider keeps refusing with a retryable error is retried with a
 * growing backoff and at most max_attempts times, then recorded `failed` - not called
 * again every few seconds for ever. */
Test(connect, reversal_retries_are_bounded_with_backoff)
{
	fx_program(&F, PROGRAM("s", "\"type\":\"credit\",\"amount\":2000", "{\"credit\":\"stripe\"}"));
	use_provider("stripe",
		     ",\"max_attempts\":4,\"backoff_base_ms\":1000,\"backoff_cap_ms\":60000,\"breaker_threshold\":1000");
	earn("s", "vic", "{\"stripe_customer_id\":\"cus_vic\"}", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
	fx_ok(&F, "{\"id\":\"rf-vic\",\"type\":\"refund\",\"data\":{\"conversion\":\"c-vic-0\",\"reason\":\"chargeback\"}}");
	cr_assert_eq(fx_count_status(&F, "reversed"), 1);
	fake_mode(&P, "{\"fail_rate\":1,\"fail_status\":503}");
	int64_t before = fake_stat(&P, "requests");
	/* a pass every 5 s for an hour */
	for (int i = 0; i < 720; i++)
		json_decref(fx_worker(&F, T0 + 2000 + i * 5000));
	int64_t calls = fake_stat(&P, "requests") - before;
	cr_assert_eq(calls, 4, "%lld reversal calls", (long long)calls);
	json_t *texts = fx_sql_texts(&F, "SELECT reversal FROM rewards WHERE participant = 'vic'");
	cr_assert_str_eq(json_string_value(json_array_get(texts, 0)), "failed");
	json_decref(texts);
}

Test(connect, slow_provider_times_out_then_the_retry_replays)
{
	stripe_credit_program(",\"timeout_ms\":300,\"backoff_base_ms\":0");
	earn("s", "nia", "{\"stripe_customer_id\":\"cus_nia\"}", 1);
	fake_mode(&P, "{\"delay_ms\":1200}"); /* the provider works on, after we gave up */
	json_decref(fx_worker(&F, T0 + 1000));
	/* the request went out and no answer came: the provider may have paid */
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	cr_assert_not_null(strstr(first_field("approved", "last_error"), "imeout"), "%s",
			   first_field("approved", "last_error"));
	char id[64];
	snprintf(id, sizeof(id), "%s", first_field("approved", "id"));
	/* so nothing may close it yet: not a cancel, not a refund, not expiry */
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_CANCEL, "oops", &out, &d), FF_E_INVALID_TRANSITION);
	cr_assert_not_null(strstr(d.message, "may have paid"), "%s", d.message);
	fx_ok(&F, "{\"id\":\"rf-nia\",\"type\":\"refund\",\"data\":{\"conversion\":\"c-nia-0\","
		  "\"reason\":\"chargeback\"}}");
	cr_assert_eq(fx_count_status(&F, "approved"), 1, "the refund waits for the outcome");
	usleep(1500 * 1000);
	fake_mode(&P, "{}");
	json_decref(fx_worker(&F, T0 + 5000));
	cr_assert_eq(fake_stat(&P, "distinct_keys"), 2, "the credit's key (sent twice) and the reversal's");
	cr_assert_eq(fake_stat(&P, "duplicates"), 0);
	/* the retry settled it as paid (one credit at Stripe), then the refund reversed it,
	 * with the refund's own reason though it was applied later */
	cr_assert_eq(fx_count_status(&F, "reversed"), 1);
	cr_assert_str_eq(first_field("reversed", "reason"), "chargeback");
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "effects"), "balance_transaction")), 2,
		     "the credit and its reversal: %s", json_dumps(s, 0));
	json_decref(s);
}

/* Stripe did the work, the answer was lost, and before the retry the participant's
 * customer id changed: the retry (same key, other parameters) meets Stripe's 400
 * idempotency_error. That is no refusal: the key was used, so the first request may
 * have paid - the reward fails for an operator, still outcome unknown (no cancel). */
Test(connect, stripe_idempotency_error_keeps_the_outcome_unknown)
{
	stripe_credit_program(",\"backoff_base_ms\":0");
	earn("s", "uma", "{\"stripe_customer_id\":\"cus_uma\"}", 1);
	fake_mode(&P, "{\"fail_after_rate\":1}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_str_eq(first_field("approved", "reason"), "outcome_unknown");
	fake_mode(&P, "{}");
	fx_ok(&F, "{\"id\":\"p-uma-2\",\"type\":\"participant\",\"data\":{\"id\":\"uma\",\"attributes\":"
		  "{\"stripe_customer_id\":\"cus_uma_new\"}}}");
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "failed"), 1);
	cr_assert_not_null(strstr(first_field("failed", "last_error"), "idempotency_error"), "%s",
			   first_field("failed", "last_error"));
	cr_assert_eq(strncmp(first_field("failed", "last_error"), "outcome unknown: ", 17), 0, "%s",
		     first_field("failed", "last_error"));
	json_t *out = NULL;
	struct ff_diag d;
	char id[64];
	snprintf(id, sizeof(id), "%s", first_field("failed", "id"));
	cr_assert_eq(engine_reward_action(F.e, &F.cli, id, REWARD_CANCEL, "oops", &out, &d), FF_E_INVALID_TRANSITION,
		     "it may have been paid");
	cr_assert_eq(fake_stat(&P, "distinct_keys"), 1);
}

static void *worker_pass_thread(void *arg)
{
	struct engine *e2;
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &e2, &d), FF_OK, "%s", d.message);
	json_t *out = NULL;
	engine_worker_pass(e2, &F.cli, *(int64_t *)arg, &out, &d);
	json_decref(out);
	engine_close(e2);
	return NULL;
}

/* A reversal's lease runs from when it is taken, not from the start of the worker pass
 * (an issue pass before it may have taken minutes): while the call is in flight, the
 * lease ends two minutes after the clock of the claim. */
Test(connect, a_reversal_lease_runs_from_its_claim)
{
	stripe_credit_program("");
	earn("s", "max", "{\"stripe_customer_id\":\"cus_max\"}", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	fx_ok(&F, "{\"id\":\"rf-1\",\"type\":\"refund\",\"data\":{\"conversion\":\"c-max-0\"}}");
	/* the pass began at T0 + 2000; its reversals are claimed ten minutes later */
	fftime_set_now(T0 + 600000);
	fake_mode(&P, "{\"delay_ms\":1000}");
	pthread_t t;
	int64_t now = T0 + 2000;
	pthread_create(&t, NULL, worker_pass_thread, &now);
	int64_t lease = 0;
	for (int i = 0; i < 200 && !lease; i++) {
		usleep(10 * 1000);
		lease = fx_sql_int(&F, "SELECT COALESCE(MAX(sync_at), 0) FROM rewards WHERE reversal = 'pending'");
	}
	pthread_join(t, NULL);
	cr_assert_geq(lease, T0 + 600000 + 120000, "lease %lld ends before the claim's clock + 2 min", (long long)lease);
	cr_assert_eq(fx_count_status(&F, "reversed"), 1);
}

/* Oli's Stripe credit is in a call that the fake holds for a second and then answers
 * `status`; a full refund of the conversion arrives while it is in flight. */
static void refund_during_a_call(int status)
{
	stripe_credit_program(",\"backoff_base_ms\":0");
	earn("s", "oli", "{\"stripe_customer_id\":\"cus_oli\"}", 1);
	char mode[96];
	snprintf(mode, sizeof(mode), "{\"delay_ms\":1000,\"fail_next\":1,\"fail_status\":%d}", status);
	fake_mode(&P, mode);
	pthread_t t;
	int64_t now = T0 + 1000;
	pthread_create(&t, NULL, worker_pass_thread, &now);
	for (int i = 0; i < 200 && fx_count_status(&F, "issuing") == 0; i++)
		usleep(10 * 1000);
	cr_assert_eq(fx_count_status(&F, "issuing"), 1);
	fx_ok(&F, "{\"id\":\"rf-oli\",\"type\":\"refund\",\"data\":{\"conversion\":\"c-oli-0\"}}");
	pthread_join(t, NULL);
	fake_mode(&P, "{}");
}

/* A refund arrives while the provider call is in flight (the reward is issuing and
 * refund_apply leaves it alone), and the call is definitely refused (429): the reward
 * is cancelled then, not put back for a retry that would pay it. */
Test(connect, refund_during_a_refused_call_cancels_before_any_retry)
{
	refund_during_a_call(429);
	cr_assert_eq(fx_count_status(&F, "cancelled"), 1, "reason %s", first_field(NULL, "reason"));
	cr_assert_str_eq(first_field("cancelled", "reason"), "refund");
	json_decref(fx_worker(&F, T0 + 100000));
	cr_assert_eq(fx_count_status(&F, "cancelled"), 1);
	cr_assert_eq(fake_stat(&P, "distinct_keys"), 0, "nothing was ever paid (or reversed) at Stripe");
}

/* The same, but the provider answers 409: another request with the reward's idempotency
 * key is running there, and it may pay. The refund waits for the retry's definite
 * answer (paid: then reversed) instead of cancelling a reward the provider may pay. */
Test(connect, refund_during_a_call_answered_409_waits_for_the_outcome)
{
	refund_during_a_call(409);
	cr_assert_eq(fx_count_status(&F, "cancelled"), 0, "cancelled while the provider may pay");
	cr_assert_str_eq(first_field(NULL, "reason"), "outcome_unknown");
	/* the retry, same key: the provider pays; the refund then reverses it */
	for (int i = 0; i < 5 && fx_count_status(&F, "reversed") == 0; i++)
		json_decref(fx_worker(&F, T0 + 100000 + i * 10000));
	cr_assert_eq(fx_count_status(&F, "reversed"), 1, "status %s", first_field(NULL, "status"));
}

/* Every value sealed with the master key, in every kind of row: after a rotation, with
 * the new key alone, a connector's secret still pays, a webhook endpoint still signs
 * with the secret it was given, a queued e-mail still goes, an idempotent replay gives
 * the stored response, and event bodies open. The rotation is interrupted once and
 * resumed with another batch size. */
Test(connect, master_key_rotation_keeps_every_sealed_value)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/mail.jsonl", F.dir);
	fake_start(&SMTP, "tests/fakes/smtp_sink.py", "--out", path, "--fail-data", "1");
	json_decref(put_connector("smtp", "{\"type\":\"smtp\",\"config\":{\"url\":\"smtp://127.0.0.1:%d\","
					  "\"from\":\"rewards@acme.test\",\"username\":\"u\",\"password\":\"pw-1\"}}",
				  SMTP.port));
	use_provider("stripe", "");
	fx_program(&F, "{\"id\":\"s\",\"name\":\"P\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"
		       "\"conversion.amount\"},1]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":"
		       "2000}],\"hold_days\":0,\"expires_days\":365,\"fulfillment\":{\"credit\":\"stripe\"},"
		       "\"notifications\":{\"from\":\"rewards@acme.test\",\"milestones\":[\"fulfilled\"],\"templates\":"
		       "{\"fulfilled\":{\"subject\":\"Hi\",\"text\":\"Paid\"}}}}");
	char url[128], mode[256];
	snprintf(url, sizeof(url), "{\"url\":\"%s/hooks/rot\",\"events\":[\"reward.fulfilled\"]}", P.url);
	json_t *body = json_loads(url, 0, NULL), *ep = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_webhook_endpoint_create(F.e, &F.cli, body, &ep, &d), FF_OK, "%s", d.message);
	json_decref(body);
	snprintf(mode, sizeof(mode), "{\"secret\":\"%s\"}",
		 json_string_value(json_object_get(ep, "secret")));
	json_decref(ep);
	fake_mode(&P, mode);
	const char *stored = "{\"id\":\"k_1\",\"key\":\"fk_admin_secret\"}";
	cr_assert_eq(engine_idem_store(F.e, "admin", "idem-1", "fp", 201, stored), FF_OK);
	earn("s", "alice", "{\"stripe_customer_id\":\"cus_alice\"}", 1);
	/* paid and announced; the e-mail fails once and waits for its retry */
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
	cr_assert_eq(fake_stat(&P, "bad_signatures"), 0);
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	size_t hooks = json_array_size(json_object_get(s, "hooks"));
	json_decref(s);
	cr_assert_eq(hooks, 1);

	uint8_t key2[32];
	memset(key2, 0x5c, sizeof(key2));
	json_t *out = NULL;
	const char *kinds[] = {"participants", "events", "notifications", "idempotency", "connectors",
			       "webhook_endpoints"};
	int64_t sum[6] = {0};
	cr_assert_eq(engine_rotate_master_key_steps(F.e, &F.cli, key2, 1, 2, &out, &d), FF_OK, "%s", d.message);
	cr_assert(json_is_false(json_object_get(out, "complete")), "interrupted");
	cr_assert_eq(json_integer_value(json_object_get(out, "connectors")), 0, "at completion only");
	for (int k = 0; k < 6; k++)
		sum[k] += json_integer_value(json_object_get(out, kinds[k]));
	json_decref(out);
	cr_assert_eq(engine_rotate_master_key_steps(F.e, &F.cli, key2, 3, 0, &out, &d), FF_OK, "%s", d.message);
	cr_assert(json_is_true(json_object_get(out, "complete")), "%s", json_dumps(out, 0));
	for (int k = 0; k < 6; k++)
		sum[k] += json_integer_value(json_object_get(out, kinds[k]));
	json_decref(out);
	/* alice and her friend; their participant events and the referral; the e-mail
	 * waiting; the stored response; stripe's and smtp's secrets; the endpoint */
	int64_t want[6] = {2, 3, 1, 1, 2, 1};
	for (int k = 0; k < 6; k++)
		cr_assert_eq(sum[k], want[k], "%s: %lld", kinds[k], (long long)sum[k]);
	/* run again: nothing is written twice */
	cr_assert_eq(engine_rotate_master_key(F.e, &F.cli, key2, &out, &d), FF_OK, "%s", d.message);
	for (int k = 0; k < 6; k++)
		cr_assert_eq(json_integer_value(json_object_get(out, kinds[k])), 0, "%s", kinds[k]);
	cr_assert(json_is_true(json_object_get(out, "complete")));
	json_decref(out);

	/* the new key alone */
	engine_close(F.e);
	F.e = NULL;
	memcpy(F.cfg.master_key, key2, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	json_t *bodies = fx_sql_texts(&F, "SELECT body FROM events WHERE type = 'participant' OR type = 'referral'");
	cr_assert_eq(json_array_size(bodies), 3);
	size_t i;
	json_t *v;
	json_array_foreach(bodies, i, v)
	{
		char *plain = crypto_open(key2, json_string_value(v));
		cr_assert_not_null(plain, "event body %zu opens with the new key", i);
		cr_assert_not_null(strstr(plain, "\"alice"), "%s", plain);
		free(plain);
	}
	json_decref(bodies);
	enum idem_state state;
	int status = 0;
	char *replay = NULL;
	cr_assert_eq(engine_idem_lookup(F.e, "admin", "idem-1", "fp", &state, &status, &replay), FF_OK);
	cr_assert_eq(state, IDEM_REPLAY);
	cr_assert_eq(status, 201);
	cr_assert_str_eq(replay, stored, "byte-identical");
	free(replay);
	cr_assert_eq(engine_connector_get(F.e, &F.cli, "stripe", &out, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "config"), "api_key")), "sk_...7890");
	json_decref(out);
	/* the queued e-mail goes; a new reward is paid with the API key and announced with
	 * the endpoint's secret */
	earn("s", "bob", "{\"stripe_customer_id\":\"cus_bob\"}", 1);
	json_decref(fx_worker(&F, T0 + 600000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 2, "%s", first_field("approved", "last_error"));
	s = fake_call(&P, "GET", "/_stats", NULL);
	cr_assert_eq(json_array_size(json_object_get(s, "hooks")), hooks + 1);
	json_decref(s);
	cr_assert_eq(fake_stat(&P, "bad_signatures"), 0, "signed with the same secret");
	json_t *nl = NULL;
	cr_assert_eq(engine_notifications_list(F.e, &F.cli, NULL, NULL, &nl, &d), FF_OK);
	json_array_foreach(json_object_get(nl, "data"), i, v)
		cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "sent", "%s", json_dumps(v, 0));
	cr_assert_eq(json_array_size(json_object_get(nl, "data")), 2);
	json_decref(nl);
}
