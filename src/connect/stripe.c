/*
 * stripe.c - the `stripe` connector (Stripe API, form-encoded, Bearer secret key).
 *
 *  credit            POST /v1/customers/{cus}/balance_transactions amount=-N currency=...
 *                    metadata[reward_id]=<id> (a negative balance transaction is a credit
 *                    on the next invoice). When an earlier attempt's outcome is unknown,
 *                    GET /v1/customers/{cus}/balance_transactions?limit=100 first, page
 *                    by page (starting_after): a credit whose metadata names the reward
 *                    is that attempt's - the reward's, and nothing is sent (Stripe forgets
 *                    keys after a day; connector.h, connector_lookup_*).
 *  percent_discount  POST /v1/coupons percent_off=P duration=once|repeating, then
 *                    POST /v1/promotion_codes coupon=... customer=cus max_redemptions=1
 *                    (the participant gets the promotion code). A coupon that exists
 *                    already (a re-drive after Stripe forgot the key) is ours - its id is
 *                    the reward id: GET /v1/promotion_codes?coupon=<id> first, and
 *                    that promotion code, if any, is the reward's.
 *  status            GET /v1/promotion_codes/{id}: times_redeemed > 0 -> redeemed
 *  reverse           credit: POST balance_transactions amount=+N; percent: deactivate
 *                    the promotion code.
 *
 * Every request carries Idempotency-Key = the reward id (a suffix per extra step:
 * "<id>:promotion_code", "<id>:reverse"), so a re-driven call returns what Stripe did
 * the first time. The customer id comes from the participant's attribute
 * `stripe_customer_id` (config "customer_attribute" names another). Errors: no response,
 * 409 (concurrent use of a key), 429, 5xx, authentication -> retryable; other 4xx
 * (card_error, invalid_request_error) -> permanent; a 400 idempotency_error (the key
 * was first used with other parameters) -> permanent, and the outcome stays unknown.
 * A Stripe-Should-Retry header overrides the status (should_retry()). Amounts go in
 * Stripe's minor units, which differ from ISO 4217's for a few currencies; one Stripe
 * cannot carry exactly is refused, never rounded (stripe_amount()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect/connector.h"
#include "fulfill/money.h"

/* The participant attribute holding the Stripe customer id. */
static const char *customer_attr(const struct connector_call *c)
{
	const char *attr = connector_conf_str(c->conf, "customer_attribute");
	return attr ? attr : "stripe_customer_id";
}

