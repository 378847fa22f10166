/*
 * program_compile.c - program documents (SPEC §3): validation with field paths and
 * compilation into `struct program` (rewards, tiers, limits, fulfilment, fraud and
 * anomaly settings, the JsonLogic clauses checked by jsonlogic_validate()). The
 * versions a compiled document becomes, and the cache of compiled versions, are in
 * program.c; reading and diffing versions in program_view.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/program_int.h"
#include "fulfill/jsonlogic.h"
#include "fulfill/money.h"

const char *const reward_type_names[RT__COUNT] = {
	[RT_CREDIT] = "credit",	    [RT_PERCENT_DISCOUNT] = "percent_discount",
	[RT_COUPON] = "coupon",	    [RT_GIFT_CARD] = "gift_card",
	[RT_CASH] = "cash",	    [RT_POINTS] = "points",
	[RT_CUSTOM] = "custom",
};

static const char *const default_connector[RT__COUNT] = {
	[RT_CREDIT] = "ledger",	    [RT_PERCENT_DISCOUNT] = "code_pool",
	[RT_COUPON] = "code_pool",  [RT_GIFT_CARD] = "giftcard",
	[RT_CASH] = "manual",	    [RT_POINTS] = "ledger",
	[RT_CUSTOM] = "manual",
};

static const char *const connectors[] = {"ledger", "code_pool", "stripe", "recurly", "braintree",
					 "giftcard", "webhook", "manual", NULL};

/* Which connectors can fulfil which reward types (SPEC §5). */
static bool connector_fits(const char *c, enum reward_type t)
{
	if (!strcmp(c, "ledger"))
		return t == RT_CREDIT || t == RT_POINTS;
	if (!strcmp(c, "code_pool"))
		return t == RT_COUPON || t == RT_PERCENT_DISCOUNT;
	if (!strcmp(c, "stripe") || !strcmp(c, "recurly") || !strcmp(c, "braintree"))
		return t == RT_CREDIT || t == RT_PERCENT_DISCOUNT;
	if (!strcmp(c, "giftcard"))
		return t == RT_GIFT_CARD;
	return true; /* webhook, manual: anything */
}

int reward_type_parse(const char *s)
{
	for (int i = 0; i < RT__COUNT; i++)
		if (!strcmp(s, reward_type_names[i]))
			return i;
	return -1;
}

/* ---- validation helpers ---- */

bool program_in_list(const char *k, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (!strcmp(k, *allowed))
			return true;
	return false;
}

static enum ff_err check_fields(json_t *obj, const char *path, const char *const *allowed, struct ff_diag *d)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		(void)v;
		if (!program_in_list(k, allowed)) {
			char p[160];
			snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", k);
			return ff_fail(d, FF_E_UNKNOWN_FIELD, p, "unknown field \"%s\"", p);
		}
	}
	return FF_OK;
}

static void join(char *out, size_t n, const char *path, const char *k)
{
	snprintf(out, n, "%s%s%s", path, *path ? "." : "", k);
}

/* An optional integer field in [lo, hi]. */
static enum ff_err get_int(json_t *obj, const char *path, const char *k, int64_t lo, int64_t hi, int64_t *out,
			   bool *present, struct ff_diag *d)
{
	json_t *v = json_object_get(obj, k);
	char p[160];
	join(p, sizeof(p), path, k);
	if (present)
		*present = false;
	if (!v || json_is_null(v))
		return FF_OK;
	if (!json_is_integer(v))
		return ff_fail(d, FF_E_INVALID, p, "%s must be an integer", p);
	int64_t x = json_integer_value(v);
	if (x < lo || x > hi)
		return ff_fail(d, FF_E_INVALID, p, "%s must be between %lld and %lld", p, (long long)lo,
			       (long long)hi);
	*out = x;
	if (present)
		*present = true;
	return FF_OK;
}

static enum ff_err get_str(json_t *obj, const char *path, const char *k, size_t maxlen, char *out, size_t n,
			   bool required, struct ff_diag *d)
{
	json_t *v = json_object_get(obj, k);
	char p[160];
	join(p, sizeof(p), path, k);
	if (!v || json_is_null(v)) {
		if (required)
			return ff_fail(d, FF_E_INVALID, p, "%s is required", p);
		return FF_OK;
	}
	if (!json_is_string(v))
		return ff_fail(d, FF_E_INVALID, p, "%s must be a string", p);
	size_t len = json_string_length(v);
	if (len == 0 || len > maxlen || len >= n)
		return ff_fail(d, FF_E_INVALID, p, "%s must be 1 to %zu characters", p, maxlen < n ? maxlen : n - 1);
	copy_str(out, n, json_string_value(v));
	return FF_OK;
}

