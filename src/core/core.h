/*
 * core.h - private to src/core: the engine handle, the compiled program, the reward
 * row, and the functions the core files share. The public face is
 * include/fulfill/engine.h; nothing outside src/core includes this file except
 * connectors, which get the ledger and reward types through it.
 */
#ifndef FULFILL_CORE_H
#define FULFILL_CORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fulfill/engine.h"
#include "fulfill/fftime.h"
#include "store/store.h"

#define ID_MAX 128          /* longest external id */
#define EVENT_MAX (1 << 20) /* longest event document, bytes */
#define PROGRAM_MAX_REWARDS 16
#define PROGRAM_MAX_TIERS 32
#define PROGRAM_MAX_LIMITS 8
#define PROGRAM_CACHE 32

enum reward_type {
	RT_CREDIT,
	RT_PERCENT_DISCOUNT,
	RT_COUPON,
	RT_GIFT_CARD,
	RT_CASH,
	RT_POINTS,
	RT_CUSTOM,
	RT__COUNT
};
extern const char *const reward_type_names[RT__COUNT];
int reward_type_parse(const char *s);

/* One reward a program grants (an entry of "rewards" or "tiers"). */
struct reward_spec {
	bool to_referrer; /* else to the referred person */
	enum reward_type type;
	int64_t amount, percent_bp, max_amount, months, quantity, from;
	bool has_amount, has_percent, has_max, has_months;
	char pool[64], brand[64], sku[64];
};

enum limit_period { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH, PERIOD_YEAR };
struct program_limit {
	char key[48];       /* as written: "referrer_rewards_per_year" */
	bool amount;        /* a cap on the amount, else on the count */
	enum limit_period period;
	int64_t value;
};

/* Fraud signals (SPEC §7) and what a program does with each. */
enum fraud_signal {
	SIG_SELF_REFERRAL,
	SIG_EXISTING_CUSTOMER,
	SIG_DUPLICATE_REFERRAL,
	SIG_VELOCITY,
	SIG_PAYOUT_THRESHOLD,
	SIG_BLOCKLIST,
	SIG__COUNT
};
enum fraud_action { FRAUD_OFF, FRAUD_REVIEW, FRAUD_REJECT };
extern const char *const fraud_signal_names[SIG__COUNT];

/* A program version compiled from its JSON document. */
struct program {
	char id[ID_MAX + 1];
	char name[256];
	char currency[8];
	int version;
	bool trigger_referral; /* else "conversion" */
	bool last_touch;       /* else first touch */
	json_t *eligibility;   /* borrowed from doc */
	struct reward_spec rewards[PROGRAM_MAX_REWARDS];
	int nrewards;
	struct reward_spec tiers[PROGRAM_MAX_TIERS];
	int ntiers;
	struct program_limit limits[PROGRAM_MAX_LIMITS];
	int nlimits;
	int64_t hold_days, expires_days;
	enum fftime_schedule schedule;
	char timezone[64];
	bool review_always;
	bool has_review_amount;
	int64_t review_amount_at_least;
	json_t *review_when; /* borrowed from doc, may be NULL */
	bool uses_stats;     /* the rules read stats.*: compute them for the context */
	char connector[RT__COUNT][32];
	char fulfiller[ID_MAX + 1];
	/* fraud */
	enum fraud_action fraud[SIG__COUNT];
	bool ip_subnet24;           /* self-referral by IP: same /24 (IPv4) or /64 (IPv6) */
	int64_t velocity_max;       /* referrals per window before `velocity` fires */
	int64_t velocity_window_ms;
	bool has_payout_threshold;
	int64_t payout_threshold;   /* referrer's reward amount per period */
	enum limit_period payout_period;
	/* anomaly guard */
	bool anomaly_on;
	bool anomaly_rollback;      /* else send new rewards to review */
	int64_t anomaly_factor;     /* payout rate jump that trips it (x previous) */
	int64_t anomaly_sample;     /* conversions of a new version it watches */
	int anomaly_previous;       /* the version active before this one: -1 unknown, 0 none */
	json_t *doc; /* owned */
};

/* Validate a program document; on success compile it into *out (which owns a
 * reference to doc). `id` (may be NULL) must match doc.id when both are given. */
