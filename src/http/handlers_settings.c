/*
 * handlers_settings.c - operator and finance settings: blocklists and bulk review
 * (SPEC.md section 7), tax thresholds and reportable types (section 8), FX rates and
 * per-connector fees for the reports (section 10). Thin: check the body's shape, call
 * the engine, which validates values and audits every change.
 */
#include <string.h>

#include "http/http_int.h"

static enum ff_err require_string(struct ctx *c, json_t *doc, const char *name, const char **out)
{
	json_t *v = json_object_get(doc, name);
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024)
		return ff_fail(&c->diag, FF_E_INVALID, name, "%s is required (a non-empty string)",
			       name);
	*out = json_string_value(v);
	return FF_OK;
}

static enum ff_err optional_string(struct ctx *c, json_t *doc, const char *name, const char **out)
{
	json_t *v = json_object_get(doc, name);
	*out = NULL;
	if (!v || json_is_null(v))
		return FF_OK;
	return require_string(c, doc, name, out);
}

static enum ff_err require_int(struct ctx *c, json_t *doc, const char *name, int64_t *out)
{
	json_t *v = json_object_get(doc, name);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return ff_fail(&c->diag, FF_E_INVALID_AMOUNT, name,
			       "%s must be a non-negative integer", name);
	*out = json_integer_value(v);
	return FF_OK;
}

/* ---- blocklist ---- */

enum ff_err h_blocklist_list(struct ctx *c)
{
	return engine_blocklist_list(c->eng, c->actor, &c->out, &c->diag);
}

enum ff_err h_blocklist_add(struct ctx *c)
{
	const char *kind = NULL, *value = NULL, *note = NULL;
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "kind,value,note", &doc);
	if (!err)
		err = require_string(c, doc, "kind", &kind);
	if (!err)
		err = require_string(c, doc, "value", &value);
	if (!err)
		err = optional_string(c, doc, "note", &note);
	if (!err)
		err = engine_blocklist_put(c->eng, c->actor, kind, value, note, &c->out, &c->diag);
	json_decref(doc);
	return err;
}

/* DELETE /v1/blocklist?kind=&value= (values such as CIDR blocks contain '/'). */
enum ff_err h_blocklist_delete(struct ctx *c)
{
	const char *kind = query_get(c, "kind"), *value = query_get(c, "value");
	if (!kind || !*kind)
		return ff_fail(&c->diag, FF_E_INVALID, "kind", "kind is required");
	if (!value || !*value)
		return ff_fail(&c->diag, FF_E_INVALID, "value", "value is required");
	return engine_blocklist_delete(c->eng, c->actor, kind, value, &c->out, &c->diag);
}

/* ---- bulk review ---- */

enum ff_err h_rewards_review(struct ctx *c)
{
	const char *reason = NULL;
	json_t *doc = NULL, *approve, *reject;
	enum ff_err err = body_object(c, "approve,reject,reason", &doc);
	if (err)
		return err;
	approve = json_object_get(doc, "approve");
	reject = json_object_get(doc, "reject");
	if (approve && !json_is_array(approve))
		err = ff_fail(&c->diag, FF_E_INVALID, "approve",
			      "approve must be an array of reward ids");
	else if (reject && !json_is_array(reject))
		err = ff_fail(&c->diag, FF_E_INVALID, "reject",
			      "reject must be an array of reward ids");
	else if (!json_array_size(approve) && !json_array_size(reject))
		err =
		    ff_fail(&c->diag, FF_E_INVALID, "approve", "name rewards to approve or reject");
	else if (json_array_size(approve) + json_array_size(reject) > 1000)
		err = ff_fail(&c->diag, FF_E_INVALID, NULL, "at most 1000 rewards per request");
	if (!err)
		err = optional_string(c, doc, "reason", &reason);
	if (!err)
		err = engine_rewards_review(c->eng, c->actor, approve, reject, reason, &c->out,
					    &c->diag);
	json_decref(doc);
	return err;
}

/* ---- tax ---- */

enum ff_err h_tax_settings(struct ctx *c)
{
	return engine_tax_settings(c->eng, c->actor, &c->out, &c->diag);
}

enum ff_err h_tax_threshold_put(struct ctx *c)
{
	const char *currency = NULL;
	int64_t amount = 0;
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "amount,currency", &doc);
	if (!err)
		err = require_int(c, doc, "amount", &amount);
	if (!err)
		err = require_string(c, doc, "currency", &currency);
	if (!err)
		err = engine_tax_threshold_set(c->eng, c->actor, ctx_param(c, 0), amount, currency,
					       &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_tax_types_put(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "types", &doc);
	if (err)
		return err;
	if (!json_is_array(json_object_get(doc, "types")))
		err = ff_fail(&c->diag, FF_E_INVALID, "types",
			      "types must be an array of reward types");
	else
		err = engine_tax_reportable_types_set(
		    c->eng, c->actor, json_object_get(doc, "types"), &c->out, &c->diag);
	json_decref(doc);
	return err;
}

/* ---- FX rates and fees ---- */

enum ff_err h_fx_list(struct ctx *c)
{
	return engine_fx_rates_list(c->eng, c->actor, &c->out, &c->diag);
}

enum ff_err h_fx_put(struct ctx *c)
{
	const char *reporting = NULL;
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "reporting,rates", &doc);
	if (!err)
		err = require_string(c, doc, "reporting", &reporting);
	if (!err && !json_is_object(json_object_get(doc, "rates")))
		err = ff_fail(&c->diag, FF_E_INVALID, "rates",
			      "rates must be an object {\"EUR\": \"1.08\", ...}");
	if (!err)
		err = engine_fx_rates_set(c->eng, c->actor, reporting,
					  json_object_get(doc, "rates"), &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_fee_list(struct ctx *c)
{
	return engine_fees_list(c->eng, c->actor, &c->out, &c->diag);
}

enum ff_err h_fee_put(struct ctx *c)
{
	const char *currency = NULL;
	int64_t fixed = 0, bp = 0;
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "currency,fixed_amount,percent_bp", &doc);
	if (!err)
		err = require_string(c, doc, "currency", &currency);
	if (!err)
		err = require_int(c, doc, "fixed_amount", &fixed);
	if (!err)
		err = require_int(c, doc, "percent_bp", &bp);
	if (!err)
		err = engine_fee_set(c->eng, c->actor, ctx_param(c, 0), currency, fixed, bp,
				     &c->out, &c->diag);
	json_decref(doc);
	return err;
}
