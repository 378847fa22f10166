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

/* Ids of up to CHUNK rewards selected by `q` (bound with now), claimed for this
 * transaction: on PostgreSQL the rows are locked (SKIP LOCKED: another worker takes
 * other rewards), on SQLite the write transaction excludes other writers. */
static json_t *select_ids(struct engine *e, enum store_query q, int64_t now)
{
	json_t *ids = json_array();
	struct store_stmt *st = store_query(e->st, q);
	store_bind_int(st, 1, now);
	store_bind_int(st, 2, CHUNK);
	while (store_step(st) == 1)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	return ids;
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

static enum ff_err release(struct engine *e, const char *actor, int64_t now, int64_t *count, struct ff_diag *d)
{
	for (int tries = 0;;) {
		int64_t released = 0;
		enum ff_err err = core_begin(e, d);
		if (err)
			return err;
		json_t *ids = select_ids(e, Q_WORKER_RELEASABLE, now);
		size_t n = json_array_size(ids);
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v)
		{
			if (err)
				break;
			struct reward r;
			if ((err = reward_load(e, json_string_value(v), &r, d)))
				break;
			if (strcmp(r.status, "pending"))
				continue; /* another worker got there first */
			bool held = false; /* tax.c: waits for a tax form instead (SPEC §8) */
			if ((err = tax_hold(e, &r, actor, now, &held, d)) || held)
				continue;
			err = reward_transition(e, &r, "approved", reward_approved_reason(&r), actor, d);
			if (!err)
				released++;
		}
		err = core_end(e, err, d);
		json_decref(ids);
		if (chunk_again(e, err, &tries))
			continue;
		if (err)
			return err;
		*count += released;
		if (n < CHUNK)
			break;
	}
	/* rewards whose hold ended but whose payout day has not come say so */
	struct store_stmt *st = store_query(e->st, Q_WORKER_HOLD_TO_SCHEDULE);
	store_bind_int(st, 1, now);
	store_bind_int(st, 2, now);
	if (store_exec(st))
		return core_store_fail(e, d, "schedule reasons");
	return FF_OK;
}

/* In-transaction connectors (ledger, code_pool): delivery commits with the chunk.
 * External connectors go through connector_issue_pass (two-phase, exactly once). */
static enum ff_err fulfil(struct engine *e, const char *actor, int64_t now, int64_t *ok, int64_t *failed,
			  struct ff_diag *d)
{
	for (int tries = 0;;) {
		int64_t chunk_ok = 0, chunk_failed = 0;
		enum ff_err err = core_begin(e, d);
		if (err)
			return err;
		json_t *ids = select_ids(e, Q_WORKER_FULFILLABLE, now);
		size_t n = json_array_size(ids);
		size_t i;
		json_t *v;
		size_t done = 0;
		json_array_foreach(ids, i, v)
		{
			if (err)
				break;
			struct reward r;
			if ((err = reward_load(e, json_string_value(v), &r, d)))
				break;
			if (strcmp(r.status, "approved"))
				continue;
			enum connector_result res = connector_fulfil(e, &r, actor, now, d);
			if (res == CONNECTOR_FATAL) {
				err = FF_E_STORE;
				break;
			}
			if (res == CONNECTOR_OK)
				chunk_ok++;
			else if (res == CONNECTOR_FAILED)
				chunk_failed++;
			done++;
		}
		err = core_end(e, err, d);
		json_decref(ids);
		if (chunk_again(e, err, &tries))
			continue;
		if (err)
			return err;
		*ok += chunk_ok;
		*failed += chunk_failed;
		if (n < CHUNK || done == 0)
			break;
	}
	return connector_issue_pass(e, actor, now, ok, failed, d);
}

static enum ff_err expire(struct engine *e, const char *actor, int64_t now, int64_t *count, struct ff_diag *d)
{
	for (int tries = 0;;) {
		int64_t expired = 0;
		enum ff_err err = core_begin(e, d);
		if (err)
			return err;
		json_t *ids = select_ids(e, Q_WORKER_EXPIRABLE, now);
		size_t n = json_array_size(ids);
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v)
		{
			if (err)
				break;
			struct reward r;
			if ((err = reward_load(e, json_string_value(v), &r, d)))
				break;
			int64_t taken = 0;
			if (!strcmp(r.status, "fulfilled") && !strcmp(r.connector, "ledger") &&
			    (err = ledger_expire(e, &r, now, &taken, d)))
				break;
			char why[64];
			snprintf(why, sizeof(why), "expired");
			err = reward_transition(e, &r, "expired", why, actor, d);
			if (!err)
				expired++;
		}
		err = core_end(e, err, d);
		json_decref(ids);
		if (chunk_again(e, err, &tries))
			continue;
		if (err)
			return err;
		*count += expired;
		if (n < CHUNK)
			break;
	}
	return FF_OK;
}

enum ff_err engine_worker_pass(struct engine *e, const struct actor *a, int64_t now_ms, json_t **out,
			       struct ff_diag *d)
{
	int64_t now = now_ms ? now_ms : fftime_now();
	int64_t released = 0, fulfilled = 0, failed = 0, expired = 0;
	const char *actor = a ? a->label : "worker";
	enum ff_err err = release(e, actor, now, &released, d);
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
