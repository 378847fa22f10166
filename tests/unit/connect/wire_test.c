/*
 * wire_test.c - what the external connectors put on the wire and how they read the
 * answers, without a network: each test builds a connector_call by hand, asks the
 * connector for its request, and feeds it a provider's answer.
 */
#include <curl/curl.h>
#include <time.h>

#include "connect/connector.h"
#include "core/core.h"
#include "testutil.h"

struct wire {
	struct connector_conf conf;
	struct connector_call c;
};

/* A call of `op` through connector `type` (base URL https://provider.test) for a
 * reward of `type_fields` ("credit" 1500 USD unless changed by the test), participant
 * attributes `attrs` (JSON). */
static void wire_init(struct wire *w, const char *type, const char *config, const char *attrs, enum connector_op op)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->conf.type, sizeof(w->conf.type), "%s", type);
	snprintf(w->conf.id, sizeof(w->conf.id), "%s", type);
	snprintf(w->conf.base_url, sizeof(w->conf.base_url), "https://provider.test");
	w->conf.config = json_loads(config, 0, NULL);
	cr_assert_not_null(w->conf.config, "%s", config);
	w->c.ops = connector_find(type);
	cr_assert_not_null(w->c.ops);
	w->c.conf = &w->conf;
	w->c.op = op;
	w->c.participant = json_pack("{s:s, s:s, s:o}", "email", "kim@example.com", "name", "Kim", "attributes",
				     json_loads(attrs, 0, NULL));
	struct reward *r = &w->c.r;
	snprintf(r->id, sizeof(r->id), "rwd_0001");
	snprintf(r->participant, sizeof(r->participant), "kim");
	snprintf(r->type, sizeof(r->type), "credit");
	snprintf(r->currency, sizeof(r->currency), "USD");
	r->amount = 1500;
	r->has_amount = true;
}

/* Make the reward a percent discount of `bp` basis points. */
static void wire_percent(struct wire *w, int64_t bp)
{
	snprintf(w->c.r.type, sizeof(w->c.r.type), "percent_discount");
	w->c.r.percent_bp = bp;
	w->c.r.has_percent = true;
}

static void wire_release(struct wire *w)
{
	connector_call_release(&w->c);
	json_decref(w->conf.config);
}

/* Build the request of the current step: it must be CONTINUE (a request is ready). */
static void wire_request(struct wire *w)
{
	if (w->c.has_request)
		http_call_release(&w->c.http);
	enum connector_result res = w->c.ops->request(&w->c);
	cr_assert_eq(res, CONNECTOR_CONTINUE, "request: %d %s", res, w->c.diag.message);
	w->c.has_request = true;
}

/* Answer the current request with `status` and `body`; the connector's verdict. */
static enum connector_result wire_answer(struct wire *w, long status, const char *body)
{
	w->c.http.status = status;
	ffbuf_reset(&w->c.http.response);
	ffbuf_adds(&w->c.http.response, body);
	return w->c.ops->response(&w->c);
}

static bool has_header(const struct wire *w, const char *line)
{
	for (const struct curl_slist *h = w->c.http.headers; h; h = h->next)
		if (!strcmp(h->data, line))
			return true;
	return false;
}

/* The first request of issuing a reward through `type` goes to `url`. */
static void expect_issue_url(const char *type, const char *config, const char *attrs, const char *url)
{
	struct wire w;
	wire_init(&w, type, config, attrs, CONNECTOR_ISSUE);
	wire_request(&w);
	cr_assert_str_eq(w.c.http.url, url);
	wire_release(&w);
}

/* An id from a participant's attributes is one path segment: a '/', '?', '#' or ".."
 * in it must not send the call (with the secret key) to another resource. */
Test(wire, ids_in_paths_are_one_segment)
{
	struct wire w;
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1/../../v1/refunds?a=1#\"}",
		  CONNECTOR_ISSUE);
	wire_request(&w);
	cr_assert_str_eq(w.c.http.url,
			 "https://provider.test/v1/customers/cus_1%2F..%2F..%2Fv1%2Frefunds%3Fa%3D1%23/balance_transactions");
	cr_assert(has_header(&w, "Idempotency-Key: rwd_0001"));
	cr_assert_eq(wire_answer(&w, 200, "{\"id\":\"cbtxn_1\",\"object\":\"customer_balance_transaction\"}"),
		     CONNECTOR_OK);
	cr_assert_str_eq(w.c.ref, "cbtxn_1");
	wire_release(&w);

	expect_issue_url("stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"..\"}",
			 "https://provider.test/v1/customers/%2E%2E/balance_transactions");
	expect_issue_url("recurly", "{\"api_key\":\"rk_1\"}", "{\"recurly_account_code\":\"bob.smith+1@x.com/y\"}",
			 "https://provider.test/accounts/code-bob.smith%2B1%40x.com%2Fy/line_items");
	expect_issue_url("braintree",
			 "{\"merchant_id\":\"m 1\",\"public_key\":\"p\",\"private_key\":\"s\",\"discount_id\":\"d\"}",
			 "{\"braintree_subscription_id\":\"sub/../../x\"}",
			 "https://provider.test/merchants/m%201/subscriptions/sub%2F..%2F..%2Fx");
}

