/*
 * connector.h - the one interface every fulfilment connector fills (SPEC §5):
 * `issue` delivers a reward, `status` pulls its state back (sync jobs), `reverse`
 * takes it back (clawback). Each returns a classified result: success with an external
 * reference, a retryable error, or a permanent one.
 *
 * Two kinds of connector:
 *  - in-transaction (ledger, code_pool): `issue` runs inside the worker's database
 *    transaction; delivery and its record commit together, exactly once by construction.
 *  - external (stripe, recurly, braintree, giftcard, webhook): the call leaves the
 *    process, so delivery is two-phase (connector.c): the reward moves to `issuing` with
 *    an attempt id in a committed transaction, the provider is called with the reward id
 *    as its idempotency key, and the result is committed with the external reference.
 *    A crash in between leaves the reward `issuing`; it is re-driven with the same key.
 *    External connectors never touch the database: they build HTTP requests
 *    (`request`) and read responses (`response`), one `step` at a time (an operation may
 *    take several requests, e.g. Stripe's coupon then promotion code), so the driver can
 *    run many calls at once over curl multi.
 *
 * Connector configuration (PUT /v1/connectors/{id}) lives in the `connectors` table;
 * secret fields are sealed with the master key and never returned (connector_config.c).
 */
#ifndef FULFILL_CONNECTOR_H
#define FULFILL_CONNECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "fulfill/error.h"
#include "fulfill/http_client.h"

enum connector_result {
	CONNECTOR_OK,       /* done; for issue the reward is fulfilled */
	CONNECTOR_RETRY,    /* a retryable error: try again at the backoff time */
	CONNECTOR_FAILED,   /* a permanent error, or attempts exhausted: the reward failed */
	CONNECTOR_HELD,     /* cannot run now (pool empty, connector unavailable): wait; from
			     * an external connector: it cannot tell whether an earlier attempt
			     * paid, so it sent nothing (a credit look-up that did not decide) */
	CONNECTOR_FATAL,    /* the database failed: abort the pass */
	CONNECTOR_CONTINUE, /* external: a request is ready / another step follows */
};

enum connector_op { CONNECTOR_ISSUE, CONNECTOR_STATUS, CONNECTOR_REVERSE };

/* A configured connector with its secrets decrypted (connector_config.c). */
struct connector_conf {
	char id[64];
	char type[32];
	json_t *config;         /* every field, secrets in clear (owned) */
	int64_t failures;       /* consecutive retryable failures (breaker) */
	int64_t open_until;     /* breaker open until (ms), 0 when closed */
	char base_url[512];     /* "base_url", or the provider's default */
	long timeout_ms;        /* "timeout_ms", default 15000 */
	long connect_timeout_ms;/* "connect_timeout_ms", default 5000 */
	int max_attempts;       /* "max_attempts", default 8 */
	int64_t backoff_base_ms;/* "backoff_base_ms", default 1000 */
	int64_t backoff_cap_ms; /* "backoff_cap_ms", default 3600000 */
	int breaker_threshold;  /* "breaker_threshold", default 5 */
	int64_t breaker_cooldown_ms; /* "breaker_cooldown_ms", default 30000 */
	int concurrency;        /* "concurrency": calls in flight, default 16 */
	int64_t sync_interval_ms; /* "sync_interval_ms": status polling, default 3600000 */
	int lookup_max_pages;   /* "lookup_max_pages": pages a credit look-up reads (stripe,
				 * recurly), default CONNECTOR_LOOKUP_PAGES */
};

#define CONNECTOR_LOOKUP_PAGES 10

