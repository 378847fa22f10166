/*
 * outbox.c - outbound webhooks (Standard Webhooks) through a transactional outbox.
 *
 * An event (reward.fulfilled, code_pool.low, ...) becomes one `webhook_deliveries`
 * row per subscribed endpoint, written in the same transaction as the change it
 * reports: it exists exactly when the change committed. The worker delivers due rows:
 * a lease (committed) before the POST, the attempt and its result after, every
 * attempt of one event carrying the same `webhook-id` so receivers can drop
 * duplicates. Retries follow SPEC §12: immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 10 h, then the delivery fails. Only 2xx counts as success; 410 disables the
 * endpoint. Requests time out after 15 s and never follow redirects; URLs resolving to
 * private ranges are refused unless allow-listed (http_client.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>

#include "core/core.h"
#include "fulfill/jsonw.h"
#include "fulfill/crypto.h"
#include "fulfill/http_client.h"
#include "fulfill/metrics.h"

static const char *const event_types[] = {"reward.created",  "reward.approved", "reward.fulfilled",
					  "reward.failed",   "reward.cancelled", "reward.reversed",
					  "batch.closed",    "batch.reconciled", "code_pool.low", "program.anomaly", NULL};

/* Delay before attempt k+1 after attempt k failed (k = 1..7); 8 attempts in all. */
static const int64_t retry_after_ms[] = {0, 5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000};
#define MAX_ATTEMPTS 8
#define DELIVERY_TIMEOUT_MS 15000
#define PARALLEL 16
#define BATCH 64

static bool known_type(const char *t)
{
	for (int i = 0; event_types[i]; i++)
		if (!strcmp(event_types[i], t))
			return true;
	return false;
}

static bool subscribed(const char *events_text, const char *type)
{
	json_t *ev = json_from_text(events_text, "[]");
	bool ok = json_array_size(ev) == 0;
	size_t i;
	json_t *v;
	json_array_foreach(ev, i, v) if (json_is_string(v) &&
					 (!strcmp(json_string_value(v), type) || !strcmp(json_string_value(v), "*"))) ok =
		true;
	json_decref(ev);
	return ok;
}

/* The enabled endpoints subscribed to `type` (NULL when none: nothing to write). */
static json_t *targets_for(struct engine *e, const char *type, enum ff_err *err, struct ff_diag *d)
{
	/* the enabled endpoints are read once per transaction (every reward of an ingest
	 * chunk asks) */
	if (!core_tx_cached(e, e->webhooks_gen)) {
		json_t *all = json_array();
		struct store_stmt *st = store_query(e->st, Q_WH_ENDPOINTS_ENABLED);
		int rc;
		while ((rc = store_step(st)) == 1)
			json_array_append_new(all, json_pack("[s, s?]", store_col_text(st, 0), store_col_text(st, 1)));
		if (rc < 0) {
			json_decref(all);
			*err = core_store_fail(e, d, "webhook endpoints");
			return NULL;
		}
		json_decref(e->webhooks);
		e->webhooks = all;
		e->webhooks_gen = e->tx_gen;
	}
	json_t *targets = NULL;
	size_t i;
	json_t *ep;
	json_array_foreach(e->webhooks, i, ep)
	{
		if (!subscribed(json_string_value(json_array_get(ep, 1)), type))
			continue;
		if (!targets)
			targets = json_array();
		json_array_append(targets, json_array_get(ep, 0));
	}
	return targets;
}

static enum ff_err enqueue(struct engine *e, const char *type, json_t *targets, json_t *data, struct ff_diag *d)
{
	struct store_stmt *st;
	int64_t now = fftime_now();
	char msg_id[40], ts[32];
	crypto_random_id("msg", msg_id, sizeof(msg_id));
	json_t *body = json_pack("{s:s, s:s, s:O}", "type", type, "timestamp", fftime_format(now, ts, sizeof(ts)),
				 "data", data);
	char *payload = jsonw_dumps(body, false);
	json_decref(body);
	enum ff_err err = FF_OK;
	size_t i;
	json_t *v;
	json_array_foreach(targets, i, v)
	{
		char id[40];
		crypto_random_id("dlv", id, sizeof(id));
		st = store_query(e->st, Q_WH_DELIVERY_INSERT);
		store_bind_text(st, 1, id);
		store_bind_text(st, 2, json_string_value(v));
		store_bind_text(st, 3, msg_id);
		store_bind_text(st, 4, type);
		store_bind_text(st, 5, payload);
		store_bind_int(st, 6, now);
		store_notify_work(e->st);
		if (store_exec_ahead(st)) {
			err = core_store_fail(e, d, "webhook delivery");
			break;
		}
	}
	free(payload);
	return err;
}

