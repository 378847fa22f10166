/*
 * engine.h - the core of fulfill as one API that the CLI and the HTTP server share.
 *
 * A `struct engine` is one database connection plus caches. It is NOT thread-safe:
 * each thread (HTTP worker, group-commit writer, fulfillment worker) opens its own
 * with the same `struct engine_config`. Every function takes the acting principal
 * (`struct actor`) and enforces scope: an object outside a scoped key's scope is
 * FF_E_NOT_FOUND, never FF_E_FORBIDDEN. Role checks per route live in the HTTP
 * route table (docs/api.md); the core checks scope and business rules.
 *
 * Results are jansson objects in the API's shape (API.md): on FF_OK, *out is a new
 * reference owned by the caller. On error *out is untouched and `d` says why.
 * Each mutating function owns its transaction (nested inside an outer
 * engine_tx_begin() as a savepoint), and writes its audit records in it.
 */
#ifndef FULFILL_ENGINE_H
#define FULFILL_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fulfill/crypto.h"
#include "fulfill/error.h"

struct engine;

enum role {
	ROLE_ADMIN,
	ROLE_OPERATOR,
	ROLE_FINANCE,
	ROLE_AUDITOR,
	ROLE_INGEST,
	ROLE_FULFILLER,
	ROLE_PARTNER,
	ROLE__COUNT
};

/* "admin" ... "partner"; NULL for an out-of-range value. */
const char *role_name(enum role r);
/* Parse a role name; -1 when unknown. */
int role_parse(const char *s);

/* Who is acting. `label` goes into audit records and reward history: "cli" for the
 * local operator, "key:<prefix>" for an API key. Scoped keys carry `participant`
 * (partner) or `fulfiller` (fulfiller); empty when unscoped. */
struct actor {
	enum role role;
	char label[48];
	char key_prefix[40];
	char participant[128];
	char fulfiller[128];
};

/* The local operator on the command line: admin, label "cli". */
void actor_cli(struct actor *out);

struct engine_config {
	char db_url[1024];                         /* "sqlite:PATH", a path, or postgres://... */
	uint8_t master_key[FF_MASTER_KEY_BYTES];   /* PII encryption / keyed hashes */
	bool has_master_key;
	char webhook_allow_hosts[1024];            /* comma-separated */
	int64_t max_body;                          /* bytes; default 10 MiB */
};

/* Fill defaults (db sqlite:fulfill.db, 10 MiB). */
void engine_config_init(struct engine_config *cfg);

/* Resolve the master key the way API.md says: FULFILL_MASTER_KEY (64 hex), or
 * `key_file`, or for SQLite a PATH.key file created beside the database (mode 0600,
 * with a warning on stderr). PostgreSQL without a key is an error. */
enum ff_err engine_config_load_key(struct engine_config *cfg, const char *key_file, struct ff_diag *d);

/* Open the database, run migrations. */
enum ff_err engine_open(const struct engine_config *cfg, struct engine **out, struct ff_diag *d);
void engine_close(struct engine *e);

/* Explicit transaction around several calls (idempotency records are written in the
 * same transaction as the effect). Nestable: inner calls use savepoints. */
enum ff_err engine_tx_begin(struct engine *e);
enum ff_err engine_tx_commit(struct engine *e);
void engine_tx_rollback(struct engine *e);

/* Database reachable? (readyz) */
bool engine_ping(struct engine *e);

/* ---- paging ---- */
struct page {
	int limit;                  /* 1..1000; 0 means the default 100 */
	const char *starting_after; /* an id, or NULL */
};

/* ---- events (SPEC §2) ---- */

/* One event to ingest: the raw JSON text of one event object. Results are filled
 * per item: on success `result` = {"id","outcome":"accepted"|"duplicate","rewards":[..]};
 * on failure `err`/`diag` and `result` NULL. When `idem_scope` is set the response
 * (200 + result) is stored as the idempotency record (scope, key, fingerprint) in the
 * same savepoint as the event. */
