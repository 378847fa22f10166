/*
 * recon.c - reconciliation (SPEC §6): a provider's report or a distributor's credit
 * memo (CSV) against what fulfill paid. Each line is matched, amount_mismatch,
 * unexpected (paid, not expected) or duplicate; each expected reward without a line is
 * missing; a line that cannot be read is invalid. All match: the batch (or the
 * connector's rewards) and its rewards become reconciled; anything else: the batch is
 * disputed and nothing else changes, so a corrected report can simply be run again.
 *
 * Memory is bounded by the expected side, not by the report: the expected rewards sit
 * in one open-addressing hash table (keys in one arena), the CSV is streamed record by
 * record (csv.h), and the result keeps every discrepancy up to LINES_CAP plus the first
 * MATCHED_CAP matched lines ("lines_truncated" says when some were left out; the counts
 * are always complete). A 1,000,000-line memo against a 1,000,000-reward batch peaks
 * at about 100 MB once read and matched; a batch's table is freed before the outcome
 * is applied, which only needs seq ranges (bench/recon_bench.c).
 *
 * The report is read outside any transaction (a long upload must not hold the write
 * lock); the outcome is then applied in one short transaction, conditional on the batch
 * still having the status it had when the run started.
 *
 * This file records a run and applies its outcome; recon_match.c reads the report and
 * matches it, sharing recon_int.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/core.h"
#include "core/recon_int.h"
#include "fulfill/csv.h"
#include "fulfill/money.h"

static enum ff_err record_run(struct engine *e, const struct actor *a, struct run *r, const char *id,
			      const char *batch, const char *connector, const char *status, int64_t now,
			      struct ff_diag *d)
{
	char *disc = json_dumps(r->stored, JSON_COMPACT);
	struct store_stmt *st = store_query(e->st, Q_RECON_INSERT);
	int c = 1;
	store_bind_text(st, c++, id);
	store_bind_text(st, c++, batch);
	store_bind_text(st, c++, connector);
	store_bind_text(st, c++, status);
	store_bind_int(st, c++, r->read);
	store_bind_int(st, c++, r->matched);
	store_bind_int(st, c++, r->mismatch);
	store_bind_int(st, c++, r->missing);
	store_bind_int(st, c++, r->unexpected);
	store_bind_int(st, c++, r->duplicate);
	store_bind_int(st, c++, r->invalid);
	store_bind_text(st, c++, disc);
	store_bind_text(st, c++, a->label);
	store_bind_int(st, c++, now);
	enum ff_err err = store_exec(st) ? core_store_fail(e, d, "reconciliation") : FF_OK;
	free(disc);
	return err;
}

enum ff_err engine_batch_reconcile(struct engine *e, const struct actor *a, const char *id,
				   const struct recon_input *in, json_t **out, struct ff_diag *d)
{
	struct batch_row b;
	enum ff_err err = batch_load(e, a, id, &b, d);
	if (err)
		return core_done(e, err);
	if (strcmp(b.status, "fulfilled") && strcmp(b.status, "disputed"))
		return core_done(e, ff_fail(d, FF_E_INVALID_TRANSITION, NULL,
					    "batch %s is %s: only a fulfilled or disputed batch is reconciled", id,
					    b.status));
	struct run r;
	recon_run_init(&r, false);
	recon_set_reserve(&r.x, (size_t)b.count, 26); /* reward ids are "rwd_" and 22 characters */
	struct store_stmt *st = store_query(e->st, Q_BATCH_EXPECTED);
	store_bind_text(st, 1, id);
	if ((err = recon_run_compare(e, &r, st, in, d)))
		return core_done(e, err);
	const char *status = recon_all_match(&r) ? "reconciled" : "disputed";
	/* the apply selects the batch's rewards by seq range, in chunks of BATCH_CHUNK
	 * (the expected rewards were loaded in seq order); then the matching structures
	 * (the bulk of the memory of a big memo) are no longer needed */
	int64_t *chunks = NULL;
	size_t nchunks = 0;
	if (!strcmp(status, "reconciled")) {
		chunks = ff_calloc(r.x.n / BATCH_CHUNK + 1, 2 * sizeof(*chunks));
		for (size_t i = 0; i < r.x.n; i++) {
			if (i % BATCH_CHUNK == 0)
				chunks[2 * nchunks++] = r.x.v[i].seq;
			chunks[2 * nchunks - 1] = r.x.v[i].seq;
		}
	}
	recon_set_free(&r.x);
	char rec_id[40];
	crypto_random_id("rec", rec_id, sizeof(rec_id));
	int64_t now = fftime_now();
	json_t *sum = recon_summary(&r, rec_id, status, now);
	char *sum_text = json_dumps(sum, JSON_COMPACT);

	if ((err = core_begin(e, d)))
		goto out;
	int64_t n = 0;
	if (!strcmp(status, "reconciled")) {
		char why[120];
		snprintf(why, sizeof(why), "reconciliation %s", rec_id);
		/* no history row per reward: one for the batch stands for the rewards moved
		 * (each reward of the batch whose own history ends in `fulfilled` before it;
		 * schema migration 7) */
		const struct batch_move m = {Q_BATCH_REWARDS_RECONCILE, NULL, "batch reconcile", 0, a->label, why, id,
					     now};
		for (size_t i = 0; !err && i < nchunks; i++)
			err = batch_move_chunk(e, &m, chunks[2 * i], chunks[2 * i + 1], &n, d);
		if (!err && n > 0)
			err = reward_history_add(e, id, "fulfilled", "reconciled", a->label, why, now, d);
		if (err)
			goto end;
	}
	struct batch_change c = {.reconciliation = sum_text, .reconciled = !strcmp(status, "reconciled")};
	if ((err = batch_set_status(e, &b, status, &c, now, d)))
		goto end;
	if ((err = record_run(e, a, &r, rec_id, id, NULL, status, now, d)))
		goto end;
	json_object_set_new(sum, "rewards_reconciled", json_integer(n));
	json_object_set_new(sum, "from", json_string(b.status));
	err = audit_append(e, a->label, !strcmp(status, "reconciled") ? "batch.reconciled" : "batch.disputed", id, sum,
			   d);
	if (!err && !strcmp(status, "reconciled"))
		err = batch_notify(e, "batch.reconciled", id, d);