bool outbox_subscribed(struct engine *e, const char *type, enum ff_err *err, struct ff_diag *d)
{
	json_t *targets = targets_for(e, type, err, d);
	bool any = targets != NULL;
	json_decref(targets);
	return any;
}

enum ff_err outbox_event(struct engine *e, const char *type, json_t *data, struct ff_diag *d)
{
	enum ff_err err = FF_OK;
	json_t *targets = targets_for(e, type, &err, d);
	if (targets && !err)
		err = enqueue(e, type, targets, data, d);
	json_decref(targets);
	return err;
}

enum ff_err outbox_reward_changed(struct engine *e, const struct reward *r, const char *from, const char *to,
				  struct ff_diag *d)
{
	const char *types[2] = {NULL, NULL};
	const char *milestone = NULL;
	bool created = !strcmp(from, "created");
	if (created)
		types[0] = "reward.created";
	if (!strcmp(to, "approved") && strcmp(from, "issuing"))
		types[created ? 1 : 0] = "reward.approved";
	else if (!strcmp(to, "fulfilled"))
		types[0] = "reward.fulfilled", milestone = "fulfilled";
	else if (!strcmp(to, "failed"))
		types[0] = "reward.failed";
	else if (!strcmp(to, "cancelled"))
		types[0] = "reward.cancelled", milestone = "cancelled";
	else if (!strcmp(to, "reversed"))
		types[0] = "reward.reversed", milestone = "reversed";
	if ((created || !strcmp(from, "review")) && (!strcmp(to, "pending") || !strcmp(to, "approved")))
		milestone = "earned";
	enum ff_err err = FF_OK;
	json_t *data = NULL; /* built only when someone listens */
	for (int i = 0; !err && i < 2 && types[i]; i++) {
		json_t *targets = targets_for(e, types[i], &err, d);
		if (targets && !err) {
			if (!data)
				data = reward_json(r);
			err = enqueue(e, types[i], targets, data, d);
		}
		json_decref(targets);
	}
	json_decref(data);
	if (!err && milestone)
		err = notify_reward(e, r, milestone, d);
	if (!err && !strcmp(to, "pending") && !strcmp(r->reason, "tax_form_required"))
		err = notify_reward(e, r, "tax_form_required", d);
	return err;
}

/* ---- endpoints ---- */

/* An endpoint's URL as answers and audit records show it: the password of
 * https://user:secret@host/... and the value of password= parameters masked, as a
 * connector's URL is. Deliveries use the stored URL; the audit log keeps what it is
 * given forever, and operators and auditors read endpoints without writing them. */
static json_t *shown_url(const char *url)
{
	size_t n = 4 * strlen(url) + 16; /* room for every "****" */
	char *shown = ff_malloc(n);
	url_mask_secrets(url, shown, n);
	json_t *out = json_string(shown);
	free(shown);
	if (!out)
		ff_oom();
	return out;
}

static json_t *endpoint_json(struct store_stmt *st)
{
	/* columns: id, url, secret, events, description, status, disabled_reason, created_at, updated_at */
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:o}", "id", store_col_text(st, 0), "object",
			 "webhook_endpoint", "url", shown_url(store_col_text(st, 1)), "events",
			 json_from_text(store_col_text(st, 3), "[]"), "description",
			 store_col_null(st, 4) ? json_null() : json_string(store_col_text(st, 4)), "status",
			 store_col_text(st, 5), "disabled_reason",
			 store_col_null(st, 6) ? json_null() : json_string(store_col_text(st, 6)), "created_at",
			 json_time(store_col_int(st, 7), true), "updated_at", json_time(store_col_int(st, 8), true));
}

