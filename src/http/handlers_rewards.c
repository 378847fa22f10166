/*
 * handlers_rewards.c - /v1/rewards: lists with filters, one reward with its history,
 * its explanation, and the operator actions approve/reject/retry/cancel (the engine's
 * state machine answers 409 invalid_transition for anything SPEC.md section 4 forbids).
 */
#include <string.h>

#include "http/http_int.h"

enum ff_err h_reward_list(struct ctx *c)
{
	struct page p;
	struct reward_filter f = {query_get(c, "status"), query_get(c, "participant"),
				  query_get(c, "program"), query_get(c, "batch"), query_get(c, "reason")};
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_rewards_list(c->eng, c->actor, &f, &p, &c->out, &c->diag);
}

enum ff_err h_reward_get(struct ctx *c)
{
	/* the hottest read: text written straight from the row, no value tree */
	struct ffbuf b;
	ffbuf_init(&b, 0);
	ffbuf_reserve(&b, 2048); /* a reward with a short history fits */
	enum ff_err err = engine_reward_text(c->eng, c->actor, ctx_param(c, 0), &b, &c->diag);
	if (err) {
		ffbuf_release(&b);
		return err;
	}
	c->raw = ffbuf_detach(&b, &c->raw_len);
	c->raw_ctype = "application/json";
	return FF_OK;
}

enum ff_err h_reward_explain(struct ctx *c)
{
	return engine_explain(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

/* approve/retry take no body; reject/cancel take an optional {"reason"}. */
static enum ff_err action(struct ctx *c, enum reward_action act, bool with_reason)
{
	json_t *doc = NULL, *reason;
	enum ff_err err = body_object(c, with_reason ? "reason" : "", &doc);
	if (err)
		return err;
	reason = json_object_get(doc, "reason");
	if (reason && !json_is_null(reason) &&
	    (!json_is_string(reason) || json_string_length(reason) == 0 ||
	     json_string_length(reason) > 500))
		err = ff_fail(&c->diag, FF_E_INVALID, "reason",
			      "reason must be a string of 1 to 500 characters");
	else
		err = engine_reward_action(c->eng, c->actor, ctx_param(c, 0), act,
					   json_string_value(reason), &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_reward_approve(struct ctx *c) { return action(c, REWARD_APPROVE, false); }

enum ff_err h_reward_reject(struct ctx *c) { return action(c, REWARD_REJECT, true); }

enum ff_err h_reward_retry(struct ctx *c) { return action(c, REWARD_RETRY, false); }

enum ff_err h_reward_cancel(struct ctx *c) { return action(c, REWARD_CANCEL, true); }