/* Recurly v3 redeems a coupon on an account at POST .../coupon_redemptions/active and
 * names the coupon by its id in the body. */
Test(wire, recurly_percent_discount_redeems_the_created_coupon)
{
	struct wire w;
	wire_init(&w, "recurly", "{\"api_key\":\"rk_1\"}", "{\"recurly_account_code\":\"kim1\"}", CONNECTOR_ISSUE);
	wire_percent(&w, 2000);
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "POST");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/coupons");
	cr_assert(has_header(&w, "Accept: application/vnd.recurly.v2021-02-25+json"));
	cr_assert(has_header(&w, "Idempotency-Key: rwd_0001:coupon"));
	cr_assert_eq(wire_answer(&w, 201, "{\"id\":\"o2ynu3fg\",\"object\":\"coupon\",\"code\":\"fulfill-rwd_0001\"}"),
		     CONNECTOR_CONTINUE);
	w.c.step++;
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "POST");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/accounts/code-kim1/coupon_redemptions/active");
	json_t *body = json_loads(w.c.http.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(body, "coupon_id")), "o2ynu3fg");
	cr_assert_str_eq(json_string_value(json_object_get(body, "currency")), "USD");
	json_decref(body);
	cr_assert_eq(wire_answer(&w, 201, "{\"id\":\"rdm_1\",\"object\":\"coupon_redemption\",\"state\":\"active\"}"),
		     CONNECTOR_OK);
	cr_assert_str_eq(w.c.ref, "rdm_1");
	cr_assert_str_eq(w.c.code, "fulfill-rwd_0001");
	wire_release(&w);
}

/* A re-drive after Recurly's key window: the coupon exists (422 "has already been
 * taken"); its id is looked up before the redemption. */
Test(wire, recurly_existing_coupon_is_looked_up_for_its_id)
{
	struct wire w;
	wire_init(&w, "recurly", "{\"api_key\":\"rk_1\"}", "{\"recurly_account_code\":\"kim1\"}", CONNECTOR_ISSUE);
	wire_percent(&w, 2000);
	wire_request(&w);
	cr_assert_eq(wire_answer(&w, 422,
				 "{\"error\":{\"type\":\"validation\",\"message\":\"Code has already been taken\","
				 "\"params\":[{\"param\":\"code\",\"message\":\"has already been taken\"}]}}"),
		     CONNECTOR_CONTINUE);
	w.c.step++;
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "GET");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/coupons/code-fulfill-rwd_0001");
	cr_assert_eq(wire_answer(&w, 200, "{\"id\":\"o2ynu3fg\",\"object\":\"coupon\",\"state\":\"redeemable\"}"),
		     CONNECTOR_CONTINUE);
	w.c.step++;
	cr_assert_leq(w.c.step, w.c.ops->max_steps - 1, "the issuing lease covers every step");
	wire_request(&w);
	cr_assert_str_eq(w.c.http.url, "https://provider.test/accounts/code-kim1/coupon_redemptions/active");
	json_t *body = json_loads(w.c.http.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(body, "coupon_id")), "o2ynu3fg");
	json_decref(body);
	cr_assert_eq(wire_answer(&w, 201, "{\"id\":\"rdm_1\"}"), CONNECTOR_OK);
	wire_release(&w);
}

/* Braintree's duplicate add-on/discount is validation code 91911; another 422 is a
 * refusal even when its message says "duplicate", and even after an unknown outcome. */
