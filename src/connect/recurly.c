/*
 * recurly.c - the `recurly` connector (Recurly API v3: JSON, HTTP Basic with the API
 * key as user name, Accept: application/vnd.recurly.v2021-02-25+json).
 *
 *  credit            POST /accounts/code-{account}/line_items {"type": "credit",
 *                    "currency", "unit_amount", "description": "Referral reward
 *                    (fulfill-<reward id>)", "credit_reason_code": "promotional"} (a credit
 *                    line item on the next invoice). When an earlier attempt's outcome is
 *                    unknown, GET /accounts/code-{account}/line_items?type=credit first,
 *                    newest first, page by page (Recurly's "next"): the credit whose
 *                    description carries (fulfill-<reward id>) is that attempt's - the
 *                    reward's, and nothing is sent (connector.h, connector_lookup_*).
 *  percent_discount  POST /coupons {"code": "fulfill-<reward id>", "discount_type":
 *                    "percent", "discount_percent", "duration": "single_use" |
 *                    "temporal" (months), "max_redemptions": 1}, then
 *                    POST /accounts/code-{account}/coupon_redemptions/active {"coupon_id":
 *                    <the coupon's id>, "currency"}; when the coupon existed already (a
 *                    re-drive), GET /coupons/code-fulfill-<reward id> first for its id.
 *                    The participant's code is the coupon code, the reference the
 *                    redemption's id.
 *  status            GET /accounts/code-{account}/coupon_redemptions?ids=<redemption id>:
 *                    "discounted" > 0 (the discount reached an invoice) -> redeemed; else
 *                    the redemption's state (active, inactive)
 *  reverse           credit: a charge line item of the same amount.
 *
 * Idempotency: Idempotency-Key = the reward id (":coupon"/":reverse" for extra steps);
 * a coupon whose code already exists (a re-drive after Recurly's key window) counts as
 * created; a redemption refused with 422 after it (the lost attempt's own redemption
 * maxed the coupon out) sends GET /accounts/code-{account}/coupon_redemptions
 * ?sort=created_at&begin_time=<the coupon's created_at>, and our coupon's redemption
 * there is the reward's (else the refusal stands). The account code comes from
 * attributes.recurly_account_code. Recurly takes whole percents: a percent_bp that is
 * not a multiple of 100 is a permanent error; amounts have at most 2 decimals
 * (amount_fits()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connector.h"
#include "fulfill/money.h"

static void start(struct connector_call *c, const char *method, char *url, const char *suffix)
{
	http_call_init(&c->http, method, url);
	free(url);
	http_call_header(&c->http, "Accept: application/vnd.recurly.v2021-02-25+json");
	http_call_header(&c->http, "Content-Type: application/json");
	if (strcmp(method, "GET"))
		http_call_header(&c->http, "Idempotency-Key: %s%s", c->r.id, suffix);
	/* Basic auth: "<api key>:" */
	const char *key = connector_conf_str(c->conf, "api_key");
	connector_basic_auth(c, key ? key : "", "");
}

static void body_with_amount(struct connector_call *c, json_t *body, int64_t amount)
{
	char *text = json_dumps(body, JSON_COMPACT);
	char num[40];
	money_format(amount, c->r.currency, num, sizeof(num));
	char *at = strstr(text, "\"@AMOUNT@\"");
	struct ffbuf b;
	ffbuf_init(&b, 0);
	if (at) {
		ffbuf_add(&b, text, (size_t)(at - text));
		ffbuf_adds(&b, num);
		ffbuf_adds(&b, at + strlen("\"@AMOUNT@\""));
	} else {
		ffbuf_adds(&b, text);
	}
	http_call_body(&c->http, b.data, b.len);
	ffbuf_release(&b);
	free(text);
}

/* Recurly's amounts are decimals of at most two places (its API reference on unit_amount:
 * "Allows up to 2 decimal places"); zero-decimal currencies go as whole numbers. A three-decimal
 * currency's amount whose last digit is not 0 cannot be sent without rounding, which
 * fulfill never does: a permanent error, nothing sent. */
static bool amount_fits(struct connector_call *c, int64_t amount)
{
	int exp = money_exponent(c->r.currency);
	int64_t step = 1;
	for (int i = 2; i < exp; i++)
		step *= 10;
	if (amount % step == 0)
		return true;
	char num[40];
	money_format(amount, c->r.currency, num, sizeof(num));
	ff_fail(&c->diag, FF_E_INVALID, NULL,
		"recurly takes amounts of at most 2 decimals: %s %s cannot be sent exactly (fulfill does not "
		"round money; change the reward's amount)",
		num, c->r.currency);
	return false;
}

/* The URL of the credit look-up's next page: Recurly's "next", a path on the API's
 * host, checked when it was read (next_page). Caller frees. */