/* One operation on one reward, across its steps. */
struct connector_call {
	const struct connector_ops *ops;
	const struct connector_conf *conf;
	struct reward r;        /* a copy of the reward */
	json_t *participant;    /* the participant object: email, name, attributes (owned) */
	enum connector_op op;
	int64_t amount;         /* reverse: how much to take back */
	int64_t attempt;        /* reverse: this call's number (1, 2, ...) */
	int step;               /* 0, 1, ...: which request of the operation */
	json_t *state;          /* what earlier steps learned (owned; may be NULL) */
	struct http_call http;  /* the current step's request and response */
	bool has_request;
	/* outcome */
	enum connector_result result;
	char ref[256];            /* issue: the provider's reference */
	char code[ID_MAX + 1];    /* issue: a coupon/promotion code the participant uses */
	char provider_status[32]; /* status: "delivered", "redeemed", "claimed", ... */
	bool redeemed;            /* status: the coupon/gift card was used */
	char attempt_id[40];
	struct ff_diag diag;      /* why, for RETRY/FAILED */
	bool maybe_paid;          /* FAILED, yet not "nothing was done": the provider says the
				   * idempotency key was used before (by a request that may have
				   * paid), so the outcome stays unknown */
	int64_t retry_after_ms;   /* provider's Retry-After, 0 when none */
};

struct connector_ops {
	const char *name;
	bool external;
	/* Config keys stored sealed and shown masked ("sk_...1234"); NULL-terminated. */
	const char *const *secret_fields;
	/* Other config keys this connector reads (besides the common ones). */
	const char *const *config_fields;
	/* Keys that must be present. */
	const char *const *required_fields;
	/* Most requests one operation can take (the issuing lease covers them all). */
	int max_steps;
	/* Attribute of the participant holding the provider's customer id (docs). */
	const char *customer_attribute;

	/* In-transaction connectors. Deliver r; on CONNECTOR_OK fill ext_ref. */
	enum connector_result (*issue)(struct engine *e, struct reward *r, int64_t now, char *ext_ref, size_t n,
				       struct ff_diag *d);
	/* Take back `amount` of a delivered reward (NULL: not supported). */
	enum connector_result (*reverse)(struct engine *e, struct reward *r, int64_t amount, int64_t now,
					 struct ff_diag *d);

	/* External connectors. Build the request of c->step for c->op into c->http:
	 * CONNECTOR_CONTINUE when a request is ready, otherwise the operation ends with
	 * that result (FAILED + diag when, say, the participant has no customer id, or the
	 * op is unsupported). */
	enum connector_result (*request)(struct connector_call *c);
	/* Read c->http's response: OK (c->ref / c->provider_status filled), RETRY,
	 * FAILED, or CONTINUE when another step follows (the driver bumps c->step). */
	enum connector_result (*response)(struct connector_call *c);
};

/* The connector type named `name`, or NULL. */
const struct connector_ops *connector_find(const char *name);

/* Fulfil one approved reward through an in-transaction connector (ledger, code_pool),
 * inside the caller's transaction: transitions, history, audit. CONNECTOR_FATAL only
 * for database failures. */
enum connector_result connector_fulfil(struct engine *e, struct reward *r, const char *actor, int64_t now,
				       struct ff_diag *d);

/* The external fulfilment pass: claim due `approved` rewards of external connectors
 * (and `issuing` ones whose lease ran out, or every `issuing` one on the first pass of
 * this engine handle: a restart re-drives them), call the providers with bounded
 * concurrency, commit the results. Owns its transactions. */
enum ff_err connector_issue_pass(struct engine *e, const char *actor, int64_t now, int64_t *out_fulfilled,
				 int64_t *out_failed, struct ff_diag *d);
/* Sync jobs: pull the provider's status of fulfilled rewards whose sync_at is due
 * (gift card delivered/claimed, coupon redeemed -> redeemed_at). */
enum ff_err connector_sync_pass(struct engine *e, const char *actor, int64_t now, int64_t *out_synced,
				struct ff_diag *d);

/* Reversals: rewards `reversed` after payout (refund/chargeback) whose connector is
 * external get the connector's `reverse` (Stripe: a balance transaction of the same
 * amount, Idempotency-Key "<id>:reverse"; Recurly: a charge line item); a code_pool
 * reward's code is voided unless redeemed. rewards.reversal records pending/done/failed
 * (failed: see the audit record "reward.reversal"). */
enum ff_err connector_reverse_pass(struct engine *e, const char *actor, int64_t now, int64_t *out_reversed,
				   struct ff_diag *d);

/* Run external calls: each call's ops->request/response over http_run, step by step,
 * at most `parallel` in flight. Sets each call's result. */
