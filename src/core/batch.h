/*
 * batch.h - private to src/core: what batch.c shares with recon.c (loading a batch
 * under the actor's scope, its API object, its conditional status change, and moving
 * its rewards to a new status chunk by chunk).
 */
#ifndef FULFILL_CORE_BATCH_H
#define FULFILL_CORE_BATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

struct batch_row {
	char id[64];
	char fulfiller[ID_MAX + 1];
	char connector[32];
	char status[16];
	int64_t count;
};

/* What a status change also records (all optional). */
struct batch_change {
	const char *reference;      /* fulfil: the fulfiller's reference */
	const char *reconciliation; /* reconcile: JSON summary of the run */
	bool closed, fulfilled, reconciled; /* stamp closed_at / fulfilled_at / reconciled_at */
};

/* Load batch `id` as `a` may see it (NULL: no scope): FF_E_NOT_FOUND when missing or
 * outside a fulfiller's scope. */
enum ff_err batch_load(struct engine *e, const struct actor *a, const char *id, struct batch_row *out,
		       struct ff_diag *d);
/* The batch's API object (new reference), with "rewards" ids when asked; NULL if missing. */
json_t *batch_json(struct engine *e, const char *id, bool with_rewards);
/* Move b from b->status to `to`; FF_E_CONFLICT when someone changed it meanwhile. */
enum ff_err batch_set_status(struct engine *e, const struct batch_row *b, const char *to,
			     const struct batch_change *c, int64_t now, struct ff_diag *d);
/* Rewards a batch operation changes per statement: a multi-row UPDATE inside a
 * transaction keeps a statement journal (in memory with temp_store=MEMORY on SQLite), so
 * statements are cut into seq ranges of this many rewards to bound memory. */
#define BATCH_CHUNK 50000
/* Step `st` (a bound "SELECT seq ... ORDER BY seq") and cut its rows into ranges of at
 * most BATCH_CHUNK: *out holds [lo, hi] pairs (2 * *out_n values, inclusive, caller
 * frees). */
enum ff_err batch_chunks(struct engine *e, struct store_stmt *st, int64_t **out, size_t *out_n,
			 struct ff_diag *d);
/* Moving a batch's rewards to a new status (fulfilled, reconciled), one seq range of
 * batch_chunks at a time: an UPDATE of the rewards, then their history rows. */
struct batch_move {
	enum store_query update;  /* bound (now, [reference,] batch, lo, hi) */
	const char *reference;	  /* bound second when non-NULL */
	const char *what;	  /* names the UPDATE in a store error: "batch fulfil" */
	enum store_query history; /* bound (actor, why, now, batch, lo, hi); 0: none */
	const char *actor, *why, *batch;
	int64_t now;
};
/* Apply `m` to the rewards with seq in [lo, hi]; adds how many changed to *changed. */
enum ff_err batch_move_chunk(struct engine *e, const struct batch_move *m, int64_t lo, int64_t hi,
			     int64_t *changed, struct ff_diag *d);
/* Enqueue the webhook of a batch milestone ("batch.closed", "batch.reconciled") in the
 * current transaction. */
enum ff_err batch_notify(struct engine *e, const char *type, const char *id, struct ff_diag *d);

#endif
