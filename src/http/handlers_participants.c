/*
 * handlers_participants.c - /v1/participants, /v1/referrals, /v1/conversions.
 * Partners reach only their own participant: the engine answers 404 for any other
 * (struct actor carries the scope), so these handlers need no scope logic of their own.
 */
#include <string.h>

#include "http/http_int.h"

static bool upper_letters(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return false;
	return true;
}

enum ff_err h_participant_list(struct ctx *c)
{
	struct page p;
	struct participant_filter f = {query_get(c, "status"), query_get(c, "country")};
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	if (f.status && strcmp(f.status, "active") != 0 && strcmp(f.status, "inactive") != 0 &&
	    strcmp(f.status, "blocked") != 0)
		return ff_fail(&c->diag, FF_E_INVALID, "status",
			       "status must be active, inactive or blocked");
	if (f.country && !upper_letters(f.country, 2))
		return ff_fail(&c->diag, FF_E_INVALID, "country",
			       "country must be an ISO 3166-1 alpha-2 code");
	return engine_participants_list(c->eng, c->actor, &f, &p, &c->out, &c->diag);
}

enum ff_err h_participant_get(struct ctx *c)
{
	return engine_participant_get(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

enum ff_err h_participant_referrals(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_participant_referrals(c->eng, c->actor, ctx_param(c, 0), &p, &c->out,
					    &c->diag);
}

enum ff_err h_participant_rewards(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_participant_rewards(c->eng, c->actor, ctx_param(c, 0), &p, &c->out, &c->diag);
}

enum ff_err h_participant_redeem(struct ctx *c)
{
	json_t *doc = NULL, *amount, *currency;
	enum ff_err err = body_object(c, "amount,currency", &doc);
	if (err)
		return err;
	amount = json_object_get(doc, "amount");
	currency = json_object_get(doc, "currency");
	if (!json_is_integer(amount) || json_integer_value(amount) <= 0)
		err = ff_fail(&c->diag, FF_E_INVALID_AMOUNT, "amount",
			      "amount must be a positive integer (minor units)");
	else if (!json_is_string(currency) || (!upper_letters(json_string_value(currency), 3) &&
					       strcmp(json_string_value(currency), "POINT") != 0))
		err = ff_fail(&c->diag, FF_E_INVALID_CURRENCY, "currency",
			      "currency must be an ISO 4217 code or POINT");
	else
		err = engine_participant_redeem(c->eng, c->actor, ctx_param(c, 0),
						json_integer_value(amount),
						json_string_value(currency), &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_participant_tax_form(struct ctx *c)
{
	json_t *doc = NULL, *form;
	enum ff_err err = body_object(c, "form", &doc);
	if (err)
		return err;
	form = json_object_get(doc, "form");
	const char *f = json_string_value(form);
	if (!f || (strcmp(f, "w9") != 0 && strcmp(f, "w8ben") != 0 && strcmp(f, "none") != 0))
		err = ff_fail(&c->diag, FF_E_INVALID, "form", "form must be w9, w8ben or none");
	else
		err = engine_participant_tax_form(c->eng, c->actor, ctx_param(c, 0), f, &c->out,
						  &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_referral_get(struct ctx *c)
{
	return engine_referral_get(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

enum ff_err h_conversion_get(struct ctx *c)
{
	return engine_conversion_get(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}