static char *page_url(const struct connector_call *c, const char *next)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	size_t bl = strlen(c->conf->base_url);
	while (bl && c->conf->base_url[bl - 1] == '/')
		bl--;
	ffbuf_add(&b, c->conf->base_url, bl);
	ffbuf_adds(&b, next);
	return ffbuf_detach(&b, NULL);
}

/* Recurly's "next" of a credit look-up's page, if it may be followed: a path of an
 * account's line items, "/accounts/<one segment>/line_items?<query>" (the account named
 * by code or by id), with nothing that could take the call (and its API key) elsewhere:
 * no "..", fragment, backslash, space or control character. NULL otherwise. */
static const char *next_page(json_t *body)
{
	static const char head[] = "/accounts/", tail[] = "/line_items?";
	const char *next = json_string_value(json_object_get(body, "next"));
	if (!next || strncmp(next, head, strlen(head)) || strstr(next, ".."))
		return NULL;
	const char *seg = next + strlen(head), *end = strchr(seg, '/');
	if (!end || end == seg || strncmp(end, tail, strlen(tail)))
		return NULL;
	for (const unsigned char *p = (const unsigned char *)seg; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '#' || *p == '\\' || (p < (const unsigned char *)end && *p == '?'))
			return NULL;
	return next;
}

/* Credit, a page of the account's credit line items (the look-up before a credit is
 * sent again): the one whose description carries "(fulfill-<reward id>)" is the
 * earlier attempt's. */
static enum connector_result credit_found(struct connector_call *c, json_t *body)
{
	json_t *data = json_object_get(body, "data"), *x;
	size_t i;
	if (!json_is_array(data)) {
		ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "recurly: a line item list without data");
		return connector_lookup_failed(c, CONNECTOR_FAILED);
	}
	char mark[200];
	snprintf(mark, sizeof(mark), "(fulfill-%s)", c->r.id);
	json_array_foreach(data, i, x)
	{
		const char *id = json_string_value(json_object_get(x, "id"));
		const char *desc = json_string_value(json_object_get(x, "description"));
		const char *type = json_string_value(json_object_get(x, "type"));
		if (id && desc && strstr(desc, mark) && (!type || !strcmp(type, "credit")))
			return connector_lookup_page(c, id, NULL);
	}
	if (!json_is_true(json_object_get(body, "has_more")))
		return connector_lookup_page(c, NULL, NULL);
	const char *next = next_page(body);
	if (!next) {
		ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL,
			"recurly: more line items follow, but not at a path of this list");
		return connector_lookup_failed(c, CONNECTOR_FAILED);
	}
	return connector_lookup_page(c, NULL, next);
}