static bool id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ID_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static enum ff_err compile_reward(json_t *v, const char *path, bool tier, struct reward_spec *r,
				  struct ff_diag *d)
{
	static const char *const fields[] = {"to",	"type",	 "amount", "percent_bp", "max_amount",
					     "months",	"pool",	 "brand",  "sku",	 "quantity",
					     "from",	NULL};
	memset(r, 0, sizeof(*r));
	if (!json_is_object(v))
		return ff_fail(d, FF_E_INVALID, path, "%s must be an object", path);
	enum ff_err err = check_fields(v, path, fields, d);
	if (err)
		return err;
	char p[160], buf[32] = "";
	if (!tier && json_object_get(v, "from")) {
		join(p, sizeof(p), path, "from");
		return ff_fail(d, FF_E_UNKNOWN_FIELD, p, "\"from\" is only allowed in tiers");
	}
	if ((err = get_str(v, path, "to", 16, buf, sizeof(buf), true, d)))
		return err;
	if (strcmp(buf, "referrer") && strcmp(buf, "referred")) {
		join(p, sizeof(p), path, "to");
		return ff_fail(d, FF_E_INVALID, p, "%s must be \"referrer\" or \"referred\"", p);
	}
	r->to_referrer = !strcmp(buf, "referrer");
	if ((err = get_str(v, path, "type", 24, buf, sizeof(buf), true, d)))
		return err;
	int t = reward_type_parse(buf);
	if (t < 0) {
		join(p, sizeof(p), path, "type");
		return ff_fail(d, FF_E_INVALID, p, "unknown reward type \"%s\"", buf);
	}
	r->type = (enum reward_type)t;
	if ((err = get_int(v, path, "amount", 1, MONEY_MAX, &r->amount, &r->has_amount, d)) ||
	    (err = get_int(v, path, "percent_bp", 1, 10000, &r->percent_bp, &r->has_percent, d)) ||
	    (err = get_int(v, path, "max_amount", 1, MONEY_MAX, &r->max_amount, &r->has_max, d)) ||
	    (err = get_int(v, path, "months", 1, 120, &r->months, &r->has_months, d)) ||
	    (err = get_int(v, path, "quantity", 1, 1000000, &r->quantity, NULL, d)) ||
	    (err = get_str(v, path, "pool", 63, r->pool, sizeof(r->pool), false, d)) ||
	    (err = get_str(v, path, "brand", 63, r->brand, sizeof(r->brand), false, d)) ||
	    (err = get_str(v, path, "sku", 63, r->sku, sizeof(r->sku), false, d)))
		return err;
	if (tier) {
		bool has_from;
		if ((err = get_int(v, path, "from", 1, 1000000, &r->from, &has_from, d)))
			return err;
		if (!has_from) {
			join(p, sizeof(p), path, "from");
			return ff_fail(d, FF_E_INVALID, p, "%s is required in a tier", p);
		}
	}
	/* what each type needs (SPEC §3) */
	const char *need = NULL, *forbid = NULL;
	switch (r->type) {
	case RT_CREDIT:
		if (r->has_amount == r->has_percent)
			need = "exactly one of amount or percent_bp";
		else if (r->has_max && !r->has_percent)
			forbid = "max_amount";
		break;
	case RT_PERCENT_DISCOUNT:
		if (!r->has_percent)
			need = "percent_bp";
		else if (r->has_amount)
			forbid = "amount";
		break;
	case RT_COUPON:
		if (!r->pool[0])
			need = "pool";
		break;
	case RT_GIFT_CARD:
	case RT_CASH:
	case RT_POINTS:
		if (!r->has_amount)
			need = "amount";
		else if (r->has_percent)
			forbid = "percent_bp";
		break;
	case RT_CUSTOM:
		if (!r->sku[0])
			need = "sku";
		if (!r->quantity)
			r->quantity = 1;
		break;
	default:
		break;
	}
	if (need)
		return ff_fail(d, FF_E_INVALID, path, "%s of type %s needs %s", path, reward_type_names[r->type],
			       need);
	if (forbid) {
		join(p, sizeof(p), path, forbid);
		return ff_fail(d, FF_E_INVALID, p, "%s is not allowed for type %s", p, reward_type_names[r->type]);
	}
	return FF_OK;
}