Test(wire, braintree_duplicate_discount_is_code_91911)
{
	static const char dup[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<api-error-response><errors><subscription>"
				  "<errors type=\"array\"><error><code>91911</code><attribute type=\"symbol\">base"
				  "</attribute><message>Cannot add duplicate add-on or discount.</message></error>"
				  "</errors></subscription></errors></api-error-response>\n";
	static const char other[] = "<api-error-response><errors><subscription><modification><errors type=\"array\">"
				    "<error><code>92013</code><message>Inherited From ID is invalid (duplicate "
				    "request?)</message></error></errors></modification></subscription></errors>"
				    "<message>Inherited From ID is invalid.</message></api-error-response>";
	static const char zip[] = "<api-error-response><errors><errors type=\"array\"><error><code>92613</code>"
				  "<message>Postal code is invalid.</message></error></errors></errors></api-error-response>";
	const char *cfg = "{\"merchant_id\":\"m1\",\"public_key\":\"p\",\"private_key\":\"s\",\"discount_id\":\"ref15\"}";
	struct wire w;
	wire_init(&w, "braintree", cfg, "{\"braintree_subscription_id\":\"sub_lee\"}", CONNECTOR_ISSUE);
	snprintf(w.c.r.last_error, sizeof(w.c.r.last_error), "%s earlier attempt timed out", REWARD_UNKNOWN_PREFIX);
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "PUT");
	cr_assert(has_header(&w, "X-ApiVersion: 6"));
	cr_assert_eq(wire_answer(&w, 422, other), CONNECTOR_FAILED, "not a duplicate: not applied");
	cr_assert_eq(wire_answer(&w, 422, zip), CONNECTOR_FAILED, "92613 is not a Braintree duplicate code");
	cr_assert_eq(wire_answer(&w, 422, dup), CONNECTOR_OK, "applied by the earlier attempt");
	cr_assert_str_eq(w.c.ref, "sub_lee/ref15");
	wire_release(&w);
}

/* Recurly status of a percent discount: the account's redemption by id. */
Test(wire, recurly_status_reads_the_redemption)
{
	struct wire w;
	wire_init(&w, "recurly", "{\"api_key\":\"rk_1\"}", "{\"recurly_account_code\":\"kim1\"}", CONNECTOR_STATUS);
	snprintf(w.c.r.type, sizeof(w.c.r.type), "percent_discount");
	snprintf(w.c.r.external_reference, sizeof(w.c.r.external_reference), "rdm_1");
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "GET");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/accounts/code-kim1/coupon_redemptions?ids=rdm_1");
	cr_assert_eq(wire_answer(&w, 200,
				 "{\"object\":\"list\",\"has_more\":false,\"data\":[{\"id\":\"rdm_1\",\"state\":"
				 "\"active\",\"discounted\":0,\"coupon\":{\"state\":\"maxed_out\"}}]}"),
		     CONNECTOR_OK);
	cr_assert_not(w.c.redeemed, "the coupon is maxed out by the redemption itself");
	cr_assert_str_eq(w.c.provider_status, "active");
	cr_assert_eq(wire_answer(&w, 200,
				 "{\"object\":\"list\",\"data\":[{\"id\":\"rdm_1\",\"state\":\"inactive\","
				 "\"discounted\":12.5}]}"),
		     CONNECTOR_OK);
	cr_assert(w.c.redeemed);
	cr_assert_str_eq(w.c.provider_status, "redeemed");
	wire_release(&w);
}

/* A participant without the customer id fails with the attribute the connector reads
 * named (config "customer_attribute" when set), so the operator knows what to fix. */
Test(wire, stripe_missing_customer_names_the_configured_attribute)
{
	struct wire w;
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\",\"customer_attribute\":\"billing_id\"}",
		  "{\"stripe_customer_id\":\"cus_unused\"}", CONNECTOR_ISSUE);
	cr_assert_eq(w.c.ops->request(&w.c), CONNECTOR_FAILED);
	cr_assert_not_null(strstr(w.c.diag.message, "attributes.billing_id"), "%s", w.c.diag.message);
	wire_release(&w);
	expect_issue_url("stripe", "{\"api_key\":\"sk_test_1\",\"customer_attribute\":\"billing_id\"}",
			 "{\"billing_id\":\"cus_9\"}", "https://provider.test/v1/customers/cus_9/balance_transactions");
}

/* A participant without the value naming its account at the provider (or its e-mail,
 * for a gift card): a first attempt fails, but a re-drive of an attempt whose outcome
 * is unknown is held - that attempt may have paid - naming the value; a reversal still
 * fails. */
Test(wire, missing_account_fails_unless_an_earlier_attempt_may_have_paid)
{
	static const struct {
		const char *type, *config, *what;
	} cases[] = {
		{"stripe", "{\"api_key\":\"sk_test_1\"}", "attributes.stripe_customer_id"},
		{"recurly", "{\"api_key\":\"rk_1\"}", "attributes.recurly_account_code"},
		{"braintree", "{\"merchant_id\":\"m\",\"discount_id\":\"d\"}", "attributes.braintree_subscription_id"},
		{"giftcard", "{\"api_key\":\"gk_1\"}", "e-mail"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int unknown = 0; unknown < 2; unknown++) {
			struct wire w;
			wire_init(&w, cases[i].type, cases[i].config, "{}", CONNECTOR_ISSUE);
			json_object_set_new(w.c.participant, "email", json_string(""));
			if (unknown)
				snprintf(w.c.r.last_error, sizeof(w.c.r.last_error), "%sHTTP 503", REWARD_UNKNOWN_PREFIX);
			enum connector_result res = w.c.ops->request(&w.c);
			cr_assert_eq(res, unknown ? CONNECTOR_HELD : CONNECTOR_FAILED, "%s: %d", cases[i].type, res);
			cr_assert_not_null(strstr(w.c.diag.message, cases[i].what), "%s", w.c.diag.message);
			cr_assert_null(w.c.http.url, "%s: nothing sent", cases[i].type);
			wire_release(&w);
		}
	}
	struct wire w;
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{}", CONNECTOR_REVERSE);
	snprintf(w.c.r.last_error, sizeof(w.c.r.last_error), "%sHTTP 503", REWARD_UNKNOWN_PREFIX);
	cr_assert_eq(w.c.ops->request(&w.c), CONNECTOR_FAILED);
	wire_release(&w);
}