enum ff_err engine_webhook_endpoint_create(struct engine *e, const struct actor *a, json_t *body, json_t **out,
					   struct ff_diag *d)
{
	if (!json_is_object(body))
		return core_done(e, ff_fail(d, FF_E_INVALID, NULL, "the body must be a JSON object"));
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v) if (strcmp(k, "url") && strcmp(k, "events") && strcmp(k, "description")) return core_done(
		e, ff_fail(d, FF_E_UNKNOWN_FIELD, k, "unknown field %s", k));
	const char *url = json_string_value(json_object_get(body, "url"));
	if (!url || !*url || strlen(url) > 2000)
		return core_done(e, ff_fail(d, FF_E_INVALID, "url", "url must be an http(s) URL"));
	char pin[8], why[200];
	if (http_url_check(url, e->cfg.webhook_allow_hosts, pin, 0, why, sizeof(why)) == -1)
		return core_done(e, ff_fail(d, FF_E_INVALID, "url", "%s", why));
	json_t *events = json_object_get(body, "events");
	if (events && !json_is_array(events))
		return core_done(e, ff_fail(d, FF_E_INVALID, "events", "events must be an array of event types"));
	size_t i;
	json_array_foreach(events, i, v)
	{
		if (!json_is_string(v) || (!known_type(json_string_value(v)) && strcmp(json_string_value(v), "*")))
			return core_done(e, ff_fail(d, FF_E_INVALID, "events", "unknown event type %s",
						    json_is_string(v) ? json_string_value(v) : "(not a string)"));
	}
	json_t *desc = json_object_get(body, "description");
	if (desc && !json_is_null(desc) && (!json_is_string(desc) || json_string_length(desc) > 500))
		return core_done(e, ff_fail(d, FF_E_INVALID, "description", "description must be a string"));
	uint8_t raw[32];
	crypto_random_bytes(raw, sizeof(raw));
	char b64[64], secret[80], id[40];
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	snprintf(secret, sizeof(secret), "whsec_%s", b64);
	crypto_random_id("we", id, sizeof(id));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	char *sealed = crypto_seal(e->cfg.master_key, secret);
	char *ev_text = events ? json_dumps(events, JSON_COMPACT) : ff_strdup("[]");
	struct store_stmt *st = store_query(e->st, Q_WH_ENDPOINT_INSERT);
	core_tx_forget(e);
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, url);
	store_bind_text(st, 3, sealed);
	store_bind_text(st, 4, ev_text);
	store_bind_text(st, 5, json_string_value(desc));
	store_bind_int(st, 6, fftime_now());
	if (store_exec(st))
		err = core_store_fail(e, d, "webhook endpoint");
	free(sealed);
	free(ev_text);
	if (!err) {
		json_t *detail = json_pack("{s:o, s:O}", "url", shown_url(url), "events", events ? events : json_array());
		err = audit_append(e, a->label, "webhook_endpoint.created", id, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	st = store_query(e->st, Q_WH_ENDPOINT_GET);
	store_bind_text(st, 1, id);
	if (store_step(st) != 1)
		return core_done(e, core_store_fail(e, d, "webhook endpoint"));
	json_t *o2 = endpoint_json(st);
	json_object_set_new(o2, "secret", json_string(secret)); /* shown this once */
	sodium_memzero(secret, sizeof(secret));
	*out = o2;
	return core_done(e, FF_OK);
}

enum ff_err engine_webhook_endpoint_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
					struct ff_diag *d)
{
	(void)a;
	struct store_stmt *st = store_query(e->st, Q_WH_ENDPOINT_GET);
	store_bind_text(st, 1, id);
	int rc = store_step(st);
	if (rc < 0)
		return core_done(e, core_store_fail(e, d, "webhook endpoint"));
	if (rc == 0)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no webhook endpoint %s", id));
	json_t *o = endpoint_json(st);
	json_t *counts = json_object();
	st = store_query(e->st, Q_WH_DELIVERY_COUNTS);
	store_bind_text(st, 1, id);
	while (store_step(st) == 1)
		json_object_set_new(counts, store_col_text(st, 0), json_integer(store_col_int(st, 1)));
	json_object_set_new(o, "deliveries", counts);
	*out = o;
	return core_done(e, FF_OK);
}

