/*
 * giftcard.c - the `giftcard` connector, in the shape of Tremendous' orders API
 * (https://developers.tremendous.com): Bearer API key, JSON.
 *
 *  issue   POST /api/v2/orders {"external_id": <reward id>, "payment": {"funding_source_id"},
 *          "reward": {"value": {"denomination", "currency_code"}, "products": [product],
 *          "campaign_id"?, "recipient": {"name", "email"}, "delivery": {"method": "EMAIL"}}}
 *          external_id makes the order idempotent: the same id answers the first order.
 *          Reference = the order's reward id (else the order id).
 *  status  GET /api/v2/rewards/{ref}: delivery.status SCHEDULED/PENDING -> "pending",
 *          SUCCEEDED -> "delivered", FAILED -> "failed"; a "redemption" status of
 *          REDEEMED/CLAIMED (or "claimed": true) -> "claimed", redeemed_at set.
 *  reverse not supported (gift cards are not taken back).
 *
 * Config: api_key (secret), funding_source_id, product_id and/or campaign_id (one is
 * needed: Tremendous wants "products" or "campaign_id"), base_url (default
 * https://www.tremendous.com). The recipient is the participant's
 * e-mail and name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connector.h"
#include "fulfill/money.h"

static void start(struct connector_call *c, const char *method, char *url)
{
	http_call_init(&c->http, method, url);
	free(url);
	http_call_header(&c->http, "Authorization: Bearer %s", connector_conf_str(c->conf, "api_key"));
	http_call_header(&c->http, "Content-Type: application/json");
	http_call_header(&c->http, "Accept: application/json");
}

static enum connector_result gc_request(struct connector_call *c)
{
	if (c->op == CONNECTOR_REVERSE)
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "gift cards cannot be reversed"), CONNECTOR_FAILED;
	if (c->op == CONNECTOR_STATUS) {
		start(c, "GET", connector_url(c->conf, "/api/v2/rewards/%s", c->r.external_reference));
		return CONNECTOR_CONTINUE;
	}
	const char *email = connector_participant_str(c, "email");
	if (!*email)
		return connector_lacks(c, "e-mail for the gift card");
	if (!c->r.has_amount || !c->r.currency[0])
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "reward %s has no amount", c->r.id), CONNECTOR_FAILED;
	const char *name = connector_participant_str(c, "name");
	const char *product = connector_conf_str(c->conf, "product_id");
	const char *campaign = connector_conf_str(c->conf, "campaign_id");
	json_t *reward = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s}}", "value", "denomination", "@DENOMINATION@",
				   "currency_code", c->r.currency, "recipient", "name", *name ? name : c->r.participant,
				   "email", email, "delivery", "method", "EMAIL");
	if (product)
		json_object_set_new(reward, "products", json_pack("[s]", product));
	if (campaign)
		json_object_set_new(reward, "campaign_id", json_string(campaign));
	json_t *body = json_pack("{s:s, s:{s:s?}, s:o}", "external_id", c->r.id, "payment", "funding_source_id",
				 connector_conf_str(c->conf, "funding_source_id"), "reward", reward);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	/* money goes out as an exact decimal, never through a double */
	char amount[40];
	money_format(c->r.amount, c->r.currency, amount, sizeof(amount));
	char *at = strstr(text, "\"@DENOMINATION@\"");
	struct ffbuf b;
	ffbuf_init(&b, 0);
	ffbuf_add(&b, text, (size_t)(at - text));
	ffbuf_adds(&b, amount);
	ffbuf_adds(&b, at + strlen("\"@DENOMINATION@\""));
	free(text);
	start(c, "POST", connector_url(c->conf, "/api/v2/orders"));
	http_call_header(&c->http, "Idempotency-Key: %s", c->r.id);
	http_call_body(&c->http, b.data, b.len);
	ffbuf_release(&b);
	return CONNECTOR_CONTINUE;
}

static enum connector_result gc_response(struct connector_call *c)
{
	enum connector_result res = connector_http_classify(c);
	json_t *body = json_loads(c->http.response.data ? c->http.response.data : "", 0, NULL);
	if (res != CONNECTOR_OK) {
		json_t *errs = json_object_get(body, "errors");
		const char *msg = json_string_value(json_object_get(errs, "message"));
		if (msg)
			ff_fail(&c->diag, res == CONNECTOR_RETRY ? FF_E_UNAVAILABLE : FF_E_INVALID, NULL,
				"giftcard: HTTP %ld: %s", c->http.status, msg);
		json_decref(body);
		return res;
	}
	if (c->op == CONNECTOR_ISSUE) {
		json_t *order = json_object_get(body, "order");
		const char *oid = json_string_value(json_object_get(order, "id"));
		const char *status = json_string_value(json_object_get(order, "status"));
		const char *rid = json_string_value(json_object_get(json_array_get(json_object_get(order, "rewards"), 0), "id"));
		if (!oid) {
			ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "giftcard: a 2xx answer without an order id");
			res = CONNECTOR_RETRY;
		} else if (status && (!strcmp(status, "FAILED") || !strcmp(status, "CANCELED"))) {
			ff_fail(&c->diag, FF_E_INVALID, NULL, "giftcard: order %s is %s", oid, status);
			res = CONNECTOR_FAILED;
		} else {
			copy_str(c->ref, sizeof(c->ref), rid ? rid : oid);
		}
	} else {
		json_t *rw = json_object_get(body, "reward");
		const char *ds = json_string_value(json_object_get(json_object_get(rw, "delivery"), "status"));
		const char *rs = json_string_value(json_object_get(json_object_get(rw, "redemption"), "status"));
		c->redeemed = json_is_true(json_object_get(rw, "claimed")) ||
			      (rs && (!strcmp(rs, "REDEEMED") || !strcmp(rs, "CLAIMED")));
		const char *st = c->redeemed ? "claimed"
				 : !ds ? "unknown"
				 : !strcmp(ds, "SUCCEEDED") ? "delivered"
				 : !strcmp(ds, "FAILED") ? "failed"
							: "pending";
		copy_str(c->provider_status, sizeof(c->provider_status), st);
	}
	json_decref(body);
	return res;
}

static const char *const secrets[] = {"api_key", NULL};
static const char *const fields[] = {"funding_source_id", "product_id", "campaign_id", NULL};
static const char *const required[] = {"api_key", "funding_source_id", NULL};

const struct connector_ops connector_giftcard = {
	.name = "giftcard",
	.external = true,
	.secret_fields = secrets,
	.config_fields = fields,
	.required_fields = required,
	.max_steps = 1,
	.request = gc_request,
	.response = gc_response,
};