static enum ff_err compile_limits(json_t *v, struct program *p, struct ff_diag *d)
{
	static const struct {
		const char *suffix;
		enum limit_period period;
	} periods[] = {{"day", PERIOD_DAY}, {"week", PERIOD_WEEK}, {"month", PERIOD_MONTH}, {"year", PERIOD_YEAR}};
	if (!json_is_object(v))
		return ff_fail(d, FF_E_INVALID, "limits", "limits must be an object");
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x)
	{
		char path[160];
		snprintf(path, sizeof(path), "limits.%s", k);
		struct program_limit *l = &p->limits[p->nlimits];
		bool ok = false;
		for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
			char a[48], b[48];
			snprintf(a, sizeof(a), "referrer_rewards_per_%s", periods[i].suffix);
			snprintf(b, sizeof(b), "referrer_amount_per_%s", periods[i].suffix);
			if (!strcmp(k, a) || !strcmp(k, b)) {
				ok = true;
				l->amount = !strcmp(k, b);
				l->period = periods[i].period;
			}
		}
		if (!ok)
			return ff_fail(d, FF_E_UNKNOWN_FIELD, path,
				       "unknown limit \"%s\" (referrer_rewards_per_PERIOD or "
				       "referrer_amount_per_PERIOD, PERIOD day/week/month/year)",
				       k);
		if (p->nlimits == PROGRAM_MAX_LIMITS)
			return ff_fail(d, FF_E_INVALID, "limits", "at most %d limits", PROGRAM_MAX_LIMITS);
		if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > MONEY_MAX)
			return ff_fail(d, FF_E_INVALID, path, "%s must be a non-negative integer", path);
		copy_str(l->key, sizeof(l->key), k);
		l->value = json_integer_value(x);
		p->nlimits++;
	}
	return FF_OK;
}

static enum ff_err compile_fulfillment(json_t *v, struct program *p, struct ff_diag *d)
{
	for (int t = 0; t < RT__COUNT; t++)
		copy_str(p->connector[t], sizeof(p->connector[t]), default_connector[t]);
	copy_str(p->fulfiller, sizeof(p->fulfiller), "self");
	if (!v)
		return FF_OK;
	if (!json_is_object(v))
		return ff_fail(d, FF_E_INVALID, "fulfillment", "fulfillment must be an object");
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x)
	{
		char path[160];
		snprintf(path, sizeof(path), "fulfillment.%s", k);
		if (!json_is_string(x) || !json_string_length(x) || json_string_length(x) > ID_MAX)
			return ff_fail(d, FF_E_INVALID, path, "%s must be a non-empty string", path);
		const char *val = json_string_value(x);
		if (!strcmp(k, "fulfiller")) {
			if (!id_valid(val))
				return ff_fail(d, FF_E_INVALID, path, "fulfiller must be an id ([A-Za-z0-9_.-])");
			copy_str(p->fulfiller, sizeof(p->fulfiller), val);
			continue;
		}
		int t = reward_type_parse(k);
		if (t < 0)
			return ff_fail(d, FF_E_UNKNOWN_FIELD, path, "unknown reward type \"%s\" in fulfillment", k);
		if (!program_in_list(val, connectors))
			return ff_fail(d, FF_E_INVALID, path, "unknown connector \"%s\"", val);
		if (!connector_fits(val, (enum reward_type)t))
			return ff_fail(d, FF_E_INVALID, path, "connector %s cannot fulfil %s rewards", val, k);
		copy_str(p->connector[t], sizeof(p->connector[t]), val);
	}
	return FF_OK;
}

const char *const fraud_signal_names[SIG__COUNT] = {
	[SIG_SELF_REFERRAL] = "self_referral",	     [SIG_EXISTING_CUSTOMER] = "existing_customer",
	[SIG_DUPLICATE_REFERRAL] = "duplicate_referral", [SIG_VELOCITY] = "velocity",
	[SIG_PAYOUT_THRESHOLD] = "payout_threshold",   [SIG_BLOCKLIST] = "blocklist",
};

static enum ff_err parse_action(json_t *v, const char *path, enum fraud_action *out, struct ff_diag *d)
{
	const char *s = json_string_value(v);
	if (s && !strcmp(s, "reject"))
		*out = FRAUD_REJECT;
	else if (s && !strcmp(s, "review"))
		*out = FRAUD_REVIEW;
	else if (s && !strcmp(s, "off"))
		*out = FRAUD_OFF;
	else
		return ff_fail(d, FF_E_INVALID, path, "%s must be \"reject\", \"review\" or \"off\"", path);
	return FF_OK;
}