struct ingest_item {
	const char *text;
	size_t len;
	const char *idem_scope;
	const char *idem_key;
	const char *idem_fingerprint;
	/* out */
	json_t *result;
	enum ff_err err;
	struct ff_diag diag;
};

/* Ingest `n` events in ONE transaction, each in its own savepoint: a bad event fails
 * alone. Returns an error only when the transaction itself failed (then every item
 * has err set). Caller frees each item's result. */
enum ff_err engine_ingest(struct engine *e, const struct actor *a, struct ingest_item *items, size_t n,
			  struct ff_diag *d);

/* Same as engine_ingest for an already-parsed event (CSV import). */
enum ff_err engine_ingest_json(struct engine *e, const struct actor *a, json_t *event, json_t **out,
			       struct ff_diag *d);

/* ---- programs (SPEC §3) ---- */
enum ff_err engine_program_put(struct engine *e, const struct actor *a, const char *id, json_t *doc,
			       json_t **out, struct ff_diag *d);
enum ff_err engine_program_list(struct engine *e, const struct actor *a, const struct page *p,
				json_t **out, struct ff_diag *d);
enum ff_err engine_program_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
			       struct ff_diag *d);
enum ff_err engine_program_version(struct engine *e, const struct actor *a, const char *id, int version,
				   json_t **out, struct ff_diag *d);
enum ff_err engine_program_diff(struct engine *e, const struct actor *a, const char *id, int from, int to,
				json_t **out, struct ff_diag *d);
enum ff_err engine_program_approve(struct engine *e, const struct actor *a, const char *id, int version,
				   json_t **out, struct ff_diag *d);
enum ff_err engine_program_activate(struct engine *e, const struct actor *a, const char *id, int version,
				    json_t **out, struct ff_diag *d);
enum ff_err engine_program_rollback(struct engine *e, const struct actor *a, const char *id, int version,
				    json_t **out, struct ff_diag *d);
/* Load a program document as a new version; with `activate`, approve and activate it
 * as the actor (the CLI bootstrap path: audited, bypasses the two-person rule). */
enum ff_err engine_program_load(struct engine *e, const struct actor *a, json_t *doc, bool activate,
				json_t **out, struct ff_diag *d);

/* ---- participants, referrals, conversions ---- */
struct participant_filter {
	const char *status;
	const char *country;
};
enum ff_err engine_participants_list(struct engine *e, const struct actor *a,
				     const struct participant_filter *f, const struct page *p,
				     json_t **out, struct ff_diag *d);
/* The participant plus "stats" and "balances". */
enum ff_err engine_participant_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				   struct ff_diag *d);
enum ff_err engine_participant_referrals(struct engine *e, const struct actor *a, const char *id,
					 const struct page *p, json_t **out, struct ff_diag *d);
enum ff_err engine_participant_rewards(struct engine *e, const struct actor *a, const char *id,
				       const struct page *p, json_t **out, struct ff_diag *d);
/* Debit the credit balance (soonest-expiring lots first). FF_E_INSUFFICIENT_BALANCE
 * when short. Result: {"participant","amount","currency","balance"}. */
enum ff_err engine_participant_redeem(struct engine *e, const struct actor *a, const char *id, int64_t amount,
				      const char *currency, json_t **out, struct ff_diag *d);
/* Record a tax form ("w9"/"w8ben"/"none"); releases rewards waiting for it. */
enum ff_err engine_participant_tax_form(struct engine *e, const struct actor *a, const char *id,
					const char *form, json_t **out, struct ff_diag *d);
enum ff_err engine_referral_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				struct ff_diag *d);
/* The conversion, with "explanation" when it earned nothing. */
enum ff_err engine_conversion_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				  struct ff_diag *d);

/* ---- rewards (SPEC §4) ---- */
struct reward_filter {
	const char *status;
	const char *participant;
	const char *program;
	const char *batch;
};
enum ff_err engine_rewards_list(struct engine *e, const struct actor *a, const struct reward_filter *f,
				const struct page *p, json_t **out, struct ff_diag *d);