static enum connector_result rc_request(struct connector_call *c)
{
	const char *account = connector_attr(c, "recurly_account_code");
	bool credit = !strcmp(c->r.type, "credit");
	if (!credit && strcmp(c->r.type, "percent_discount"))
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "recurly cannot fulfil %s rewards", c->r.type), CONNECTOR_FAILED;
	if (credit && c->op == CONNECTOR_STATUS)
		return CONNECTOR_OK; /* a credit line item has nothing to poll */
	if (!*account)
		return connector_lacks(c, "attributes.recurly_account_code");
	json_t *body;
	char coupon[200];
	snprintf(coupon, sizeof(coupon), "fulfill-%s", c->r.id);
	switch (c->op) {
	case CONNECTOR_ISSUE:
		if (credit) {
			if (!amount_fits(c, c->r.amount))
				return CONNECTOR_FAILED;
			const char *next;
			if (connector_lookup_due(c, &next)) {
				/* an earlier attempt may have paid, and Recurly may have forgotten its
				 * key: the account's credits first, newest first (list_account_line_items:
				 * type, sort, order, limit 1-200; {"data": [LineItem: "id", "type",
				 * "description", ...], "has_more", "next": the next page's path}) */
				start(c, "GET",
				      next ? page_url(c, next)
					   : connector_url(c->conf, "/accounts/code-%s/line_items?type=credit&sort=created_at"
								    "&order=desc&limit=200",
							   account),
				      "");
				return CONNECTOR_CONTINUE;
			}
			char description[sizeof(coupon) + 20];
			snprintf(description, sizeof(description), "Referral reward (%s)", coupon); /* fulfill-<id> */
			start(c, "POST", connector_url(c->conf, "/accounts/code-%s/line_items", account), "");
			body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "credit", "currency", c->r.currency, "unit_amount",
					 "@AMOUNT@", "description", description, "credit_reason_code", "promotional");
			body_with_amount(c, body, c->r.amount);
			json_decref(body);
			return CONNECTOR_CONTINUE;
		}
		if (c->step == 0) {
			if (c->r.percent_bp % 100)
				return ff_fail(&c->diag, FF_E_INVALID, NULL, "recurly takes whole percents, not %lld bp",
					       (long long)c->r.percent_bp),
				       CONNECTOR_FAILED;
			start(c, "POST", connector_url(c->conf, "/coupons"), ":coupon");
			body = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "code", coupon, "name", "Referral reward",
					 "discount_type", "percent", "discount_percent", (json_int_t)(c->r.percent_bp / 100),
					 "max_redemptions", (json_int_t)1, "applies_to_all_plans", 1);
			if (c->r.has_months && c->r.months > 0) {
				json_object_set_new(body, "duration", json_string("temporal"));
				json_object_set_new(body, "temporal_unit", json_string("month"));
				json_object_set_new(body, "temporal_amount", json_integer(c->r.months));
			} else {
				json_object_set_new(body, "duration", json_string("single_use"));
			}
			body_with_amount(c, body, 0);
			json_decref(body);
			return CONNECTOR_CONTINUE;
		}
		if (!json_string_value(json_object_get(c->state, "coupon_id"))) {
			/* the coupon existed already (an earlier attempt made it): learn its id */
			start(c, "GET", connector_url(c->conf, "/coupons/code-%s", coupon), "");
			return CONNECTOR_CONTINUE;
		}
		if (json_object_get(c->state, "refusal")) {
			/* the redemption was refused (the coupon is maxed out: an attempt whose
			 * answer was lost redeemed it, and Recurly forgot the key): the account's
			 * redemptions since the coupon was made (list_account_coupon_redemptions;
			 * begin_time is inclusive with sort=created_at) */
			const char *since = json_string_value(json_object_get(c->state, "created_at"));
			start(c, "GET",
			      since ? connector_url(c->conf, "/accounts/code-%s/coupon_redemptions?sort=created_at&begin_time=%s",
						    account, since)
				    : connector_url(c->conf, "/accounts/code-%s/coupon_redemptions?sort=created_at", account),
			      "");
			return CONNECTOR_CONTINUE;
		}
		start(c, "POST", connector_url(c->conf, "/accounts/code-%s/coupon_redemptions/active", account), "");
		body = json_pack("{s:s, s:s}", "coupon_id", json_string_value(json_object_get(c->state, "coupon_id")),
				 "currency", c->r.currency);
		body_with_amount(c, body, 0);
		json_decref(body);
		return CONNECTOR_CONTINUE;
	case CONNECTOR_STATUS:
		/* the redemption, not the coupon: the coupon is maxed out by our own
		 * redemption at once; the redemption shows what reached an invoice */
		start(c, "GET",
		      connector_url(c->conf, "/accounts/code-%s/coupon_redemptions?ids=%s", account, c->r.external_reference),
		      "");
		return CONNECTOR_CONTINUE;
	case CONNECTOR_REVERSE:
		if (!credit)
			return ff_fail(&c->diag, FF_E_INVALID, NULL, "recurly: a redeemed coupon is not reversed"),
			       CONNECTOR_FAILED;
		if (!amount_fits(c, c->amount))
			return CONNECTOR_FAILED;
		start(c, "POST", connector_url(c->conf, "/accounts/code-%s/line_items", account), ":reverse");
		body = json_pack("{s:s, s:s, s:s, s:s}", "type", "charge", "currency", c->r.currency, "unit_amount",
				 "@AMOUNT@", "description", "Referral reward reversed");
		body_with_amount(c, body, c->amount);
		json_decref(body);
		return CONNECTOR_CONTINUE;
	}
	return CONNECTOR_FAILED;
}

/* Percent discount, the answer to the redemption look-up (after a refusal): a redemption
 * of our coupon on this account is the one a lost attempt made - the reward is
 * delivered, that redemption its reference. None: the refusal stands. */
static enum connector_result redemption_found(struct connector_call *c, json_t *body)
{
	const char *coupon_id = json_string_value(json_object_get(c->state, "coupon_id"));
	char code[200];
	snprintf(code, sizeof(code), "fulfill-%s", c->r.id);
	json_t *x;
	size_t i;
	json_array_foreach(json_object_get(body, "data"), i, x)
	{
		json_t *cpn = json_object_get(x, "coupon");
		const char *xid = json_string_value(json_object_get(x, "id"));
		const char *cid = json_string_value(json_object_get(cpn, "id"));
		const char *ccode = json_string_value(json_object_get(cpn, "code"));
		if (xid && ((cid && coupon_id && !strcmp(cid, coupon_id)) || (ccode && !strcmp(ccode, code)))) {
			copy_str(c->ref, sizeof(c->ref), xid);
			copy_str(c->code, sizeof(c->code), code);
			return CONNECTOR_OK;
		}
	}
	ff_fail(&c->diag, FF_E_INVALID, NULL, "%s (and the account has no redemption of coupon %s%s)",
		json_string_value(json_object_get(c->state, "refusal")), code,
		json_is_true(json_object_get(body, "has_more")) ? " on the first page of its redemptions" : "");
	return CONNECTOR_FAILED;
}

