/*
 * block.c - a blocked participant is not paid (docs/fraud.md, "Blocked participants").
 *
 * When a participant's status becomes `blocked`, the same transaction moves each of its
 * rewards that is still waiting to be delivered (pending, approved - retry scheduled,
 * held, outcome unknown or in a batch not yet fulfilled) to `review` with reason
 * review:participant_blocked: a history row, an audit record and the usual webhooks each.
 * Rewards in `issuing` are at a provider and finish as they would have; rewards already
 * in review stay there; failed ones stay failed. Nothing delivers a reward of a blocked
 * participant afterwards either: the places that claim rewards for delivery (the
 * worker's in-transaction connectors, the external issue pass, batch creation and batch
 * fulfilment) read the participant's status with the claim and hold the reward for
 * review instead; approving or retrying one, and redeeming credit, are refused with
 * participant_blocked. Unblocking releases nothing: an operator approves each reward.
 */
#include <string.h>

#include "core/core.h"

bool participant_blocked(struct engine *e, const char *id)
{
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_BLOCKED);
	store_bind_text(st, 1, id);
	return store_step(st) == 1;
}

enum ff_err reward_hold_blocked(struct engine *e, struct reward *r, const char *actor, struct ff_diag *d)
{
	/* the batch's row is locked while the reward leaves it (batch_hold_of): a close or
	 * a fulfilment of that batch waits for this transaction. A closed batch lets it go
	 * too: its report and totals no longer list the reward, so the fulfiller does not
	 * pay it, and a payment made anyway reconciles as `unexpected` */
	enum ff_err err = FF_OK;
	if (batch_hold_of(e, r) != BATCH_NONE)
		err = batch_release_reward(e, r, d);
	if (!err)
		err = reward_transition(e, r, "review", REWARD_REASON_BLOCKED, actor, d);
	return err;
}

enum ff_err rewards_hold_blocked_of(struct engine *e, struct store_stmt *st, const char *actor, int64_t *out_held,
				    struct ff_diag *d)
{
	json_t *ids = json_array();
	enum ff_err err = core_collect_ids(e, st, ids, "rewards of blocked participants", d);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		struct reward r;
		if (err || (err = reward_load(e, json_string_value(v), &r, d)) ||
		    (err = reward_hold_blocked(e, &r, actor, d)))
			break;
		if (out_held)
			(*out_held)++;
	}
	json_decref(ids);
	return err;
}

enum ff_err participant_hold_rewards(struct engine *e, const char *id, const char *actor, int64_t *out_held,
				     struct ff_diag *d)
{
	*out_held = 0;
	struct store_stmt *st = store_query(e->st, Q_PARTICIPANT_REWARDS_TO_HOLD);
	store_bind_text(st, 1, id);
	return rewards_hold_blocked_of(e, st, actor, out_held, d);
}
