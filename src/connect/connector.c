/*
 * connector.c - the connector registry and the fulfilment drivers (the helpers that
 * provider connectors build their calls with are in connector_call.c).
 *
 * In-transaction connectors (ledger, code_pool) are driven by connector_fulfil()
 * inside the worker's chunk transaction. External connectors go through
 * connector_issue_pass(), the exactly-once protocol of SPEC §4:
 *
 *   1. claim (one committed transaction per batch): approved -> issuing, attempts+1,
 *      a fresh attempt id, and a lease (next_attempt_at) long enough for the batch's
 *      calls. On PostgreSQL the rows are claimed FOR UPDATE SKIP LOCKED and every
 *      update is conditional on the status read, so two workers never claim one reward.
 *   2. call the providers, outside any transaction, at most `concurrency` in flight,
 *      every request carrying the reward id as the provider's idempotency key.
 *   3. commit the results (one transaction per batch), each only if the reward is
 *      still `issuing` under our attempt id: fulfilled + external reference; or back to
 *      approved with a full-jitter exponential backoff (retry_scheduled); or failed
 *      (permanent error, or attempts exhausted) with the last error.
 *
 * A crash between 1 and 3 leaves the reward `issuing`: the next pass after the lease
 * (or the first pass of a restarted worker) calls again with the same key, and the
 * provider answers with what it did the first time. Each connector configuration has a
 * circuit breaker: `breaker_threshold` consecutive retryable failures open it for
 * `breaker_cooldown_ms`; meanwhile its rewards wait with connector_unavailable and
 * the other connectors keep flowing.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect/connector.h"
#include "core/core.h"
#include "fulfill/crypto.h"
#include "fulfill/log.h"
#include "fulfill/metrics.h"

static const struct connector_ops *const registry[] = {
	&connector_ledger,   &connector_code_pool, &connector_manual,  &connector_stripe, &connector_recurly,
	&connector_braintree, &connector_giftcard, &connector_webhook, &connector_smtp,	  NULL,
};

const struct connector_ops *connector_find(const char *name)
{
	for (int i = 0; registry[i]; i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

/* How long a reward waits when its connector is not configured yet (PUT of the
 * connector releases it at once). */
#define HOLD_MS (3600 * INT64_C(1000))
/* An empty pool holds its rewards until an upload releases them. */
#define POOL_HOLD_MS (24 * 3600 * INT64_C(1000))
/* Rewards claimed per batch = concurrency * ROUNDS. */
#define ROUNDS 8

static enum connector_result hold(struct engine *e, struct reward *r, const char *reason, int64_t until,
				  struct ff_diag *d)
{
	copy_str(r->reason, sizeof(r->reason), reason);
	r->next_attempt_at = until;
	r->has_next_attempt = true;
	r->updated_at = fftime_now();
	return reward_update(e, r, d) ? CONNECTOR_FATAL : CONNECTOR_HELD;
}

static double mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum connector_result connector_fulfil(struct engine *e, struct reward *r, const char *actor, int64_t now,
				       struct ff_diag *d)
{
	const struct connector_ops *c = connector_find(r->connector);
	if (!c || !c->issue)
		return hold(e, r, "connector_unavailable", now + HOLD_MS, d);
	char ref[256] = "";
	struct ff_diag cd;
	ff_diag_clear(&cd);
	r->attempts++;
	double t0 = mono_seconds();
	enum connector_result res = c->issue(e, r, now, ref, sizeof(ref), &cd);
	ffmetrics_connector_call(c->name, mono_seconds() - t0);
	switch (res) {
	case CONNECTOR_OK:
		copy_str(r->external_reference, sizeof(r->external_reference), ref);
		r->has_next_attempt = false;
		if (reward_transition(e, r, "fulfilled", NULL, actor, d))
			return CONNECTOR_FATAL;
		return CONNECTOR_OK;
	case CONNECTOR_FATAL:
		if (d)
			*d = cd;
		return CONNECTOR_FATAL;
	case CONNECTOR_HELD:
		r->attempts--; /* waiting is not an attempt */
		return hold(e, r, cd.message[0] ? cd.message : "connector_unavailable",
			    now + (!strcmp(r->connector, "code_pool") ? POOL_HOLD_MS : HOLD_MS), d);
	default:
		copy_str(r->last_error, sizeof(r->last_error), cd.message);
		if (reward_transition(e, r, "failed", "permanent_error", actor, d))
			return CONNECTOR_FATAL;
		return CONNECTOR_FAILED;
	}
}

/* Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^(attempt-1))]. */
static int64_t backoff_ms(const struct connector_conf *conf, int64_t attempt)
{
	int64_t ceiling = conf->backoff_base_ms;
	for (int64_t i = 1; i < attempt && ceiling < conf->backoff_cap_ms; i++)
		ceiling *= 2;
	if (ceiling > conf->backoff_cap_ms)
		ceiling = conf->backoff_cap_ms;
	uint64_t rnd;
	crypto_random_bytes(&rnd, sizeof(rnd));
	return ceiling > 0 ? (int64_t)(rnd % (uint64_t)(ceiling + 1)) : 0;
}

/* ---- the external issue pass ---- */

static json_t *select_ids(struct engine *e, enum store_query q, int64_t now, int limit)
{
	json_t *ids = json_array();
	struct store_stmt *st = store_query(e->st, q);
	store_bind_int(st, 1, now);
	store_bind_int(st, 2, limit);
	while (store_step(st) == 1)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	return ids;
}

/* The configuration of each connector seen in this pass (a handful). */
struct conf_cache {
	struct connector_conf confs[16];
	char names[16][32];
	bool missing[16];
	int n;
};

static const struct connector_conf *conf_get(struct engine *e, struct conf_cache *cc, const char *name)
{
	for (int i = 0; i < cc->n; i++)
		if (!strcmp(cc->names[i], name))
			return cc->missing[i] ? NULL : &cc->confs[i];
	if (cc->n == 16)
		return NULL;
	int i = cc->n++;
	copy_str(cc->names[i], sizeof(cc->names[i]), name);
	struct ff_diag d;
	cc->missing[i] = connector_conf_load(e, name, &cc->confs[i], &d) != FF_OK;
	if (!cc->missing[i]) {
		const struct connector_ops *ops = connector_find(cc->confs[i].type);
		cc->missing[i] = !ops || !ops->external;
	}
	return cc->missing[i] ? NULL : &cc->confs[i];
}

static void conf_cache_release(struct conf_cache *cc)
{
	for (int i = 0; i < cc->n; i++)
		if (!cc->missing[i])
			connector_conf_release(&cc->confs[i]);
}

static enum ff_err attempt_set(struct engine *e, const char *reward, const char *attempt, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_REWARD_ATTEMPT_SET);
	store_bind_text(st, 1, attempt);
	store_bind_text(st, 2, reward);
	return store_exec(st) ? core_store_fail(e, d, "attempt id") : FF_OK;
}

static bool attempt_is(struct engine *e, const char *reward, const char *attempt)
{
	struct store_stmt *st = store_query(e->st, Q_REWARD_ATTEMPT_GET);
	store_bind_text(st, 1, reward);
	if (store_step(st) != 1)
		return false;
	const char *a = store_col_text(st, 0);
	return a && !strcmp(a, attempt);
}