enum ff_err engine_webhook_endpoints_list(struct engine *e, const struct actor *a, const struct page *p,
					  json_t **out, struct ff_diag *d)
{
	(void)a;
	int limit = page_limit(p);
	struct store_stmt *st = store_query(e->st, Q_WH_ENDPOINT_LIST);
	store_bind_text(st, 1, p ? p->starting_after : NULL);
	store_bind_int(st, 2, limit + 1);
	json_t *data = json_array();
	int rc;
	while ((rc = store_step(st)) == 1)
		json_array_append_new(data, endpoint_json(st));
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "webhook endpoints"));
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

enum ff_err engine_webhook_endpoint_delete(struct engine *e, const struct actor *a, const char *id, json_t **out,
					   struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	int64_t now = fftime_now();
	struct store_stmt *st = store_query(e->st, Q_WH_ENDPOINT_DELETE);
	core_tx_forget(e);
	store_bind_text(st, 1, id);
	if (store_exec(st))
		err = core_store_fail(e, d, "webhook endpoint");
	else if (store_changes(e->st) != 1)
		err = ff_fail(d, FF_E_NOT_FOUND, NULL, "no webhook endpoint %s", id);
	if (!err) {
		st = store_query(e->st, Q_WH_DELIVERIES_CANCEL);
		store_bind_text(st, 1, "endpoint deleted");
		store_bind_int(st, 2, now);
		store_bind_text(st, 3, id);
		if (store_exec(st))
			err = core_store_fail(e, d, "webhook deliveries");
	}
	if (!err)
		err = audit_append(e, a->label, "webhook_endpoint.deleted", id, NULL, d);
	err = core_end(e, err, d);
	if (!err)
		*out = json_pack("{s:s, s:s, s:b}", "id", id, "object", "webhook_endpoint", "deleted", 1);
	return core_done(e, err);
}

enum ff_err engine_webhook_deliveries(struct engine *e, const struct actor *a, const char *id, const struct page *p,
				      json_t **out, struct ff_diag *d)
{
	(void)a;
	struct store_stmt *st = store_query(e->st, Q_WH_ENDPOINT_GET);
	store_bind_text(st, 1, id);
	if (store_step(st) != 1)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no webhook endpoint %s", id));
	int limit = page_limit(p);
	int64_t after = p && p->starting_after ? strtoll(p->starting_after, NULL, 10) : 0;
	st = store_query(e->st, Q_WH_ATTEMPTS_LIST);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, after);
	store_bind_int(st, 3, limit + 1);
	json_t *data = json_array();
	int rc;
	while ((rc = store_step(st)) == 1) {
		char seq[24];
		snprintf(seq, sizeof(seq), "%lld", (long long)store_col_int(st, 0));
		bool has_code = !store_col_null(st, 5);
		long code = (long)store_col_int(st, 5);
		json_array_append_new(
			data, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:b, s:I, s:o}", "id", seq, "object",
					"webhook_attempt", "delivery", store_col_text(st, 1), "webhook_id",
					store_col_text(st, 2), "type", store_col_text(st, 3), "attempt",
					(json_int_t)store_col_int(st, 4), "status_code",
					has_code ? json_integer(code) : json_null(), "error",
					store_col_null(st, 6) ? json_null() : json_string(store_col_text(st, 6)), "success",
					has_code && code >= 200 && code < 300, "duration_ms",
					(json_int_t)store_col_int(st, 7), "at", json_time(store_col_int(st, 8), true)));
	}
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "webhook attempts"));
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

/* ---- delivery ---- */

struct delivery {
	char id[40], endpoint[40], message_id[40], type[32];
	int64_t attempts; /* after our lease */
	struct http_call http;
	enum ffmetrics_webhook_result outcome; /* set by settle(), counted once committed */
};

static json_t *select_due(struct engine *e, int64_t now)
{
	json_t *ids = json_array();
	struct store_stmt *st = store_query(e->st, Q_WH_DELIVERIES_DUE);
	store_bind_int(st, 1, now);
	store_bind_int(st, 2, BATCH);
	while (store_step(st) == 1)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	return ids;
}

