/*
 * handlers_fulfillment.c - connectors, code pools, webhook endpoints and the
 * notification outbox (API.md "Code pools and connectors", "webhooks"; SPEC.md
 * sections 5, 9a, 12). The engine validates documents (connector configs, webhook
 * URLs against the SSRF guard) and keeps secrets write-only; these handlers check the
 * top-level shape of bodies and pass them on.
 */
#include <string.h>

#include "http/http_int.h"

/* ---- connectors ---- */

enum ff_err h_connector_put(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "type,config", &doc);
	if (err)
		return err;
	if (!json_is_string(json_object_get(doc, "type")))
		err = ff_fail(&c->diag, FF_E_INVALID, "type",
			      "type is required (stripe, recurly, ...)");
	else
		err =
		    engine_connector_put(c->eng, c->actor, ctx_param(c, 0), doc, &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_connector_list(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_connectors_list(c->eng, c->actor, &p, &c->out, &c->diag);
}

enum ff_err h_connector_get(struct ctx *c)
{
	return engine_connector_get(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

enum ff_err h_connector_delete(struct ctx *c)
{
	return engine_connector_delete(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

static enum ff_err reconcile_connector(struct ctx *c, const char *connector);

enum ff_err h_connector_reconcile(struct ctx *c)
{
	return reconcile_connector(c, ctx_param(c, 0));
}

/* POST /v1/reconciliations?connector=ID (SPEC §6): the same as
 * /v1/connectors/{id}/reconcile, under the name the finance issue gives it. */
enum ff_err h_reconciliation_create(struct ctx *c)
{
	const char *connector = query_get(c, "connector");
	if (!connector || !*connector)
		return ff_fail(&c->diag, FF_E_INVALID, "connector", "connector is required (?connector=ID)");
	return reconcile_connector(c, connector);
}

static enum ff_err reconcile_connector(struct ctx *c, const char *connector)
{
	int64_t from, to;
	struct recon_input in = {.data = c->body, .len = c->body_len};
	enum ff_err err = query_time(c, "from", &from);
	if (!err)
		err = query_time(c, "to", &to);
	if (err)
		return err;
	if (!utf8_valid(c->body, c->body_len))
		return ff_fail(&c->diag, FF_E_INVALID_UTF8, NULL, "the report is not valid UTF-8");
	return engine_reconcile_connector(c->eng, c->actor, connector, from, to, &in, &c->out, &c->diag);
}

/* ---- code pools ---- */

enum ff_err h_code_pool_put(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "low_stock_threshold,per_participant_limit", &doc);
	if (err)
		return err;
	err = engine_code_pool_put(c->eng, c->actor, ctx_param(c, 0), doc, &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_code_pool_list(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_code_pools_list(c->eng, c->actor, &p, &c->out, &c->diag);
}

enum ff_err h_code_pool_get(struct ctx *c)
{
	return engine_code_pool_get(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

/* {"codes": [...]} as JSON, or text/csv with one code per line. */
enum ff_err h_code_pool_upload(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err;

	if (media_type_is(c->ctype, "text/csv")) {
		if (!utf8_valid(c->body, c->body_len))
			return ff_fail(&c->diag, FF_E_INVALID_UTF8, NULL,
				       "the CSV is not valid UTF-8");
		return engine_code_pool_upload_csv(c->eng, c->actor, ctx_param(c, 0), c->body,
						   c->body_len, &c->out, &c->diag);
	}
	err = body_object(c, "codes", &doc);
	if (err)
		return err;
	if (!json_is_array(json_object_get(doc, "codes")))
		err = ff_fail(&c->diag, FF_E_INVALID, "codes", "codes must be an array of strings");
	else
		err = engine_code_pool_upload(c->eng, c->actor, ctx_param(c, 0), doc, &c->out,
					      &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_code_set_status(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "status", &doc);
	if (err)
		return err;
	const char *status = json_string_value(json_object_get(doc, "status"));
	if (!status || (strcmp(status, "redeemed") != 0 && strcmp(status, "void") != 0))
		err = ff_fail(&c->diag, FF_E_INVALID, "status", "status must be redeemed or void");
	else
		err = engine_code_set_status(c->eng, c->actor, ctx_param(c, 0), ctx_param(c, 1),
					     status, &c->out, &c->diag);
	json_decref(doc);
	return err;
}

/* ---- webhook endpoints ---- */

enum ff_err h_webhook_create(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "url,events,description", &doc);
	if (err)
		return err;
	json_t *events = json_object_get(doc, "events");
	if (!json_is_string(json_object_get(doc, "url")))
		err = ff_fail(&c->diag, FF_E_INVALID, "url", "url is required");
	else if (events && !json_is_null(events) && !json_is_array(events))
		err = ff_fail(&c->diag, FF_E_INVALID, "events",
			      "events must be an array of event types");
	else
		err = engine_webhook_endpoint_create(c->eng, c->actor, doc, &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_webhook_list(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_webhook_endpoints_list(c->eng, c->actor, &p, &c->out, &c->diag);
}

enum ff_err h_webhook_get(struct ctx *c)
{
	return engine_webhook_endpoint_get(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

enum ff_err h_webhook_delete(struct ctx *c)
{
	return engine_webhook_endpoint_delete(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

enum ff_err h_webhook_deliveries(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_webhook_deliveries(c->eng, c->actor, ctx_param(c, 0), &p, &c->out, &c->diag);
}

enum ff_err h_notifications(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_notifications_list(c->eng, c->actor, query_get(c, "reward"), &p, &c->out,
					 &c->diag);
}