enum ff_err program_compile(json_t *doc, const char *id, struct program *out, struct ff_diag *d);
void program_release(struct program *p);
/* The compiled active version of program `id` (cached), or NULL when the program does
 * not exist or has no active version. Valid until the next call. */
const struct program *program_active(struct engine *e, const char *id);
/* A compiled version (cached); NULL when missing. */
const struct program *program_version_get(struct engine *e, const char *id, int version);

/* A reward row. */
struct reward {
	char id[40];
	char program[ID_MAX + 1];
	int64_t program_version;
	char referral[ID_MAX + 1];
	char conversion[ID_MAX + 1];
	char participant[ID_MAX + 1];
	char role[16];
	char type[24];
	int64_t amount, percent_bp, rate_bp, max_amount, months, quantity;
	bool has_amount, has_percent, has_rate, has_max, has_months, has_quantity;
	char currency[8];
	char code[ID_MAX + 1];
	char pool[64], sku[64], brand[64];
	char status[16];
	char reason[96];
	int64_t hold_until, release_at, expires_at, next_attempt_at, fulfilled_at;
	bool has_hold, has_release, has_expires, has_next_attempt, has_fulfilled;
	char connector[32];
	char fulfiller[ID_MAX + 1];
	char external_reference[256];
	char batch[64];
	char signals[1024];
	int64_t attempts;
	char last_error[256];
	int64_t created_at, updated_at;
	/* when it was earned (the event's occurred_at, at most created_at): the period its
	 * referrer's limits count it in. Written at insert only (0: created_at). */
	int64_t earned_at;
};

struct engine {
	struct store *st;
	struct engine_config cfg;
	char key_id[17];     /* names the master key that sealed a row (rotation) */
	bool has_previous_key;
	uint8_t previous_key[FF_MASTER_KEY_BYTES];
	/* audit chain tail, valid inside one top-level transaction only */
	bool audit_cached;
	int64_t audit_seq;
	char audit_hash[65];
	/* Facts looked up once per top-level transaction (a chunk of ingest, a worker
	 * batch): valid while gen == tx_gen and a transaction is open; anything in the
	 * engine that changes one of them invalidates it. Another process cannot change
	 * them under an open write transaction on SQLite; on PostgreSQL a change
	 * committed meanwhile is seen by the next transaction, as with a plain read
	 * at READ COMMITTED. */
	int64_t tx_gen;
	int64_t blocklist_gen;
	bool blocklist_is_empty;
	int64_t tax_types_gen;
	bool tax_reportable[RT__COUNT];
	int64_t webhooks_gen;
	json_t *webhooks; /* [[endpoint id, events text], ...] of enabled endpoints */
	/* {id: eligibility context} of the participants read (an ingest chunk asks for
	 * the same referrers again and again); participant_upsert drops its entry. Where
	 * the store has a data version (SQLite) it outlives its transaction: the next one
	 * keeps it when the version it starts with is the one the last commit left, i.e.
	 * nobody else wrote anything in between (participant_cache_carry()). */
	int64_t participants_gen;
	int64_t participants_dv; /* data version after the commit; -1: not kept */
	json_t *participants;
	json_t *participants_old; /* a large discarded cache, freed a slice per transaction */
	struct {
		char id[ID_MAX + 1];
		int version; /* 0: none active */
		int64_t gen;
	} active[8];
	int active_next;
	/* compiled program versions, small round-robin cache (versions are immutable) */
	struct program programs[PROGRAM_CACHE];
	bool program_used[PROGRAM_CACHE];
	int program_next;
	/* fulfillment: set after this handle's first external issue pass, which re-drives
	 * every `issuing` reward (a restarted worker completes what a crash interrupted) */
	bool issuing_recovered;
	int64_t recover_before; /* ... those last touched before this handle's first pass */
	/* notifications: the SMTP connector config was looked up / is missing */
	/* A deferring transaction (core_defer: a worker chunk) keeps its audit records and
	 * its ledger balance changes here and writes them when it commits (core_end): the
	 * audit chain lock and the balance rows - the program's account is one row that
	 * every worker credits from - are then held for the end of the chunk only, so
	 * workers on the same database overlap instead of taking turns. */
	bool defer;
	struct audit_pending *audit_pending;
	size_t audit_npending, audit_cap;
	struct balance_pending *balance_pending;
	size_t balance_npending, balance_cap;
};

