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
#include <stdio.h>

#include "fulfill/buf.h"
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
	bool writer; /* the process's busy writer (group commit): see store_make_writer() */
	int checkpoint_pages; /* SQLite writer: WAL pages before a background checkpoint (0: 25,000) */
	/* An earlier engine_open() of this process, with this key, passed the master key
	 * check (serve's first open): its later opens (an HTTP thread's on its first
	 * request, the worker's, the group committer's) skip it, so that a rotation that
	 * completes while the process runs does not refuse them (docs/configuration.md:
	 * a process still on the old key keeps running until it is restarted). */
	bool key_checked;
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

/* Whether this engine's commits return before they are durable (cfg.writer on SQLite;
 * see store_make_writer()), and the call that makes them so: 0, or -1 when the disk
 * refused. engine_sync() may run on another thread than the one using the engine. */
bool engine_deferred_sync(const struct engine *e);
int engine_sync(struct engine *e);

/* Explicit transaction around several calls (idempotency records are written in the
 * same transaction as the effect). Nestable: inner calls use savepoints. */
enum ff_err engine_tx_begin(struct engine *e);
enum ff_err engine_tx_commit(struct engine *e);
void engine_tx_rollback(struct engine *e);

/* The schema version the database is at (after migrations). */
int engine_schema_version(struct engine *e);

/* Database reachable? (readyz) Reconnects when the server came back after a restart. */
bool engine_ping(struct engine *e);
/* Can the database be written? (readyz) true unless a write of this process failed for
 * the storage's sake (disk full, read-only file system, I/O error, a refused sync) and
 * has not been followed by one that committed; then one small write is tried now, and
 * on failure `msg` says why. */
bool engine_writable(struct engine *e, char *msg, size_t cap);
/* The database cannot be written by this process at all (a SQLite file it may only
 * read): serve and worker refuse to start on it; read-only commands work. */
bool engine_read_only(struct engine *e);
/* Idle workers: wait up to `timeout_ms` for new work signalled by another process
 * (PostgreSQL LISTEN/NOTIFY: an ingest that approved rewards, a webhook queued).
 * 1 woken, 0 timed out or interrupted by a signal, -1 the backend cannot signal
 * (SQLite) or the connection failed: sleep the poll interval instead. */
int engine_wait_work(struct engine *e, int timeout_ms);

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
	json_t *parsed; /* optional: `text` parsed already (engine_event_parse), e.g. by an
			 * HTTP thread so that the single writer does not; `text` is still
			 * what is stored. Not changed by the engine; the caller frees it. */
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

/* Parse one event's text as engine_ingest does (size limit, UTF-8, JSON, duplicate
 * keys); a failure is the error engine_ingest would report for it. Needs no engine. */
enum ff_err engine_event_parse(const char *text, size_t len, json_t **out, struct ff_diag *d);

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
	const char *reason; /* hold_period, outcome_unknown, review:<signal>, ... */
};
enum ff_err engine_rewards_list(struct engine *e, const struct actor *a, const struct reward_filter *f,
				const struct page *p, json_t **out, struct ff_diag *d);
/* The reward with "history". */
enum ff_err engine_reward_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
			      struct ff_diag *d);
/* The same object as compact JSON text appended to `out` (what engine_reward_get's
 * value dumps to), without building a value tree: for the HTTP API's GET. */