static const char *customer(struct connector_call *c)
{
	return connector_attr(c, customer_attr(c));
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static void start(struct connector_call *c, const char *method, char *url, const char *key_suffix)
{
	http_call_init(&c->http, method, url);
	free(url);
	http_call_header(&c->http, "Authorization: Bearer %s", connector_conf_str(c->conf, "api_key"));
	http_call_header(&c->http, "Content-Type: application/x-www-form-urlencoded");
	http_call_header(&c->http, "Stripe-Version: 2024-06-20");
	if (strcmp(method, "GET"))
		http_call_header(&c->http, "Idempotency-Key: %s%s", c->r.id, key_suffix);
}

/* `amount` (minor units of ISO 4217, as fulfill keeps money) in Stripe's minor units,
 * into out. Stripe's unit is ISO's except (docs.stripe.com/currencies, "Zero-decimal",
 * "Three-decimal" and "Special cases"): ISK is two-decimal at Stripe (100 = 1 krona,
 * whole krónur only) where ISO has no decimals; MGA is zero-decimal at Stripe where ISO
 * has two; BHD, JOD, KWD, OMR and TND are three-decimal, but Stripe takes only amounts
 * whose last digit is 0. Money is never rounded: an amount Stripe cannot carry exactly
 * is a permanent error (false, with the reason in c->diag) and nothing is sent. */
static bool stripe_amount(struct connector_call *c, int64_t amount, char *out, size_t n)
{
	static const char *const tens[] = {"BHD", "JOD", "KWD", "OMR", "TND", NULL};
	const char *cur = c->r.currency;
	int64_t mag = amount < 0 ? -amount : amount, sent = mag;
	char text[40];
	money_format(mag, cur, text, sizeof(text));
	if (!strcmp(cur, "ISK")) {
		sent = mag * 100;
	} else if (!strcmp(cur, "MGA")) {
		if (mag % 100)
			return ff_fail(&c->diag, FF_E_INVALID, NULL,
				       "stripe takes MGA in whole ariary: %s MGA cannot be sent exactly "
				       "(fulfill does not round money; change the reward's amount)",
				       text),
			       false;
		sent = mag / 100;
	} else {
		for (int i = 0; tens[i]; i++)
			if (!strcmp(cur, tens[i]) && mag % 10)
				return ff_fail(&c->diag, FF_E_INVALID, NULL,
					       "stripe takes %s amounts in steps of 0.010 (the last of three "
					       "decimals 0): %s %s cannot be sent exactly (fulfill does not round "
					       "money; change the reward's amount)",
					       cur, text, cur),
				       false;
	}
	snprintf(out, n, "%lld", (long long)(amount < 0 ? -sent : sent));
	return true;
}

static enum connector_result form(struct connector_call *c, struct ffbuf *b)
{
	http_call_body(&c->http, b->data ? b->data : "", b->len);
	ffbuf_release(b);
	return CONNECTOR_CONTINUE;
}

static enum connector_result stripe_request(struct connector_call *c)
{
	const char *cus = customer(c);
	if (!*cus && c->op != CONNECTOR_STATUS) {
		char what[128];
		snprintf(what, sizeof(what), "Stripe customer id (attributes.%s)", customer_attr(c));
		return connector_lacks(c, what);
	}
	struct ffbuf b;
	ffbuf_init(&b, 1 << 16);
	char cur[8], num[32];
	copy_str(cur, sizeof(cur), c->r.currency);
	lower(cur);
	bool credit = !strcmp(c->r.type, "credit");
	if (!credit && strcmp(c->r.type, "percent_discount"))
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "stripe cannot fulfil %s rewards", c->r.type),
		       CONNECTOR_FAILED;
	switch (c->op) {
	case CONNECTOR_ISSUE:
		if (credit) {
			if (!stripe_amount(c, -c->r.amount, num, sizeof(num)))
				return CONNECTOR_FAILED; /* b holds nothing yet */
			const char *after;
			if (connector_lookup_due(c, &after)) {
				/* an earlier attempt may have paid, and Stripe may have forgotten its
				 * key: its balance transaction first (docs.stripe.com/api/
				 * customer_balance_transactions/list: limit 1-100, starting_after =
				 * the last id of the page before; {"data": [{"id", "amount",
				 * "metadata", ...}], "has_more"}) */
				start(c, "GET",
				      after ? connector_url(c->conf,
							    "/v1/customers/%s/balance_transactions?limit=100&starting_after=%s",
							    cus, after)
					    : connector_url(c->conf, "/v1/customers/%s/balance_transactions?limit=100", cus),
				      "");
				return CONNECTOR_CONTINUE;
			}
			start(c, "POST", connector_url(c->conf, "/v1/customers/%s/balance_transactions", cus), "");
			http_form_add(&b, "amount", num);
			http_form_add(&b, "currency", cur);
			http_form_add(&b, "description", "Referral reward");
			http_form_add(&b, "metadata[reward_id]", c->r.id);
			return form(c, &b);
		}
		if (c->step == 0) {
			start(c, "POST", connector_url(c->conf, "/v1/coupons"), "");
			snprintf(num, sizeof(num), "%lld.%02lld", (long long)(c->r.percent_bp / 100),
				 (long long)(c->r.percent_bp % 100));
			http_form_add(&b, "id", c->r.id);
			http_form_add(&b, "percent_off", num);
			if (c->r.has_months && c->r.months > 0) {
				http_form_add(&b, "duration", "repeating");
				snprintf(num, sizeof(num), "%lld", (long long)c->r.months);
				http_form_add(&b, "duration_in_months", num);
			} else {
				http_form_add(&b, "duration", "once");
			}
			http_form_add(&b, "metadata[reward_id]", c->r.id);
			return form(c, &b);
		}
		if (json_is_true(json_object_get(c->state, "lookup"))) {
			/* the coupon existed (made by an attempt Stripe's key window forgot): its
			 * promotion code, if that attempt got as far, is this reward's */
			char *url = connector_url(c->conf, "/v1/promotion_codes?coupon=%s&limit=1",
						  json_string_value(json_object_get(c->state, "coupon")));
			start(c, "GET", url, "");
			return CONNECTOR_CONTINUE;
		}
		start(c, "POST", connector_url(c->conf, "/v1/promotion_codes"), ":promotion_code");
		http_form_add(&b, "coupon", json_string_value(json_object_get(c->state, "coupon")));
		http_form_add(&b, "customer", cus);
		http_form_add(&b, "max_redemptions", "1");
		http_form_add(&b, "metadata[reward_id]", c->r.id);
		return form(c, &b);
	case CONNECTOR_STATUS:
		if (credit)
			return CONNECTOR_OK; /* a balance credit has nothing to poll */
		start(c, "GET", connector_url(c->conf, "/v1/promotion_codes/%s", c->r.external_reference), "");
		return CONNECTOR_CONTINUE;
	case CONNECTOR_REVERSE:
		if (credit) {
			if (!stripe_amount(c, c->amount, num, sizeof(num)))
				return CONNECTOR_FAILED; /* b holds nothing yet */
			start(c, "POST", connector_url(c->conf, "/v1/customers/%s/balance_transactions", cus), ":reverse");
			http_form_add(&b, "amount", num);
			http_form_add(&b, "currency", cur);
			http_form_add(&b, "description", "Referral reward reversed");
			http_form_add(&b, "metadata[reward_id]", c->r.id);
			return form(c, &b);
		}
		start(c, "POST", connector_url(c->conf, "/v1/promotion_codes/%s", c->r.external_reference), ":reverse");
		http_form_add(&b, "active", "false");
		return form(c, &b);
	}
	return CONNECTOR_FAILED;
}

