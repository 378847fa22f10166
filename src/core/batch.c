/*
 * batch.c - payout batches (SPEC §6): approved rewards of one fulfiller and connector
 * rolled into a batch, exported as a report, closed when submitted, and marked
 * fulfilled by the fulfiller (or finance) with its reference. Reconciliation of a
 * fulfilled batch is in recon.c.
 *
 *   open --close--> closed --fulfill--> fulfilled --reconcile--> reconciled
 *   open --------------fulfill------->  fulfilled --reconcile--> disputed --reconcile--> ...
 *
 * Batches are made for monthly payout runs over many rewards, so their reward-level
 * changes are set-based: one UPDATE moves every reward, and one INSERT ... SELECT
 * writes each reward's history row. The UPDATE runs first and the history is selected
 * by what it wrote (the batch id, the new status, its timestamp): the updated rows are
 * locked until commit, so history and rows cannot disagree even on PostgreSQL under
 * concurrent writers. The audit chain gets one record per batch operation that names
 * the count, not one per reward (docs/finance.md).
 *
 * Scope: a fulfiller actor sees and acts on its own batches only; any other batch is
 * FF_E_NOT_FOUND (it never learns that the batch exists).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/core.h"
#include "fulfill/buf.h"
#include "fulfill/csv.h"
#include "fulfill/money.h"

/* Write the batch's reward count and totals per currency from its rewards; *out_totals
 * (if asked) the totals. */
static enum ff_err summarize(struct engine *e, const char *id, json_t **out_totals, struct ff_diag *d)
{
	json_t *totals = json_array();
	int64_t count = 0;
	struct store_stmt *st = store_query(e->st, Q_BATCH_TOTALS);
	store_bind_text(st, 1, id);
	while (store_step(st) == 1) {
		count += store_col_int(st, 1);
		json_array_append_new(totals, json_pack("{s:s?, s:I, s:I}", "currency",
							text_or_null(store_col_text(st, 0)),
							"amount", (json_int_t)store_col_int(st, 2),
							"count", (json_int_t)store_col_int(st, 1)));
	}
	char *text = json_dumps(totals, JSON_COMPACT);
	st = store_query(e->st, Q_BATCH_SET_SUMMARY);
	store_bind_int(st, 1, count);
	store_bind_text(st, 2, text);
	store_bind_text(st, 3, id);
	free(text);
	if (store_exec(st)) {
		json_decref(totals);
		return core_store_fail(e, d, "batch summary");
	}
	if (out_totals)
		*out_totals = totals;
	else
		json_decref(totals);
	return FF_OK;
}

/* The refunds of conversions whose rewards were in batch `id` while it was closed:
 * refund_apply skipped them then (batch_hold_of); now that they are paid it reverses or
 * reduces them as any paid reward (it is idempotent: what it did already stays). */
static enum ff_err apply_held_refunds(struct engine *e, const char *id, const char *actor, int64_t now,
				      struct ff_diag *d)
{
	json_t *convs = core_texts_of(e, Q_BATCH_REFUNDED_CONVERSIONS, id);
	enum ff_err err = FF_OK;
	json_t *changed = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(convs, i, v)
	{
		if ((err = refund_apply(e, json_string_value(v), NULL, now, actor, changed, d)))
			break;
	}
	json_decref(changed);
	json_decref(convs);
	return err;
}

enum batch_hold batch_hold_of(struct engine *e, const struct reward *r)
{
	if (!r->batch[0])
		return BATCH_NONE;
	/* the batch's row stays locked (PostgreSQL) while the caller acts on the answer: a
	 * close waits for a reward that leaves the open batch, or the reward sees the batch
	 * closed - never a reward that leaves a batch after it was closed (and exported) */
	struct store_stmt *st = store_query(e->st, Q_BATCH_STATUS_LOCK);
	store_bind_text(st, 1, r->batch);
	if (store_step(st) != 1)
		return BATCH_LOCKED; /* unreadable: change nothing */
	const char *status = store_col_text(st, 0);
	if (!strcmp(status, "open"))
		return BATCH_OPEN;
	/* closed: submitted to the distributor, being paid; after that (fulfilled,
	 * reconciled, disputed) its rewards are paid ones, changed as any paid reward is */
	return !strcmp(status, "closed") ? BATCH_LOCKED : BATCH_NONE;
}