/* Retry-After is delay-seconds or an HTTP-date (RFC 9110); both floor the backoff. */
Test(wire, retry_after_seconds_or_http_date)
{
	struct wire w;
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}", CONNECTOR_ISSUE);
	wire_request(&w);
	snprintf(w.c.http.retry_after, sizeof(w.c.http.retry_after), "30");
	cr_assert_eq(wire_answer(&w, 429, "{\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}"),
		     CONNECTOR_RETRY);
	cr_assert_eq(w.c.retry_after_ms, 30000);
	time_t at = time(NULL) + 120;
	struct tm tm;
	gmtime_r(&at, &tm);
	strftime(w.c.http.retry_after, sizeof(w.c.http.retry_after), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	cr_assert_eq(wire_answer(&w, 503, "{\"error\":{\"type\":\"api_error\",\"message\":\"busy\"}}"), CONNECTOR_RETRY);
	cr_assert(w.c.retry_after_ms >= 118000 && w.c.retry_after_ms <= 120000, "%lld", (long long)w.c.retry_after_ms);
	wire_release(&w);
}

/* Stripe percent discount whose coupon exists (resource_already_exists) and has no
 * promotion code yet: looked up, none found, then made. */
Test(wire, stripe_existing_coupon_without_promotion_code)
{
	struct wire w;
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}", CONNECTOR_ISSUE);
	wire_percent(&w, 1250);
	wire_request(&w);
	cr_assert_str_eq(w.c.http.url, "https://provider.test/v1/coupons");
	cr_assert_str_eq(w.c.http.body, "id=rwd_0001&percent_off=12.50&duration=once&metadata%5Breward_id%5D=rwd_0001");
	cr_assert_eq(wire_answer(&w, 400,
				 "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"resource_already_exists\","
				 "\"message\":\"Coupon already exists.\"}}"),
		     CONNECTOR_CONTINUE);
	w.c.step++;
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "GET");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/v1/promotion_codes?coupon=rwd_0001&limit=1");
	cr_assert_eq(wire_answer(&w, 200, "{\"object\":\"list\",\"data\":[],\"has_more\":false}"), CONNECTOR_CONTINUE);
	w.c.step++;
	cr_assert_lt(w.c.step, w.c.ops->max_steps);
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "POST");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/v1/promotion_codes");
	cr_assert(has_header(&w, "Idempotency-Key: rwd_0001:promotion_code"));
	cr_assert_eq(wire_answer(&w, 200, "{\"id\":\"promo_1\",\"object\":\"promotion_code\",\"code\":\"REFX\"}"),
		     CONNECTOR_OK);
	cr_assert_str_eq(w.c.ref, "promo_1");
	cr_assert_str_eq(w.c.code, "REFX");
	wire_release(&w);
}

/* The body of a Stripe credit of `amount` minor units (ISO 4217, as fulfill keeps
 * money) of `currency` contains `want`, or, when want is NULL, the connector refuses
 * the reward before sending anything and says why (`why`). */
static void expect_stripe_credit(const char *currency, int64_t amount, const char *want, const char *why)
{
	struct wire w;
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}", CONNECTOR_ISSUE);
	snprintf(w.c.r.currency, sizeof(w.c.r.currency), "%s", currency);
	w.c.r.amount = amount;
	if (want) {
		wire_request(&w);
		cr_assert_not_null(strstr(w.c.http.body, want), "%s %lld: %s", currency, (long long)amount, w.c.http.body);
	} else {
		cr_assert_eq(w.c.ops->request(&w.c), CONNECTOR_FAILED, "%s %lld was sent", currency, (long long)amount);
		cr_assert_null(w.c.http.url, "nothing is sent");
		cr_assert_not_null(strstr(w.c.diag.message, why), "%s", w.c.diag.message);
		cr_assert_not_null(strstr(w.c.diag.message, "does not round"), "%s", w.c.diag.message);
	}
	wire_release(&w);
}