static enum ff_err result(struct engine *e, const char *id, const char *status, int64_t next, bool has_next,
			  long code, const char *error, int64_t attempts, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_WH_DELIVERY_RESULT);
	store_bind_text(st, 1, status);
	store_bind_int_or_null(st, 2, next, !has_next);
	store_bind_int_or_null(st, 3, code, code == 0);
	store_bind_text(st, 4, error && *error ? error : NULL);
	store_bind_int(st, 5, fftime_now());
	store_bind_text(st, 6, id);
	store_bind_int(st, 7, attempts);
	return store_exec(st) ? core_store_fail(e, d, "webhook delivery") : FF_OK;
}

/* Claim due deliveries (lease committed before any POST) and build their requests. */
static enum ff_err claim(struct engine *e, int64_t now, struct delivery **out, size_t *n, size_t *seen,
			 uint64_t *given_up, struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return err;
	json_t *ids = select_due(e, now);
	*seen = json_array_size(ids);
	*out = ff_calloc(*seen + 1, sizeof(**out));
	*n = 0;
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		struct store_stmt *st = store_query(e->st, Q_WH_DELIVERY_GET);
		store_bind_text(st, 1, json_string_value(v));
		if (store_step(st) != 1)
			continue;
		struct delivery *dl = &(*out)[*n];
		memset(dl, 0, sizeof(*dl));
		copy_str(dl->id, sizeof(dl->id), store_col_text(st, 0));
		copy_str(dl->endpoint, sizeof(dl->endpoint), store_col_text(st, 1));
		copy_str(dl->message_id, sizeof(dl->message_id), store_col_text(st, 2));
		copy_str(dl->type, sizeof(dl->type), store_col_text(st, 3));
		char *payload = ff_strdup(store_col_text(st, 4));
		int64_t attempts = store_col_int(st, 6);
		bool enabled = !store_col_null(st, 10) && !strcmp(store_col_text(st, 10), "enabled");
		char *url = enabled ? ff_strdup(store_col_text(st, 8)) : NULL;
		char *secret = enabled ? core_unseal(e, store_col_text(st, 9)) : NULL;
		if (!enabled || !secret) {
			err = result(e, dl->id, "failed", 0, false, 0, enabled ? "cannot read the endpoint secret"
										 : "endpoint disabled or deleted",
				     attempts, d);
			(*given_up)++;
			free(payload);
			free(url);
			free(secret);
			if (err)
				break;
			continue;
		}
		st = store_query(e->st, Q_WH_DELIVERY_LEASE);
		store_bind_int(st, 1, now + DELIVERY_TIMEOUT_MS * (BATCH / PARALLEL) + 5000);
		store_bind_int(st, 2, fftime_now());
		store_bind_text(st, 3, dl->id);
		store_bind_int(st, 4, attempts);
		if (store_exec(st)) {
			err = core_store_fail(e, d, "webhook lease");
		} else if (store_changes(e->st) == 1) {
			dl->attempts = attempts + 1;
			int64_t ts = (int64_t)time(NULL); /* the real clock: receivers check freshness */
			char sig[128];
			crypto_webhook_sign(secret, dl->message_id, ts, payload, strlen(payload), sig, sizeof(sig));
			http_call_init(&dl->http, "POST", url);
			dl->http.timeout_ms = DELIVERY_TIMEOUT_MS;
			http_call_header(&dl->http, "Content-Type: application/json");
			http_call_header(&dl->http, "webhook-id: %s", dl->message_id);
			http_call_header(&dl->http, "webhook-timestamp: %lld", (long long)ts);
			http_call_header(&dl->http, "webhook-signature: %s", sig);
			http_call_body(&dl->http, payload, strlen(payload));
			(*n)++;
		}
		free(payload);
		free(url);
		free(secret);
		if (err)
			break;
	}
	json_decref(ids);
	return core_end(e, err, d);
}