enum ff_err batch_release_reward(struct engine *e, struct reward *r, struct ff_diag *d)
{
	char batch[sizeof(r->batch)];
	copy_str(batch, sizeof(batch), r->batch);
	r->batch[0] = '\0';
	r->updated_at = fftime_now();
	if (!strcmp(r->status, "approved")) /* no longer in_batch: waiting for the next one */
		copy_str(r->reason, sizeof(r->reason), reward_approved_reason(r));
	enum ff_err err = reward_update(e, r, d);
	return err ? err : summarize(e, batch, NULL, d);
}

static json_t *opt_text(struct store_stmt *st, int c)
{
	return store_col_null(st, c) ? json_null() : json_string(store_col_text(st, c));
}

static json_t *opt_time(struct store_stmt *st, int c)
{
	return json_time(store_col_int(st, c), !store_col_null(st, c));
}

/* A batch object from a row of BATCH_COLS. */
static json_t *batch_row_json(struct store_stmt *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(store_col_text(st, 0)));
	json_object_set_new(o, "object", json_string("batch"));
	json_object_set_new(o, "status", json_string(store_col_text(st, 5)));
	json_object_set_new(o, "fulfiller", json_string(store_col_text(st, 1)));
	json_object_set_new(o, "connector", json_string(store_col_text(st, 2)));
	json_object_set_new(o, "currency", opt_text(st, 3));
	json_object_set_new(o, "until", opt_time(st, 4));
	json_object_set_new(o, "count", json_integer(store_col_int(st, 6)));
	json_object_set_new(o, "totals", json_from_text(store_col_text(st, 7), "[]"));
	json_object_set_new(o, "reference", opt_text(st, 8));
	json_object_set_new(o, "reconciliation", json_from_text(store_col_text(st, 9), "null"));
	json_object_set_new(o, "created_by", json_string(store_col_text(st, 10)));
	json_object_set_new(o, "created_at", json_time(store_col_int(st, 11), true));
	json_object_set_new(o, "updated_at", json_time(store_col_int(st, 12), true));
	json_object_set_new(o, "closed_at", opt_time(st, 13));
	json_object_set_new(o, "fulfilled_at", opt_time(st, 14));
	json_object_set_new(o, "reconciled_at", opt_time(st, 15));
	return o;
}

enum ff_err batch_load(struct engine *e, const struct actor *a, const char *id, struct batch_row *out,
		       struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_BATCH_GET);
	store_bind_text(st, 1, id);
	int rc = store_step(st);
	if (rc < 0)
		return core_store_fail(e, d, "batch");
	if (rc == 0 || (a && a->participant[0]) || (a && a->fulfiller[0] && strcmp(a->fulfiller, store_col_text(st, 1))))
		return ff_fail(d, FF_E_NOT_FOUND, NULL, "no batch %s", id);
	memset(out, 0, sizeof(*out));
	copy_str(out->id, sizeof(out->id), store_col_text(st, 0));
	copy_str(out->fulfiller, sizeof(out->fulfiller), store_col_text(st, 1));
	copy_str(out->connector, sizeof(out->connector), store_col_text(st, 2));
	copy_str(out->status, sizeof(out->status), store_col_text(st, 5));
	out->count = store_col_int(st, 6);
	return FF_OK;
}