/* Stripe-Should-Retry (docs.stripe.com/error-low-level): Stripe's own verdict on an
 * error overrides the status code's. "false": retrying cannot help (the key replays
 * the same error, or the request is wrong), so the reward fails now - and when the
 * status leaves the outcome open (5xx, 408, 409: the request may have run, or another
 * one with the key is running), it stays unknown. "true": retry even a status we would
 * take as final (a lock timeout, say); Retry-After still sets the wait's floor. */
static enum connector_result should_retry(struct connector_call *c, enum connector_result res)
{
	long status = c->http.status;
	if (!strcasecmp(c->http.should_retry, "true"))
		return CONNECTOR_RETRY;
	if (!strcasecmp(c->http.should_retry, "false") && res == CONNECTOR_RETRY) {
		if (status >= 500 || status == 408 || status == 409)
			c->maybe_paid = true;
		return CONNECTOR_FAILED;
	}
	return res;
}

/* Credit, a page of the customer's balance transactions (the look-up before a credit
 * is sent again): the one whose metadata names this reward, a credit (negative; its
 * reversal is positive), is the earlier attempt's. */
static enum connector_result credit_found(struct connector_call *c, json_t *body)
{
	json_t *data = json_object_get(body, "data"), *x;
	size_t i;
	if (!json_is_array(data)) {
		ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "stripe: a balance transaction list without data");
		return connector_lookup_failed(c, CONNECTOR_FAILED);
	}
	const char *found = NULL, *last = NULL;
	json_array_foreach(data, i, x)
	{
		const char *id = json_string_value(json_object_get(x, "id"));
		const char *rid = json_string_value(json_object_get(json_object_get(x, "metadata"), "reward_id"));
		json_t *amount = json_object_get(x, "amount");
		if (id && rid && !strcmp(rid, c->r.id) && json_is_integer(amount) && json_integer_value(amount) < 0 &&
		    !found)
			found = id;
		last = id ? id : last;
	}
	bool more = json_is_true(json_object_get(body, "has_more"));
	if (!found && more && !last) { /* more follow, but after what? */
		ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL,
			"stripe: a balance transaction page without ids says more follow");
		return connector_lookup_failed(c, CONNECTOR_FAILED);
	}
	return connector_lookup_page(c, found, more ? last : NULL);
}