enum ff_err engine_reward_text(struct engine *e, const struct actor *a, const char *id, struct ffbuf *out,
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

/* ---- fulfillment: connectors, code pools, webhooks, notifications (SPEC §5, §9a, §12) ----
 * Roles (for the HTTP route table / CLI): connectors and webhook endpoints admin
 * (reads also operator and auditor); code pools admin and operator (reads also
 * finance and auditor). Results follow API.md; every mutation is audited. */

/* PUT /v1/connectors/{id}: body {"type": "stripe"|"recurly"|"braintree"|"giftcard"|
 * "webhook"|"smtp", "config": {...}} (fields per type: docs/connectors.md). Secrets in
 * config are sealed with the master key and write-only: a secret left out of a later
 * PUT keeps its stored value. Saving closes the connector's breaker and releases the
 * rewards that waited for it. URLs (base_url, url) are checked against the SSRF guard
 * (engine_config.webhook_allow_hosts). Result = engine_connector_get's. Errors:
 * FF_E_INVALID / FF_E_UNKNOWN_FIELD with param "config.<field>". */
enum ff_err engine_connector_put(struct engine *e, const struct actor *a, const char *id, json_t *body,
				 json_t **out, struct ff_diag *d);
/* GET /v1/connectors/{id}: {"id","object":"connector","type","config":{...secrets
 * masked "sk_...1234"},"breaker":{"state":"closed"|"open","failures":N,"open_until":T|null}}. */
enum ff_err engine_connector_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				 struct ff_diag *d);
/* GET /v1/connectors: {"object":"list","data":[connector...],"has_more"}, in creation
 * order, a page at a time (p: limit, default 100; starting_after a connector id). */
enum ff_err engine_connectors_list(struct engine *e, const struct actor *a, const struct page *p,
				   json_t **out, struct ff_diag *d);
/* DELETE /v1/connectors/{id}: {"id","object":"connector","deleted":true}. */
enum ff_err engine_connector_delete(struct engine *e, const struct actor *a, const char *id, json_t **out,
				    struct ff_diag *d);

/* PUT /v1/code-pools/{id}: body {"low_stock_threshold": N >= 0, "per_participant_limit":
 * N >= 1 | null}. Result = engine_code_pool_get's. */
enum ff_err engine_code_pool_put(struct engine *e, const struct actor *a, const char *id, json_t *body,
				 json_t **out, struct ff_diag *d);
/* GET /v1/code-pools/{id}: {"id","object":"code_pool","low_stock_threshold",
 * "per_participant_limit","low_stock":bool,"available","assigned","redeemed","void",
 * "created_at","updated_at"}. low_stock: available <= low_stock_threshold now (the
 * code_pool.low alert's condition). */
enum ff_err engine_code_pool_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				 struct ff_diag *d);
/* GET /v1/code-pools: {"object":"list","data":[code pool...],"has_more"}, in creation
 * order, a page at a time (p: limit, default 100; starting_after a pool id). */
enum ff_err engine_code_pools_list(struct engine *e, const struct actor *a, const struct page *p,
				   json_t **out, struct ff_diag *d);
/* POST /v1/code-pools/{id}/codes with a JSON body {"codes": ["A1", ...]} (up to
 * 1,000,000; each 1-128 printable characters without spaces). Creates the pool when
 * missing. -> {"pool","added":N,"duplicates":N}; releases rewards held with pool_empty. */
enum ff_err engine_code_pool_upload(struct engine *e, const struct actor *a, const char *id, json_t *body,
				    json_t **out, struct ff_diag *d);
/* The same for a text/csv body: one code per line, optional header line `code`,
 * blank lines ignored, surrounding quotes and CRLF stripped. */
enum ff_err engine_code_pool_upload_csv(struct engine *e, const struct actor *a, const char *id, const char *text,
					size_t len, json_t **out, struct ff_diag *d);
/* POST /v1/code-pools/{pool}/codes/{code} {"status": "redeemed"|"void"}: mark a code
 * (a redeemed code sets its reward's redeemed_at). -> {"pool","code","status","reward"}.
 * FF_E_INVALID_TRANSITION for a code already redeemed. */
enum ff_err engine_code_set_status(struct engine *e, const struct actor *a, const char *pool, const char *code,
				   const char *status, json_t **out, struct ff_diag *d);