/* Stripe's minor units are ISO 4217's except where Stripe's currency docs say
 * otherwise: ISK is two-decimal at Stripe, MGA zero-decimal; BHD, JOD, KWD, OMR and TND
 * amounts must end in 0. An amount Stripe cannot carry exactly is refused, never
 * rounded. */
Test(wire, stripe_amounts_are_in_stripes_minor_units)
{
	expect_stripe_credit("USD", 1500, "amount=-1500&currency=usd&", NULL);
	expect_stripe_credit("JPY", 1500, "amount=-1500&currency=jpy&", NULL);
	expect_stripe_credit("KRW", 20000, "amount=-20000&currency=krw&", NULL);
	expect_stripe_credit("ISK", 500, "amount=-50000&currency=isk&", NULL);
	expect_stripe_credit("MGA", 150000, "amount=-1500&currency=mga&", NULL);
	expect_stripe_credit("BHD", 1500, "amount=-1500&currency=bhd&", NULL);
	expect_stripe_credit("TND", 20, "amount=-20&currency=tnd&", NULL);
	expect_stripe_credit("BHD", 1505, NULL, "1.505 BHD");
	expect_stripe_credit("KWD", 1, NULL, "0.001 KWD");
	expect_stripe_credit("JOD", 999, NULL, "JOD amounts in steps of 0.010");
	expect_stripe_credit("OMR", 12345, NULL, "12.345 OMR");
	expect_stripe_credit("MGA", 150050, NULL, "1500.50 MGA");

	/* a reversal takes the same road */
	struct wire w;
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}", CONNECTOR_REVERSE);
	snprintf(w.c.r.currency, sizeof(w.c.r.currency), "ISK");
	w.c.amount = 700;
	wire_request(&w);
	cr_assert_not_null(strstr(w.c.http.body, "amount=70000&currency=isk&"), "%s", w.c.http.body);
	wire_release(&w);
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}", CONNECTOR_REVERSE);
	snprintf(w.c.r.currency, sizeof(w.c.r.currency), "KWD");
	w.c.amount = 1505;
	cr_assert_eq(w.c.ops->request(&w.c), CONNECTOR_FAILED);
	wire_release(&w);
}

/* Stripe-Should-Retry overrides the status code: "true" retries a 400, "false" ends a
 * 429 (nothing done: a definite refusal) or a 500 (which may follow an executed
 * request: the outcome stays unknown). Retry-After still floors the wait. */
Test(wire, stripe_should_retry_header)
{
	static const char lock[] = "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"lock_timeout\","
				   "\"message\":\"This object cannot be accessed right now\"}}";
	static const char api[] = "{\"error\":{\"type\":\"api_error\",\"message\":\"busy\"}}";
	struct wire w;
	wire_init(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}", CONNECTOR_ISSUE);
	wire_request(&w);
	cr_assert_eq(wire_answer(&w, 400, lock), CONNECTOR_FAILED, "no header: a 400 is final");
	snprintf(w.c.http.should_retry, sizeof(w.c.http.should_retry), "true");
	snprintf(w.c.http.retry_after, sizeof(w.c.http.retry_after), "30");
	cr_assert_eq(wire_answer(&w, 400, lock), CONNECTOR_RETRY);
	cr_assert_eq(w.c.retry_after_ms, 30000);
	cr_assert_not_null(strstr(w.c.diag.message, "Stripe-Should-Retry: true"), "%s", w.c.diag.message);
	w.c.http.retry_after[0] = '\0';

	snprintf(w.c.http.should_retry, sizeof(w.c.http.should_retry), "false");
	cr_assert_eq(wire_answer(&w, 429, "{\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow\"}}"),
		     CONNECTOR_FAILED);
	cr_assert_not(w.c.maybe_paid, "a 429 did nothing");
	cr_assert_eq(wire_answer(&w, 500, api), CONNECTOR_FAILED);
	cr_assert(w.c.maybe_paid, "a 500 may follow an executed request");
	w.c.maybe_paid = false;
	cr_assert_eq(wire_answer(&w, 400, lock), CONNECTOR_FAILED);
	cr_assert_not(w.c.maybe_paid);
	w.c.http.should_retry[0] = '\0';
	cr_assert_eq(wire_answer(&w, 500, api), CONNECTOR_RETRY, "no header: a 500 is retried");
	wire_release(&w);
}

/* A Recurly percent discount: the coupon (made), its redemption refused with 422 (the
 * coupon maxed out). */
