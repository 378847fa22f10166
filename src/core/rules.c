/*
 * rules.c - deciding rewards (SPEC §3): the eligibility context, eligibility with a
 * clause-by-clause explanation, tiers, limits, amounts (fixed or percent, half-even),
 * hold, schedule, expiry and review, and creating the rewards.
 *
 * The eligibility context, eligibility itself and its explanation are in
 * rules_eligibility.c; the program's other decisions are here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/jsonw.h"
#include "core/fraud.h"
#include "core/ingest.h"
#include "fulfill/crypto.h"
#include "fulfill/jsonlogic.h"
#include "fulfill/money.h"

int64_t rules_percent_amount(int64_t base, int64_t bp, bool has_max, int64_t max)
{
	int64_t v = money_percent_bp(base, bp);
	if (has_max && v > max)
		v = max;
	return v < 0 ? 0 : v;
}

static int64_t period_start(enum limit_period per, int64_t now)
{
	int64_t day = now - (now % FFTIME_DAY_MS);
	switch (per) {
	case PERIOD_DAY:
		return day;
	case PERIOD_WEEK: {
		/* 1970-01-01 was a Thursday: days since a Monday = (days + 3) % 7 */
		int64_t days = day / FFTIME_DAY_MS;
		return day - ((days + 3) % 7) * FFTIME_DAY_MS;
	}
	case PERIOD_MONTH: {
		char buf[32];
		fftime_format(now, buf, sizeof(buf));
		buf[8] = '0';
		buf[9] = '1';
		buf[10] = '\0';
		int64_t ms = day;
		fftime_parse(buf, &ms);
		return ms;
	}
	case PERIOD_YEAR:
	default:
		return fftime_year_start(fftime_year(now));
	}
}

/* The end (exclusive) of the period of `per` that holds `t`. */
static int64_t period_end(enum limit_period per, int64_t t)
{
	int64_t start = period_start(per, t);
	switch (per) {
	case PERIOD_DAY:
		return start + FFTIME_DAY_MS;
	case PERIOD_WEEK:
		return start + 7 * FFTIME_DAY_MS;
	case PERIOD_MONTH:
		return period_start(PERIOD_MONTH, start + 32 * FFTIME_DAY_MS);
	case PERIOD_YEAR:
	default:
		return fftime_year_start(fftime_year(t) + 1);
	}
}

/* The rewards that apply for the referrer's n-th successful referral: base rewards,
 * with every tier entry of the highest tier level whose `from` <= n replacing the base
 * rewards of the same recipient. */
static int pick_specs(const struct program *p, int64_t n, const struct reward_spec **out, int64_t *out_tier)
{
	int64_t best = 0;
	for (int i = 0; i < p->ntiers; i++)
		if (p->tiers[i].from <= n && p->tiers[i].from > best)
			best = p->tiers[i].from;
	*out_tier = best;
	bool tier_to[2] = {false, false};
	for (int i = 0; best && i < p->ntiers; i++)
		if (p->tiers[i].from == best)
			tier_to[p->tiers[i].to_referrer] = true;
	int k = 0;
	for (int i = 0; i < p->nrewards; i++)
		if (!tier_to[p->rewards[i].to_referrer])
			out[k++] = &p->rewards[i];
	for (int i = 0; best && i < p->ntiers; i++)
		if (p->tiers[i].from == best)
			out[k++] = &p->tiers[i];
	return k;
}

/* Limits apply to the referrer's rewards, per period by when they were earned
 * (`earned`: the event's occurred_at), so that a late event counts in its own period.
 * Returns the first limit the reward would break (with its current use), or NULL.
 * Amount limits are minor units of the
 * program's currency: they sum the rewards in that currency only, and do not apply to
 * a reward that is not money in it (`money` false: points, codes, goods). */
