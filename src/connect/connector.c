/*
 * connector.c - the connector registry and the fulfilment driver shared by all
 * connectors: it moves a reward through the state machine around the connector call.
 */
#include <stdio.h>
#include <string.h>

#include "connect/connector.h"
#include "core/core.h"

static const struct connector_ops *const registry[] = {
	&connector_ledger,
	NULL,
};

const struct connector_ops *connector_find(const char *name)
{
	for (int i = 0; registry[i]; i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

/* How long a reward waits when its connector is not available yet. */
#define HOLD_MS (3600 * INT64_C(1000))

enum connector_result connector_fulfil(struct engine *e, struct reward *r, const char *actor, int64_t now,
				       struct ff_diag *d)
{
	const struct connector_ops *c = connector_find(r->connector);
	if (!c) {
		/* not configured in this build: hold, and look again later */
		copy_str(r->reason, sizeof(r->reason), "connector_unavailable");
		r->next_attempt_at = now + HOLD_MS;
		r->has_next_attempt = true;
		r->updated_at = now;
		return reward_update(e, r, d) ? CONNECTOR_FATAL : CONNECTOR_HELD;
	}
	char ref[256] = "";
	struct ff_diag cd;
	ff_diag_clear(&cd);
	r->attempts++;
	enum connector_result res = c->issue(e, r, now, ref, sizeof(ref), &cd);
	switch (res) {
	case CONNECTOR_OK:
		copy_str(r->external_reference, sizeof(r->external_reference), ref);
		r->has_next_attempt = false;
		if (reward_transition(e, r, "fulfilled", NULL, actor, d))
			return CONNECTOR_FATAL;
		return CONNECTOR_OK;
	case CONNECTOR_FATAL:
		if (d)
			*d = cd;
		return CONNECTOR_FATAL;
	default:
		copy_str(r->last_error, sizeof(r->last_error), cd.message);
		if (res == CONNECTOR_FAILED)
			return reward_transition(e, r, "failed", "permanent_error", actor, d) ? CONNECTOR_FATAL
											      : CONNECTOR_FAILED;
		copy_str(r->reason, sizeof(r->reason), res == CONNECTOR_HELD ? "connector_unavailable" : "retry_scheduled");
		r->next_attempt_at = now + HOLD_MS;
		r->has_next_attempt = true;
		r->updated_at = now;
		return reward_update(e, r, d) ? CONNECTOR_FATAL : res;
	}
}