/* POST /v1/webhook-endpoints: body {"url", "events": ["reward.fulfilled", ...] (absent
 * or [] = every event; "*" too), "description"?} -> 201 {"id":"we_...","object":
 * "webhook_endpoint","url","events","description","status":"enabled","disabled_reason",
 * "created_at","updated_at","secret":"whsec_..."} - the secret appears only here. URLs
 * resolving to loopback/private/link-local/multicast addresses are FF_E_INVALID
 * (param "url") unless their host is in webhook_allow_hosts. */
enum ff_err engine_webhook_endpoint_create(struct engine *e, const struct actor *a, json_t *body, json_t **out,
					   struct ff_diag *d);
/* GET /v1/webhook-endpoints: list (paging by id). */
enum ff_err engine_webhook_endpoints_list(struct engine *e, const struct actor *a, const struct page *p,
					  json_t **out, struct ff_diag *d);
/* GET /v1/webhook-endpoints/{id}: the endpoint (no secret) + "deliveries": {"<status>": N}. */
enum ff_err engine_webhook_endpoint_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
					struct ff_diag *d);
/* DELETE /v1/webhook-endpoints/{id}: {"id","object","deleted":true}; pending deliveries fail. */
enum ff_err engine_webhook_endpoint_delete(struct engine *e, const struct actor *a, const char *id, json_t **out,
					   struct ff_diag *d);
/* GET /v1/webhook-endpoints/{id}/deliveries: every attempt, oldest first: list of
 * {"id" (a sequence number, for starting_after),"object":"webhook_attempt","delivery",
 * "webhook_id","type","attempt","status_code"|null,"error"|null,"success","duration_ms","at"}. */
enum ff_err engine_webhook_deliveries(struct engine *e, const struct actor *a, const char *id, const struct page *p,
				      json_t **out, struct ff_diag *d);

/* GET /v1/notifications?reward=: the e-mail outbox: list of {"id","object":"notification",
 * "reward","participant","milestone","status":"pending"|"sent"|"failed"|"unknown",
 * "attempts","last_error","created_at","updated_at"} (no addresses or content). */
enum ff_err engine_notifications_list(struct engine *e, const struct actor *a, const char *reward,
				      const struct page *p, json_t **out, struct ff_diag *d);
/* ---- end of fulfillment ---- */

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

/* ---- queue depths for GET /metrics (SPEC §10; src/core/queues.c) ---- */
struct queue_depths {
	int64_t approved;      /* rewards waiting for fulfillment (held ones included) */
	int64_t issuing;       /* rewards handed to an external connector, result not yet committed */
	int64_t outbox;        /* webhook deliveries pending (due now or retrying later) */
	int64_t notifications; /* e-mails pending in the notification outbox */
};
/* Fill *out with the current queue depths: one cheap query (four counts over indexed
 * status columns), no actor: counts only. FF_E_STORE when the database failed. */
enum ff_err engine_queue_depths(struct engine *e, struct queue_depths *out);

/* ---- fraud, review, governance, PII (SPEC §3, §7, §9) ---- */

/* Blocklist entries: kind "email" (stored as a keyed hash + sealed), "domain", "ip"
 * (an address or CIDR block), "device". */
enum ff_err engine_blocklist_put(struct engine *e, const struct actor *a, const char *kind, const char *value,
				 const char *note, json_t **out, struct ff_diag *d);
enum ff_err engine_blocklist_delete(struct engine *e, const struct actor *a, const char *kind, const char *value,
				    json_t **out, struct ff_diag *d);
enum ff_err engine_blocklist_list(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d);

/* Decide many reviewed rewards in one transaction: `approve` and `reject` are arrays
 * of reward ids (either may be NULL). Result {"results":[{"id","ok","status"|"error"}],
 * "approved":N,"rejected":N,"failed":N}; one failure does not stop the others. */
enum ff_err engine_rewards_review(struct engine *e, const struct actor *a, json_t *approve, json_t *reject,
				  const char *reason, json_t **out, struct ff_diag *d);