end:
	err = core_end(e, err, d);
out:
	if (!err) {
		*out = recon_result_json(&r, rec_id, status, now);
		json_object_set_new(*out, "batch", json_string(id));
	}
	free(chunks);
	free(sum_text);
	json_decref(sum);
	recon_run_release(&r);
	return core_done(e, err);
}

/* Move the `n` (at most RECON_SEQS) rewards of `en` from fulfilled to reconciled, with
 * their history rows, in two statements; a reward changed meanwhile (reversed) is left
 * alone. Adds how many moved to *changed. (They share no batch id to select them by,
 * so they are named by seq.) */
static enum ff_err reconcile_seqs(struct engine *e, const struct expected *en, size_t n, const char *actor,
				  const char *why, int64_t now, int64_t *changed, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_RECON_REWARDS_RECONCILE);
	store_bind_int(st, 1, now);
	for (size_t i = 0; i < RECON_SEQS; i++)
		store_bind_int_or_null(st, 2 + (int)i, i < n ? en[i].seq : 0, i >= n);
	if (store_exec(st))
		return core_store_fail(e, d, "reconcile rewards");
	int64_t moved = store_changes(e->st);
	if (!moved)
		return FF_OK;
	*changed += moved;
	st = store_query(e->st, Q_RECON_HISTORY_RECONCILED);
	store_bind_text(st, 1, actor);
	store_bind_text(st, 2, why);
	store_bind_int(st, 3, now);
	store_bind_int(st, 4, now);
	for (size_t i = 0; i < RECON_SEQS; i++)
		store_bind_int_or_null(st, 5 + (int)i, i < n ? en[i].seq : 0, i >= n);
	if (store_exec(st))
		return core_store_fail(e, d, "reward history");
	return FF_OK;
}

enum ff_err engine_reconcile_connector(struct engine *e, const struct actor *a, const char *connector,
				       int64_t from, int64_t to, const struct recon_input *in, json_t **out,
				       struct ff_diag *d)
{
	if (a->participant[0] || a->fulfiller[0])
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "connector reconciliation is not in this key's scope"));
	if (!connector || !*connector || strlen(connector) > 31)
		return core_done(e, ff_fail(d, FF_E_INVALID, "connector", "connector is required"));
	/* a batch's rewards share its reference: matching them by reference cannot tell
	 * them apart; a batch is reconciled by reward id */
	if (!strcmp(connector, "manual"))
		return core_done(e, ff_fail(d, FF_E_INVALID, "connector",
					    "manual rewards are reconciled per batch, by reward id: POST "
					    "/v1/batches/{id}/reconcile"));
	if (from < 0 || to < 0 || (from && to && to <= from))
		return core_done(e, ff_fail(d, FF_E_INVALID, "to", "the window [from, to) is empty"));
	struct run r;
	recon_run_init(&r, true);
	struct store_stmt *st = store_query(e->st, Q_RECON_CONNECTOR_EXPECTED);
	store_bind_text(st, 1, connector);
	store_bind_int_or_null(st, 2, from, from == 0);
	store_bind_int_or_null(st, 3, to, to == 0);
	enum ff_err err = recon_run_compare(e, &r, st, in, d);
	if (err)
		return core_done(e, err);
	const char *status = recon_all_match(&r) ? "reconciled" : "disputed";
	char rec_id[40];
	crypto_random_id("rec", rec_id, sizeof(rec_id));
	int64_t now = fftime_now();
	int64_t n = 0;
	if ((err = core_begin(e, d)))
		goto out;
	if (!strcmp(status, "reconciled")) {
		char why[120];
		snprintf(why, sizeof(why), "reconciliation %s", rec_id);
		for (size_t i = 0; !err && i < r.x.n; i += RECON_SEQS)
			err = reconcile_seqs(e, &r.x.v[i], r.x.n - i < RECON_SEQS ? r.x.n - i : RECON_SEQS, a->label, why,
					     now, &n, d);
	}
	recon_set_free(&r.x);
	if (!err)
		err = record_run(e, a, &r, rec_id, NULL, connector, status, now, d);
	if (!err) {
		json_t *sum = recon_summary(&r, rec_id, status, now);
		json_object_set_new(sum, "rewards_reconciled", json_integer(n));
		err = audit_append(e, a->label, !strcmp(status, "reconciled") ? "reconciliation.reconciled"
									       : "reconciliation.disputed",
				   connector, sum, d);
		json_decref(sum);
	}
	err = core_end(e, err, d);
out:
	if (!err) {
		*out = recon_result_json(&r, rec_id, status, now);
		json_object_set_new(*out, "connector", json_string(connector));
		json_object_set_new(*out, "rewards_reconciled", json_integer(n));
	}
	recon_run_release(&r);
	return core_done(e, err);
}