/* Phase 1: claim up to `limit` rewards. Calls are appended to *calls. */
static enum ff_err claim(struct engine *e, struct conf_cache *cc, const char *actor, int64_t now, bool recover,
			 int limit, struct connector_call ***calls, size_t *ncalls, size_t *nseen, struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return err;
	/* recovery: every issuing reward last touched before this handle's first pass,
	 * whatever its lease says (a crashed worker's); never one claimed since, so
	 * workers starting together cannot keep taking each other's work */
	json_t *ids = recover ? select_ids(e, Q_WORKER_RECOVERABLE, e->recover_before, limit)
			      : select_ids(e, Q_WORKER_ISSUABLE, now, limit);
	/* a lease runs from this claim, not from the start of the pass (`now`): a pass
	 * goes on batch after batch, and a lease already over when it is taken would let
	 * another worker re-drive calls still in flight */
	int64_t claimed_at = fftime_now() > now ? fftime_now() : now;
	*nseen = json_array_size(ids);
	size_t i;
	json_t *v;
	*calls = ff_calloc(*nseen ? *nseen : 1, sizeof(**calls));
	*ncalls = 0;
	json_array_foreach(ids, i, v)
	{
		struct reward r;
		if ((err = reward_load(e, json_string_value(v), &r, d)))
			break;
		bool issuing = !strcmp(r.status, "issuing");
		if (!issuing && strcmp(r.status, "approved"))
			continue;
		if (!issuing && r.has_next_attempt && r.next_attempt_at > now)
			continue;
		/* the participant as the provider will see it, read with the claim: a reward
		 * of a participant blocked since it was approved is held for review instead
		 * (block.c); an issuing one is at the provider already and finishes */
		json_t *who = participant_json(e, r.participant);
		const char *status = json_string_value(json_object_get(who, "status"));
		if (!issuing && status && !strcmp(status, "blocked")) {
			json_decref(who);
			if ((err = reward_hold_blocked(e, &r, actor, d)))
				break;
			continue;
		}
		const struct connector_conf *conf = conf_get(e, cc, r.connector);
		if (!conf) {
			json_decref(who);
			if (!issuing && hold(e, &r, "connector_unavailable", now + HOLD_MS, d) == CONNECTOR_FATAL) {
				err = FF_E_STORE;
				break;
			}
			continue;
		}
		if (conf->open_until > now) {
			json_decref(who);
			/* breaker open: wait, do not call */
			if (issuing) {
				r.next_attempt_at = conf->open_until;
				r.has_next_attempt = true;
				if ((err = reward_update(e, &r, d)))
					break;
			} else if (hold(e, &r, "connector_unavailable", conf->open_until, d) == CONNECTOR_FATAL) {
				err = FF_E_STORE;
				break;
			}
			continue;
		}
		const struct connector_ops *ops = connector_find(conf->type);
		struct connector_call *c = ff_calloc(1, sizeof(*c));
		c->ops = ops;
		c->conf = conf;
		c->op = CONNECTOR_ISSUE;
		crypto_random_id("att", c->attempt_id, sizeof(c->attempt_id));
		r.attempts++;
		if (issuing && !reward_outcome_unknown(&r))
			/* re-driven: the attempt before this one went out and nobody recorded its
			 * answer, so the provider may have paid (Braintree's duplicate discount is
			 * then this reward's own; a cancel or refund must wait for the answer) */
			snprintf(r.last_error, sizeof(r.last_error),
				 "%sattempt %lld was interrupted before its answer was recorded",
				 REWARD_UNKNOWN_PREFIX, (long long)(r.attempts - 1));
		/* an unknown outcome may take a credit look-up's pages before the request */
		int rounds = (limit + conf->concurrency - 1) / conf->concurrency;
		int steps = ops->max_steps ? ops->max_steps : 1;
		if (reward_outcome_unknown(&r))
			steps += conf->lookup_max_pages;
		int64_t lease = (int64_t)conf->timeout_ms * rounds * steps + 2000;
		r.next_attempt_at = claimed_at + lease;
		r.has_next_attempt = true;
		if (issuing) {
			r.updated_at = fftime_now();
			err = reward_update(e, &r, d);
		} else {
			err = reward_transition(e, &r, "issuing", NULL, actor, d);
		}
		if (!err)
			err = attempt_set(e, r.id, c->attempt_id, d);
		if (err) {
			json_decref(who);
			free(c);
			break;
		}
		c->r = r;
		c->participant = who ? who : json_object();
		(*calls)[(*ncalls)++] = c;
	}
	json_decref(ids);
	return core_end(e, err, d);
}

/* After a definite outcome: a refund of the reward's conversion that came while the
 * call was in flight or its outcome unknown (refund_apply left the reward alone then)
 * applies now - a paid reward is reversed, a failed one cancelled. refund_apply does
 * nothing for a conversion without refunds. */
static enum ff_err refund_after(struct engine *e, const struct reward *r, const char *actor, int64_t now,
				struct ff_diag *d)
{
	if (!r->conversion[0])
		return FF_OK;
	json_t *changed = json_array();
	enum ff_err err = refund_apply(e, r->conversion, NULL, now, actor, changed, d);
	json_decref(changed);
	return err;
}