/* Replay the referral and conversion events that occurred in [from, to) against
 * version `version` of program `id` inside a transaction that is rolled back, and
 * report what it would have created beside what was created:
 * {"program","version","from","to","conversions":N,"simulated":{"rewards":N,
 *  "amounts":[{"currency","amount"}]},"actual":{...},"changes":[...]} */
enum ff_err engine_program_simulate(struct engine *e, const struct actor *a, const char *id, int version,
				    int64_t from, int64_t to, json_t **out, struct ff_diag *d);

/* Re-encrypt every sealed PII field (and re-hash e-mails) under `new_key`, in
 * batches; resumable: rows already under the new key are skipped. Result
 * {"participants":N,"blocklist":N,"key_id":"..."}. */
enum ff_err engine_rotate_master_key(struct engine *e, const struct actor *a,
				     const uint8_t new_key[FF_MASTER_KEY_BYTES], json_t **out, struct ff_diag *d);
/* The same in batches of `batch` rows, stopping after `max_batches` committed batches
 * (0: until done); "complete" in the result says whether everything was rotated. */
enum ff_err engine_rotate_master_key_steps(struct engine *e, const struct actor *a,
					   const uint8_t new_key[FF_MASTER_KEY_BYTES], int batch, int max_batches,
					   json_t **out, struct ff_diag *d);

/* ---- finance: batches, reconciliation, tax, fx rates, fees, reports (SPEC §6, §8, §10;
 * docs/finance.md) ----
 * Roles (route table): finance and admin for everything here; auditor may read; a
 * fulfiller key (actor.fulfiller set) sees and acts on its own batches only — any other
 * batch is FF_E_NOT_FOUND. Scoped actors (partner, fulfiller) get FF_E_FORBIDDEN from
 * the global reports (payouts, aging, tax, kpis) and from the settings functions. */
struct ffbuf;

/* Batch object: {"id","object":"batch","status":"open"|"closed"|"fulfilled"|"reconciled"|
 * "disputed","fulfiller","connector","currency"|null,"until"|null,"count","totals":
 * [{"currency","amount","count"}],"reference"|null,"rewards_by_status":{..},
 * "reconciliation": {last run summary}|null,"created_by","created_at","updated_at",
 * "closed_at","fulfilled_at","reconciled_at"} plus "rewards":[ids] from create and get. */
struct batch_params {
	const char *fulfiller; /* required; a fulfiller actor may only name itself */
	const char *connector; /* NULL: "manual" (the only connector whose rewards are batched) */
	const char *currency;  /* NULL: every currency */
	int64_t until;         /* ms; rewards created at or before it; 0: no limit */
};
/* Roll every approved, unbatched reward of (fulfiller, connector[, currency, until])
 * into a new open batch: the rewards keep status approved with reason "in_batch", one
 * history row each, one audit record "batch.created" for the batch (with the count).
 * FF_E_INVALID (param "connector") for a connector other than manual; FF_E_INVALID when
 * no reward matches (no empty batches). */
enum ff_err engine_batch_create(struct engine *e, const struct actor *a, const struct batch_params *p,
				json_t **out, struct ff_diag *d);
struct batch_filter {
	const char *status;
	const char *fulfiller;
};
/* {"object":"list","data":[batch without "rewards"],"has_more"}; a fulfiller actor sees
 * its own batches only. */
enum ff_err engine_batches_list(struct engine *e, const struct actor *a, const struct batch_filter *f,
				const struct page *p, json_t **out, struct ff_diag *d);
enum ff_err engine_batch_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
			     struct ff_diag *d);
/* Append the batch report to `out`: header `reward_id,participant,type,amount,currency,
 * reference`, one RFC 4180 line per reward (CRLF line ends), amount in minor units. */
enum ff_err engine_batch_report_csv(struct engine *e, const struct actor *a, const char *id, struct ffbuf *out,
				    struct ff_diag *d);
/* The same report as {"object": "batch_report", "batch": ID, "data": [{"reward_id",
 * "participant", "type", "amount" (minor units or null), "currency", "reference"}]}
 * (`fulfill batch export --json`); null for a missing currency or reference. */