static enum connector_result stripe_response(struct connector_call *c)
{
	enum connector_result res = connector_http_classify(c);
	json_t *body = json_loads(c->http.response.data ? c->http.response.data : "", 0, NULL);
	bool percent_issue = c->op == CONNECTOR_ISSUE && !strcmp(c->r.type, "percent_discount");
	bool looking = c->op == CONNECTOR_ISSUE && !percent_issue && !strcmp(c->http.method, "GET");
	if (looking && res == CONNECTOR_OK) {
		res = credit_found(c, body);
		json_decref(body);
		return res;
	}
	const char *code = json_string_value(json_object_get(json_object_get(body, "error"), "code"));
	if (percent_issue && c->step == 0 && res == CONNECTOR_FAILED && code &&
	    !strcmp(code, "resource_already_exists")) {
		/* the coupon (id = the reward id, so ours) was made by an earlier attempt whose
		 * key Stripe no longer remembers: look for its promotion code before making one */
		json_decref(body);
		json_decref(c->state);
		c->state = json_pack("{s:s, s:b}", "coupon", c->r.id, "lookup", 1);
		return CONNECTOR_CONTINUE;
	}
	if (percent_issue && res == CONNECTOR_OK && !strcmp(c->http.method, "GET")) {
		json_t *pc = json_array_get(json_object_get(body, "data"), 0);
		const char *pid = json_string_value(json_object_get(pc, "id"));
		if (pid) {
			copy_str(c->ref, sizeof(c->ref), pid);
			copy_str(c->code, sizeof(c->code), json_string_value(json_object_get(pc, "code")));
		} else {
			json_object_set_new(c->state, "lookup", json_false()); /* none yet: make it */
		}
		json_decref(body);
		return pid ? CONNECTOR_OK : CONNECTOR_CONTINUE;
	}
	if (res != CONNECTOR_OK) {
		/* Stripe's error type refines the status code */
		const char *type = json_string_value(json_object_get(json_object_get(body, "error"), "type"));
		const char *msg = json_string_value(json_object_get(json_object_get(body, "error"), "message"));
		if (type && (!strcmp(type, "api_error") || !strcmp(type, "rate_limit_error") ||
			     !strcmp(type, "authentication_error")))
			res = CONNECTOR_RETRY;
		/* the key was used with other parameters (the customer id changed since an
		 * earlier attempt): no replay of the key can settle whether that attempt paid */
		if (type && res == CONNECTOR_FAILED && !strcmp(type, "idempotency_error"))
			c->maybe_paid = true;
		res = should_retry(c, res);
		if (type)
			ff_fail(&c->diag, res == CONNECTOR_RETRY ? FF_E_UNAVAILABLE : FF_E_INVALID, NULL,
				"stripe: HTTP %ld %s: %s", c->http.status, type, msg ? msg : "");
		if (c->http.should_retry[0]) {
			size_t len = strlen(c->diag.message);
			snprintf(c->diag.message + len, sizeof(c->diag.message) - len, " (Stripe-Should-Retry: %s)",
				 c->http.should_retry);
		}
		json_decref(body);
		return looking ? connector_lookup_failed(c, res) : res;
	}
	const char *id = json_string_value(json_object_get(body, "id"));
	if (!id) {
		json_decref(body);
		ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "stripe: a 2xx answer without an id");
		return CONNECTOR_RETRY;
	}
	res = CONNECTOR_OK;
	if (c->op == CONNECTOR_ISSUE && !strcmp(c->r.type, "percent_discount")) {
		if (c->step == 0) {
			json_decref(c->state);
			c->state = json_pack("{s:s}", "coupon", id);
			res = CONNECTOR_CONTINUE;
		} else {
			copy_str(c->ref, sizeof(c->ref), id);
			copy_str(c->code, sizeof(c->code), json_string_value(json_object_get(body, "code")));
		}
	} else if (c->op == CONNECTOR_ISSUE) {
		copy_str(c->ref, sizeof(c->ref), id);
	} else if (c->op == CONNECTOR_STATUS) {
		json_t *t = json_object_get(body, "times_redeemed");
		c->redeemed = json_is_integer(t) && json_integer_value(t) > 0;
		copy_str(c->provider_status, sizeof(c->provider_status),
			 c->redeemed ? "redeemed" : json_is_false(json_object_get(body, "active")) ? "inactive" : "active");
	}
	json_decref(body);
	return res;
}

static const char *const secrets[] = {"api_key", NULL};
static const char *const fields[] = {"customer_attribute", "lookup_max_pages", NULL};
static const char *const required[] = {"api_key", NULL};

const struct connector_ops connector_stripe = {
	.name = "stripe",
	.external = true,
	.secret_fields = secrets,
	.config_fields = fields,
	.required_fields = required,
	.max_steps = 3,
	.customer_attribute = "stripe_customer_id",
	.request = stripe_request,
	.response = stripe_response,
};