/* Transactions owned by core functions (nest as savepoints). core_end() commits when
 * err is FF_OK, else rolls back, and returns err (or the commit's failure). */
enum ff_err core_begin(struct engine *e, struct ff_diag *d);
enum ff_err core_end(struct engine *e, enum ff_err err, struct ff_diag *d);
/* Right after core_begin() of a top-level transaction that takes no savepoints (a
 * worker chunk): audit records and ledger balance changes wait until core_end()
 * commits it, and are then written together, the audit chain lock taken first. Until
 * then ledger_balance() adds the waiting changes to what it reads. */
void core_defer(struct engine *e);
/* How often a transaction that lost a race (deadlock, serialization failure, busy,
 * a connection lost between statements) runs again before its error is returned. */
#define CORE_TX_RETRIES 5
/* true when `err`, just returned for a transaction, is such a transient conflict: the
 * whole transaction may run again (everything it did was rolled back). */
bool core_retryable(struct engine *e, enum ff_err err);
/* Sleep a little before retry number `attempt` (0-based), with jitter, so the
 * transactions that collided do not collide again. */
void core_retry_pause(int attempt);
/* true when a fact cached at generation `gen` is still valid (see struct engine). */
static inline bool core_tx_cached(const struct engine *e, int64_t gen)
{
	return gen == e->tx_gen && store_depth(e->st) > 0;
}
/* Forget the per-transaction facts (after changing programs, endpoints, blocklist). */
void core_tx_forget(struct engine *e);

/* Delete the Idempotency-Key records older than 24 hours at `now` (the worker pass;
 * an expired record answers no more, keys.c); *out = how many. */
enum ff_err idem_purge(struct engine *e, int64_t now, int64_t *out, struct ff_diag *d);

/* The first column (text) of every row of query `q` run with `arg` as its one
 * parameter, as a JSON array of strings (new reference): ids to act on one by one
 * after the query is done. */
json_t *core_texts_of(struct engine *e, enum store_query q, const char *arg);

/* What a partner key (scoped to one participant) is not shown of its own referrals:
 * the fraud checks' findings and the data they looked at. For a partner actor, the
 * referral object `o` (NULL is fine) loses what its "signals" array held ([]), its
 * "ip" and "device_id" become null (the referred person's), and a "rejection_reason"
 * ("signal: detail") keeps the check's name only. Any other actor: nothing changes. Explanations: rules_redact_for_partner. docs/api-roles.md. */
void core_redact_for_partner(const struct actor *a, json_t *o);

/* Map a failed store call to FF_E_STORE with the database's message. */
enum ff_err core_store_fail(struct engine *e, struct ff_diag *d, const char *what);
/* Read every row of `st` (bound, not yet stepped) and append its first column, a text
 * id, to the array `ids`: a list of ids to load and change one by one after the query
 * is done with. FF_OK, or core_store_fail(`what`) when a step failed (`ids` then holds
 * the rows read before). */
enum ff_err core_collect_ids(struct engine *e, struct store_stmt *st, json_t *ids, const char *what,
			     struct ff_diag *d);
/* Finish a read-only public call: release read snapshots. Returns err. */
enum ff_err core_done(struct engine *e, enum ff_err err);

/* Audit: append one record {actor, action, target, detail} to the hash chain in the
 * current transaction. `detail` is not stolen (may be NULL). */
enum ff_err audit_append(struct engine *e, const char *actor, const char *action, const char *target,
			 json_t *detail, struct ff_diag *d);
/* The same with `detail` as canonical JSON text already (what audit_canonical() would
 * make of the value: sorted keys, compact), written directly on hot paths; stolen. */
enum ff_err audit_append_text(struct engine *e, const char *actor, const char *action, const char *target,
			      char *detail, struct ff_diag *d);
/* Serialize `detail` canonically (sorted keys, compact); caller frees. */
char *audit_canonical(json_t *v);
/* Deferring transactions (core_defer): take the chain lock and read its tail (before
 * any other write of the flush), then append the waiting records. */
