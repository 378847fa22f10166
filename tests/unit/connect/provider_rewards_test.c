/*
 * provider_rewards_test.c - each provider's reward types end to end, through the real
 * worker against the fake providers (tests/fakes/fake_provider.py): Stripe and Recurly
 * percent discounts (coupons, promotion codes, redemptions, a re-drive after the
 * idempotency key window, sync), Recurly and Braintree credits and discounts (a second
 * discount on one subscription, a re-drive after a crash), gift cards with their sync
 * and their configuration. The protocol itself (exactly-once, retries, the breaker) is
 * in connector_test.c; the bytes on the wire in wire_test.c.
 */
#include "connect_fixture.h"

TestSuite(provider_rewards, .init = setup, .fini = teardown, .timeout = 60);

Test(provider_rewards, giftcard_issue_and_sync)
{
	fx_program(&F, PROGRAM("g", "\"type\":\"gift_card\",\"amount\":2500,\"brand\":\"amazon\"", "{\"gift_card\":\"giftcard\"}"));
	json_decref(put_connector("giftcard", "{\"type\":\"giftcard\",\"config\":{\"api_key\":\"tr_key_123456789\","
					      "\"funding_source_id\":\"BALANCE\",\"product_id\":\"AMZN\",\"base_url\":\"%s\","
					      "\"sync_interval_ms\":60000}}",
				  P.url));
	earn("g", "gina", "{}", 2);
	fake_mode(&P, "{\"fail_after_rate\":1,\"fail_next\":0}");
	json_decref(fx_worker(&F, T0 + 1000)); /* orders placed, answers lost */
	fake_mode(&P, "{}");
	json_decref(fx_worker(&F, T0 + 60000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 2);
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "effects"), "order")), 2,
		     "external_id made the order idempotent");
	json_decref(s);
	cr_assert_eq(strncmp(first_field("fulfilled", "external_reference"), "RWD_", 4), 0);
	fake_mode(&P, "{\"redeem\":true}");
	json_t *w = fx_worker(&F, T0 + 60000 + 61000);
	cr_assert_eq(json_integer_value(json_object_get(w, "synced")), 2);
	json_decref(w);
}

/* Tremendous takes an order only with products or a campaign: a giftcard connector with
 * neither is refused at configuration (and nothing is stored); a campaign alone will do,
 * and the fake (which refuses an order without either) fulfils through it. */
Test(provider_rewards, giftcard_needs_products_or_a_campaign)
{
	json_t *body = json_loads("{\"type\":\"giftcard\",\"config\":{\"api_key\":\"tr_key_123456789\","
				  "\"funding_source_id\":\"BALANCE\"}}",
				  0, NULL);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_connector_put(F.e, &F.cli, "giftcard", body, &out, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "config.product_id");
	json_decref(body);
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM connectors"), 0);
	fx_program(&F, PROGRAM("g", "\"type\":\"gift_card\",\"amount\":2500", "{\"gift_card\":\"giftcard\"}"));
	json_decref(put_connector("giftcard", "{\"type\":\"giftcard\",\"config\":{\"api_key\":\"tr_key_123456789\","
					      "\"funding_source_id\":\"BALANCE\",\"campaign_id\":\"CMP1\",\"base_url\":\"%s\"}}",
				  P.url));
	earn("g", "gina", "{}", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "failed with: %s", first_field("failed", "last_error"));
}