static void recurly_redemption_refused(struct wire *w)
{
	wire_init(w, "recurly", "{\"api_key\":\"rk_1\"}", "{\"recurly_account_code\":\"kim1\"}", CONNECTOR_ISSUE);
	wire_percent(w, 2000);
	wire_request(w);
	cr_assert_eq(wire_answer(w, 201,
				 "{\"id\":\"o2ynu3fg\",\"object\":\"coupon\",\"code\":\"fulfill-rwd_0001\","
				 "\"created_at\":\"2026-11-20T10:00:00Z\"}"),
		     CONNECTOR_CONTINUE);
	w->c.step++;
	wire_request(w);
	cr_assert_str_eq(w->c.http.url, "https://provider.test/accounts/code-kim1/coupon_redemptions/active");
	cr_assert_eq(wire_answer(w, 422,
				 "{\"error\":{\"type\":\"validation\",\"message\":\"Coupon is not redeemable\"}}"),
		     CONNECTOR_CONTINUE);
	w->c.step++;
	cr_assert_lt(w->c.step, w->c.ops->max_steps, "the issuing lease covers every step");
	wire_request(w);
	cr_assert_str_eq(w->c.http.method, "GET");
	cr_assert_str_eq(w->c.http.url, "https://provider.test/accounts/code-kim1/coupon_redemptions"
					"?sort=created_at&begin_time=2026-11-20T10%3A00%3A00Z");
}

/* After Recurly's key window, a re-drive meets its own lost redemption as a refusal: the
 * account's redemption of our coupon is found and is the reward's reference. */
Test(wire, recurly_refused_redemption_finds_the_lost_one)
{
	struct wire w;
	recurly_redemption_refused(&w);
	cr_assert_eq(wire_answer(&w, 200,
				 "{\"object\":\"list\",\"has_more\":false,\"data\":["
				 "{\"id\":\"rdm_other\",\"state\":\"active\",\"coupon\":{\"id\":\"zzz\",\"code\":\"SUMMER\"}},"
				 "{\"id\":\"rdm_1\",\"state\":\"active\",\"coupon\":{\"id\":\"o2ynu3fg\","
				 "\"code\":\"fulfill-rwd_0001\"}}]}"),
		     CONNECTOR_OK);
	cr_assert_str_eq(w.c.ref, "rdm_1");
	cr_assert_str_eq(w.c.code, "fulfill-rwd_0001");
	wire_release(&w);
}

/* ... and when the account has no redemption of our coupon, the refusal stands. */
Test(wire, recurly_refused_redemption_without_one_fails)
{
	struct wire w;
	recurly_redemption_refused(&w);
	cr_assert_eq(wire_answer(&w, 200,
				 "{\"object\":\"list\",\"has_more\":false,\"data\":[{\"id\":\"rdm_other\","
				 "\"coupon\":{\"id\":\"zzz\",\"code\":\"SUMMER\"}}]}"),
		     CONNECTOR_FAILED);
	cr_assert_not_null(strstr(w.c.diag.message, "Coupon is not redeemable"), "%s", w.c.diag.message);
	cr_assert_not_null(strstr(w.c.diag.message, "no redemption of coupon fulfill-rwd_0001"), "%s",
			   w.c.diag.message);
	cr_assert_not(w.c.maybe_paid);
	wire_release(&w);
}

/* Braintree and Recurly take decimal amounts: whole numbers for zero-decimal currencies
 * (JPY 1500, not 15.00), three decimals where ISO has them at Braintree; Recurly allows
 * at most two, so a third that is not 0 is refused instead of rounded. */