enum ff_err audit_lock_deferred(struct engine *e, struct ff_diag *d);
enum ff_err audit_flush_deferred(struct engine *e, struct ff_diag *d);
/* Forget what waits (the transaction rolled back). */
void audit_drop_deferred(struct engine *e);

/* The audit detail of reward.created (canonical JSON text; free()). */
char *reward_created_detail(const struct reward *r);
/* The audit detail of conversion.created, {amount, currency, participant, rewards} (the
 * reward ids), as canonical JSON text (free()). */
char *conversion_created_detail(int64_t amount, const char *currency, const char *participant,
				const json_t *rewards);

/* A connector call of this reward went out and got no definite answer (no response, a
 * 5xx, a 408): the provider may have paid it. Marked by this prefix of last_error, which
 * stays through later indefinite attempts, breaker holds and running out of attempts,
 * until a definite answer (2xx, or a 4xx to the same idempotency key) settles it
 * (connector.c). Until then the reward is not cancelled, expired or refund-cancelled. */
#define REWARD_UNKNOWN_PREFIX "outcome unknown: "
static inline bool reward_outcome_unknown(const struct reward *r)
{
	return !strncmp(r->last_error, REWARD_UNKNOWN_PREFIX, sizeof(REWARD_UNKNOWN_PREFIX) - 1);
}

/* A reward in a payout batch (batch.c): an open batch lets it go (it leaves the batch,
 * whose count and totals are written again: batch_release_reward, before the reward's
 * own change); a closed one (submitted to the distributor) is being paid and holds it:
 * it is neither cancelled nor expired nor changed in amount then - a refund meanwhile is
 * applied when the batch is fulfilled, as a reversal. Rewards of fulfilled batches are
 * paid ones (BATCH_NONE). */
enum batch_hold { BATCH_NONE, BATCH_OPEN, BATCH_LOCKED };
enum batch_hold batch_hold_of(struct engine *e, const struct reward *r);
enum ff_err batch_release_reward(struct engine *e, struct reward *r, struct ff_diag *d);

/* Blocked participants (block.c, docs/fraud.md): no money moves to them. */
#define REWARD_REASON_BLOCKED "review:participant_blocked"
/* Whether participant `id` has status blocked (one read, in the caller's transaction). */
bool participant_blocked(struct engine *e, const char *id);
/* Hold reward r (pending or approved, its participant blocked) for review with reason
 * REWARD_REASON_BLOCKED; it leaves any batch not yet fulfilled. */
enum ff_err reward_hold_blocked(struct engine *e, struct reward *r, const char *actor, struct ff_diag *d);
/* Participant `id` was just blocked: hold every reward of it not yet delivered
 * (reward_hold_blocked); *out_held counts them. Inside the caller's transaction. */
enum ff_err participant_hold_rewards(struct engine *e, const char *id, const char *actor, int64_t *out_held,
				     struct ff_diag *d);
/* Hold each reward whose id is the first column of the rows of `st` (bound, not yet
 * stepped); *out_held (may be NULL) counts them. */
enum ff_err rewards_hold_blocked_of(struct engine *e, struct store_stmt *st, const char *actor, int64_t *out_held,
				    struct ff_diag *d);

/* Rewards */
bool reward_status_valid(const char *s);
/* a reason GET /v1/rewards?reason= accepts (SPEC.md section 4) */
bool reward_reason_valid(const char *s);
/* true when the state machine allows from -> to. */
bool reward_transition_allowed(const char *from, const char *to);
/* The reward at the statement's current row: every query that reads a whole reward
 * selects REWARD_COLS (queries.c). */
void reward_from_row(struct store_stmt *st, struct reward *r);
/* Load a reward by id; FF_E_NOT_FOUND when missing. */
enum ff_err reward_load(struct engine *e, const char *id, struct reward *out, struct ff_diag *d);
/* One history row: `reward` is a reward id, or a batch id for a batch reconciliation's
 * one row (docs/finance.md); `reason` may be NULL or "". Sent ahead. */
enum ff_err reward_history_add(struct engine *e, const char *reward, const char *from, const char *to,
			       const char *actor, const char *reason, int64_t at, struct ff_diag *d);