/* Phase 3: commit one call's result. */
static enum ff_err settle(struct engine *e, struct connector_call *c, const char *actor, int64_t now,
			  int64_t *fulfilled, int64_t *failed, struct ff_diag *d)
{
	struct reward r;
	enum ff_err err = reward_load(e, c->r.id, &r, d);
	if (err)
		return err == FF_E_NOT_FOUND ? FF_OK : err;
	if (strcmp(r.status, "issuing") || !attempt_is(e, r.id, c->attempt_id))
		return FF_OK; /* re-driven by someone else meanwhile: theirs is the record */
	const struct connector_conf *conf = c->conf;
	struct store_stmt *st;
	switch (c->result) {
	case CONNECTOR_OK:
		copy_str(r.external_reference, sizeof(r.external_reference), c->ref);
		if (c->code[0])
			copy_str(r.code, sizeof(r.code), c->code);
		r.has_next_attempt = false;
		r.last_error[0] = '\0';
		if ((err = reward_transition(e, &r, "fulfilled", NULL, actor, d)))
			return err;
		if (conf->sync_interval_ms > 0 && (!strcmp(conf->type, "giftcard") || !strcmp(r.type, "percent_discount") ||
						   !strcmp(r.type, "coupon"))) {
			st = store_query(e->st, Q_REWARD_SYNC_SET);
			store_bind_int(st, 1, now + conf->sync_interval_ms);
			store_bind_null(st, 2);
			store_bind_null(st, 3);
			store_bind_text(st, 4, r.id);
			if (store_exec(st))
				return core_store_fail(e, d, "sync schedule");
		}
		st = store_query(e->st, Q_CONNECTOR_SUCCESS);
		store_bind_text(st, 1, conf->id);
		if (store_exec(st))
			return core_store_fail(e, d, "breaker");
		(*fulfilled)++;
		return refund_after(e, &r, actor, now, d);
	case CONNECTOR_RETRY:
	case CONNECTOR_HELD: {
		/* no definite answer (the request went out and nothing came back, or a 5xx or
		 * 408 that may follow an executed request, or a 409: another request with this
		 * idempotency key is running at the provider, and it may pay): the provider may
		 * have paid, now or in an earlier attempt. HELD: a credit look-up could not
		 * tell whether an earlier attempt paid, and nothing was sent */
		bool unknown = reward_outcome_unknown(&r) || c->result == CONNECTOR_HELD || c->http.maybe_delivered ||
			       c->http.status >= 500 || c->http.status == 408 || c->http.status == 409;
		if (unknown)
			snprintf(r.last_error, sizeof(r.last_error), "%s%.200s", REWARD_UNKNOWN_PREFIX, c->diag.message);
		else
			copy_str(r.last_error, sizeof(r.last_error), c->diag.message);
		/* a look-up that did not decide is no failure of the provider: the breaker
		 * counts only RETRY */
		if (c->result == CONNECTOR_RETRY) {
			st = store_query(e->st, Q_CONNECTOR_FAILURE);
			store_bind_text(st, 1, conf->id);
			store_bind_int(st, 2, conf->breaker_threshold);
			store_bind_int(st, 3, now + conf->breaker_cooldown_ms);
			if (store_exec(st))
				return core_store_fail(e, d, "breaker");
		}
		if (r.attempts >= conf->max_attempts) {
			r.has_next_attempt = false;
			(*failed)++;
			err = reward_transition(e, &r, "failed", "attempts_exhausted", actor, d);
		} else {
			int64_t wait = backoff_ms(conf, r.attempts);
			if (c->retry_after_ms > wait)
				wait = c->retry_after_ms;
			r.next_attempt_at = now + wait;
			r.has_next_attempt = true;
			/* the retry (same idempotency key) settles an unknown outcome; until then
			 * nothing may cancel, expire or refund-cancel the reward (core.h) */
			err = reward_transition(e, &r, "approved", unknown ? "outcome_unknown" : "retry_scheduled",
						actor, d);
		}
		/* not paid (definitely): a refund that came while the call was in flight
		 * cancels it now, before a retry could pay it (refund_apply leaves a reward
		 * whose outcome is unknown alone) */
		if (!err && !unknown)
			err = refund_after(e, &r, actor, now, d);
		return err;
	}
	default: {
		/* a definite refusal: nothing was paid (a replay of an executed request with
		 * its idempotency key would have answered as the first time) - unless the
		 * provider says the key was used by another request, which may have paid */
		const char *why = c->diag.message[0] ? c->diag.message : "permanent error";
		bool unknown = c->maybe_paid;
		if (unknown)
			snprintf(r.last_error, sizeof(r.last_error), "%s%.200s", REWARD_UNKNOWN_PREFIX, why);
		else
			copy_str(r.last_error, sizeof(r.last_error), why);
		r.has_next_attempt = false;
		(*failed)++;
		if ((err = reward_transition(e, &r, "failed", "permanent_error", actor, d)))
			return err;
		return unknown ? FF_OK : refund_after(e, &r, actor, now, d);
	}
	}
}