static enum ff_err settle(struct engine *e, struct delivery *dl, int64_t now, int64_t *delivered, struct ff_diag *d)
{
	struct http_call *h = &dl->http;
	char error[300] = "";
	if (!h->status)
		snprintf(error, sizeof(error), "%s", h->error);
	else if (h->status < 200 || h->status >= 300)
		snprintf(error, sizeof(error), "HTTP %ld", h->status);
	struct store_stmt *st = store_query(e->st, Q_WH_ATTEMPT_INSERT);
	store_bind_text(st, 1, dl->id);
	store_bind_text(st, 2, dl->endpoint);
	store_bind_text(st, 3, dl->message_id);
	store_bind_text(st, 4, dl->type);
	store_bind_int(st, 5, dl->attempts);
	store_bind_int_or_null(st, 6, h->status, h->status == 0);
	store_bind_text(st, 7, error[0] ? error : NULL);
	store_bind_int(st, 8, h->elapsed_ms);
	store_bind_int(st, 9, fftime_now());
	if (store_exec(st))
		return core_store_fail(e, d, "webhook attempt");
	dl->outcome = FFMETRICS_WEBHOOK_FAILED;
	if (h->status >= 200 && h->status < 300) {
		(*delivered)++;
		dl->outcome = FFMETRICS_WEBHOOK_SUCCESS;
		return result(e, dl->id, "succeeded", 0, false, h->status, NULL, dl->attempts, d);
	}
	if (h->status == 410) {
		/* the receiver says the endpoint is gone: stop sending to it */
		st = store_query(e->st, Q_WH_ENDPOINT_DISABLE);
		core_tx_forget(e);
		store_bind_text(st, 1, "410 Gone");
		store_bind_int(st, 2, fftime_now());
		store_bind_text(st, 3, dl->endpoint);
		if (store_exec(st))
			return core_store_fail(e, d, "webhook endpoint");
		enum ff_err err = result(e, dl->id, "failed", 0, false, h->status, error, dl->attempts, d);
		if (err)
			return err;
		st = store_query(e->st, Q_WH_DELIVERIES_CANCEL);
		store_bind_text(st, 1, "endpoint disabled (410 Gone)");
		store_bind_int(st, 2, fftime_now());
		store_bind_text(st, 3, dl->endpoint);
		if (store_exec(st))
			return core_store_fail(e, d, "webhook deliveries");
		return audit_append(e, "worker", "webhook_endpoint.disabled", dl->endpoint, NULL, d);
	}
	if (dl->attempts >= MAX_ATTEMPTS)
		return result(e, dl->id, "failed", 0, false, h->status, error, dl->attempts, d);
	dl->outcome = FFMETRICS_WEBHOOK_RETRY;
	return result(e, dl->id, "pending", now + retry_after_ms[dl->attempts], true, h->status, error, dl->attempts,
		      d);
}

enum ff_err outbox_deliver_pass(struct engine *e, int64_t now, int64_t *out_delivered, struct ff_diag *d)
{
	enum ff_err err = FF_OK;
	for (int round = 0; round < 10000; round++) {
		struct delivery *dls = NULL;
		size_t n = 0, seen = 0;
		uint64_t given_up = 0;
		/* deliveries written earlier in this pass (a reward fulfilled a moment ago) are
		 * due now too: the first attempt goes out "immediately" (SPEC §12) */
		int64_t due = fftime_now() > now ? fftime_now() : now;
		err = claim(e, due, &dls, &n, &seen, &given_up, d);
		if (!err) /* committed: the metrics count what happened, not what was tried */
			ffmetrics_webhook_delivery(FFMETRICS_WEBHOOK_FAILED, given_up);
		if (!err && n) {
			struct http_call **calls = ff_calloc(n, sizeof(*calls));
			for (size_t i = 0; i < n; i++)
				calls[i] = &dls[i].http;
			http_run(calls, n, PARALLEL, e->cfg.webhook_allow_hosts);
			free(calls);
			int64_t at = fftime_now() > now ? fftime_now() : now;
			err = core_begin(e, d);
			/* a 410 fails every pending delivery of its endpoint: the batch's other
			 * answers are recorded first, so one to the same endpoint that got a 2xx
			 * (sent beside it) counts as succeeded, not as cancelled */
			for (int gone = 0; gone < 2; gone++)
				for (size_t i = 0; !err && i < n; i++)
					if ((dls[i].http.status == 410) == gone)
						err = settle(e, &dls[i], at, out_delivered, d);
			err = core_end(e, err, d);
			for (size_t i = 0; !err && i < n; i++)
				ffmetrics_webhook_delivery(dls[i].outcome, 1);
		}
		for (size_t i = 0; i < n; i++)
			http_call_release(&dls[i].http);
		free(dls);
		if (err || seen < BATCH)
			break;
	}
	return err;
}
