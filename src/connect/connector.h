/*
 * connector.h - the one interface every fulfilment connector fills (SPEC §5):
 * `issue` delivers a reward, `status` pulls its state back (sync jobs), `reverse`
 * takes it back (clawback). Each call returns a classified result: success with an
 * external reference, a retryable error, or a permanent one.
 *
 * Connectors run inside the worker. connector_fulfil() drives one approved reward
 * through its connector and the state machine; it is the only caller of `issue`.
 */
#ifndef FULFILL_CONNECTOR_H
#define FULFILL_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "fulfill/error.h"

struct engine;
struct reward;

enum connector_result {
	CONNECTOR_OK,      /* delivered; the reward is fulfilled */
	CONNECTOR_RETRY,   /* a retryable error: try again at the backoff time */
	CONNECTOR_FAILED,  /* a permanent error, or attempts exhausted: the reward failed */
	CONNECTOR_HELD,    /* cannot run now (pool empty, connector unavailable): wait */
	CONNECTOR_FATAL,   /* the database failed: abort the pass */
};

struct connector_ops {
	const char *name;
	/* Deliver r. On CONNECTOR_OK fill ext_ref (may stay empty). On errors put the
	 * reason into d. Runs inside the worker's transaction. */
	enum connector_result (*issue)(struct engine *e, struct reward *r, int64_t now, char *ext_ref, size_t n,
				       struct ff_diag *d);
	/* Pull the provider's state of r back (NULL: nothing to sync). */
	enum connector_result (*status)(struct engine *e, struct reward *r, int64_t now, struct ff_diag *d);
	/* Take back `amount` of a delivered reward (NULL: not supported). */
	enum connector_result (*reverse)(struct engine *e, struct reward *r, int64_t amount, int64_t now,
					 struct ff_diag *d);
};

/* The connector named `name`, or NULL. */
const struct connector_ops *connector_find(const char *name);

/* Fulfil one approved reward through its connector: transitions, history, audit.
 * Returns what happened; CONNECTOR_FATAL only for database failures. */
enum connector_result connector_fulfil(struct engine *e, struct reward *r, const char *actor, int64_t now,
				       struct ff_diag *d);

/* The ledger connector (credit, points). */
extern const struct connector_ops connector_ledger;

#endif
