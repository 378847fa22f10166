/*
 * ledger.c - the `ledger` connector: credit and points rewards are posted to the
 * internal double-entry ledger (src/core/ledger.c) as a lot with the reward's expiry.
 * Everything happens inside the worker's database transaction, so delivery and its
 * record commit together: exactly once by construction.
 */
#include <stdio.h>
#include <string.h>

#include "connect/connector.h"
#include "core/core.h"

static enum connector_result ledger_issue(struct engine *e, struct reward *r, int64_t now, char *ext_ref, size_t n,
					  struct ff_diag *d)
{
	if (!r->has_amount || r->amount <= 0) {
		ff_fail(d, FF_E_INVALID, NULL, "reward %s has no amount to credit", r->id);
		return CONNECTOR_FAILED;
	}
	if (ledger_credit(e, r, now, d))
		return CONNECTOR_FATAL;
	snprintf(ext_ref, n, "ledger:%s", r->id);
	return CONNECTOR_OK;
}

static enum connector_result ledger_reverse(struct engine *e, struct reward *r, int64_t amount, int64_t now,
					    struct ff_diag *d)
{
	return ledger_clawback(e, r, amount, now, d) ? CONNECTOR_FATAL : CONNECTOR_OK;
}

const struct connector_ops connector_ledger = {
	.name = "ledger",
	.issue = ledger_issue,
	.reverse = ledger_reverse,
};