json_t *batch_json(struct engine *e, const char *id, bool with_rewards)
{
	struct store_stmt *st = store_query(e->st, Q_BATCH_GET);
	store_bind_text(st, 1, id);
	if (store_step(st) != 1)
		return NULL;
	json_t *o = batch_row_json(st);
	json_t *by = json_object();
	st = store_query(e->st, Q_BATCH_STATUS_COUNTS);
	store_bind_text(st, 1, id);
	while (store_step(st) == 1)
		json_object_set_new(by, store_col_text(st, 0), json_integer(store_col_int(st, 1)));
	json_object_set_new(o, "rewards_by_status", by);
	if (with_rewards) {
		json_t *ids = json_array();
		st = store_query(e->st, Q_BATCH_REWARD_IDS);
		store_bind_text(st, 1, id);
		while (store_step(st) == 1)
			json_array_append_new(ids, json_string(store_col_text(st, 0)));
		json_object_set_new(o, "rewards", ids);
	}
	return o;
}

enum ff_err batch_set_status(struct engine *e, const struct batch_row *b, const char *to,
			     const struct batch_change *c, int64_t now, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_BATCH_TRANSITION);
	store_bind_text(st, 1, to);
	store_bind_int(st, 2, now);
	store_bind_text(st, 3, c ? c->reference : NULL);
	store_bind_int_or_null(st, 4, now, !(c && c->closed));
	store_bind_int_or_null(st, 5, now, !(c && c->fulfilled));
	store_bind_int_or_null(st, 6, now, !(c && c->reconciled));
	store_bind_text(st, 7, c ? c->reconciliation : NULL);
	store_bind_text(st, 8, b->id);
	store_bind_text(st, 9, b->status);
	if (store_exec(st))
		return core_store_fail(e, d, "batch update");
	if (store_changes(e->st) != 1)
		return ff_fail(d, FF_E_CONFLICT, NULL, "batch %s was changed concurrently", b->id);
	return FF_OK;
}

enum ff_err batch_chunks(struct engine *e, struct store_stmt *st, int64_t **out, size_t *out_n, struct ff_diag *d)
{
	int64_t *v = NULL;
	size_t n = 0, cap = 0, in_chunk = 0;
	int rc;
	while ((rc = store_step(st)) == 1) {
		int64_t seq = store_col_int(st, 0);
		if (in_chunk == 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				v = ff_realloc(v, cap * 2 * sizeof(*v));
			}
			v[2 * n] = v[2 * n + 1] = seq;
			n++;
		}
		v[2 * n - 1] = seq;
		if (++in_chunk == BATCH_CHUNK)
			in_chunk = 0;
	}
	if (rc < 0) {
		free(v);
		return core_store_fail(e, d, "batch rewards");
	}
	*out = v;
	*out_n = n;
	return FF_OK;
}

enum ff_err batch_move_chunk(struct engine *e, const struct batch_move *m, int64_t lo, int64_t hi,
			     int64_t *changed, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, m->update);
	int k = 1;
	store_bind_int(st, k++, m->now);
	if (m->reference)
		store_bind_text(st, k++, m->reference);
	store_bind_text(st, k++, m->batch);
	store_bind_int(st, k++, lo);
	store_bind_int(st, k, hi);
	if (store_exec(st))
		return core_store_fail(e, d, m->what);
	*changed += store_changes(e->st);
	if (!m->history)
		return FF_OK;
	st = store_query(e->st, m->history);
	store_bind_text(st, 1, m->actor);
	store_bind_text(st, 2, m->why);
	store_bind_int(st, 3, m->now);
	store_bind_text(st, 4, m->batch);
	store_bind_int(st, 5, lo);
	store_bind_int(st, 6, hi);
	if (store_exec(st))
		return core_store_fail(e, d, "batch history");
	return FF_OK;
}