static enum ff_err parse_period(json_t *v, const char *path, enum limit_period *out, struct ff_diag *d)
{
	static const char *const names[] = {"day", "week", "month", "year"};
	for (int i = 0; i < 4; i++)
		if (json_is_string(v) && !strcmp(json_string_value(v), names[i])) {
			*out = (enum limit_period)i;
			return FF_OK;
		}
	return ff_fail(d, FF_E_INVALID, path, "%s must be day, week, month or year", path);
}

/* "fraud": per signal an action, plus the knobs of velocity, payout threshold and IP
 * matching. Defaults (SPEC §7): self_referral, duplicate_referral and blocklist reject;
 * the others send rewards to review. */
static enum ff_err compile_fraud(json_t *v, struct program *p, struct ff_diag *d)
{
	static const char *const fields[] = {"self_referral",	      "self_referral_ip",
					     "existing_customer",     "duplicate_referral",
					     "velocity",	      "velocity_max",
					     "velocity_window_hours", "payout_threshold",
					     "payout_threshold_amount", "payout_threshold_period",
					     "blocklist",	      NULL};
	for (int i = 0; i < SIG__COUNT; i++)
		p->fraud[i] = FRAUD_REVIEW;
	p->fraud[SIG_SELF_REFERRAL] = p->fraud[SIG_DUPLICATE_REFERRAL] = p->fraud[SIG_BLOCKLIST] = FRAUD_REJECT;
	p->velocity_max = 20;
	p->velocity_window_ms = FFTIME_DAY_MS;
	p->payout_period = PERIOD_MONTH;
	if (!v || json_is_null(v))
		return FF_OK;
	if (!json_is_object(v))
		return ff_fail(d, FF_E_INVALID, "fraud", "fraud must be an object");
	enum ff_err err = check_fields(v, "fraud", fields, d);
	if (err)
		return err;
	for (int i = 0; i < SIG__COUNT; i++) {
		json_t *a = json_object_get(v, fraud_signal_names[i]);
		char path[64];
		snprintf(path, sizeof(path), "fraud.%s", fraud_signal_names[i]);
		if (a && (err = parse_action(a, path, &p->fraud[i], d)))
			return err;
	}
	json_t *ip = json_object_get(v, "self_referral_ip");
	if (ip) {
		const char *s = json_string_value(ip);
		if (!s || (strcmp(s, "exact") && strcmp(s, "subnet")))
			return ff_fail(d, FF_E_INVALID, "fraud.self_referral_ip",
				       "fraud.self_referral_ip must be \"exact\" or \"subnet\" (same /24 or /64)");
		p->ip_subnet24 = !strcmp(s, "subnet");
	}
	int64_t hours = 24;
	bool has;
	if ((err = get_int(v, "fraud", "velocity_max", 1, 1000000, &p->velocity_max, &has, d)) ||
	    (err = get_int(v, "fraud", "velocity_window_hours", 1, 24 * 366, &hours, &has, d)) ||
	    (err = get_int(v, "fraud", "payout_threshold_amount", 1, MONEY_MAX, &p->payout_threshold,
			   &p->has_payout_threshold, d)))
		return err;
	p->velocity_window_ms = hours * 3600 * INT64_C(1000);
	json_t *per = json_object_get(v, "payout_threshold_period");
	if (per && (err = parse_period(per, "fraud.payout_threshold_period", &p->payout_period, d)))
		return err;
	return FF_OK;
}

/* "anomaly": the guard that watches a newly activated version's payout rate. */
static enum ff_err compile_anomaly(json_t *v, struct program *p, struct ff_diag *d)
{
	static const char *const fields[] = {"action", "factor", "sample", NULL};
	p->anomaly_on = true;
	p->anomaly_factor = 3;
	p->anomaly_sample = 50;
	if (!v || json_is_null(v))
		return FF_OK;
	if (!json_is_object(v))
		return ff_fail(d, FF_E_INVALID, "anomaly", "anomaly must be an object");
	enum ff_err err = check_fields(v, "anomaly", fields, d);
	if (err)
		return err;
	json_t *a = json_object_get(v, "action");
	if (a) {
		const char *s = json_string_value(a);
		if (!s || (strcmp(s, "review") && strcmp(s, "rollback") && strcmp(s, "off")))
			return ff_fail(d, FF_E_INVALID, "anomaly.action",
				       "anomaly.action must be \"review\", \"rollback\" or \"off\"");
		p->anomaly_on = strcmp(s, "off") != 0;
		p->anomaly_rollback = !strcmp(s, "rollback");
	}
	if ((err = get_int(v, "anomaly", "factor", 2, 1000, &p->anomaly_factor, NULL, d)) ||
	    (err = get_int(v, "anomaly", "sample", 1, 100000, &p->anomaly_sample, NULL, d)))
		return err;
	return FF_OK;
}

