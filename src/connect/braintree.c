/*
 * braintree.c - the `braintree` connector (Braintree gateway XML API, HTTP Basic with
 * public_key:private_key, X-ApiVersion: 6): discounts on the participant's subscription
 * (attributes.braintree_subscription_id).
 *
 *  percent_discount / credit
 *      PUT /merchants/{merchant_id}/subscriptions/{id} adding a discount inherited from
 *      the configured discount (config "discount_id"; for credit the amount is the
 *      reward's, i.e. a negative add-on in effect; for percent the configured
 *      discount's own amount applies) for `months` billing cycles (default 1).
 *
 * Braintree has no idempotency keys. A re-driven call that finds the discount already
 * on the subscription gets Braintree's "duplicate discount" validation error (code
 * 91911, "Cannot add duplicate add-on or discount."), which
 * counts as success, so a crash between the call and its record cannot apply a second
 * discount of the same id. The reference is "<subscription>/<discount id>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connector.h"
#include "fulfill/money.h"

static void basic(struct connector_call *c)
{
	const char *pub = connector_conf_str(c->conf, "public_key"), *priv = connector_conf_str(c->conf, "private_key");
	connector_basic_auth(c, pub ? pub : "", priv ? priv : "");
	http_call_header(&c->http, "X-ApiVersion: 6");
	http_call_header(&c->http, "Accept: application/xml");
	http_call_header(&c->http, "Content-Type: application/xml");
}

static bool xml_safe(const char *s)
{
	return !strpbrk(s, "<>&\"'");
}

static enum connector_result bt_request(struct connector_call *c)
{
	if (c->op != CONNECTOR_ISSUE)
		return c->op == CONNECTOR_STATUS ? CONNECTOR_OK
						 : (ff_fail(&c->diag, FF_E_INVALID, NULL, "braintree: reversal not supported"),
						    CONNECTOR_FAILED);
	const char *sub = connector_attr(c, "braintree_subscription_id");
	const char *merchant = connector_conf_str(c->conf, "merchant_id");
	const char *discount = connector_conf_str(c->conf, "discount_id");
	if (!*sub || !xml_safe(sub))
		return connector_lacks(c, "attributes.braintree_subscription_id");
	if (!merchant || !discount || !xml_safe(discount))
		return ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "braintree: merchant_id and discount_id are needed"),
		       CONNECTOR_RETRY;
	struct ffbuf b;
	ffbuf_init(&b, 0);
	ffbuf_addf(&b, "<subscription><discounts><add type=\"array\"><discount><inherited-from-id>%s</inherited-from-id>",
		   discount);
	if (!strcmp(c->r.type, "credit") && c->r.has_amount) {
		char num[40];
		money_format(c->r.amount, c->r.currency, num, sizeof(num));
		ffbuf_addf(&b, "<amount>%s</amount>", num);
	}
	/* a credit is one amount, taken off one bill; a discount lasts `months` cycles */
	bool credit = !strcmp(c->r.type, "credit");
	ffbuf_addf(&b, "<number-of-billing-cycles>%lld</number-of-billing-cycles>",
		   (long long)(!credit && c->r.has_months && c->r.months > 0 ? c->r.months : 1));
	ffbuf_adds(&b, "</discount></add></discounts></subscription>");
	http_call_init(&c->http, "PUT", "");
	free(c->http.url);
	c->http.url = connector_url(c->conf, "/merchants/%s/subscriptions/%s", merchant, sub);
	basic(c);
	http_call_body(&c->http, b.data, b.len);
	ffbuf_release(&b);
	return CONNECTOR_CONTINUE;
}

static enum connector_result bt_response(struct connector_call *c)
{
	const char *body = c->http.response.data ? c->http.response.data : "";
	enum connector_result res = connector_http_classify(c);
	/* 91911: Subscription CannotAddDuplicateAddonOrDiscount (Braintree's codes stay,
	 * its messages may change) */
	if (res == CONNECTOR_FAILED && c->http.status == 422 && strstr(body, "<code>91911</code>")) {
		/* Braintree keeps one discount of an id per subscription. After an attempt of
		 * this reward whose outcome was unknown, that attempt applied it; otherwise it
		 * is another reward's, and this one was NOT applied: the operator decides */
		if (!reward_outcome_unknown(&c->r))
			return ff_fail(&c->diag, FF_E_CONFLICT, NULL,
				       "braintree: subscription %s already has discount %s (another reward's): "
				       "this reward was not applied",
				       connector_attr(c, "braintree_subscription_id"),
				       connector_conf_str(c->conf, "discount_id")),
			       CONNECTOR_FAILED;
		res = CONNECTOR_OK; /* applied by an earlier attempt of this reward */
	}
	if (res != CONNECTOR_OK)
		return res;
	snprintf(c->ref, sizeof(c->ref), "%s/%s", connector_attr(c, "braintree_subscription_id"),
		 connector_conf_str(c->conf, "discount_id"));
	return CONNECTOR_OK;
}

static const char *const secrets[] = {"private_key", NULL};
static const char *const fields[] = {"merchant_id", "public_key", "discount_id", NULL};
static const char *const required[] = {"merchant_id", "public_key", "private_key", "discount_id", NULL};

const struct connector_ops connector_braintree = {
	.name = "braintree",
	.external = true,
	.secret_fields = secrets,
	.config_fields = fields,
	.required_fields = required,
	.max_steps = 1,
	.customer_attribute = "braintree_subscription_id",
	.request = bt_request,
	.response = bt_response,
};
