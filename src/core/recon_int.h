/*
 * recon_int.h - private to reconciliation (src/core/recon*.c): one run's state, the
 * expected side's hash table, and what recon_match.c (reading a report and matching it
 * against the expected rewards) gives recon.c (recording a run and applying its
 * outcome).
 */
#ifndef FULFILL_CORE_RECON_INT_H
#define FULFILL_CORE_RECON_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

/* ---- the expected side: a hash table over an arena ---- */

struct expected {
	uint32_t key; /* arena offset of the match key (reward id, or external reference) */
	uint32_t id;  /* arena offset of the reward id */
	uint32_t ref; /* arena offset of the external reference ("" when none) */
	bool has_amount;
	bool seen;
	char currency[8];
	int64_t amount;
	int64_t seq; /* the reward's */
};

struct expected_set {
	struct expected *v;
	size_t n, cap;
	char *arena;
	size_t alen, acap;
	uint32_t *slots; /* entry index + 1; 0 = empty */
	size_t nslots;
	uint32_t *id_slots; /* the same by reward id (a connector report with a reward_id column) */
	size_t id_nslots;
};

enum col { COL_REWARD, COL_AMOUNT, COL_CURRENCY, COL_REFERENCE, COL_STATUS, COL__N };

struct run {
	struct expected_set x;
	bool by_reference;
	int cols[COL__N];
	char header[COL__N][64]; /* the report's name of each mapped column */
	int64_t read, matched, mismatch, missing, unexpected, duplicate, invalid, not_paid;
	int64_t listed_matched, listed_other;
	bool truncated;
	json_t *lines;
	json_t *stored; /* first STORED_CAP discrepancies */
};

/* A JSON string of text from the report: invalid UTF-8 bytes become '?'; NULL or ""
 * becomes null. */
/* ---- recon_match.c ---- */

/* A run reading by reward id, or by external reference (a connector's report). */
void recon_run_init(struct run *r, bool by_reference);
/* Free everything the run holds; recon_set_free() the expected side alone. */
void recon_run_release(struct run *r);
void recon_set_free(struct expected_set *x);
/* Room for `n` expected rewards whose ids are about `idlen` bytes. */
void recon_set_reserve(struct expected_set *x, size_t n, size_t idlen);
/* Load what `st` (bound; columns id, amount, currency, reference, seq) says was paid,
 * end the read snapshot before the long read of the report, read the report and list
 * what it lacks. On error `r` is released. */
enum ff_err recon_run_compare(struct engine *e, struct run *r, struct store_stmt *st,
			      const struct recon_input *in, struct ff_diag *d);
/* Whether every line matched and nothing is missing. */
bool recon_all_match(const struct run *r);
/* The run's counts as stored and audited; with its lines and columns, the API object.
 * New references. */
json_t *recon_summary(const struct run *r, const char *id, const char *status, int64_t now);
json_t *recon_result_json(struct run *r, const char *id, const char *status, int64_t now);

#endif