/* Insert a new reward (status/reason set) with its first history row ("created" -> status). */
enum ff_err reward_insert(struct engine *e, struct reward *r, const char *explanation, const char *actor,
			  struct ff_diag *d);
/* Move r to `to` with `reason` (NULL for none): history row, audit record, row update
 * (also persists r's amount, external reference, attempts, next_attempt_at, ...).
 * FF_E_INVALID_TRANSITION when not allowed. */
enum ff_err reward_transition(struct engine *e, struct reward *r, const char *to, const char *reason,
			      const char *actor, struct ff_diag *d);
/* Persist changed fields of r without a status change. */
enum ff_err reward_update(struct engine *e, const struct reward *r, struct ff_diag *d);
/* The API object for a reward. */
json_t *reward_json(const struct reward *r);
/* The members of reward_json(r), as text, into an object `w` has open. */
struct jsonw;
void reward_write_members(struct jsonw *w, const struct reward *r);
/* The status a reward takes once it leaves review/creation: pending (with reason
 * hold_period or schedule) when its release time is in the future, else approved. */
const char *reward_release_status(const struct reward *r, int64_t now, const char **out_reason);
/* Reason an approved reward waits with, by connector. */
const char *reward_approved_reason(const struct reward *r);

/* Ledger (credit and points balances). Accounts: "participant:<id>", "program:<id>",
 * "redemptions", "expired". */
/* Credit a fulfilled reward: one lot with the reward's expiry, postings program -> participant. */
enum ff_err ledger_credit(struct engine *e, const struct reward *r, int64_t now, struct ff_diag *d);
/* Take back `amount` of reward r (clawback): from its lot first, then other lots; the
 * balance may go negative (owed). */
enum ff_err ledger_clawback(struct engine *e, const struct reward *r, int64_t amount, int64_t now,
			    struct ff_diag *d);
/* Expire what remains of reward r's lot; *out_amount = what was deducted. */
enum ff_err ledger_expire(struct engine *e, const struct reward *r, int64_t now, int64_t *out_amount,
			  struct ff_diag *d);
/* Balance of a participant in a currency. */
int64_t ledger_balance(struct engine *e, const char *participant, const char *currency);
/* Lock the balance rows of the participants of rewards[0..n) (PostgreSQL; nothing on
 * SQLite) in one fixed order, before a worker chunk changes any: every later lock of
 * the chunk is on a row it holds already, so chunks that share participants wait for
 * each other instead of deadlocking. */
enum ff_err ledger_lock_balances(struct engine *e, const struct reward *rewards, size_t n, struct ff_diag *d);
/* Remaining amount of reward r's lot (0 when none). */
int64_t ledger_lot_remaining(struct engine *e, const char *reward);
/* Deferring transactions (core_defer): write the waiting balance changes, one upsert
 * per account and currency, in that order (so two writers lock rows in one order). */
enum ff_err ledger_flush_deferred(struct engine *e, struct ff_diag *d);
void ledger_drop_deferred(struct engine *e);

/* Participants (ingest helpers) */
bool participant_exists(struct engine *e, const char *id);
/* The participant as an eligibility context object (fields + attributes). NULL if
 * missing. Read-only: inside a transaction the value is shared with the engine's cache
 * (a participant's update drops it from the cache, it is never changed in place). */
json_t *participant_context(struct engine *e, const char *id);
/* What the fraud checks read of `id`'s row, when this transaction's context cache holds
 * it (participant_context() put it there): [email_hash or null, status, devices or null,
 * ips or null (null: none)], borrowed until the cache changes; else NULL. */
json_t *participant_cached_row(struct engine *e, const char *id);
/* The context cache (struct engine): drop `id`'s entry (every write to its row must);
 * note a top-level commit (core_end); keep the cache into a new top-level transaction
 * if nothing was written since that commit (core_begin). */
void participant_cache_drop(struct engine *e, const char *id);
void participant_cache_committed(struct engine *e);
void participant_cache_carry(struct engine *e);
/* The participant's API object (decrypted e-mail and name). NULL if missing. */
json_t *participant_json(struct engine *e, const char *id);
/* Normalize an e-mail for hashing (lower-case, +tag removed, gmail dots removed). */
void email_normalize(const char *in, char *out, size_t n);