Test(provider_rewards, stripe_percent_discount_coupon_and_promotion_code)
{
	fx_program(&F, PROGRAM("pd", "\"type\":\"percent_discount\",\"percent_bp\":1000,\"months\":3",
			       "{\"percent_discount\":\"stripe\"}"));
	use_provider("stripe", ",\"sync_interval_ms\":1000");
	earn("pd", "jay", "{\"stripe_customer_id\":\"cus_jay\"}", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
	cr_assert_eq(strncmp(first_field("fulfilled", "code"), "REF", 3), 0);
	cr_assert_eq(strncmp(first_field("fulfilled", "external_reference"), "promo_", 6), 0);
}

/* A re-drive after Stripe forgot the keys (24 hours): the coupon exists (400
 * resource_already_exists; its id is the reward id, so it is ours), and the promotion
 * code the lost attempt made is found and kept: fulfilled, not failed, and one
 * promotion code per reward. */
Test(provider_rewards, stripe_percent_discount_redrive_after_the_key_window)
{
	fx_program(&F, PROGRAM("pd", "\"type\":\"percent_discount\",\"percent_bp\":1000",
			       "{\"percent_discount\":\"stripe\"}"));
	use_provider("stripe", ",\"backoff_base_ms\":0");
	earn("pd", "jay", "{\"stripe_customer_id\":\"cus_jay\"}", 1);
	fake_mode(&P, "{\"fail_after_rate\":1}");
	json_decref(fx_worker(&F, T0 + 1000));  /* the coupon made, its answer lost */
	json_decref(fx_worker(&F, T0 + 60000)); /* the coupon replayed; the promotion code made, lost */
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 0);
	fake_mode(&P, "{\"no_replay\":true}");
	json_decref(fx_worker(&F, T0 + 120000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "failed with: %s", first_field("failed", "last_error"));
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	json_t *eff = json_object_get(s, "effects");
	cr_assert_eq(json_integer_value(json_object_get(eff, "coupon")), 1);
	cr_assert_eq(json_integer_value(json_object_get(eff, "promotion_code")), 1, "the lost one, not a second");
	json_decref(s);
	cr_assert_eq(strncmp(first_field("fulfilled", "code"), "REF", 3), 0);
}

Test(provider_rewards, recurly_and_braintree)
{
	fx_program(&F, "{\"id\":\"rb\",\"name\":\"RB\",\"currency\":\"USD\",\"eligibility\":{\">=\":[{\"var\":"
		       "\"conversion.amount\"},1]},\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":1500},"
		       "{\"to\":\"referred\",\"type\":\"percent_discount\",\"percent_bp\":2000}],\"hold_days\":0,"
		       "\"expires_days\":365,\"fulfillment\":{\"credit\":\"recurly\",\"percent_discount\":\"braintree\"}}");
	use_provider("recurly", "");
	json_decref(put_connector("braintree", "{\"type\":\"braintree\",\"config\":{\"merchant_id\":\"m1\","
					       "\"public_key\":\"pub\",\"private_key\":\"priv_123456789\","
					       "\"discount_id\":\"referral20\",\"base_url\":\"%s\"}}",
				  P.url));
	fx_ok(&F, "{\"id\":\"p-kim\",\"type\":\"participant\",\"data\":{\"id\":\"kim\",\"attributes\":"
		  "{\"recurly_account_code\":\"kim1\"}}}");
	fx_ok(&F, "{\"id\":\"p-lee\",\"type\":\"participant\",\"data\":{\"id\":\"lee\",\"status\":\"active\","
		  "\"attributes\":{\"braintree_subscription_id\":\"sub_lee\"}}}");
	fx_referral(&F, "r-kl", "rb", "kim", "lee");
	cr_assert_eq(fx_conversion(&F, "c-kl", "lee", 5000), 2);
	fake_mode(&P, "{\"fail_after_rate\":1}");
	json_decref(fx_worker(&F, T0 + 1000));
	fake_mode(&P, "{}");
	json_decref(fx_worker(&F, T0 + 60000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 2);
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	json_t *eff = json_object_get(s, "effects");
	cr_assert_eq(json_integer_value(json_object_get(eff, "line_item")), 1);
	cr_assert_eq(json_integer_value(json_object_get(eff, "discount")), 1, "the duplicate discount is not added twice");
	json_decref(s);
}

/* Recurly percent discount: a coupon, then its redemption on the account (POST
 * .../coupon_redemptions/active naming the coupon by id). The first attempt's answers
 * are lost after the coupon was made, and the retry comes after Recurly forgot the key:
 * the coupon exists (422), is looked up, and redeemed once. */
Test(provider_rewards, recurly_percent_discount_coupon_and_redemption)
{
	fx_program(&F, PROGRAM("rp", "\"type\":\"percent_discount\",\"percent_bp\":2000,\"months\":2",
			       "{\"percent_discount\":\"recurly\"}"));
	use_provider("recurly", ",\"backoff_base_ms\":0");
	earn("rp", "kim", "{\"recurly_account_code\":\"kim1\"}", 1);
	fake_mode(&P, "{\"fail_after_rate\":1}");
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 0);
	fake_mode(&P, "{\"no_replay\":true}");
	json_decref(fx_worker(&F, T0 + 60000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "failed with: %s", first_field("failed", "last_error"));
	cr_assert_eq(strncmp(first_field("fulfilled", "code"), "fulfill-", 8), 0);
	cr_assert_eq(strncmp(first_field("fulfilled", "external_reference"), "rdm_", 4), 0);
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	json_t *eff = json_object_get(s, "effects");
	cr_assert_eq(json_integer_value(json_object_get(eff, "recurly_coupon")), 1);
	cr_assert_eq(json_integer_value(json_object_get(eff, "coupon_redemption")), 1);
	json_decref(s);
}

/* Recurly sync reads the redemption: our own redemption maxes the coupon out at once,
 * so only the redemption's "discounted" tells that an invoice used it. */
Test(provider_rewards, recurly_percent_discount_sync_reads_the_redemption)
{
	fx_program(&F, PROGRAM("rp", "\"type\":\"percent_discount\",\"percent_bp\":1000",
			       "{\"percent_discount\":\"recurly\"}"));
	use_provider("recurly", ",\"sync_interval_ms\":1000");
	earn("rp", "kim", "{\"recurly_account_code\":\"kim1\"}", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "failed with: %s", first_field("failed", "last_error"));
	json_t *w = fx_worker(&F, T0 + 3000);
	cr_assert_eq(json_integer_value(json_object_get(w, "synced")), 1);
	json_decref(w);
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM rewards WHERE provider_status = 'active' AND redeemed_at IS NULL"),
		     1, "a redemption not used by an invoice yet is not redeemed");
	fake_mode(&P, "{\"redeem\":true}");
	json_decref(fx_worker(&F, T0 + 5000));
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM rewards WHERE provider_status = 'redeemed' AND redeemed_at IS NOT NULL"),
		     1);
}

