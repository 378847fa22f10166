/*
 * code_pool.c - the `code_pool` connector: coupon and percent_discount rewards get the
 * next available code of their pool (core/codepool.c), inside the worker's transaction:
 * the assignment and the reward's `fulfilled` commit together, exactly once by
 * construction. An empty pool holds the reward (pool_empty) until an upload.
 */
#include <stdio.h>
#include <string.h>

#include "connect/connector.h"
#include "core/core.h"

static enum connector_result pool_issue(struct engine *e, struct reward *r, int64_t now, char *ext_ref, size_t n,
					struct ff_diag *d)
{
	char why[256] = "";
	int rc = codepool_assign(e, r, now, why, sizeof(why), d);
	switch (rc) {
	case 0:
		snprintf(ext_ref, n, "%s", r->code);
		return CONNECTOR_OK;
	case 1:
		ff_fail(d, FF_E_UNAVAILABLE, NULL, "pool_empty");
		return CONNECTOR_HELD;
	case 2:
		ff_fail(d, FF_E_INVALID, NULL, "%s", why);
		return CONNECTOR_FAILED;
	default:
		return CONNECTOR_FATAL;
	}
}

const struct connector_ops connector_code_pool = {
	.name = "code_pool",
	.issue = pool_issue,
};

/* `manual`: rewards wait for a batch (awaiting_batch); the worker never issues them. */
const struct connector_ops connector_manual = {
	.name = "manual",
};
