/*
 * worker.c - one worker pass (SPEC §5): release rewards whose hold ended and whose
 * schedule is due, fulfil approved rewards through their connectors, expire what
 * passed its expires_at, pull provider status back (sync jobs), and deliver the
 * outbox: webhooks and e-mails. Work is taken in chunks of CHUNK rewards, one transaction per
 * chunk, so a pass over 100,000 rewards neither holds one giant transaction nor pays an
 * fsync per reward. A chunk that lost a race with another transaction (PostgreSQL: a
 * deadlock with an ingest or another worker) runs again: it re-reads what it claims and
 * checks each reward's status, so a second run never applies anything twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connector.h"
#include "core/core.h"

#define CHUNK 500

/* Up to CHUNK rewards selected by `q` (bound with now; REWARD_COLS), claimed for this
 * transaction: on PostgreSQL the rows are locked (SKIP LOCKED: another worker takes
 * other rewards) and read as they are now, on SQLite the write transaction excludes
 * other writers. With `blocked` (not NULL), the query has one more column, 1 when the
 * reward's participant is blocked, read into blocked[]. Returns how many; -1 when the
 * query failed. */
static int claim(struct engine *e, enum store_query q, int64_t now, struct reward *out, bool *blocked)
{
	struct store_stmt *st = store_query(e->st, q);
	store_bind_int(st, 1, now);
	store_bind_int(st, 2, CHUNK);
	int n = 0, rc;
	while ((rc = store_step(st)) == 1) {
		if (n == CHUNK)
			continue;
		if (blocked)
			blocked[n] = store_col_int(st, REWARD_NCOLS) != 0;
		reward_from_row(st, &out[n++]);
	}
	return rc < 0 ? -1 : n;
}

/* After a chunk's transaction ended with `err`: true when it should run again. */
static bool chunk_again(struct engine *e, enum ff_err err, int *tries)
{
	if (!err) {
		*tries = 0;
		return false;
	}
	if (!core_retryable(e, err) || *tries >= CORE_TX_RETRIES)
		return false;
	core_retry_pause((*tries)++);
	return true;
}

/* One kind of work in a pass: the query that claims rewards, and what to do with each
 * claimed reward (inside the chunk's transaction). `step` returns FF_OK and sets
 * *out_done when it did the work, leaves it false when the reward was skipped. */
struct chunk_work {
	enum store_query claim;
	const char *expect;   /* the status a claimed reward must still have (NULL: any) */
	enum ff_err (*step)(struct engine *e, struct reward *r, const char *actor, int64_t now, int64_t *counts,
			    bool *out_done, struct ff_diag *d);
	bool ledger; /* the steps read and change participants' balances */
	/* the claim reads whether each reward's participant is blocked: such a reward is
	 * held for review (block.c) instead of the step */
	bool hold_blocked;
};

/* Run `w` over every due reward, CHUNK per transaction, until a chunk comes back short
 * (or, when nothing in a full chunk could be done, stop rather than spin). counts[] are
 * added to only when a chunk commits. */
static enum ff_err run_chunks(struct engine *e, const struct chunk_work *w, const char *actor, int64_t now,
			      int64_t *counts, size_t ncounts, struct ff_diag *d)
{
	struct reward *rows = ff_malloc(CHUNK * sizeof(*rows));
	bool blocked[CHUNK];
	enum ff_err result = FF_OK;
	for (int tries = 0;;) {
		int64_t chunk[4] = {0};
		size_t done = 0;
		enum ff_err err = core_begin(e, d);
		if (err) {
			result = err;
			break;
		}
		/* audit records and balance changes are written at the end of the chunk: the
		 * chain lock and the shared balance rows are held only for that */
		core_defer(e);
		int n = claim(e, w->claim, now, rows, w->hold_blocked ? blocked : NULL);
		if (n < 0)
			err = core_store_fail(e, d, "claim");
		else if (w->ledger)
			err = ledger_lock_balances(e, rows, (size_t)n, d);
		for (int i = 0; i < n && !err; i++) {
			struct reward *r = &rows[i];
			if (w->expect && strcmp(r->status, w->expect))
				continue; /* another worker got there first */
			bool did = false;
			if (w->hold_blocked && blocked[i]) /* blocked since it was approved: not paid */
				did = !(err = reward_hold_blocked(e, r, actor, d));
			else
				err = w->step(e, r, actor, now, chunk, &did, d);
			if (err)
				break;
			done += did;
		}
		err = core_end(e, err, d);
		if (chunk_again(e, err, &tries))
			continue;
		if (err) {
			result = err;
			break;
		}
		for (size_t k = 0; k < ncounts; k++)
			counts[k] += chunk[k];
		if (n < CHUNK || done == 0)
			break;
	}
	free(rows);
	return result;
}

static enum ff_err release_one(struct engine *e, struct reward *r, const char *actor, int64_t now, int64_t *counts,
			       bool *out_done, struct ff_diag *d)
{
	bool held = false; /* tax.c: waits for a tax form instead (SPEC §8) */
	enum ff_err err = tax_hold(e, r, actor, now, &held, d);
	if (err || held) {
		*out_done = held;
		return err;
	}
	err = reward_transition(e, r, "approved", reward_approved_reason(r), actor, d);
	if (!err) {
		counts[0]++;
		*out_done = true;
	}
	return err;
}