enum ff_err engine_batch_create(struct engine *e, const struct actor *a, const struct batch_params *p,
				json_t **out, struct ff_diag *d)
{
	if (a->participant[0])
		return core_done(e, ff_fail(d, FF_E_FORBIDDEN, NULL, "batches are not in this key's scope"));
	/* a fulfiller's key batches for its own fulfiller when the request names none */
	const char *fulfiller = p && p->fulfiller ? p->fulfiller : a->fulfiller[0] ? a->fulfiller : NULL;
	if (!p || !fulfiller || !*fulfiller || strlen(fulfiller) > ID_MAX)
		return core_done(e, ff_fail(d, FF_E_INVALID, "fulfiller", "fulfiller is required"));
	if (a->fulfiller[0] && strcmp(a->fulfiller, fulfiller))
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, "fulfiller", "no fulfiller %s", fulfiller));
	const char *connector = p->connector && *p->connector ? p->connector : "manual";
	if (strcmp(connector, "manual"))
		return core_done(e, ff_fail(d, FF_E_INVALID, "connector",
					    "only rewards of the manual connector are batched (connector \"%s\" "
					    "fulfils by itself; reconcile it with a provider export instead)",
					    connector));
	if (p->currency && !money_currency_valid(p->currency))
		return core_done(e, ff_fail(d, FF_E_INVALID_CURRENCY, "currency", "unknown currency \"%s\"", p->currency));
	if (p->until < 0)
		return core_done(e, ff_fail(d, FF_E_INVALID, "until", "until must be a time"));
	char id[40];
	crypto_random_id("bat", id, sizeof(id));
	int64_t now = fftime_now();
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct store_stmt *st = store_query(e->st, Q_BATCH_INSERT);
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, fulfiller);
	store_bind_text(st, 3, connector);
	store_bind_text(st, 4, p->currency);
	store_bind_int_or_null(st, 5, p->until, p->until == 0);
	store_bind_text(st, 6, a->label);
	store_bind_int(st, 7, now);
	if (store_exec(st)) {
		err = core_store_fail(e, d, "batch insert");
		goto end;
	}
	/* rewards of blocked participants are held for review, not batched (block.c); the
	 * candidates below leave them out as well */
	st = store_query(e->st, Q_BATCH_BLOCKED_CANDIDATES);
	store_bind_text(st, 1, connector);
	store_bind_text(st, 2, fulfiller);
	store_bind_text(st, 3, p->currency);
	store_bind_int_or_null(st, 4, p->until, p->until == 0);
	if ((err = rewards_hold_blocked_of(e, st, a->label, NULL, d)))
		goto end;
	/* set-based: the matching rewards a range of seq at a time (one UPDATE each), then
	 * their history rows (one INSERT ... SELECT each) */
	st = store_query(e->st, Q_BATCH_CANDIDATE_SEQS);
	store_bind_text(st, 1, connector);
	store_bind_text(st, 2, fulfiller);
	store_bind_text(st, 3, p->currency);
	store_bind_int_or_null(st, 4, p->until, p->until == 0);
	int64_t *chunks = NULL;
	size_t nchunks = 0;
	if ((err = batch_chunks(e, st, &chunks, &nchunks, d)))
		goto end;
	int64_t count = 0;
	for (size_t i = 0; !err && i < nchunks; i++) {
		st = store_query(e->st, Q_BATCH_ASSIGN);
		store_bind_text(st, 1, id);
		store_bind_int(st, 2, now);
		store_bind_text(st, 3, connector);
		store_bind_text(st, 4, fulfiller);
		store_bind_text(st, 5, p->currency);
		store_bind_int_or_null(st, 6, p->until, p->until == 0);
		store_bind_int(st, 7, chunks[2 * i]);
		store_bind_int(st, 8, chunks[2 * i + 1]);
		if (store_exec(st)) {
			err = core_store_fail(e, d, "batch assign");
			break;
		}
		count += store_changes(e->st);
		st = store_query(e->st, Q_BATCH_HISTORY_ASSIGNED);
		store_bind_text(st, 1, a->label);
		store_bind_int(st, 2, now);
		store_bind_text(st, 3, id);
		store_bind_int(st, 4, chunks[2 * i]);
		store_bind_int(st, 5, chunks[2 * i + 1]);
		if (store_exec(st))
			err = core_store_fail(e, d, "batch history");
	}
	free(chunks);
	if (err)
		goto end;
	if (count == 0) {
		err = ff_fail(d, FF_E_INVALID, NULL, "no approved rewards of fulfiller %s and connector %s match",
			      fulfiller, connector);
		goto end;
	}
	json_t *totals = NULL;
	if ((err = summarize(e, id, &totals, d)))
		goto end;
	json_t *detail = json_pack("{s:s, s:s, s:s?, s:I, s:o}", "fulfiller", fulfiller, "connector", connector,
				   "currency", p->currency, "count", (json_int_t)count, "totals", totals);
	err = audit_append(e, a->label, "batch.created", id, detail, d);
	json_decref(detail);