Test(wire, decimal_amounts_for_zero_and_three_decimal_currencies)
{
	static const struct {
		const char *type, *currency;
		int64_t amount;
		const char *want;
	} cases[] = {
	    {"braintree", "USD", 1500, "<amount>15.00</amount>"}, {"braintree", "JPY", 1500, "<amount>1500</amount>"},
	    {"braintree", "BHD", 1505, "<amount>1.505</amount>"}, {"recurly", "USD", 1500, "\"unit_amount\":15.00,"},
	    {"recurly", "JPY", 1500, "\"unit_amount\":1500,"},     {"recurly", "KWD", 1500, "\"unit_amount\":1.500,"},
	    {"recurly", "KWD", 1505, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wire w;
		bool bt = !strcmp(cases[i].type, "braintree");
		wire_init(&w, cases[i].type,
			  bt ? "{\"merchant_id\":\"m1\",\"public_key\":\"p\",\"private_key\":\"s\",\"discount_id\":\"d\"}"
			     : "{\"api_key\":\"rk_1\"}",
			  bt ? "{\"braintree_subscription_id\":\"sub_1\"}" : "{\"recurly_account_code\":\"kim1\"}",
			  CONNECTOR_ISSUE);
		snprintf(w.c.r.currency, sizeof(w.c.r.currency), "%s", cases[i].currency);
		w.c.r.amount = cases[i].amount;
		if (cases[i].want) {
			wire_request(&w);
			cr_assert_not_null(strstr(w.c.http.body, cases[i].want), "%s %s: %s", cases[i].type,
					   cases[i].currency, w.c.http.body);
		} else {
			cr_assert_eq(w.c.ops->request(&w.c), CONNECTOR_FAILED);
			cr_assert_not_null(strstr(w.c.diag.message, "1.505 KWD"), "%s", w.c.diag.message);
		}
		wire_release(&w);
	}
}

/* A credit whose earlier attempt's outcome is unknown (here: interrupted) through
 * `type`: its first request is the look-up for that attempt's credit. */
static void wire_init_unknown(struct wire *w, const char *type, const char *config, const char *attrs)
{
	wire_init(w, type, config, attrs, CONNECTOR_ISSUE);
	snprintf(w->c.r.last_error, sizeof(w->c.r.last_error), "%sattempt 1 was interrupted", REWARD_UNKNOWN_PREFIX);
}

/* The next step's request. */
static void wire_next(struct wire *w)
{
	w->c.step++;
	wire_request(w);
}

/* Stripe: the customer's balance transactions, page after page (starting_after the
 * last id), until one is a credit whose metadata names the reward - its reference, and
 * no credit is sent. Another reward's credit, and a positive transaction (a reversal)
 * naming ours, are not it. Look-ups carry no idempotency key. */
Test(wire, stripe_credit_lookup_pages_until_it_finds_the_credit)
{
	struct wire w;
	wire_init_unknown(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}");
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "GET");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/v1/customers/cus_1/balance_transactions?limit=100");
	cr_assert_not(has_header(&w, "Idempotency-Key: rwd_0001"));
	cr_assert_eq(wire_answer(&w, 200,
				 "{\"object\":\"list\",\"has_more\":true,\"data\":["
				 "{\"id\":\"cbtxn_a\",\"amount\":-1500,\"metadata\":{\"reward_id\":\"rwd_0002\"}},"
				 "{\"id\":\"cbtxn_b\",\"amount\":1500,\"metadata\":{\"reward_id\":\"rwd_0001\"}}]}"),
		     CONNECTOR_CONTINUE);
	wire_next(&w);
	cr_assert_str_eq(w.c.http.url,
			 "https://provider.test/v1/customers/cus_1/balance_transactions?limit=100&starting_after=cbtxn_b");
	cr_assert_eq(wire_answer(&w, 200,
				 "{\"object\":\"list\",\"has_more\":false,\"data\":[{\"id\":\"cbtxn_c\",\"amount\":-1500,"
				 "\"metadata\":{\"reward_id\":\"rwd_0001\"}}]}"),
		     CONNECTOR_OK);
	cr_assert_str_eq(w.c.ref, "cbtxn_c");
	wire_release(&w);
}

/* ... and when the list ends without it, the credit is sent, with the reward's key. */
Test(wire, stripe_credit_lookup_without_the_credit_sends_it)
{
	struct wire w;
	wire_init_unknown(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}");
	wire_request(&w);
	cr_assert_eq(wire_answer(&w, 200, "{\"object\":\"list\",\"has_more\":false,\"data\":[]}"), CONNECTOR_CONTINUE);
	wire_next(&w);
	cr_assert_str_eq(w.c.http.method, "POST");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/v1/customers/cus_1/balance_transactions");
	cr_assert(has_header(&w, "Idempotency-Key: rwd_0001"));
	cr_assert_eq(wire_answer(&w, 200, "{\"id\":\"cbtxn_new\",\"object\":\"customer_balance_transaction\"}"),
		     CONNECTOR_OK);
	cr_assert_str_eq(w.c.ref, "cbtxn_new");
	wire_release(&w);
}

/* A look-up that cannot decide sends nothing: past lookup_max_pages it is held; a
 * refused look-up (the customer is gone) is held; a 5xx is retried. None of them says
 * anything about a payment of its own (maybe_paid stays false: the reward's outcome
 * was unknown before and stays so). */