static void calls_free(struct connector_call **calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		connector_call_release(calls[i]);
		free(calls[i]);
	}
	free(calls);
}

/* A call of `op` for reward `r`, with the participant as the provider sees it (NULL
 * when it cannot be read). Freed by calls_free. */
static struct connector_call *call_new(struct engine *e, const struct connector_ops *ops,
				       const struct connector_conf *conf, enum connector_op op,
				       const struct reward *r)
{
	struct connector_call *c = ff_calloc(1, sizeof(*c));
	c->ops = ops;
	c->conf = conf;
	c->op = op;
	c->r = *r;
	c->participant = participant_json(e, r->participant);
	return c;
}

enum ff_err connector_issue_pass(struct engine *e, const char *actor, int64_t now, int64_t *out_fulfilled,
				 int64_t *out_failed, struct ff_diag *d)
{
	struct conf_cache cc;
	memset(&cc, 0, sizeof(cc));
	enum ff_err err = FF_OK;
	bool recover = !e->issuing_recovered;
	if (recover && !e->recover_before)
		e->recover_before = fftime_now();
	int limit = 16 * ROUNDS;
	for (int round = 0; round < 100000; round++) {
		struct connector_call **calls = NULL;
		size_t n = 0, seen = 0;
		for (int tries = 0;; tries++) {
			err = claim(e, &cc, actor, now, recover, limit, &calls, &n, &seen, d);
			if (!err)
				break;
			/* rolled back: nothing was claimed, no call is made */
			calls_free(calls, n);
			calls = NULL;
			n = 0;
			if (!core_retryable(e, err) || tries >= CORE_TX_RETRIES)
				break;
			core_retry_pause(tries);
		}
		if (err)
			break;
		if (n) {
			/* group by connector so each keeps its own concurrency */
			int parallel = 1;
			for (size_t i = 0; i < n; i++)
				if (calls[i]->conf->concurrency > parallel)
					parallel = calls[i]->conf->concurrency;
			connector_calls_run(calls, n, parallel, e->cfg.webhook_allow_hosts);
			int64_t settle_now = fftime_now() > now ? fftime_now() : now;
			/* settling checks each reward is still ours (issuing, our attempt id), so
			 * running it again after a lost race never records a result twice */
			for (int tries = 0;; tries++) {
				int64_t fulfilled = 0, failed = 0;
				err = core_begin(e, d);
				for (size_t i = 0; !err && i < n; i++)
					err = settle(e, calls[i], actor, settle_now, &fulfilled, &failed, d);
				err = core_end(e, err, d);
				if (!err) {
					*out_fulfilled += fulfilled;
					*out_failed += failed;
				}
				if (!err || !core_retryable(e, err) || tries >= CORE_TX_RETRIES)
					break;
				core_retry_pause(tries);
			}
		}
		calls_free(calls, n);
		/* a fresh look at the breakers after each batch */
		conf_cache_release(&cc);
		memset(&cc, 0, sizeof(cc));
		if (err)
			break;
		if ((int)seen < limit || n == 0) {
			if (!recover)
				break;
			recover = false; /* recovered: now the due work */
			e->issuing_recovered = true;
		}
	}
	conf_cache_release(&cc);
	return err;
}

/* ---- passes that call providers outside transactions (status sync, reversals) ----
 *
 * One transaction leases the due rewards and builds the calls; the calls run with no
 * transaction open; a second transaction records what came back. */