/* The reward with "history". */
enum ff_err engine_reward_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
			      struct ff_diag *d);
/* Why a reward (or a conversion id: why it earned nothing) came out as it did. */
enum ff_err engine_explain(struct engine *e, const struct actor *a, const char *id, json_t **out,
			   struct ff_diag *d);

enum reward_action { REWARD_APPROVE, REWARD_REJECT, REWARD_RETRY, REWARD_CANCEL };
/* Operator action; FF_E_INVALID_TRANSITION when the state machine forbids it. */
enum ff_err engine_reward_action(struct engine *e, const struct actor *a, const char *id,
				 enum reward_action act, const char *reason, json_t **out, struct ff_diag *d);

/* ---- work ---- */
/* One worker pass at time `now_ms` (0 = now): release holds, fulfill, expire.
 * Result {"released","fulfilled","failed","expired","webhooks"}. */
enum ff_err engine_worker_pass(struct engine *e, const struct actor *a, int64_t now_ms, json_t **out,
			       struct ff_diag *d);

/* ---- reports ---- */
enum ff_err engine_report_participants(struct engine *e, const struct actor *a, json_t **out,
				       struct ff_diag *d);

/* ---- API keys ---- */
/* Create a key; result {"key","prefix","role","name",...}: the key appears only here. */
enum ff_err engine_key_create(struct engine *e, const struct actor *a, const char *role, const char *name,
			      const char *participant, const char *fulfiller, json_t **out,
			      struct ff_diag *d);
enum ff_err engine_key_revoke(struct engine *e, const struct actor *a, const char *prefix, json_t **out,
			      struct ff_diag *d);
/* Check a presented key: format and checksum first (no lookup for typos), then the
 * stored hash. FF_E_UNAUTHORIZED for unknown, malformed or revoked keys. */
enum ff_err engine_key_authenticate(struct engine *e, const char *key, struct actor *out);

/* ---- idempotency (API.md) ---- */
enum idem_state { IDEM_NEW, IDEM_REPLAY, IDEM_REUSED };
/* Look up (scope, key). IDEM_REPLAY fills *out_status and *out_body (caller frees);
 * IDEM_REUSED when the stored fingerprint differs. Records older than 24 h are gone. */
enum ff_err engine_idem_lookup(struct engine *e, const char *scope, const char *key, const char *fingerprint,
			       enum idem_state *out_state, int *out_status, char **out_body);
/* Store the response for (scope, key) in the current transaction. */
enum ff_err engine_idem_store(struct engine *e, const char *scope, const char *key, const char *fingerprint,
			      int status, const char *body);

/* ---- audit ---- */
enum ff_err engine_audit_list(struct engine *e, const struct actor *a, const struct page *p, json_t **out,
			      struct ff_diag *d);
/* {"ok":true,"records":N} or {"ok":false,"first_bad":seq,"records":N}. */
enum ff_err engine_audit_verify(struct engine *e, json_t **out, struct ff_diag *d);

/* ---- ledger ---- */
/* Check the ledger invariants (postings sum to zero per currency, balances match
 * postings, lots match balances). FF_OK or FF_E_INTERNAL with the first violation. */
enum ff_err engine_ledger_verify(struct engine *e, struct ff_diag *d);

/* ---- added by the HTTP server (src/http/metrics.c): NOT YET IMPLEMENTED in core ----
 * Count rewards by status for the fulfill_rewards gauge of GET /metrics: *out =
 * {"pending": N, "review": N, ...} (a new reference; statuses without rewards may be
 * absent). Cheap (one GROUP BY), no actor: it exposes counts only. Until src/core
 * defines it, metrics.c references it weakly and leaves the gauge out. */
enum ff_err engine_reward_status_counts(struct engine *e, json_t **out);
/* ---- end of HTTP addition ---- */

#endif