static enum connector_result rc_response(struct connector_call *c)
{
	enum connector_result res = connector_http_classify(c);
	json_t *body = json_loads(c->http.response.data ? c->http.response.data : "", 0, NULL);
	json_t *err = json_object_get(body, "error");
	bool percent_issue = c->op == CONNECTOR_ISSUE && strcmp(c->r.type, "credit");
	bool looking = percent_issue && json_object_get(c->state, "refusal");
	bool credit_looking = c->op == CONNECTOR_ISSUE && !percent_issue && !strcmp(c->http.method, "GET");
	if (credit_looking && res == CONNECTOR_OK) {
		res = credit_found(c, body);
		json_decref(body);
		return res;
	}
	if (res == CONNECTOR_FAILED && percent_issue && c->step == 0 && c->http.status == 422 &&
	    strstr(c->http.response.data ? c->http.response.data : "", "already")) {
		res = CONNECTOR_OK; /* the coupon exists: made by an earlier attempt */
	} else if (res != CONNECTOR_OK) {
		const char *msg = json_string_value(json_object_get(err, "message"));
		if (msg)
			ff_fail(&c->diag, res == CONNECTOR_RETRY ? FF_E_UNAVAILABLE : FF_E_INVALID, NULL,
				"recurly: HTTP %ld %s: %s", c->http.status,
				json_string_value(json_object_get(err, "type")) ? json_string_value(json_object_get(err, "type")) : "",
				msg);
		if (res == CONNECTOR_FAILED && percent_issue && !looking && c->http.status == 422 &&
		    !strcmp(c->http.method, "POST") && json_object_get(c->state, "coupon_id")) {
			/* the redemption refused (a maxed-out coupon, whatever the wording): after
			 * Recurly's 24-hour key window, a lost attempt's own redemption looks just
			 * like that - look for it before failing (as stripe.c looks for its
			 * promotion code) */
			json_object_set_new(c->state, "refusal", json_string_nocheck(c->diag.message)); /* never dumped */
			res = CONNECTOR_CONTINUE;
		}
		json_decref(body);
		return credit_looking ? connector_lookup_failed(c, res) : res;
	}
	const char *id = json_string_value(json_object_get(body, "id"));
	if (c->op == CONNECTOR_ISSUE) {
		if (looking) {
			res = redemption_found(c, body);
			json_decref(body);
			return res;
		}
		/* the coupon's create (its id, or none when it existed) or look-up: the
		 * redemption names it by id; its created_at bounds the redemption look-up */
		if (percent_issue && (c->step == 0 || !strcmp(c->http.method, "GET"))) {
			json_decref(c->state);
			c->state = json_object();
			if (id && c->http.status != 422) {
				json_object_set_new(c->state, "coupon_id", json_string(id));
				json_t *at = json_object_get(body, "created_at");
				if (json_is_string(at))
					json_object_set(c->state, "created_at", at);
			}
			json_decref(body);
			if (c->step > 0 && !id) {
				ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "recurly: the coupon has no id");
				return CONNECTOR_RETRY;
			}
			return CONNECTOR_CONTINUE;
		}
		copy_str(c->ref, sizeof(c->ref), id ? id : c->r.id);
		if (percent_issue)
			snprintf(c->code, sizeof(c->code), "fulfill-%s", c->r.id);
	} else if (c->op == CONNECTOR_STATUS) {
		/* {"data": [redemption]}: unknown ids are left out, not refused */
		json_t *rd = NULL, *x;
		size_t i;
		json_array_foreach(json_object_get(body, "data"), i, x)
		{
			const char *xid = json_string_value(json_object_get(x, "id"));
			if (xid && !strcmp(xid, c->r.external_reference))
				rd = x;
		}
		json_t *disc = json_object_get(rd, "discounted");
		const char *st = json_string_value(json_object_get(rd, "state"));
		c->redeemed = json_is_number(disc) && json_number_value(disc) > 0;
		copy_str(c->provider_status, sizeof(c->provider_status),
			 c->redeemed ? "redeemed" : !rd ? "unknown" : st ? st : "active");
	}
	json_decref(body);
	return CONNECTOR_OK;
}

static const char *const secrets[] = {"api_key", NULL};
static const char *const fields[] = {"lookup_max_pages", NULL};
static const char *const required[] = {"api_key", NULL};

const struct connector_ops connector_recurly = {
	.name = "recurly",
	.external = true,
	.secret_fields = secrets,
	.config_fields = fields,
	.required_fields = required,
	.max_steps = 4,
	.customer_attribute = "recurly_account_code",
	.request = rc_request,
	.response = rc_response,
};