static const struct program_limit *limit_hit(struct engine *e, const struct program *p, const char *referrer,
					     bool money, int64_t amount, int64_t earned, int64_t *out_used)
{
	for (int i = 0; i < p->nlimits; i++) {
		const struct program_limit *l = &p->limits[i];
		if (l->amount && !money)
			continue;
		struct store_stmt *st = store_query(e->st, Q_STATS_REFERRER_REWARDS_SINCE);
		store_bind_text(st, 1, referrer);
		store_bind_text(st, 2, p->id);
		store_bind_int(st, 3, period_start(l->period, earned));
		store_bind_text(st, 4, p->currency);
		store_bind_int(st, 5, period_end(l->period, earned));
		int64_t count = 0, sum = 0;
		if (store_step(st) == 1) {
			count = store_col_int(st, 0);
			sum = store_col_int(st, 1);
		}
		if (l->amount ? sum + amount > l->value : count + 1 > l->value) {
			*out_used = l->amount ? sum : count;
			return l;
		}
	}
	return NULL;
}

/* The anomaly guard (SPEC §7): while a newly activated version has paid fewer than
 * `sample` conversions, compare its payout per rewarded conversion (including this one,
 * in the program currency) with the previous active version's; beyond `factor` times,
 * raise program.anomaly once, and send this version's new rewards to review (or roll
 * back to the previous version, per program). Returns "review:anomaly" or NULL. */
static const char *anomaly_check(struct engine *e, const struct program *p, int64_t this_amount, const char *actor,
				 json_t *expl, struct ff_diag *d, enum ff_err *err)
{
	*err = FF_OK;
	if (!p->anomaly_on || this_amount <= 0)
		return NULL;
	struct store_stmt *st;
	if (p->anomaly_previous < 0 || store_depth(e->st) == 0) {
		/* which version was active before this one never changes once this one was
		 * activated: remembered with the compiled version */
		st = store_query(e->st, Q_ANOMALY_PREVIOUS_VERSION);
		store_bind_text(st, 1, p->id);
		store_bind_int(st, 2, p->version);
		((struct program *)p)->anomaly_previous = store_step(st) == 1 ? (int)store_col_int(st, 0) : 0;
	}
	int prev = p->anomaly_previous;
	if (!prev)
		return NULL;
	st = store_query(e->st, Q_PROGRAM_VERSION_ANOMALY_AT);
	store_bind_text(st, 1, p->id);
	store_bind_int(st, 2, p->version);
	if (store_step(st) == 1 && !store_col_null(st, 0))
		return "review:anomaly"; /* tripped before: stays under review */
	st = store_query(e->st, Q_ANOMALY_VERSION_SAMPLE);
	store_bind_text(st, 1, p->id);
	store_bind_int(st, 2, p->version);
	store_bind_text(st, 3, p->currency);
	store_bind_int(st, 4, p->anomaly_sample * PROGRAM_MAX_REWARDS);
	int64_t n_new = 0, sum_new = 0, n_old = 0, sum_old = 0;
	if (store_step(st) == 1) {
		n_new = store_col_int(st, 0);
		sum_new = store_col_int(st, 1);
	}
	if (n_new >= p->anomaly_sample)
		return NULL; /* watched long enough */
	st = store_query(e->st, Q_ANOMALY_VERSION_SAMPLE);
	store_bind_text(st, 1, p->id);
	store_bind_int(st, 2, prev);
	store_bind_text(st, 3, p->currency);
	store_bind_int(st, 4, 1000);
	if (store_step(st) == 1) {
		n_old = store_col_int(st, 0);
		sum_old = store_col_int(st, 1);
	}
	if (n_old == 0 || sum_old <= 0)
		return NULL;
	/* (sum_new + this) / (n_new + 1) > factor * sum_old / n_old, without division */
	__int128 lhs = (__int128)(sum_new + this_amount) * n_old;
	__int128 rhs = (__int128)p->anomaly_factor * sum_old * (n_new + 1);
	if (lhs <= rhs)
		return NULL;
	int64_t now = fftime_now();
	st = store_query(e->st, Q_PROGRAM_VERSION_ANOMALY);
	store_bind_int(st, 1, now);
	store_bind_text(st, 2, p->id);
	store_bind_int(st, 3, p->version);
	if (store_exec(st)) {
		*err = core_store_fail(e, d, "anomaly");
		return NULL;
	}
	char target[ID_MAX + 16];
	snprintf(target, sizeof(target), "%s@%d", p->id, p->version);
	json_t *detail = json_pack("{s:I, s:I, s:I, s:I, s:i, s:I, s:s}", "rate_new_sum", (json_int_t)(sum_new + this_amount),
				   "rate_new_conversions", (json_int_t)(n_new + 1), "rate_old_sum", (json_int_t)sum_old,
				   "rate_old_conversions", (json_int_t)n_old, "previous_version", prev, "factor",
				   (json_int_t)p->anomaly_factor, "action", p->anomaly_rollback ? "rollback" : "review");
	*err = audit_append(e, "anomaly_guard", "program.anomaly", target, detail, d);
	if (!*err) {
		/* webhook subscribers (and the console) hear of it in the same transaction */
		json_t *ev = json_pack("{s:s, s:i, s:O}", "program", p->id, "version", p->version, "detail", detail);
		*err = outbox_event(e, "program.anomaly", ev, d);
		json_decref(ev);
	}
	json_object_set(expl, "anomaly", detail);
	json_decref(detail);
	if (*err)
		return NULL;
	if (p->anomaly_rollback) {
		/* later conversions go to the previous version; this one waits for a person */
		core_tx_forget(e);
		struct store_stmt *u = store_query(e->st, Q_PROGRAM_ROLLBACK_TO);
		store_bind_int(u, 1, prev);
		store_bind_int(u, 2, now);
		store_bind_text(u, 3, p->id);
		if (store_exec(u)) {
			*err = core_store_fail(e, d, "anomaly rollback");
			return NULL;
		}
		json_t *rb = json_pack("{s:i, s:i, s:s}", "from_version", p->version, "to_version", prev, "reason",
				       "anomaly");
		char t2[ID_MAX + 16];
		snprintf(t2, sizeof(t2), "%s@%d", p->id, prev);
		*err = audit_append(e, "anomaly_guard", "program.rolled_back", t2, rb, d);
		json_decref(rb);
	}
	(void)actor;
	return "review:anomaly";
}
/* How a percent reward was computed: "1000 bp of 7500, at most 2000", the base (the
 * purchase amount) given as text. */