/* Rules: evaluate a program for a referral (and conversion, when trigger=conversion)
 * and create the rewards. ctx is the eligibility context (not stolen). The created
 * reward ids are appended to out_ids. *out_expl is the explanation (new reference). */
struct rule_input {
	const struct program *prog;
	json_t *ctx;
	const char *referral;
	const char *referrer;
	const char *referred;
	bool referral_successful; /* the referral already earned before */
	json_t *signals;          /* fraud signals of the referral (borrowed), may be NULL */
	const char *conversion; /* NULL for referral-triggered */
	int64_t conversion_amount;
	const char *conversion_currency;
	int64_t now;
	const char *actor;
};
enum ff_err rules_apply(struct engine *e, const struct rule_input *in, json_t *out_ids, json_t **out_expl,
			struct ff_diag *d);
/* Evaluate eligibility only: *out_ok and an explanation array of clauses. */
enum ff_err rules_eligible(const struct program *p, json_t *ctx, bool *out_ok, json_t **out_clauses,
			   struct ff_diag *d);
/* A moment in the past to compute stats at: when a stored conversion was ingested. */
struct stats_at {
	int64_t conversion_seq;	  /* its row's seq: the conversions before it */
	int64_t ingested_at;	  /* its created_at: the referrals created or succeeded by then */
	const char *referral;	  /* the referral it was attributed to ... */
	bool referral_successful; /* ... and whether that one had succeeded before it */
};
/* Add the stats.* a program needs (all of them when its rules read stats, the
 * referrer's successful referrals when it has tiers) to ctx, if missing: as they stand
 * now, or (at non-NULL: a simulation replaying a stored conversion) as they stood when
 * that conversion was ingested, to the millisecond; the rewards counted are those in
 * the database. */
void rules_fill_stats(struct engine *e, const struct program *p, json_t *ctx, const struct stats_at *at);
/* Amount of a percent reward for a base amount (half-even, capped by max). */
int64_t rules_percent_amount(int64_t base, int64_t bp, bool has_max, int64_t max);
/* The name a {"var": name} (or {"var": [name, default]}) operand of a rule reads, or
 * NULL for any other operand. Borrowed. */
const char *rules_var_name(json_t *operand);
/* Whether `v` is a value written in the rule itself (no operation in it): the
 * program's own. */
bool rules_is_literal(json_t *v);
/* Whether a reward entry of an explanation ("rewards") was not made because a limit of
 * the program was reached (rather than a fraud check). */
bool rules_capped_by_limit(json_t *entry);
/* The pieces of an explanation's sentences (rules_eligibility.c), which redact.c makes again for a
 * partner: the two operands of a clause that compares two things ({"op": [a, b]}, the
 * operator in *out_op; NULL for any other shape; borrowed); the sentence of such a
 * clause from its operands, the values they had and which of those to show ("referrer
 * .country (\"US\") == \"US\": true"); the `failed` lines of the clauses that failed
 * (new reference); how a percent reward was computed ("1000 bp of BASE, at most M"). */
json_t *rules_comparison_args(json_t *clause, const char **out_op);
json_t *rules_comparison_text(const char *op, json_t *args, json_t *values, const bool shown[2], bool ok);
json_t *rules_failed_lines(json_t *clauses);
void rules_computed_text(char *out, size_t n, int64_t bp, const char *base, bool has_max, int64_t max);
/* What a partner key reads of an explanation `expl` (modified in place; NULL is fine)
 * that it may see because its participant is the referral's `party` ("referrer" or
 * "referred"): the rule, each clause's result and the outcome stay, and the values of
 * the other party (the referred person's and their purchase's for a referrer; the
 * referrer's for the referred person) go, from each clause's `value`, `values` and
 * sentence, and from `failed`; a fraud check's findings and its name ("signals", a
 * rejection's reason) go for either; the other party's rewards say only what the
 * program gives them; the referrer's tier and limits are the referrer's alone; the
 * anomaly guard's figures are nobody's. Each program of a multi-program explanation
 * likewise. Any other actor: nothing changes. docs/api-roles.md. */