/* Program bt pays lee's subscription (sub_lee) a Braintree discount of $15. */
static void braintree_lee(void)
{
	fx_program(&F, "{\"id\":\"bt\",\"name\":\"BT\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","
		       "\"type\":\"credit\",\"amount\":1500}],\"hold_days\":0,\"fulfillment\":{\"credit\":\"braintree\"}}");
	json_decref(put_connector("braintree", "{\"type\":\"braintree\",\"config\":{\"merchant_id\":\"m1\","
					       "\"public_key\":\"pub\",\"private_key\":\"priv_123456789\","
					       "\"discount_id\":\"referral15\",\"base_url\":\"%s\"}}",
				  P.url));
	fx_ok(&F, "{\"id\":\"p-lee\",\"type\":\"participant\",\"data\":{\"id\":\"lee\",\"attributes\":"
		  "{\"braintree_subscription_id\":\"sub_lee\"}}}");
}

/* Braintree keeps one discount of an id per subscription and has no idempotency keys:
 * a duplicate on a reward's first attempt is another reward's discount, and this one
 * was not applied - it fails (for an operator) instead of passing as paid. */
Test(provider_rewards, braintree_second_reward_on_a_subscription_fails)
{
	braintree_lee();
	fx_friend_converts(&F, "bt", "lee", 1);
	fx_friend_converts(&F, "bt", "lee", 2);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
	cr_assert_eq(fx_count_status(&F, "failed"), 1);
	json_t *failed = fx_rewards(&F, "failed", "lee");
	cr_assert_not_null(strstr(json_string_value(json_object_get(json_array_get(failed, 0), "last_error")),
				  "was not applied"),
			   "%s", json_dumps(failed, 0));
	json_decref(failed);
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "effects"), "discount")), 1);
	json_decref(s);
}

/* A worker dies after Braintree applied the discount, before the result committed: the
 * restarted worker's re-drive meets the duplicate-discount error, and that attempt's
 * outcome was unknown (nothing recorded it), so the duplicate is this reward's own
 * discount - fulfilled, not failed as if another reward held it. */
Test(provider_rewards, braintree_redrive_after_a_crash_is_fulfilled)
{
	braintree_lee();
	fx_friend_converts(&F, "bt", "lee", 1);
	json_decref(fx_worker(&F, T0 + 1000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1);
	/* the crash: applied at Braintree, still issuing here under a dead attempt */
	fx_sql(&F, "UPDATE rewards SET status = 'issuing', reason = 'in_flight', external_reference = NULL, "
		   "attempt_id = 'att_dead', next_attempt_at = 99999999999999 WHERE participant = 'lee'");
	engine_close(F.e);
	struct ff_diag d;
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	json_decref(fx_worker(&F, T0 + 2000));
	cr_assert_eq(fx_count_status(&F, "fulfilled"), 1, "failed with: %s", first_field("failed", "last_error"));
	cr_assert_str_eq(first_field("fulfilled", "external_reference"), "sub_lee/referral15");
	json_t *s = fake_call(&P, "GET", "/_stats", NULL);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "effects"), "discount")), 1);
	json_decref(s);
}