void rules_computed_text(char *out, size_t n, int64_t bp, const char *base, bool has_max,
			  int64_t max)
{
	if (has_max)
		snprintf(out, n, "%lld bp of %s, at most %lld", (long long)bp, base,
			 (long long)max);
	else
		snprintf(out, n, "%lld bp of %s", (long long)bp, base);
}

enum ff_err rules_apply(struct engine *e, const struct rule_input *in, json_t *out_ids, json_t **out_expl,
			struct ff_diag *d)
{
	const struct program *p = in->prog;
	bool ok;
	json_t *clauses = NULL;
	enum ff_err err = rules_eligible(p, in->ctx, &ok, &clauses, d);
	if (err)
		return err;
	json_t *expl = json_object();
	jset(expl, "object", json_string("explanation"));
	jset(expl, "program", json_string(p->id));
	jset(expl, "program_version", json_integer(p->version));
	jset(expl, "trigger", json_string(p->trigger_referral ? "referral" : "conversion"));
	jset(expl, "referral", json_string(in->referral));
	jset(expl, "conversion", jstr_or_null(in->conversion));
	jset(expl, "clauses", clauses);
	jset(expl, "rewards", json_array());
	jset(expl, "signals", json_array());
	json_t *notes = json_array();
	if (in->conversion && strcmp(in->conversion_currency, p->currency)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "conversion currency %s differs from the program currency %s",
			 in->conversion_currency, p->currency);
		json_array_append_new(notes, json_string(msg));
		ok = false;
	}
	jset(expl, "eligible", json_boolean(ok));
	if (!ok) {
		json_t *failed = rules_failed_lines(clauses);
		json_array_extend(failed, notes);
		jset(expl, "outcome", json_string("not_eligible"));
		jset(expl, "failed", failed);
		json_decref(notes);
		*out_expl = expl;
		return FF_OK;
	}
	json_decref(notes);

	/* fraud: the referral's signals plus what was learnt since (fraud.h) */
	json_t *refctx = json_object_get(in->ctx, "referral");
	json_t *refsig = json_object_get(refctx, "signals");
	/* (json_deep_copy of even an empty array sets up a table for cycles) */
	json_t *signals = json_is_array(refsig) && json_array_size(refsig) ? json_deep_copy(refsig) : json_array();
	fraud_reward_time_signals(e, p, in->referral, in->referrer, in->referred,
				  json_integer_value(json_object_get(refctx, "occurred_at")), signals);
	json_object_set(expl, "signals", signals);
	const char *reject = fraud_first(signals, "reject");
	if (reject) {
		char msg[160];
		snprintf(msg, sizeof(msg), "fraud signal %s rejects this referral", reject);
		jset(expl, "eligible", json_false());
		jset(expl, "outcome", json_string("rejected"));
		jset(expl, "failed", json_pack("[s]", msg));
		json_decref(signals);
		*out_expl = expl;
		return FF_OK;
	}
	const char *fraud_review = fraud_first(signals, "review");
	json_t *stats = json_object_get(in->ctx, "stats");
	int64_t done = json_integer_value(json_object_get(stats, "referrer_successful_referrals"));
	int64_t n = done + (in->referral_successful ? 0 : 1);
	const struct reward_spec *specs[PROGRAM_MAX_REWARDS + PROGRAM_MAX_TIERS];
	int64_t tier = 0;
	int nspecs = pick_specs(p, n, specs, &tier);
	json_t *tier_json = json_object();
	jset(tier_json, "successful_referral_number", json_integer(n));
	jset(tier_json, "from", tier ? json_integer(tier) : json_null());
	jset(expl, "tier", tier_json);
	json_t *rewards = json_object_get(expl, "rewards");
	json_t *limits = json_array();
	jset(expl, "limits", limits);
	int64_t base_time = in->now;
	json_t *occurred = json_object_get(json_object_get(in->ctx, in->conversion ? "conversion" : "referral"),
					   "occurred_at");
	if (json_is_integer(occurred) && json_integer_value(occurred) < in->now)
		base_time = json_integer_value(occurred);
	const char *anomaly = NULL;
	if (in->conversion && p->anomaly_on) {
		int64_t total = 0;
		for (int i = 0; i < nspecs; i++) {
			const struct reward_spec *s = specs[i];
			if (s->type == RT_CREDIT && s->has_percent)
				total += rules_percent_amount(in->conversion_amount, s->percent_bp, s->has_max, s->max_amount);
			else if (s->type == RT_CREDIT || s->type == RT_GIFT_CARD || s->type == RT_CASH)
				total += s->amount;
		}
		anomaly = anomaly_check(e, p, total, in->actor, expl, d, &err);
		if (err) {
			json_decref(signals);
			json_decref(expl);
			return err;
		}
	}
	int created = 0;
	for (int i = 0; i < nspecs; i++) {
		const struct reward_spec *s = specs[i];
		struct reward r;
		memset(&r, 0, sizeof(r));
		crypto_random_id("rwd", r.id, sizeof(r.id));
		copy_str(r.program, sizeof(r.program), p->id);
		r.program_version = p->version;
		copy_str(r.referral, sizeof(r.referral), in->referral);
		copy_str(r.conversion, sizeof(r.conversion), in->conversion);
		copy_str(r.participant, sizeof(r.participant), s->to_referrer ? in->referrer : in->referred);
		copy_str(r.role, sizeof(r.role), s->to_referrer ? "referrer" : "referred");
		copy_str(r.type, sizeof(r.type), reward_type_names[s->type]);
		if (s->type == RT_POINTS)
			copy_str(r.currency, sizeof(r.currency), "POINT");
		else if (s->type == RT_CREDIT || s->type == RT_GIFT_CARD || s->type == RT_CASH)
			copy_str(r.currency, sizeof(r.currency), p->currency);
		json_t *entry = json_object();
		jset(entry, "to", json_string(r.role));
		jset(entry, "type", json_string(r.type));
		char how[200] = "";
		if (s->type == RT_CREDIT && s->has_percent) {
			r.rate_bp = s->percent_bp;
			r.has_rate = true;
			r.max_amount = s->max_amount;
			r.has_max = s->has_max;
			r.amount = rules_percent_amount(in->conversion_amount, s->percent_bp, s->has_max, s->max_amount);
			r.has_amount = true;
			char base[24];
			snprintf(base, sizeof(base), "%lld", (long long)in->conversion_amount);
			rules_computed_text(how, sizeof(how), s->percent_bp, base, s->has_max,
				      s->max_amount);
		} else if (s->type == RT_PERCENT_DISCOUNT) {
			r.percent_bp = s->percent_bp;
			r.has_percent = true;
			r.months = s->months;
			r.has_months = s->has_months;
		} else if (s->type == RT_CUSTOM) {
			r.quantity = s->quantity;
			r.has_quantity = true;
		} else if (s->has_amount) {
			r.amount = s->amount;
			r.has_amount = true;
		}
		copy_str(r.pool, sizeof(r.pool), s->pool);
		copy_str(r.sku, sizeof(r.sku), s->sku);
		copy_str(r.brand, sizeof(r.brand), s->brand);
		if (r.has_amount)
			jset(entry, "amount", json_integer(r.amount));
		if (how[0])
			jset(entry, "computed", json_string(how));
		/* money in the program's currency (not points, codes or goods): what amount
		 * limits and the payout threshold add up */
		bool money = r.has_amount && !strcmp(r.currency, p->currency);
		if (s->to_referrer && p->nlimits) {
			int64_t used = 0;
			const struct program_limit *l =
				limit_hit(e, p, in->referrer, money, money ? r.amount : 0, base_time, &used);
			if (l) {
				char why[200];
				snprintf(why, sizeof(why), "%s limit %lld reached (%lld used): reward not created", l->key,
					 (long long)l->value, (long long)used);
				jset(entry, "capped", json_true());
				jset(entry, "reason", json_string(why));
				json_array_append_new(limits, json_pack("{s:s, s:I, s:I, s:b}", "limit", l->key, "value",
									(json_int_t)l->value, "used", (json_int_t)used,
									"applied", 1));
				json_array_append_new(rewards, entry);
				continue;
			}
		}
		if (r.has_amount && r.amount == 0 && s->type == RT_CREDIT) {
			jset(entry, "skipped", json_string("computed amount is zero"));
			json_array_append_new(rewards, entry);
			continue;
		}
		copy_str(r.connector, sizeof(r.connector), p->connector[s->type]);
		copy_str(r.fulfiller, sizeof(r.fulfiller), p->fulfiller);
		r.created_at = r.updated_at = in->now;
		r.earned_at = base_time;
		if (p->hold_days > 0) {
			r.hold_until = base_time + p->hold_days * FFTIME_DAY_MS;
			r.has_hold = true;
		}
		int64_t release_from = r.has_hold ? r.hold_until : in->now;
		r.release_at = fftime_next_boundary(release_from, p->schedule, p->timezone);
		if (r.release_at < 0)
			r.release_at = release_from;
		r.has_release = true;
		if (p->expires_days > 0) {
			r.expires_at = in->now + p->expires_days * FFTIME_DAY_MS;
			r.has_expires = true;
		}
		const char *status, *reason;
		const char *review = NULL;
		json_t *mine = json_array_size(signals) ? json_deep_copy(signals) : json_array();
		char review_buf[64];
		if (s->to_referrer && money) {
			char detail[200];
			if (fraud_payout_threshold(e, p, in->referrer, r.amount, period_start(p->payout_period, base_time),
						   period_end(p->payout_period, base_time), detail, sizeof(detail))) {
				bool rej = p->fraud[SIG_PAYOUT_THRESHOLD] == FRAUD_REJECT;
				json_array_append_new(mine, json_pack("{s:s, s:s, s:s}", "signal", "payout_threshold", "detail",
								      detail, "action", rej ? "reject" : "review"));
				if (rej) {
					jset(entry, "capped", json_true());
					jset(entry, "reason", json_string(detail));
					json_array_append_new(rewards, entry);
					json_decref(mine);
					continue;
				}
				if (!fraud_review)
					review = "review:payout_threshold";
			}
		}
		char *sigtext = jsonw_dumps(mine, false);
		copy_str(r.signals, sizeof(r.signals), sigtext);
		free(sigtext);
		json_decref(mine);
		/* a blocked recipient is not paid whatever the program's blocklist action (block.c) */
		const char *to_status = json_string_value(
			json_object_get(json_object_get(in->ctx, s->to_referrer ? "referrer" : "referred"), "status"));
		if (fraud_review) {
			snprintf(review_buf, sizeof(review_buf), "review:%s", fraud_review);
			review = review_buf;
		} else if (to_status && !strcmp(to_status, "blocked")) {
			review = REWARD_REASON_BLOCKED;
		} else if (review) {
			/* payout threshold set above */
		} else if (anomaly)
			review = anomaly;
		else if (p->review_always)
			review = "review:always";
		else if (p->has_review_amount && r.has_amount && !strcmp(r.currency, p->currency) &&
			 r.amount >= p->review_amount_at_least)
			/* minor units of the program's currency: points or another currency are
			 * not compared with it (100000 points are not $1000.00) */
			review = "review:amount";
		else if (p->review_when) {
			json_t *res = NULL;
			struct ff_diag tmp;
			/* a rule that cannot be evaluated for this context sends the reward to a
			 * person rather than letting it through unreviewed */
			if (jsonlogic_apply(p->review_when, in->ctx, &res, &tmp) || jsonlogic_truthy(res))
				review = "review:rule";
			json_decref(res);
		}
		if (review) {
			status = "review";
			reason = review;
		} else if (r.has_amount && tax_form_required(e, r.participant, r.type, r.amount, r.currency, in->now)) {
			/* cash and gift cards past the country's threshold wait for a tax form */
			status = "pending";
			reason = "tax_form_required";
		} else {
			status = reward_release_status(&r, in->now, &reason);
		}
		copy_str(r.status, sizeof(r.status), status);
		copy_str(r.reason, sizeof(r.reason), reason);
		jset(entry, "reward", json_string(r.id));
		jset(entry, "status", json_string(status));
		jset(entry, "reason", json_string(reason));
		json_array_append_new(rewards, entry);
		/* the explanation is stored once, with the conversion or referral */
		err = reward_insert(e, &r, NULL, in->actor, d);
		if (err) {
			json_decref(signals);
			json_decref(expl);
			return err;
		}
		json_array_append_new(out_ids, json_string(r.id));
		created++;
	}
	jset(expl, "outcome", json_string(created ? "rewarded" : "capped"));
	json_decref(signals);
	*out_expl = expl;
	return FF_OK;
}

bool rules_capped_by_limit(json_t *entry)
{
	/* limit_hit's reason opens with the limit's key, and every key is the referrer's */
	const char *why = json_string_value(json_object_get(entry, "reason"));
	return json_is_true(json_object_get(entry, "capped")) && why &&
	       !strncmp(why, "referrer_", 9);
}