enum ff_err program_compile(json_t *doc, const char *id, struct program *p, struct ff_diag *d)
{
	static const char *const fields[] = {"id",	    "name",	"description", "currency", "trigger",
					     "attribution", "eligibility", "rewards",  "tiers",	   "limits",
					     "hold_days",   "expires_days", "schedule", "timezone",  "review",
					     "fulfillment", "fraud",	"anomaly",     "notifications", NULL};
	memset(p, 0, sizeof(*p));
	enum ff_err err;
	char buf[64];
	if (!json_is_object(doc))
		return ff_fail(d, FF_E_INVALID, NULL, "a program document must be a JSON object");
	if ((err = check_fields(doc, "", fields, d)))
		return err;
	if ((err = get_str(doc, "", "id", ID_MAX, p->id, sizeof(p->id), !id, d)))
		return err;
	if (id) {
		if (p->id[0] && strcmp(p->id, id))
			return ff_fail(d, FF_E_INVALID, "id", "document id \"%s\" does not match \"%s\"", p->id, id);
		copy_str(p->id, sizeof(p->id), id);
	}
	if (!id_valid(p->id))
		return ff_fail(d, FF_E_INVALID, "id", "program id must be 1-128 characters of [A-Za-z0-9_.-]");
	if ((err = get_str(doc, "", "name", 255, p->name, sizeof(p->name), true, d)))
		return err;
	json_t *desc = json_object_get(doc, "description");
	if (desc && !json_is_string(desc))
		return ff_fail(d, FF_E_INVALID, "description", "description must be a string");
	if ((err = get_str(doc, "", "currency", 5, p->currency, sizeof(p->currency), true, d)))
		return err;
	if (!money_currency_valid(p->currency))
		return ff_fail(d, FF_E_INVALID_CURRENCY, "currency", "unknown currency \"%s\"", p->currency);
	copy_str(buf, sizeof(buf), "conversion");
	if ((err = get_str(doc, "", "trigger", 16, buf, sizeof(buf), false, d)))
		return err;
	if (strcmp(buf, "conversion") && strcmp(buf, "referral"))
		return ff_fail(d, FF_E_INVALID, "trigger", "trigger must be \"conversion\" or \"referral\"");
	p->trigger_referral = !strcmp(buf, "referral");
	copy_str(buf, sizeof(buf), "first_touch");
	if ((err = get_str(doc, "", "attribution", 16, buf, sizeof(buf), false, d)))
		return err;
	if (strcmp(buf, "first_touch") && strcmp(buf, "last_touch"))
		return ff_fail(d, FF_E_INVALID, "attribution", "attribution must be \"first_touch\" or \"last_touch\"");
	p->last_touch = !strcmp(buf, "last_touch");

	p->eligibility = json_object_get(doc, "eligibility");
	if (p->eligibility && (err = jsonlogic_validate(p->eligibility, "eligibility", d)))
		return err;