void rules_redact_for_partner(const struct actor *a, json_t *expl, const char *party);

/* A referral's evaluation in words its referrer may read (evaluation.c): {at,
 * trigger, outcome, eligible, reasons} from the stored explanation `expl` (borrowed) of
 * a conversion - its entry for `referral` - or, with referral NULL, of the referral
 * itself; `currency` (the program's, may be NULL) formats amounts, `at` is when it
 * was evaluated. Without `referrers` (the referred person's key) the reasons leave out
 * what stopped the referrer's rewards (its limits, its payout checks: the referrer's,
 * as in rules_redact_for_partner). NULL when `expl` did not evaluate that referral. New
 * reference. */
json_t *evaluation_summary(json_t *expl, const char *referral, const char *currency, int64_t at,
			   bool referrers);

/* The key id of a master key: 16 hex digits of a keyed hash. */
void engine_key_id(const uint8_t key[FF_MASTER_KEY_BYTES], char out[17]);
/* The meta row of a master key rotation (keyrotation.c): {key_id: the key it moves to,
 * complete, from_key_id: once complete, the key it moved away from, <kind>: cursor...}.
 * engine_open() reads it to tell a rollout's new key from a wrong one. */
#define CORE_ROTATE_STATE "master_key_rotation"
/* That row, parsed (NULL when there is none or it is not JSON). New reference. */
enum ff_err core_rotation_state(struct engine *e, json_t **out, struct ff_diag *d);
/* Record `key_id` as the key the database is sealed with (meta.master_key_id, which
 * engine_open() checks the key it is given against): the last step of a master key
 * rotation, in its transaction. The id it replaces goes to *from ("" when none was
 * recorded). */
enum ff_err core_key_check_move(struct engine *e, const char key_id[17], char from[17], struct ff_diag *d);
/* Open a value sealed with the master key (crypto_seal): with the current key, else,
 * while a rotation is rolled out, with the previous one. Every reader of a sealed
 * column goes through it, so that rows a rotation has not reached yet, or has, both
 * read. NULL when `sealed` is NULL or neither key opens it. Caller frees. */
char *core_unseal(struct engine *e, const char *sealed);

/* The eligibility context `program` saw when the conversion whose stored context is
 * `text` was evaluated: the context itself, or its member for `program` when several
 * programs evaluated the conversion ({"by_program": {...}}). NULL when there is none.
 * New reference. */
json_t *conversion_context(const char *text, const char *program);

/* Refund handling for one conversion after its refunded total changed. `reason` is the
 * history reason of the rewards it cancels or reverses; NULL: the reason of the
 * conversion's last refund (for refunds applied after a batch or a delivery settles). */
enum ff_err refund_apply(struct engine *e, const char *conversion, const char *reason, int64_t now,
			 const char *actor, json_t *out_changed, struct ff_diag *d);

/* ---- fulfillment (codepool.c, outbox.c, notify.c) ---- */
/* Code pools: assign the next available code of r->pool to r (inside the caller's
 * transaction). CONNECTOR_* results as ints to keep connect/ out of this header:
 * 0 assigned (code copied into r->code), 1 pool empty (held: pool_empty), 2 per-
 * participant limit reached or no pool (permanent; *why says which), -1 store error. */
int codepool_assign(struct engine *e, struct reward *r, int64_t now, char *why, size_t why_n, struct ff_diag *d);
/* Transactional outbox: queue webhook event `type` with `data` (not stolen) for every
 * enabled endpoint subscribed to it, in the current transaction. */
enum ff_err outbox_event(struct engine *e, const char *type, json_t *data, struct ff_diag *d);
/* Whether an enabled endpoint subscribes to `type`, so a caller can skip building a
 * payload nobody receives (a big batch's counts). False with *err set on a store error. */
bool outbox_subscribed(struct engine *e, const char *type, enum ff_err *err, struct ff_diag *d);
/* The events and e-mail notifications of one reward transition (from "created" for a
 * new reward), in the current transaction. Called by reward_insert/reward_transition. */
enum ff_err outbox_reward_changed(struct engine *e, const struct reward *r, const char *from, const char *to,
				  struct ff_diag *d);
