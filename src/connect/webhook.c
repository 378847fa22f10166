/*
 * webhook.c - the `webhook` connector: the reward is POSTed to the owner's own
 * fulfilment endpoint, signed like outbound webhooks (Standard Webhooks):
 *   webhook-id: <reward id> (the idempotency key: the same on every retry),
 *   webhook-timestamp: <unix seconds>, webhook-signature: v1,<HMAC-SHA256>,
 *   Idempotency-Key: <reward id>;
 *   body {"type": "reward.issue", "timestamp": T, "data": {reward + "recipient":
 *   {"id", "email", "name", "attributes"}}}.
 * A 2xx answer with a JSON "reference" fulfils the reward; a 2xx without one, or
 * another 4xx, is a permanent error; no answer, 408/409/429/5xx are retried.
 * Config: url, secret (whsec_..., secret), timeout_ms...; the URL passes the SSRF
 * guard unless its host is allow-listed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect/connector.h"
#include "fulfill/crypto.h"

static enum connector_result wh_request(struct connector_call *c)
{
	const char *url = connector_conf_str(c->conf, "url");
	const char *secret = connector_conf_str(c->conf, "secret");
	if (c->op != CONNECTOR_ISSUE)
		return c->op == CONNECTOR_STATUS ? CONNECTOR_OK
						 : (ff_fail(&c->diag, FF_E_INVALID, NULL, "the webhook connector cannot reverse"),
						    CONNECTOR_FAILED);
	if (!url)
		return ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "the webhook connector has no url"), CONNECTOR_RETRY;
	json_t *data = reward_json(&c->r);
	json_t *p = c->participant;
	json_object_set_new(data, "recipient",
			    json_pack("{s:s, s:O?, s:O?, s:O?}", "id", c->r.participant, "email",
				      json_object_get(p, "email"), "name", json_object_get(p, "name"), "attributes",
				      json_object_get(p, "attributes")));
	char ts[32];
	json_t *body = json_pack("{s:s, s:s, s:o}", "type", "reward.issue", "timestamp",
				 fftime_format(fftime_now(), ts, sizeof(ts)), "data", data);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	http_call_init(&c->http, "POST", url);
	http_call_header(&c->http, "Content-Type: application/json");
	http_call_header(&c->http, "Idempotency-Key: %s", c->r.id);
	http_call_header(&c->http, "webhook-id: %s", c->r.id);
	int64_t now = (int64_t)time(NULL);
	http_call_header(&c->http, "webhook-timestamp: %lld", (long long)now);
	char sig[128];
	if (!secret || crypto_webhook_sign(secret, c->r.id, now, text, strlen(text), sig, sizeof(sig)) != 0) {
		free(text); /* never unsigned: the receiver could not tell it from a forgery */
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "the webhook connector's secret cannot sign"),
		       CONNECTOR_FAILED;
	}
	http_call_header(&c->http, "webhook-signature: %s", sig);
	http_call_body(&c->http, text, strlen(text));
	free(text);
	return CONNECTOR_CONTINUE;
}

static enum connector_result wh_response(struct connector_call *c)
{
	enum connector_result res = connector_http_classify(c);
	if (res != CONNECTOR_OK)
		return res;
	json_t *body = json_loads(c->http.response.data ? c->http.response.data : "", 0, NULL);
	const char *ref = json_string_value(json_object_get(body, "reference"));
	if (!ref || !*ref) {
		ff_fail(&c->diag, FF_E_INVALID, NULL, "webhook: HTTP %ld without a \"reference\" in the answer",
			c->http.status);
		res = CONNECTOR_FAILED;
	} else {
		copy_str(c->ref, sizeof(c->ref), ref);
		const char *code = json_string_value(json_object_get(body, "code"));
		if (code)
			copy_str(c->code, sizeof(c->code), code);
	}
	json_decref(body);
	return res;
}

static const char *const secrets[] = {"secret", NULL};
static const char *const fields[] = {"url", NULL};
static const char *const required[] = {"url", "secret", NULL};

const struct connector_ops connector_webhook = {
	.name = "webhook",
	.external = true,
	.secret_fields = secrets,
	.config_fields = fields,
	.required_fields = required,
	.max_steps = 1,
	.request = wh_request,
	.response = wh_response,
};

/* `smtp`: not a fulfilment connector, the e-mail transport of notifications
 * (core/notify.c): url (smtp://host:587 or smtps://), from, username, password
 * (secret), starttls (true: require STARTTLS), timeout_ms. */
static const char *const smtp_secrets[] = {"password", NULL};
static const char *const smtp_fields[] = {"url", "from", "username", "starttls", NULL};
static const char *const smtp_required[] = {"url", "from", NULL};

const struct connector_ops connector_smtp = {
	.name = "smtp",
	.secret_fields = smtp_secrets,
	.config_fields = smtp_fields,
	.required_fields = smtp_required,
};
