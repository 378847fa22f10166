/*
 * fx.c - the reporting side of money: fx rates (SPEC §8: "reports convert to a
 * reporting currency with a configured rates table") and per-connector payout fees
 * (SPEC §10: cost per payout).
 *
 * A rate is what one unit (major) of a currency is worth in the reporting currency.
 * It arrives as a decimal string ("1.0845") and is kept both as that text and as a
 * scaled integer (units 10845, scale 4), so no float ever touches it. Converting
 * `amount` minor units of X into minor units of R is then one exact multiply-divide
 * rounded half-even:  amount * units * 10^exp(R) / (10^scale * 10^exp(X)).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/money.h"

#define RATE_MAX_SCALE 12
/* units * 10^exp(R) must stay <= MONEY_MAX for money_mul_div (exponents go up to 4) */
#define RATE_MAX_UNITS INT64_C(99999999999)

static int64_t pow10i(int n)
{
	int64_t v = 1;
	while (n-- > 0)
		v *= 10;
	return v;
}

/* Parse a positive decimal rate into units/scale. 0, or -1 with *why set. */
static int rate_parse(json_t *v, char *text, size_t n, int64_t *units, int *scale, const char **why)
{
	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0 || json_integer_value(v) > RATE_MAX_UNITS) {
			*why = "must be positive and at most 11 digits";
			return -1;
		}
		*units = json_integer_value(v);
		*scale = 0;
		snprintf(text, n, "%lld", (long long)*units);
		return 0;
	}
	if (!json_is_string(v)) {
		*why = "must be a decimal string such as \"1.0845\" (not a JSON number with a fraction)";
		return -1;
	}
	const char *s = json_string_value(v);
	int64_t u = 0;
	int sc = 0, digits = 0;
	bool dot = false, any = false;
	for (const char *p = s; *p; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			continue;
		}
		if (!isdigit((unsigned char)*p)) {
			*why = "must be a plain decimal (digits and one '.')";
			return -1;
		}
		any = true;
		if (dot && ++sc > RATE_MAX_SCALE) {
			*why = "has more than 12 fraction digits";
			return -1;
		}
		if (u || *p != '0')
			digits++;
		if (digits > 11) {
			*why = "has more than 11 significant digits";
			return -1;
		}
		u = u * 10 + (*p - '0');
	}
	if (!any || u == 0) {
		*why = "must be a positive decimal";
		return -1;
	}
	*units = u;
	*scale = sc;
	copy_str(text, n, s);
	return 0;
}

static bool scoped(const struct actor *a)
{
	return a->participant[0] || a->fulfiller[0];
}

/* Convert with the stored pair (from, to), or its inverse (to, from). */
static bool convert_pair(struct engine *e, int64_t amount, const char *from, const char *to, int64_t *out)
{
	int ef = money_exponent(from), et = money_exponent(to);
	if (ef < 0 || et < 0)
		return false;
	for (int inverse = 0; inverse < 2; inverse++) {
		struct store_stmt *st = store_query(e->st, Q_FX_GET);
		store_bind_text(st, 1, inverse ? to : from);
		store_bind_text(st, 2, inverse ? from : to);
		if (store_step(st) != 1)
			continue;
		int64_t units = store_col_int(st, 0);
		int scale = (int)store_col_int(st, 1);
		/* the parse limits keep units <= 10^11 and scale <= 12: num <= 10^15, den <= 10^16 */
		int64_t num = inverse ? pow10i(scale + et) : units * pow10i(et);
		int64_t den = inverse ? units * pow10i(ef) : pow10i(scale + ef);
		*out = money_mul_div(amount, num, den);
		return true;
	}
	return false;
}

/* amount in `from` as `to`: the stored rate of the pair, or its inverse (a rate is "one
 * unit of currency = rate units of the reporting currency", so a threshold in the
 * reporting currency's place works both ways), or through the reporting currency
 * (from -> reporting -> to; each step rounds half to even). false when no rate
 * connects them. */
bool fx_convert(struct engine *e, int64_t amount, const char *from, const char *to, int64_t *out)
{
	if (!strcmp(from, to)) {
		*out = amount;
		return true;
	}
	if (convert_pair(e, amount, from, to, out))
		return true;
	char reporting[8];
	fx_reporting_currency(e, reporting);
	int64_t mid;
	return strcmp(reporting, from) && strcmp(reporting, to) && convert_pair(e, amount, from, reporting, &mid) &&
	       convert_pair(e, mid, reporting, to, out);
}

void fx_reporting_currency(struct engine *e, char out[8])
{
	struct store_stmt *st = store_query(e->st, Q_META_GET);
	store_bind_text(st, 1, "reporting_currency");
	if (store_step(st) == 1 && store_col_text(st, 0))
		copy_str(out, 8, store_col_text(st, 0));
	else
		copy_str(out, 8, "USD");
}

enum ff_err engine_fx_rates_list(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "fx rates are not in this key's scope"));
	char reporting[8];
	fx_reporting_currency(e, reporting);
	json_t *data = json_array();
	struct store_stmt *st = store_query(e->st, Q_FX_LIST);
	int rc;
	while ((rc = store_step(st)) == 1)
		json_array_append_new(data, json_pack("{s:s, s:s, s:s, s:o}", "currency", store_col_text(st, 0),
						      "reporting", store_col_text(st, 1), "rate",
						      store_col_text(st, 2), "updated_at",
						      json_time(store_col_int(st, 3), true)));
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "fx rates"));
	}
	*out = json_pack("{s:s, s:s, s:o}", "object", "fx_rates", "reporting_currency", reporting, "data", data);
	return core_done(e, FF_OK);
}