enum ff_err engine_batch_report_json(struct engine *e, const struct actor *a, const char *id, json_t **out,
				     struct ff_diag *d);
/* open -> closed (exported / submitted). FF_E_INVALID_TRANSITION otherwise. */
enum ff_err engine_batch_close(struct engine *e, const struct actor *a, const char *id, json_t **out,
			       struct ff_diag *d);
/* open|closed -> fulfilled with `reference` (required, e.g. the credit memo number); every
 * approved reward of the batch becomes fulfilled (external_reference = reference unless it
 * has one), one history row each, one audit record "batch.fulfilled". */
enum ff_err engine_batch_fulfill(struct engine *e, const struct actor *a, const char *id, const char *reference,
				 json_t **out, struct ff_diag *d);

/* A provider report / credit memo to reconcile: CSV read from `file` (to its end, not
 * closed) or from `data`/`len` in memory. Header `reward_id,amount,currency,reference`
 * with case-insensitive aliases (docs/finance.md); a wrong header is FF_E_INVALID with
 * param "header". `progress` (may be NULL) is called every 65,536 lines and at the end. */
struct recon_input {
	FILE *file;
	const char *data;
	size_t len;
	void (*progress)(void *ctx, uint64_t lines);
	void *progress_ctx;
};
/* Reconcile a fulfilled (or disputed) batch. Result: {"object":"reconciliation","id",
 * "batch","status":"reconciled"|"disputed","lines_read","matched","amount_mismatch",
 * "missing","unexpected","duplicate","invalid","not_paid","lines":[{"line","reward_id",
 * "reference","result","expected":{"amount","currency"}|null,"actual":{"amount",
 * "currency"}|null,"error"?}],"lines_truncated","columns":{..}}. All match: the batch
 * and its fulfilled rewards become reconciled; otherwise the batch is disputed and
 * nothing else changes (run again with a corrected report). `lines` lists every
 * discrepancy (up to 10,000) and the first 1,000 matched lines; "lines_truncated" says
 * when some were left out — the counts are always complete. Memory: only the batch's
 * expected rewards are held (a hash table), the CSV is streamed. FF_E_INVALID_TRANSITION
 * unless the batch is fulfilled or disputed. */
enum ff_err engine_batch_reconcile(struct engine *e, const struct actor *a, const char *id,
				   const struct recon_input *in, json_t **out, struct ff_diag *d);
/* The same without a batch: the connector's fulfilled rewards (fulfilled_at in [from, to),
 * 0 = unbounded) against a provider export, matched by external reference (the CSV's
 * `reference` column). All match: they become reconciled. Result as above with
 * "connector" instead of "batch". Not for fulfiller actors (FF_E_FORBIDDEN). */
enum ff_err engine_reconcile_connector(struct engine *e, const struct actor *a, const char *connector,
				       int64_t from, int64_t to, const struct recon_input *in, json_t **out,
				       struct ff_diag *d);

/* Tax (SPEC §8). Thresholds per country in minor units of a currency (US 60000 USD by
 * default); amount 0 removes a country's threshold. Result: the thresholds list. */
enum ff_err engine_tax_threshold_set(struct engine *e, const struct actor *a, const char *country, int64_t amount,
				     const char *currency, json_t **out, struct ff_diag *d);
/* {"object":"tax_settings","thresholds":[{"country","amount","currency"}],
 *  "reportable_types":["cash","gift_card"]} */
enum ff_err engine_tax_settings(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d);
/* Replace the reportable reward types (a JSON array of type names). Result as above. */
enum ff_err engine_tax_reportable_types_set(struct engine *e, const struct actor *a, json_t *types, json_t **out,
					    struct ff_diag *d);
/* 1099-style totals of calendar year `year` (UTC): reportable rewards paid (fulfilled or
 * reconciled, by fulfilled_at) per participant and currency: {"object":"report.tax",
 * "year","columns":[..],"data":[{"participant","name","email","country","tax_form",
 * "currency","amount","rewards","threshold","threshold_reached","form_missing"}]}. */