end:
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	*out = batch_json(e, id, true);
	return core_done(e, *out ? FF_OK : ff_fail(d, FF_E_INTERNAL, NULL, "batch %s vanished", id));
}

enum ff_err engine_batches_list(struct engine *e, const struct actor *a, const struct batch_filter *f,
				const struct page *p, json_t **out, struct ff_diag *d)
{
	static const char *const statuses[] = {"open", "closed", "fulfilled", "disputed", "reconciled", NULL};
	int limit = page_limit(p);
	if (f && f->status) {
		bool ok = false;
		for (int i = 0; statuses[i]; i++)
			ok = ok || !strcmp(f->status, statuses[i]);
		if (!ok) /* a typo must not look like "no batch has this status" */
			return core_done(e, ff_fail(d, FF_E_INVALID, "status",
						    "status must be open, closed, fulfilled, disputed or reconciled"));
	}
	if (a->participant[0]) {
		*out = list_json(json_array(), limit);
		return core_done(e, FF_OK);
	}
	const char *fulfiller = f ? f->fulfiller : NULL;
	if (a->fulfiller[0]) {
		if (fulfiller && strcmp(fulfiller, a->fulfiller)) {
			*out = list_json(json_array(), limit);
			return core_done(e, FF_OK);
		}
		fulfiller = a->fulfiller;
		/* its cursor must be one of its own batches: the page after another's would
		 * tell that it exists (and when it was made). Another's is answered as one
		 * that does not exist: an empty page. */
		if (p && p->starting_after) {
			struct batch_row cursor;
			enum ff_err err = batch_load(e, a, p->starting_after, &cursor, d);
			if (err && err != FF_E_NOT_FOUND)
				return core_done(e, err);
			if (err) {
				ff_diag_clear(d);
				*out = list_json(json_array(), limit);
				return core_done(e, FF_OK);
			}
		}
	}
	struct store_stmt *st = store_query(e->st, Q_BATCH_LIST);
	store_bind_text(st, 1, f ? f->status : NULL);
	store_bind_text(st, 2, fulfiller);
	store_bind_text(st, 3, p ? p->starting_after : NULL);
	store_bind_int(st, 4, limit + 1);
	json_t *data = json_array();
	int rc;
	while ((rc = store_step(st)) == 1)
		json_array_append_new(data, batch_row_json(st));
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "batch list"));
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

enum ff_err engine_batch_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
			     struct ff_diag *d)
{
	struct batch_row b;
	enum ff_err err = batch_load(e, a, id, &b, d);
	if (err)
		return core_done(e, err);
	*out = batch_json(e, id, true);
	return core_done(e, FF_OK);
}

/* The batch report's columns (Q_BATCH_REPORT); column 3 is the amount. */
static const char *const report_columns[] = {"reward_id", "participant", "type", "amount", "currency", "reference"};