static enum ff_err release(struct engine *e, const char *actor, int64_t now, int64_t *count, struct ff_diag *d)
{
	static const struct chunk_work w = {Q_WORKER_RELEASABLE, "pending", release_one, false, false};
	enum ff_err err = run_chunks(e, &w, actor, now, count, 1, d);
	if (err)
		return err;
	/* rewards whose hold ended but whose payout day has not come say so */
	struct store_stmt *st = store_query(e->st, Q_WORKER_HOLD_TO_SCHEDULE);
	store_bind_int(st, 1, now);
	store_bind_int(st, 2, now);
	if (store_exec(st))
		return core_store_fail(e, d, "schedule reasons");
	return FF_OK;
}

/* counts: [0] fulfilled, [1] failed */
static enum ff_err fulfil_one(struct engine *e, struct reward *r, const char *actor, int64_t now, int64_t *counts,
			      bool *out_done, struct ff_diag *d)
{
	enum connector_result res = connector_fulfil(e, r, actor, now, d);
	if (res == CONNECTOR_FATAL)
		return FF_E_STORE;
	counts[0] += res == CONNECTOR_OK;
	counts[1] += res == CONNECTOR_FAILED;
	*out_done = true;
	return FF_OK;
}

/* In-transaction connectors (ledger, code_pool): delivery commits with the chunk.
 * External connectors go through connector_issue_pass (two-phase, exactly once). */
static enum ff_err fulfil(struct engine *e, const char *actor, int64_t now, int64_t *ok, int64_t *failed,
			  struct ff_diag *d)
{
	static const struct chunk_work w = {Q_WORKER_FULFILLABLE, "approved", fulfil_one, true, true};
	int64_t counts[2] = {0, 0};
	enum ff_err err = run_chunks(e, &w, actor, now, counts, 2, d);
	*ok += counts[0];
	*failed += counts[1];
	if (err)
		return err;
	return connector_issue_pass(e, actor, now, ok, failed, d);
}

static enum ff_err expire_one(struct engine *e, struct reward *r, const char *actor, int64_t now, int64_t *counts,
			      bool *out_done, struct ff_diag *d)
{
	int64_t taken = 0;
	enum ff_err err = FF_OK;
	if (!strcmp(r->status, "fulfilled") && !strcmp(r->connector, "ledger")) {
		err = ledger_expire(e, r, now, &taken, d);
	} else {
		switch (batch_hold_of(e, r)) {
		case BATCH_OPEN: /* it leaves its open batch */
			err = batch_release_reward(e, r, d);
			break;
		case BATCH_LOCKED: /* closed since it was claimed: being paid, it stays */
			return FF_OK;
		case BATCH_NONE:
			break;
		}
	}
	if (!err)
		err = reward_transition(e, r, "expired", "expired", actor, d);
	if (!err) {
		counts[0]++;
		*out_done = true;
	}
	return err;
}

static enum ff_err expire(struct engine *e, const char *actor, int64_t now, int64_t *count, struct ff_diag *d)
{
	static const struct chunk_work w = {Q_WORKER_EXPIRABLE, NULL, expire_one, true, false};
	return run_chunks(e, &w, actor, now, count, 1, d);
}

enum ff_err engine_worker_pass(struct engine *e, const struct actor *a, int64_t now_ms, json_t **out,
			       struct ff_diag *d)
{
	int64_t now = now_ms ? now_ms : fftime_now();
	int64_t released = 0, fulfilled = 0, failed = 0, expired = 0;
	const char *actor = a ? a->label : "worker";
	enum ff_err err = release(e, actor, now, &released, d);
	if (!err) /* a new year: tax holds weigh that year's total */
		err = tax_holds_recheck(e, actor, now, &released, d);
	if (!err)
		err = fulfil(e, actor, now, &fulfilled, &failed, d);
	if (!err)
		err = expire(e, actor, now, &expired, d);
	int64_t webhooks = 0, emails = 0, synced = 0, reversed = 0;
	if (!err)
		err = connector_sync_pass(e, actor, now, &synced, d);
	if (!err)
		err = connector_reverse_pass(e, actor, now, &reversed, d);
	if (!err)
		err = outbox_deliver_pass(e, now, &webhooks, d);
	if (!err)
		err = notify_deliver_pass(e, now, &emails, d);
	int64_t purged = 0;
	if (!err)
		err = idem_purge(e, now, &purged, d);
	if (!err)
		*out = json_pack("{s:I, s:I, s:I, s:I, s:I}", "released", (json_int_t)released, "fulfilled",
				 (json_int_t)fulfilled, "failed", (json_int_t)failed, "expired", (json_int_t)expired,
				 "webhooks", (json_int_t)webhooks);
	if (!err && (emails || synced || reversed)) {
		json_object_set_new(*out, "emails", json_integer(emails));
		json_object_set_new(*out, "synced", json_integer(synced));
		json_object_set_new(*out, "reversed", json_integer(reversed));
	}
	return core_done(e, err);
}