Test(wire, stripe_credit_lookup_that_cannot_decide_sends_nothing)
{
	struct wire w;
	wire_init_unknown(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}");
	w.conf.lookup_max_pages = 2;
	const char *page = "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"cbtxn_x\",\"amount\":-5,"
			   "\"metadata\":{}}]}";
	wire_request(&w);
	cr_assert_eq(wire_answer(&w, 200, page), CONNECTOR_CONTINUE);
	wire_next(&w);
	cr_assert_str_eq(w.c.http.method, "GET");
	cr_assert_eq(wire_answer(&w, 200, page), CONNECTOR_HELD);
	cr_assert_not_null(strstr(w.c.diag.message, "lookup_max_pages"), "%s", w.c.diag.message);
	cr_assert_not_null(strstr(w.c.diag.message, "nothing sent"), "%s", w.c.diag.message);
	cr_assert_not(w.c.maybe_paid);
	wire_release(&w);

	wire_init_unknown(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}");
	wire_request(&w);
	cr_assert_eq(wire_answer(&w, 404,
				 "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"resource_missing\","
				 "\"message\":\"No such customer: 'cus_1'\"}}"),
		     CONNECTOR_HELD);
	cr_assert_not_null(strstr(w.c.diag.message, "No such customer"), "%s", w.c.diag.message);
	cr_assert_not_null(strstr(w.c.diag.message, "nothing sent"), "%s", w.c.diag.message);
	cr_assert_not(w.c.maybe_paid);
	wire_release(&w);

	wire_init_unknown(&w, "stripe", "{\"api_key\":\"sk_test_1\"}", "{\"stripe_customer_id\":\"cus_1\"}");
	wire_request(&w);
	cr_assert_eq(wire_answer(&w, 500, "{\"error\":{\"type\":\"api_error\",\"message\":\"oops\"}}"), CONNECTOR_RETRY);
	wire_release(&w);
}

/* Recurly: the credit carries "(fulfill-<reward id>)" in its description, which the
 * look-up matches, following Recurly's "next" from page to page. A near miss (another
 * reward's id that begins with ours) is not it. */
Test(wire, recurly_credit_lookup_follows_next_and_matches_the_description)
{
	struct wire w;
	wire_init(&w, "recurly", "{\"api_key\":\"rk_1\"}", "{\"recurly_account_code\":\"kim1\"}", CONNECTOR_ISSUE);
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "POST");
	cr_assert_not_null(strstr(w.c.http.body, "\"description\":\"Referral reward (fulfill-rwd_0001)\""), "%s",
			   w.c.http.body);
	wire_release(&w);

	wire_init_unknown(&w, "recurly", "{\"api_key\":\"rk_1\"}", "{\"recurly_account_code\":\"kim1\"}");
	wire_request(&w);
	cr_assert_str_eq(w.c.http.method, "GET");
	cr_assert_str_eq(w.c.http.url, "https://provider.test/accounts/code-kim1/line_items"
					"?type=credit&sort=created_at&order=desc&limit=200");
	cr_assert_eq(wire_answer(&w, 200,
				 "{\"object\":\"list\",\"has_more\":true,\"next\":\"/accounts/code-kim1/line_items"
				 "?cursor=ab1%3A1700000000&limit=200&type=credit\",\"data\":[{\"id\":\"li_8\",\"type\":"
				 "\"credit\",\"description\":\"Referral reward (fulfill-rwd_00012)\"}]}"),
		     CONNECTOR_CONTINUE);
	wire_next(&w);
	cr_assert_str_eq(w.c.http.url,
			 "https://provider.test/accounts/code-kim1/line_items?cursor=ab1%3A1700000000&limit=200&type=credit");
	cr_assert_eq(wire_answer(&w, 200,
				 "{\"object\":\"list\",\"has_more\":false,\"next\":null,\"data\":[{\"id\":\"li_9\","
				 "\"type\":\"credit\",\"description\":\"Referral reward (fulfill-rwd_0001)\"}]}"),
		     CONNECTOR_OK);
	cr_assert_str_eq(w.c.ref, "li_9");
	wire_release(&w);
}

/* Recurly's "next" is followed only as a path of an account's line items on the
 * configured host: anything else (another host, another resource, a dot segment) holds
 * the reward and sends nothing, the API key included. */
Test(wire, recurly_credit_lookup_does_not_follow_next_elsewhere)
{
	static const char *const bad[] = {
	    "https://evil.test/accounts/code-kim1/line_items?cursor=1",
	    "//evil.test/accounts/code-kim1/line_items?cursor=1",
	    "/accounts/code-kim1/../../sites/line_items?cursor=1",
	    "/accounts/code-kim1/coupon_redemptions?cursor=1",
	    "/accounts/code-kim1/line_items?cursor=1#x",
	    "/accounts/code-kim1/line_items?cursor= 1",
	    "/accounts/a?b/line_items?cursor=1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wire w;
		wire_init_unknown(&w, "recurly", "{\"api_key\":\"rk_1\"}", "{\"recurly_account_code\":\"kim1\"}");
		wire_request(&w);
		char body[512];
		snprintf(body, sizeof(body), "{\"object\":\"list\",\"has_more\":true,\"next\":\"%s\",\"data\":[]}", bad[i]);
		cr_assert_eq(wire_answer(&w, 200, body), CONNECTOR_HELD, "%s", bad[i]);
		cr_assert_not_null(strstr(w.c.diag.message, "nothing sent"), "%s", w.c.diag.message);
		wire_release(&w);
	}
}