struct external_pass {
	enum store_query select;
	int limit;
	/* First transaction, each selected reward: lease it; *out_call is the call to
	 * make, or stays NULL. */
	enum ff_err (*lease)(struct engine *e, struct conf_cache *cc, struct reward *r, int64_t now,
			     struct connector_call **out_call, struct ff_diag *d);
	/* Second transaction, each call made. */
	enum ff_err (*settle)(struct engine *e, struct connector_call *c, const char *actor, int64_t now,
			      int64_t *count, struct ff_diag *d);
};

static enum ff_err external_pass_run(struct engine *e, const struct external_pass *p, const char *actor,
				     int64_t now, int64_t *count, struct ff_diag *d)
{
	struct conf_cache cc;
	memset(&cc, 0, sizeof(cc));
	enum ff_err err = core_begin(e, d);
	if (err)
		return err;
	json_t *ids = select_ids(e, p->select, now, p->limit);
	/* leases run from this claim, not from the start of the pass (`now`), which the
	 * issue pass before this one may have made minutes old: a lease already over when
	 * taken would let another worker call the provider again meanwhile */
	int64_t claimed_at = fftime_now() > now ? fftime_now() : now;
	size_t n = 0, i;
	json_t *v;
	struct connector_call **calls = ff_calloc(json_array_size(ids) + 1, sizeof(*calls));
	json_array_foreach(ids, i, v)
	{
		struct reward r;
		struct connector_call *c = NULL;
		if ((err = reward_load(e, json_string_value(v), &r, d)) ||
		    (err = p->lease(e, &cc, &r, claimed_at, &c, d)))
			break;
		if (c)
			calls[n++] = c;
	}
	json_decref(ids);
	err = core_end(e, err, d);
	if (!err && n) {
		connector_calls_run(calls, n, 16, e->cfg.webhook_allow_hosts);
		err = core_begin(e, d);
		for (i = 0; !err && i < n; i++)
			err = p->settle(e, calls[i], actor, now, count, d);
		err = core_end(e, err, d);
	}
	calls_free(calls, n);
	conf_cache_release(&cc);
	return err;
}

/* ---- sync jobs ---- */

static enum ff_err sync_lease(struct engine *e, struct conf_cache *cc, struct reward *r, int64_t now,
			      struct connector_call **out_call, struct ff_diag *d)
{
	const struct connector_conf *conf = conf_get(e, cc, r->connector);
	struct store_stmt *st = store_query(e->st, Q_REWARD_SYNC_SET);
	/* lease: not picked again by this or another worker for a while */
	store_bind_int(st, 1, now + (conf ? conf->sync_interval_ms : HOLD_MS));
	store_bind_null(st, 2);
	store_bind_null(st, 3);
	store_bind_text(st, 4, r->id);
	if (store_exec(st))
		return core_store_fail(e, d, "sync lease");
	if (conf)
		*out_call = call_new(e, connector_find(conf->type), conf, CONNECTOR_STATUS, r);
	return FF_OK;
}

static enum ff_err sync_settle(struct engine *e, struct connector_call *c, const char *actor, int64_t now,
			       int64_t *count, struct ff_diag *d)
{
	if (c->result != CONNECTOR_OK)
		return FF_OK;
	bool final = c->redeemed || !strcmp(c->provider_status, "failed");
	struct store_stmt *st = store_query(e->st, Q_REWARD_SYNC_SET);
	store_bind_int_or_null(st, 1, now + c->conf->sync_interval_ms, final);
	store_bind_text(st, 2, c->provider_status[0] ? c->provider_status : NULL);
	store_bind_int_or_null(st, 3, now, !c->redeemed);
	store_bind_text(st, 4, c->r.id);
	enum ff_err err = store_exec(st) ? core_store_fail(e, d, "sync result") : FF_OK;
	(*count)++;
	if (!err && c->provider_status[0]) {
		json_t *detail =
		    json_pack("{s:s, s:b}", "provider_status", c->provider_status, "redeemed", c->redeemed);
		err = audit_append(e, actor, "reward.synced", c->r.id, detail, d);
		json_decref(detail);
	}
	return err;
}

enum ff_err connector_sync_pass(struct engine *e, const char *actor, int64_t now, int64_t *out_synced,
				struct ff_diag *d)
{
	static const struct external_pass p = {Q_WORKER_SYNCABLE, 256, sync_lease, sync_settle};
	return external_pass_run(e, &p, actor, now, out_synced, d);
}