enum ff_err engine_fx_rates_set(struct engine *e, const struct actor *a, const char *reporting, json_t *rates,
				json_t **out, struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "fx rates are not in this key's scope"));
	if (!reporting || !money_currency_valid(reporting) || !strcmp(reporting, "POINT"))
		return core_done(e, ff_fail(d, FF_E_INVALID_CURRENCY, "reporting",
					    "reporting must be an ISO 4217 code"));
	if (!json_is_object(rates))
		return core_done(e, ff_fail(d, FF_E_INVALID, "rates",
					    "rates must be an object {\"EUR\": \"1.0845\", ...}"));
	/* validate everything before writing anything */
	const char *cur;
	json_t *v;
	json_object_foreach(rates, cur, v)
	{
		char param[64], text[40];
		int64_t units;
		int scale;
		const char *why = NULL;
		snprintf(param, sizeof(param), "rates.%.50s", cur);
		if (!money_currency_valid(cur) || !strcmp(cur, "POINT"))
			return core_done(e, ff_fail(d, FF_E_INVALID_CURRENCY, param, "%s is not an ISO 4217 code", param));
		if (rate_parse(v, text, sizeof(text), &units, &scale, &why))
			return core_done(e, ff_fail(d, FF_E_INVALID, param, "%s %s", param, why));
	}
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	int64_t now = fftime_now();
	struct store_stmt *st = store_query(e->st, Q_FX_DELETE_REPORTING);
	store_bind_text(st, 1, reporting);
	if (store_exec(st))
		err = core_store_fail(e, d, "fx rates");
	json_object_foreach(rates, cur, v)
	{
		if (err || !strcmp(cur, reporting))
			continue; /* the identity needs no row */
		char text[40];
		int64_t units;
		int scale;
		const char *why;
		rate_parse(v, text, sizeof(text), &units, &scale, &why);
		st = store_query(e->st, Q_FX_UPSERT);
		store_bind_text(st, 1, cur);
		store_bind_text(st, 2, reporting);
		store_bind_text(st, 3, text);
		store_bind_int(st, 4, units);
		store_bind_int(st, 5, scale);
		store_bind_int(st, 6, now);
		if (store_exec(st))
			err = core_store_fail(e, d, "fx rate");
	}
	if (!err) {
		st = store_query(e->st, Q_META_SET);
		store_bind_text(st, 1, "reporting_currency");
		store_bind_text(st, 2, reporting);
		if (store_exec(st))
			err = core_store_fail(e, d, "reporting currency");
	}
	if (!err) {
		json_t *detail = json_pack("{s:s, s:O}", "reporting_currency", reporting, "rates", rates);
		err = audit_append(e, a->label, "fx_rates.set", reporting, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	return engine_fx_rates_list(e, a, out, d);
}

enum ff_err engine_fees_list(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "fees are not in this key's scope"));
	json_t *data = json_array();
	struct store_stmt *st = store_query(e->st, Q_FEE_LIST);
	int rc;
	while ((rc = store_step(st)) == 1)
		json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:I, s:o}", "connector", store_col_text(st, 0),
						      "currency", store_col_text(st, 1), "fixed_amount",
						      (json_int_t)store_col_int(st, 2), "percent_bp",
						      (json_int_t)store_col_int(st, 3), "updated_at",
						      json_time(store_col_int(st, 4), true)));
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "fees"));
	}
	*out = json_pack("{s:s, s:o, s:b}", "object", "list", "data", data, "has_more", 0);
	return core_done(e, FF_OK);
}

enum ff_err engine_fee_set(struct engine *e, const struct actor *a, const char *connector, const char *currency,
			   int64_t fixed, int64_t percent_bp, json_t **out, struct ff_diag *d)
{
	if (scoped(a))
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "fees are not in this key's scope"));
	if (!connector || !*connector || strlen(connector) > 31)
		return core_done(e, ff_fail(d, FF_E_INVALID, "connector", "connector must be 1 to 31 characters"));
	if (!currency || !money_currency_valid(currency))
		return core_done(e, ff_fail(d, FF_E_INVALID_CURRENCY, "currency", "currency must be an ISO 4217 code"));
	if (fixed < 0 || fixed > MONEY_MAX)
		return core_done(e, ff_fail(d, FF_E_INVALID_AMOUNT, "fixed_amount",
					    "fixed_amount must be 0..%lld minor units", (long long)MONEY_MAX));
	if (percent_bp < 0 || percent_bp > 10000)
		return core_done(e, ff_fail(d, FF_E_INVALID, "percent_bp", "percent_bp must be 0..10000"));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct store_stmt *st;
	if (!fixed && !percent_bp) {
		st = store_query(e->st, Q_FEE_DELETE);
		store_bind_text(st, 1, connector);
		store_bind_text(st, 2, currency);
	} else {
		st = store_query(e->st, Q_FEE_SET);
		store_bind_text(st, 1, connector);
		store_bind_text(st, 2, currency);
		store_bind_int(st, 3, fixed);
		store_bind_int(st, 4, percent_bp);
		store_bind_int(st, 5, fftime_now());
	}
	if (store_exec(st))
		err = core_store_fail(e, d, "fee");
	if (!err) {
		json_t *detail = json_pack("{s:s, s:I, s:I}", "currency", currency, "fixed_amount", (json_int_t)fixed,
					   "percent_bp", (json_int_t)percent_bp);
		err = audit_append(e, a->label, "fee.set", connector, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	return engine_fees_list(e, a, out, d);
}