	json_t *rw = json_object_get(doc, "rewards");
	if (!json_is_array(rw) || json_array_size(rw) == 0 || json_array_size(rw) > PROGRAM_MAX_REWARDS)
		return ff_fail(d, FF_E_INVALID, "rewards", "rewards must be an array of 1 to %d rewards",
			       PROGRAM_MAX_REWARDS);
	size_t i;
	json_t *x;
	json_array_foreach(rw, i, x)
	{
		char path[48];
		snprintf(path, sizeof(path), "rewards[%zu]", i);
		if ((err = compile_reward(x, path, false, &p->rewards[i], d)))
			return err;
		p->nrewards++;
	}
	json_t *tiers = json_object_get(doc, "tiers");
	if (tiers && !json_is_null(tiers)) {
		if (!json_is_array(tiers) || json_array_size(tiers) > PROGRAM_MAX_TIERS)
			return ff_fail(d, FF_E_INVALID, "tiers", "tiers must be an array of at most %d tiers",
				       PROGRAM_MAX_TIERS);
		json_array_foreach(tiers, i, x)
		{
			char path[48];
			snprintf(path, sizeof(path), "tiers[%zu]", i);
			if ((err = compile_reward(x, path, true, &p->tiers[i], d)))
				return err;
			p->ntiers++;
		}
	}
	json_t *lim = json_object_get(doc, "limits");
	if (lim && !json_is_null(lim) && (err = compile_limits(lim, p, d)))
		return err;
	bool has;
	if ((err = get_int(doc, "", "hold_days", 0, 3650, &p->hold_days, &has, d)) ||
	    (err = get_int(doc, "", "expires_days", 1, 36500, &p->expires_days, &has, d)))
		return err;
	copy_str(buf, sizeof(buf), "immediate");
	if ((err = get_str(doc, "", "schedule", 16, buf, sizeof(buf), false, d)))
		return err;
	if (!strcmp(buf, "immediate"))
		p->schedule = SCHEDULE_IMMEDIATE;
	else if (!strcmp(buf, "daily"))
		p->schedule = SCHEDULE_DAILY;
	else if (!strcmp(buf, "weekly"))
		p->schedule = SCHEDULE_WEEKLY;
	else if (!strcmp(buf, "monthly"))
		p->schedule = SCHEDULE_MONTHLY;
	else
		return ff_fail(d, FF_E_INVALID, "schedule", "schedule must be immediate, daily, weekly or monthly");
	copy_str(p->timezone, sizeof(p->timezone), "UTC");
	if ((err = get_str(doc, "", "timezone", 63, p->timezone, sizeof(p->timezone), false, d)))
		return err;
	if (!fftime_tz_valid(p->timezone))
		return ff_fail(d, FF_E_INVALID, "timezone", "unknown time zone \"%s\"", p->timezone);

	json_t *review = json_object_get(doc, "review");
	if (review && !json_is_null(review)) {
		static const char *const rf[] = {"amount_at_least", "always", "when", NULL};
		if (!json_is_object(review))
			return ff_fail(d, FF_E_INVALID, "review", "review must be an object");
		if ((err = check_fields(review, "review", rf, d)))
			return err;
		if ((err = get_int(review, "review", "amount_at_least", 0, MONEY_MAX, &p->review_amount_at_least,
				   &p->has_review_amount, d)))
			return err;
		json_t *al = json_object_get(review, "always");
		if (al && !json_is_boolean(al))
			return ff_fail(d, FF_E_INVALID, "review.always", "review.always must be true or false");
		p->review_always = al && json_is_true(al);
		p->review_when = json_object_get(review, "when");
		if (p->review_when && (err = jsonlogic_validate(p->review_when, "review.when", d)))
			return err;
	}
	if ((err = compile_fulfillment(json_object_get(doc, "fulfillment"), p, d)) ||
	    (err = compile_fraud(json_object_get(doc, "fraud"), p, d)) ||
	    (err = compile_anomaly(json_object_get(doc, "anomaly"), p, d)) ||
	    (err = notify_compile(json_object_get(doc, "notifications"), d)))
		return err;
	for (int k = 0; k < p->nrewards + p->ntiers; k++) {
		const struct reward_spec *r = k < p->nrewards ? &p->rewards[k] : &p->tiers[k - p->nrewards];
		if (!connector_fits(p->connector[r->type], r->type)) {
			return ff_fail(d, FF_E_INVALID, "fulfillment", "connector %s cannot fulfil %s rewards",
				       p->connector[r->type], reward_type_names[r->type]);
		}
		if (!strcmp(p->connector[r->type], "code_pool") && !r->pool[0]) /* codes come from a pool */
			return ff_fail(d, FF_E_INVALID, k < p->nrewards ? "rewards" : "tiers",
				       "a %s reward fulfilled by code_pool needs a \"pool\"", reward_type_names[r->type]);
	}
	/* stats cost queries per event: only programs whose rules read them pay for them */
	json_t *both = json_pack("[O?, O?]", p->eligibility, p->review_when);
	char *rules = json_dumps(both, JSON_COMPACT);
	p->uses_stats = rules && strstr(rules, "stats") != NULL;
	free(rules);
	json_decref(both);
	p->doc = json_incref(doc);
	return FF_OK;
}

void program_release(struct program *p)
{
	if (p && p->doc) {
		json_decref(p->doc);
		p->doc = NULL;
	}
}