/* ---- reversals ---- */

static enum ff_err reverse_lease(struct engine *e, struct conf_cache *cc, struct reward *r, int64_t now,
				 struct connector_call **out_call, struct ff_diag *d)
{
	struct store_stmt *st;
	if (!strcmp(r->connector, "code_pool")) {
		/* a code not used yet is voided; a redeemed one stays redeemed */
		st = store_query(e->st, Q_CODE_VOID_REWARD);
		store_bind_text(st, 1, r->id);
		if (store_exec(st))
			return core_store_fail(e, d, "void code");
	}
	const struct connector_conf *conf = strcmp(r->connector, "code_pool") ? conf_get(e, cc, r->connector) : NULL;
	const struct connector_ops *ops = conf ? connector_find(conf->type) : NULL;
	bool external = ops && ops->external && r->external_reference[0];
	bool unconfigured = strcmp(r->connector, "code_pool") && !conf && r->external_reference[0];
	st = store_query(e->st, Q_REWARD_REVERSAL_SET);
	store_bind_text(st, 1, external || unconfigured ? "pending" : "done");
	/* lease while the call runs; an unconfigured connector is looked at hourly */
	store_bind_int(st, 2, now + (external ? 120000 : HOLD_MS));
	store_bind_text(st, 3, r->id);
	if (store_exec(st))
		return core_store_fail(e, d, "reversal");
	if (!external)
		return FF_OK;
	/* counted before the call: a call whose answer is lost still counts */
	st = store_query(e->st, Q_REWARD_REVERSAL_ATTEMPT);
	store_bind_text(st, 1, r->id);
	if (store_exec(st))
		return core_store_fail(e, d, "reversal attempt");
	st = store_query(e->st, Q_REWARD_REVERSAL_ATTEMPTS);
	store_bind_text(st, 1, r->id);
	if (store_step(st) != 1)
		return core_store_fail(e, d, "reversal attempt");
	int64_t attempt = store_col_int(st, 0);
	struct connector_call *c = call_new(e, ops, conf, CONNECTOR_REVERSE, r);
	c->amount = r->has_amount ? r->amount : 0;
	c->attempt = attempt;
	if (!c->participant)
		c->participant = json_object();
	*out_call = c;
	return FF_OK;
}

static enum ff_err reverse_settle(struct engine *e, struct connector_call *c, const char *actor, int64_t now,
				  int64_t *count, struct ff_diag *d)
{
	/* retryable: back off like issuing does, and give up after max_attempts calls */
	bool retry = c->result != CONNECTOR_OK && c->result != CONNECTOR_FAILED;
	bool exhausted = retry && c->attempt >= c->conf->max_attempts;
	const char *state = c->result == CONNECTOR_OK ? "done" : retry && !exhausted ? "pending" : "failed";
	int64_t wait = backoff_ms(c->conf, c->attempt);
	if (c->retry_after_ms > wait)
		wait = c->retry_after_ms;
	struct store_stmt *st = store_query(e->st, Q_REWARD_REVERSAL_SET);
	store_bind_text(st, 1, state);
	store_bind_int(st, 2, now + wait);
	store_bind_text(st, 3, c->r.id);
	if (store_exec(st))
		return core_store_fail(e, d, "reversal");
	if (c->result == CONNECTOR_OK)
		(*count)++;
	enum ff_err err = FF_OK;
	if (!retry || exhausted) {
		json_t *detail = json_pack("{s:s, s:I, s:s?}", "result", state, "amount", (json_int_t)c->amount,
					   "error", c->diag.message[0] ? c->diag.message : NULL);
		err = audit_append(e, actor, "reward.reversal", c->r.id, detail, d);
		json_decref(detail);
	}
	return err;
}

enum ff_err connector_reverse_pass(struct engine *e, const char *actor, int64_t now, int64_t *out_reversed,
				   struct ff_diag *d)
{
	static const struct external_pass p = {Q_WORKER_REVERSIBLE, 128, reverse_lease, reverse_settle};
	return external_pass_run(e, &p, actor, now, out_reversed, d);
}