/* Run the batch report of `id`, calling row(ctx, st) for each line. */
static enum ff_err batch_report(struct engine *e, const struct actor *a, const char *id,
				void (*row)(void *ctx, struct store_stmt *st), void *ctx, struct ff_diag *d)
{
	struct batch_row b;
	enum ff_err err = batch_load(e, a, id, &b, d);
	if (err)
		return core_done(e, err);
	struct store_stmt *st = store_query(e->st, Q_BATCH_REPORT);
	store_bind_text(st, 1, id);
	int rc;
	while ((rc = store_step(st)) == 1)
		row(ctx, st);
	if (rc < 0)
		return core_done(e, core_store_fail(e, d, "batch report"));
	return core_done(e, FF_OK);
}

static void report_csv_row(void *ctx, struct store_stmt *st)
{
	struct ffbuf *out = ctx;
	for (int c = 0; c < 6; c++) {
		if (c)
			ffbuf_adds(out, ",");
		if (c == 3 && !store_col_null(st, 3))
			ffbuf_addf(out, "%lld", (long long)store_col_int(st, 3));
		else
			csv_write_field(out, store_col_text(st, c) ? store_col_text(st, c) : "");
	}
	ffbuf_adds(out, "\r\n");
}

static void report_json_row(void *ctx, struct store_stmt *st)
{
	json_t *line = json_object();
	for (int c = 0; c < 6; c++)
		json_object_set_new(line, report_columns[c],
				    store_col_null(st, c) ? json_null()
				    : c == 3	      ? json_integer(store_col_int(st, c))
						      : json_string(store_col_text(st, c)));
	json_array_append_new(ctx, line);
}

enum ff_err engine_batch_report_csv(struct engine *e, const struct actor *a, const char *id, struct ffbuf *out,
				    struct ff_diag *d)
{
	size_t start = out->len;
	for (int c = 0; c < 6; c++) {
		ffbuf_adds(out, c ? "," : "");
		ffbuf_adds(out, report_columns[c]);
	}
	ffbuf_adds(out, "\r\n");
	enum ff_err err = batch_report(e, a, id, report_csv_row, out, d);
	if (err && out->data) {
		out->len = start; /* nothing of a report that is not there */
		out->data[start] = '\0';
	}
	return err;
}

enum ff_err engine_batch_report_json(struct engine *e, const struct actor *a, const char *id, json_t **out,
				     struct ff_diag *d)
{
	json_t *lines = json_array();
	enum ff_err err = batch_report(e, a, id, report_json_row, lines, d);
	if (err) {
		json_decref(lines);
		return err;
	}
	*out = json_pack("{s:s, s:s, s:o}", "object", "batch_report", "batch", id, "data", lines);
	return FF_OK;
}

enum ff_err batch_notify(struct engine *e, const char *type, const char *id, struct ff_diag *d)
{
	/* the payload counts the batch's rewards by status: a second pass over a big batch */
	enum ff_err err = FF_OK;
	if (!outbox_subscribed(e, type, &err, d))
		return err;
	json_t *data = batch_json(e, id, false);
	if (!data)
		return ff_fail(d, FF_E_INTERNAL, NULL, "batch %s vanished", id);
	err = outbox_event(e, type, data, d);
	json_decref(data);
	return err;
}

/* reward.fulfilled webhooks and "fulfilled" e-mails of the rewards a batch fulfilment
 * moved in seq range [lo, hi] (set-based, so reward_transition did not send them). */
static enum ff_err notify_fulfilled(struct engine *e, const char *id, int64_t now, int64_t lo, int64_t hi,
				    struct ff_diag *d)
{
	json_t *ids = json_array();
	struct store_stmt *st = store_query(e->st, Q_BATCH_FULFILLED_NOW);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, now);
	store_bind_int(st, 3, lo);
	store_bind_int(st, 4, hi);
	enum ff_err err = core_collect_ids(e, st, ids, "rewards fulfilled by the batch", d);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		struct reward r;
		if (err || (err = reward_load(e, json_string_value(v), &r, d)) ||
		    (err = outbox_reward_changed(e, &r, "approved", "fulfilled", d)))
			break;
	}
	json_decref(ids);
	return err;
}