/* Queue the e-mail of `milestone` ("earned", "fulfilled", "cancelled", "reversed",
 * "tax_form_required") for r's participant when r's program asks for it. */
enum ff_err notify_reward(struct engine *e, const struct reward *r, const char *milestone, struct ff_diag *d);
/* Check a program's "notifications" field (program_compile): milestones, sender,
 * templates with known placeholders only. */
enum ff_err notify_compile(json_t *v, struct ff_diag *d);
/* Worker steps: deliver due webhooks / e-mails; counts what was delivered. */
enum ff_err outbox_deliver_pass(struct engine *e, int64_t now, int64_t *out_delivered, struct ff_diag *d);
enum ff_err notify_deliver_pass(struct engine *e, int64_t now, int64_t *out_sent, struct ff_diag *d);

/* Helpers */
/* Members with constant keys for objects built per event on the ingest path (what
 * json_pack builds, without parsing a format and checking each key: json_pack was
 * about 8% of the group-commit writer's instructions). jset takes v's reference. */
static inline void jset(json_t *o, const char *key, json_t *v)
{
	json_object_set_new_nocheck(o, key, v);
}
/* json_pack's "s?": a string, or null for NULL. */
static inline json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}
/* Copy at most n-1 bytes of s (NULL -> ""). */
void copy_str(char *dst, size_t n, const char *s);
/* s, or NULL when s is NULL or "": what a report row writes as null (a reward without a
 * currency or a reason, read through the queries' COALESCE(x, '')). */
const char *text_or_null(const char *s);
/* Render ms as an RFC 3339 JSON string, or null when !has. */
json_t *json_time(int64_t ms, bool has);
/* Parse the stored JSON text (NULL -> def). New reference. */
json_t *json_from_text(const char *text, const char *def);
/* Clamp a page: limit 1..1000, default 100. */
int page_limit(const struct page *p);
/* Build {"object":"list","data":data,"has_more":..}: data has at most limit+1 items;
 * the extra one is dropped and has_more set. Steals data. */
json_t *list_json(json_t *data, int limit);

/* Finance (tax.c, fx.c) */
/* true when a reward of `type`/`amount`/`currency` for `participant` must wait pending
 * with reason tax_form_required: the type is reportable, the participant has no tax form,
 * its country has a threshold, and its reportable total this calendar year (rewards paid
 * this year or not yet paid, not cancelled/reversed/expired, converted to the threshold's
 * currency) plus this amount reaches the threshold. For a reward not yet inserted. */
bool tax_form_required(struct engine *e, const char *participant, const char *type, int64_t amount,
		       const char *currency, int64_t now);
/* The same for an existing reward about to be approved (a reviewed one, a retried one):
 * its own amount is counted once, not again as one of the participant's rewards. */
bool tax_form_required_for(struct engine *e, const struct reward *r, int64_t now);
/* The same check for an existing reward (not counted twice). When it applies and r is
 * pending, r keeps status pending with reason tax_form_required (history row, audit)
 * and *out_held is set. For the worker's release loop. */
enum ff_err tax_hold(struct engine *e, struct reward *r, const char *actor, int64_t now, bool *out_held,
		     struct ff_diag *d);
/* Let r, pending with reason tax_form_required, go on: approved, or pending with reason
 * hold_period or schedule while its hold or payout day has not come. */
enum ff_err tax_release(struct engine *e, struct reward *r, const char *actor, int64_t now, struct ff_diag *d);
/* The first worker pass of a calendar year (UTC) judges the rewards held for a tax form
 * again against the new year's total: those it no longer needs go on (tax_release);
 * *released counts them. Later passes of the year read one meta row. Own transaction. */
enum ff_err tax_holds_recheck(struct engine *e, const char *actor, int64_t now, int64_t *released,
			      struct ff_diag *d);
/* Convert `amount` minor units of `from` into `to` with the fx table (half-even, currency
 * exponents respected). false when no rate exists (identity when from == to). */
bool fx_convert(struct engine *e, int64_t amount, const char *from, const char *to, int64_t *out);
/* The configured reporting currency (fx_rates_set), else "USD". */
void fx_reporting_currency(struct engine *e, char out[8]);

#endif