void connector_calls_run(struct connector_call **calls, size_t n, int parallel, const char *allow_hosts);
/* Free what a call owns (participant, state, http); accepts NULL. */
void connector_call_release(struct connector_call *c);

/* Helpers for connectors. */
/* Classify a transport-level/HTTP outcome: RETRY for no response, 408, 409, 425, 429,
 * 5xx; FAILED for other 4xx; OK for 2xx (the connector still reads the body). Fills
 * c->diag and c->retry_after_ms (from Retry-After: seconds or an HTTP-date). */
enum connector_result connector_http_classify(struct connector_call *c);
/* A string config value (NULL when absent). */
const char *connector_conf_str(const struct connector_conf *conf, const char *key);
/* A participant attribute as a string ("" when absent). */
const char *connector_attr(const struct connector_call *c, const char *key);
/* The participant's e-mail / name ("" when unknown). */
const char *connector_participant_str(const struct connector_call *c, const char *key);
/* Add "Authorization: Basic base64(user:password)" to the call's request. */
void connector_basic_auth(struct connector_call *c, const char *user, const char *password);
/* Join the base URL and a path. Only %s conversions: each argument is percent-encoded
 * as (part of) one path segment (all but A-Z a-z 0-9 - . _ ~; "." and ".." wholly), so an
 * id from a participant's attributes cannot name another resource. Caller frees. */
char *connector_url(const struct connector_conf *conf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Credits (stripe.c, recurly.c). A provider remembers an idempotency key for about a
 * day; a credit sent again after that is a second payout. So an issue whose earlier
 * attempt's outcome is unknown (reward_outcome_unknown: a timeout, a 5xx, a lost answer,
 * an interrupted attempt) first looks for the credit that attempt may have made, one
 * page of the provider's list per step, at most conf->lookup_max_pages pages; the
 * look-up's progress is in c->state. Always, not only after a day: fulfill keeps no
 * time of the first attempt, and within the window a look-up that finds nothing is
 * harmless (the key still replays, or 409s while that request runs).
 *
 * connector_lookup_due: whether the look-up is still to run; then the call's next
 * request is its page after *out_cursor (NULL: the first page). */
bool connector_lookup_due(const struct connector_call *c, const char **out_cursor);
/* One page read. `found`: the id of this reward's credit on it -> OK, c->ref = found,
 * nothing is sent. Otherwise `next`, the cursor of the page after (NULL: the list ends)
 * -> CONTINUE: that page is read, or at the end the credit is sent. More pages than
 * lookup_max_pages -> HELD with the reason in c->diag: nothing is sent. */
enum connector_result connector_lookup_page(struct connector_call *c, const char *found, const char *next);
/* The look-up's request failed (res: its classification, c->diag its reason): nothing
 * is sent. RETRY stays RETRY; any other (a refusal) is HELD. */
enum connector_result connector_lookup_failed(struct connector_call *c, enum connector_result res);

/* The participant lacks `what` (its account at the provider: "attributes.stripe_customer_id",
 * ...; or its e-mail), so nothing can be sent: FAILED with that in c->diag. Unless this
 * issue re-drives an earlier attempt whose outcome is unknown: that attempt may have
 * paid, and a failure would clear the mark (a retry after a new id is set could then
 * pay twice), so HELD (nothing sent, the outcome stays unknown) until the value is back
 * and the re-drive replays the key / looks for that attempt's effect. */
enum connector_result connector_lacks(struct connector_call *c, const char *what);

/* Connector configuration (connector_config.c). */
/* Load the configuration for connector name `name` (by id, else the first of that
 * type). FF_E_NOT_FOUND when none. */
enum ff_err connector_conf_load(struct engine *e, const char *name, struct connector_conf *out, struct ff_diag *d);
void connector_conf_release(struct connector_conf *c);

extern const struct connector_ops connector_ledger;
extern const struct connector_ops connector_code_pool;
extern const struct connector_ops connector_manual;
extern const struct connector_ops connector_stripe;
extern const struct connector_ops connector_recurly;
extern const struct connector_ops connector_braintree;
extern const struct connector_ops connector_giftcard;
extern const struct connector_ops connector_webhook;
extern const struct connector_ops connector_smtp;

#endif