enum ff_err engine_report_tax(struct engine *e, const struct actor *a, int year, json_t **out, struct ff_diag *d);

/* FX rates: `rates` is an object {"EUR": "1.0845", ...}: one unit of that currency is
 * worth `rate` units of `reporting`. Rates are decimal strings (or integers), never JSON
 * reals: up to 12 fraction digits and 11 significant digits. Replaces every rate into
 * `reporting` and makes it the default reporting currency. Result: the rates list. */
enum ff_err engine_fx_rates_set(struct engine *e, const struct actor *a, const char *reporting, json_t *rates,
				json_t **out, struct ff_diag *d);
/* {"object":"fx_rates","reporting_currency","data":[{"currency","reporting","rate","updated_at"}]} */
enum ff_err engine_fx_rates_list(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d);
/* Per-connector payout fee: `fixed` minor units of `currency` per payout plus
 * `percent_bp` of the payout amount; fixed = percent_bp = 0 removes it. Result: fee list
 * {"object":"list","data":[{"connector","currency","fixed_amount","percent_bp"}]}. */
enum ff_err engine_fee_set(struct engine *e, const struct actor *a, const char *connector, const char *currency,
			   int64_t fixed, int64_t percent_bp, json_t **out, struct ff_diag *d);
enum ff_err engine_fees_list(struct engine *e, const struct actor *a, json_t **out, struct ff_diag *d);

/* Reports. Windows are [from, to) in ms; 0 = unbounded. Each report is {"object":
 * "report.<name>", "columns":[..], "data":[flat rows], ...}: engine_report_csv renders
 * any of them (and engine_report_participants') as CSV. */
enum report_group { REPORT_DAY, REPORT_WEEK, REPORT_MONTH };
/* "day"|"week"|"month" -> group; -1 when unknown. */
int report_group_parse(const char *s);
/* Expected (earned: rewards created in the period, not cancelled/reversed/expired) vs
 * actual (paid: fulfilled or reconciled, by fulfilled_at) per period (UTC; weeks start
 * on Monday) and currency; "converted": per period totals in `reporting` (NULL: the
 * configured reporting currency, else USD) with "missing_rates" naming currencies
 * without a rate. */
enum ff_err engine_report_payouts(struct engine *e, const struct actor *a, int64_t from, int64_t to,
				  enum report_group group, const char *reporting, json_t **out, struct ff_diag *d);
/* Pending and approved rewards by age (now - created_at) bucket 0-7, 8-30, 31-60, 61-90,
 * 90+ days, by status and reason. `now` 0 = the clock. */
enum ff_err engine_report_aging(struct engine *e, const struct actor *a, int64_t now, json_t **out,
				struct ff_diag *d);
/* KPIs: payout accuracy (share of reconciliation lines without discrepancy, bp), cycle
 * time conversion -> fulfilled (p50, p95 in ms), cost per payout per connector and
 * currency (fee table), exception queue size (failed rewards). */
enum ff_err engine_report_kpis(struct engine *e, const struct actor *a, int64_t from, int64_t to, json_t **out,
			       struct ff_diag *d);
/* Per-fulfiller credit status: per participant, fulfiller and currency the count and
 * amount of rewards new (pending/review/approved, not batched), in_batch, fulfilled,
 * reconciled. `fulfiller` NULL: all (a fulfiller actor: always its own). */
enum ff_err engine_report_credit_status(struct engine *e, const struct actor *a, const char *fulfiller,
					json_t **out, struct ff_diag *d);
/* Render a report object from the functions above as CSV (header = its "columns", RFC
 * 4180 quoting, CRLF) into `out`. FF_E_INVALID for an object that is not a report. */
enum ff_err engine_report_csv(json_t *report, struct ffbuf *out, struct ff_diag *d);
/* ---- end of finance ---- */

#endif