enum ff_err engine_batch_close(struct engine *e, const struct actor *a, const char *id, json_t **out,
			       struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct batch_row b;
	if ((err = batch_load(e, a, id, &b, d)))
		goto end;
	if (strcmp(b.status, "open")) {
		err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL, "batch %s is %s, not open", id, b.status);
		goto end;
	}
	struct batch_change c = {.closed = true};
	if ((err = batch_set_status(e, &b, "closed", &c, fftime_now(), d)))
		goto end;
	json_t *detail = json_pack("{s:s, s:s, s:I}", "from", "open", "to", "closed", "count", (json_int_t)b.count);
	err = audit_append(e, a->label, "batch.closed", id, detail, d);
	json_decref(detail);
	if (!err)
		err = batch_notify(e, "batch.closed", id, d);
end:
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	*out = batch_json(e, id, false);
	return core_done(e, FF_OK);
}

enum ff_err engine_batch_fulfill(struct engine *e, const struct actor *a, const char *id, const char *reference,
				 json_t **out, struct ff_diag *d)
{
	if (!reference || !*reference || strlen(reference) > 255)
		return core_done(e, ff_fail(d, FF_E_INVALID, "reference", "reference is required (1 to 255 characters)"));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct batch_row b;
	if ((err = batch_load(e, a, id, &b, d)))
		goto end;
	if (strcmp(b.status, "open") && strcmp(b.status, "closed")) {
		err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL, "batch %s is %s, not open or closed", id, b.status);
		goto end;
	}
	int64_t now = fftime_now();
	char why[300];
	snprintf(why, sizeof(why), "batch %s fulfilled: %s", id, reference);
	/* a reward of a participant blocked meanwhile is not paid: it leaves the batch for
	 * review (block.c), and the batch is fulfilled without it */
	struct store_stmt *st = store_query(e->st, Q_BATCH_BLOCKED_MEMBERS);
	store_bind_text(st, 1, id);
	int64_t withheld = 0;
	if ((err = rewards_hold_blocked_of(e, st, a->label, &withheld, d)))
		goto end;
	st = store_query(e->st, Q_BATCH_SEQS);
	store_bind_text(st, 1, id);
	int64_t *chunks = NULL;
	size_t nchunks = 0;
	if ((err = batch_chunks(e, st, &chunks, &nchunks, d)))
		goto end;
	int64_t n = 0;
	const struct batch_move m = {Q_BATCH_REWARDS_FULFILL, reference, "batch fulfil",
				     Q_BATCH_HISTORY_FULFILLED, a->label, why, id, now};
	for (size_t i = 0; !err && i < nchunks; i++) {
		err = batch_move_chunk(e, &m, chunks[2 * i], chunks[2 * i + 1], &n, d);
		if (!err)
			err = notify_fulfilled(e, id, now, chunks[2 * i], chunks[2 * i + 1], d);
	}
	free(chunks);
	if (err)
		goto end;
	struct batch_change c = {.reference = reference, .fulfilled = true};
	if ((err = batch_set_status(e, &b, "fulfilled", &c, now, d)))
		goto end;
	json_t *detail = json_pack("{s:s, s:s, s:s, s:I}", "from", b.status, "to", "fulfilled", "reference", reference,
				   "rewards_fulfilled", (json_int_t)n);
	if (withheld)
		json_object_set_new(detail, "rewards_held_participant_blocked", json_integer(withheld));
	err = audit_append(e, a->label, "batch.fulfilled", id, detail, d);
	json_decref(detail);
	if (!err) /* refunds that came while the batch was being paid apply now: reversals */
		err = apply_held_refunds(e, id, a->label, now, d);
end:
	err = core_end(e, err, d);
	if (err)
		return core_done(e, err);
	*out = batch_json(e, id, false);
	return core_done(e, FF_OK);
}
