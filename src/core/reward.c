/*
 * reward.c - the reward lifecycle (SPEC §4): the state machine, the history of every
 * transition, the API object, operator actions, lists and explanations.
 *
 * The transition table below is the whole state machine; anything not in it is
 * refused with invalid_transition. "approved -> fulfilled" exists for fulfilment that
 * completes inside one database transaction (the internal ledger, manual batches):
 * nothing leaves the process, so there is no "issuing" window to recover from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fulfill/jsonw.h"

static const char *const statuses[] = {"pending", "review",   "approved",  "issuing", "fulfilled",
				       "reconciled", "failed", "cancelled", "reversed", "expired", NULL};

static const struct {
	const char *from, *to;
} transitions[] = {
	{"created", "pending"},	    {"created", "review"},	{"created", "approved"},
	{"review", "pending"},	    {"review", "approved"},	{"review", "cancelled"},
	{"pending", "approved"},    {"pending", "cancelled"},	{"approved", "issuing"},
	{"approved", "fulfilled"},  {"approved", "cancelled"},	{"approved", "expired"},
	{"approved", "pending"},    {"approved", "failed"} /* in-transaction connectors */,
	{"pending", "review"},	    {"approved", "review"} /* its participant was blocked (block.c) */,
	{"issuing", "fulfilled"},	{"issuing", "approved"},
	{"issuing", "failed"},	    {"failed", "approved"},	{"failed", "cancelled"},
	{"failed", "pending"} /* a retry held for a tax form */,
	{"fulfilled", "reconciled"}, {"fulfilled", "reversed"}, {"fulfilled", "expired"},
	{"reconciled", "reversed"},
};

bool reward_status_valid(const char *s)
{
	for (int i = 0; statuses[i]; i++)
		if (!strcmp(s, statuses[i]))
			return true;
	return false;
}

bool reward_transition_allowed(const char *from, const char *to)
{
	for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
		if (!strcmp(transitions[i].from, from) && !strcmp(transitions[i].to, to))
			return true;
	return false;
}

void reward_from_row(struct store_stmt *st, struct reward *r)
{
	memset(r, 0, sizeof(*r));
	int c = 0;
#define TXT(f) copy_str(r->f, sizeof(r->f), store_col_text(st, c++))
#define INT(f) r->f = store_col_int(st, c++)
#define OPT(f, h)                                   \
	do {                                        \
		r->h = !store_col_null(st, c);      \
		r->f = store_col_int(st, c++);      \
	} while (0)
	TXT(id);
	TXT(program);
	INT(program_version);
	TXT(referral);
	TXT(conversion);
	TXT(participant);
	TXT(role);
	TXT(type);
	OPT(amount, has_amount);
	TXT(currency);
	OPT(percent_bp, has_percent);
	OPT(rate_bp, has_rate);
	OPT(max_amount, has_max);
	OPT(months, has_months);
	TXT(code);
	TXT(pool);
	TXT(sku);
	OPT(quantity, has_quantity);
	TXT(brand);
	TXT(status);
	TXT(reason);
	OPT(hold_until, has_hold);
	OPT(release_at, has_release);
	OPT(expires_at, has_expires);
	TXT(connector);
	TXT(fulfiller);
	TXT(external_reference);
	TXT(batch);
	TXT(signals);
	INT(attempts);
	OPT(next_attempt_at, has_next_attempt);
	TXT(last_error);
	OPT(fulfilled_at, has_fulfilled);
	INT(created_at);
	INT(updated_at);
#undef TXT
#undef INT
#undef OPT
}

enum ff_err reward_load(struct engine *e, const char *id, struct reward *out, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_REWARD_GET);
	store_bind_text(st, 1, id);
	int rc = store_step(st);
	if (rc < 0)
		return core_store_fail(e, d, "reward");
	if (rc == 0)
		return ff_fail(d, FF_E_NOT_FOUND, NULL, "no reward %s", id);
	reward_from_row(st, out);
	return FF_OK;
}

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

enum ff_err reward_history_add(struct engine *e, const char *reward, const char *from, const char *to,
			       const char *actor, const char *reason, int64_t at, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_HISTORY_INSERT);
	store_bind_text(st, 1, reward);
	store_bind_text(st, 2, from);
	store_bind_text(st, 3, to);
	store_bind_text(st, 4, actor);
	store_bind_text(st, 5, nz(reason));
	store_bind_int(st, 6, at);
	if (store_exec_ahead(st))
		return core_store_fail(e, d, "reward history");
	return FF_OK;
}

/* The audit detail of reward.created as canonical JSON (keys in sorted order), written
 * directly: {amount, currency, participant, program, status, type}. */
char *reward_created_detail(const struct reward *r)
{
	struct ffbuf b;
	struct jsonw w;
	ffbuf_init(&b, 0);
	jsonw_init(&w, &b);
	jsonw_object_open(&w, NULL);
	if (r->has_amount)
		jsonw_int(&w, "amount", r->amount);
	else
		jsonw_null(&w, "amount");
	jsonw_string(&w, "currency", r->currency);
	jsonw_string(&w, "participant", r->participant);
	jsonw_string(&w, "program", r->program);
	jsonw_string(&w, "status", r->status);
	jsonw_string(&w, "type", r->type);
	jsonw_object_close(&w);
	return ffbuf_detach(&b, NULL);
}

enum ff_err reward_insert(struct engine *e, struct reward *r, const char *explanation, const char *actor,
			  struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_REWARD_INSERT);
	int c = 1;
	store_bind_text(st, c++, r->id);
	store_bind_text(st, c++, r->program);
	store_bind_int(st, c++, r->program_version);
	store_bind_text(st, c++, nz(r->referral));
	store_bind_text(st, c++, nz(r->conversion));
	store_bind_text(st, c++, r->participant);
	store_bind_text(st, c++, r->role);
	store_bind_text(st, c++, r->type);
	store_bind_int_or_null(st, c++, r->amount, !r->has_amount);
	store_bind_text(st, c++, nz(r->currency));
	store_bind_int_or_null(st, c++, r->percent_bp, !r->has_percent);
	store_bind_int_or_null(st, c++, r->rate_bp, !r->has_rate);
	store_bind_int_or_null(st, c++, r->max_amount, !r->has_max);
	store_bind_int_or_null(st, c++, r->months, !r->has_months);
	store_bind_text(st, c++, nz(r->pool));
	store_bind_text(st, c++, nz(r->sku));
	store_bind_int_or_null(st, c++, r->quantity, !r->has_quantity);
	store_bind_text(st, c++, nz(r->brand));
	store_bind_text(st, c++, r->status);
	store_bind_text(st, c++, nz(r->reason));
	store_bind_int_or_null(st, c++, r->hold_until, !r->has_hold);
	store_bind_int_or_null(st, c++, r->release_at, !r->has_release);
	store_bind_int_or_null(st, c++, r->expires_at, !r->has_expires);
	store_bind_text(st, c++, r->connector);
	store_bind_text(st, c++, r->fulfiller);
	store_bind_text(st, c++, r->signals[0] ? r->signals : "[]");
	store_bind_text(st, c++, explanation);
	store_bind_int(st, c++, r->created_at);
	store_bind_int(st, c++, r->earned_at ? r->earned_at : r->created_at);
	if (store_exec_ahead(st))
		return core_store_fail(e, d, "reward insert");
	if (!strcmp(r->status, "approved"))
		store_notify_work(e->st); /* wake idle workers when this commits */
	enum ff_err err = reward_history_add(e, r->id, "created", r->status, actor, r->reason, r->created_at, d);
	if (err)
		return err;
	err = audit_append_text(e, actor, "reward.created", r->id, reward_created_detail(r), d);
	if (!err) /* webhooks and e-mails, in this same transaction (outbox.c) */
		err = outbox_reward_changed(e, r, "created", r->status, d);
	return err;
}

/* Write r; the row must still have status `expect` (NULL: r's own status), else
 * someone changed it concurrently and nothing is written: FF_E_CONFLICT. */
static enum ff_err update_row(struct engine *e, const struct reward *r, const char *expect, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_REWARD_UPDATE);
	int c = 1;
	store_bind_text(st, c++, r->status);
	store_bind_text(st, c++, nz(r->reason));
	store_bind_int_or_null(st, c++, r->amount, !r->has_amount);
	store_bind_text(st, c++, nz(r->code));
	store_bind_int_or_null(st, c++, r->release_at, !r->has_release);
	store_bind_text(st, c++, nz(r->external_reference));
	store_bind_text(st, c++, nz(r->batch));
	store_bind_int(st, c++, r->attempts);
	store_bind_int_or_null(st, c++, r->next_attempt_at, !r->has_next_attempt);
	store_bind_text(st, c++, nz(r->last_error));
	store_bind_int_or_null(st, c++, r->fulfilled_at, !r->has_fulfilled);
	store_bind_int(st, c++, r->updated_at);
	store_bind_text(st, c++, r->signals[0] ? r->signals : "[]");
	store_bind_text(st, c++, r->id);
	store_bind_text(st, c++, expect ? expect : r->status);
	if (e->defer) {
		/* a worker chunk claimed the row: on PostgreSQL it is locked, and the check
		 * that it still had status `expect` comes with the next round trip (a miss
		 * loses the chunk, which runs again) */
		enum ff_err err = store_exec_ahead_one(st);
		if (err == FF_E_CONFLICT)
			return ff_fail(d, FF_E_CONFLICT, NULL, "reward %s was changed concurrently", r->id);
		return err ? core_store_fail(e, d, "reward update") : FF_OK;
	}
	if (store_exec(st))
		return core_store_fail(e, d, "reward update");
	if (store_changes(e->st) != 1)
		return ff_fail(d, FF_E_CONFLICT, NULL, "reward %s was changed concurrently", r->id);
	return FF_OK;
}

enum ff_err reward_update(struct engine *e, const struct reward *r, struct ff_diag *d)
{
	return update_row(e, r, NULL, d);
}

enum ff_err reward_transition(struct engine *e, struct reward *r, const char *to, const char *reason,
			      const char *actor, struct ff_diag *d)
{
	if (!reward_transition_allowed(r->status, to))
		return ff_fail(d, FF_E_INVALID_TRANSITION, NULL, "reward %s cannot go from %s to %s", r->id,
			       r->status, to);
	char from[16];
	copy_str(from, sizeof(from), r->status);
	int64_t now = fftime_now();
	copy_str(r->status, sizeof(r->status), to);
	/* every status that can still change says why the reward is where it is */
	if (!reason && !strcmp(to, "issuing"))
		reason = "in_flight";
	else if (!reason && !strcmp(to, "fulfilled"))
		reason = "delivered";
	copy_str(r->reason, sizeof(r->reason), reason);
	r->updated_at = now;
	if (!strcmp(to, "fulfilled") && !r->has_fulfilled) {
		r->fulfilled_at = now;
		r->has_fulfilled = true;
	}
	enum ff_err err = update_row(e, r, from, d);
	if (!err && !strcmp(to, "approved"))
		store_notify_work(e->st);
	if (!err)
		err = reward_history_add(e, r->id, from, to, actor, reason, now, d);
	if (!err) {
		json_t *detail = json_pack("{s:s, s:s, s:s?}", "from", from, "to", to, "reason", nz(reason));
		char action[48];
		snprintf(action, sizeof(action), "reward.%s", to);
		err = audit_append(e, actor, action, r->id, detail, d);
		json_decref(detail);
	}
	if (!err) /* webhooks and e-mails, in this same transaction (outbox.c) */
		err = outbox_reward_changed(e, r, from, to, d);
	return err;
}

const char *reward_approved_reason(const struct reward *r)
{
	return !strcmp(r->connector, "manual") ? "awaiting_batch" : "awaiting_fulfillment";
}

const char *reward_release_status(const struct reward *r, int64_t now, const char **out_reason)
{
	if (r->has_release && r->release_at > now) {
		*out_reason = r->has_hold && r->hold_until > now ? "hold_period" : "schedule";
		return "pending";
	}
	*out_reason = reward_approved_reason(r);
	return "approved";
}

/* Scope: a partner sees its own participant's rewards; a fulfiller those it fulfils. */
static bool in_scope(const struct actor *a, const struct reward *r)
{
	if (a->participant[0] && strcmp(a->participant, r->participant))
		return false;
	if (a->fulfiller[0] && strcmp(a->fulfiller, r->fulfiller))
		return false;
	return true;
}

/* A partner sees its own rewards without what the fraud checks found (signals) and
 * the connector's last error (the provider's details); their explanations:
 * rules_redact_for_partner. */
static void redact_reward(const struct actor *a, struct reward *r)
{
	if (!a->participant[0])
		return;
	r->signals[0] = '\0';
	r->last_error[0] = '\0';
}

static enum ff_err load_scoped(struct engine *e, const struct actor *a, const char *id, struct reward *r,
			       struct ff_diag *d)
{
	enum ff_err err = reward_load(e, id, r, d);
	if (!err && !in_scope(a, r))
		err = ff_fail(d, FF_E_NOT_FOUND, NULL, "no reward %s", id);
	return err;
}

enum ff_err engine_reward_text(struct engine *e, const struct actor *a, const char *id, struct ffbuf *out,
			       struct ff_diag *d)
{
	/* one statement: the reward's columns, then its history, one transition a row */
	struct store_stmt *st = store_query(e->st, Q_REWARD_WITH_HISTORY);
	store_bind_text(st, 1, id);
	int rc = store_step(st);
	if (rc < 0)
		return core_done(e, core_store_fail(e, d, "reward"));
	struct reward r;
	if (rc == 1)
		reward_from_row(st, &r);
	if (rc == 0 || !in_scope(a, &r))
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no reward %s", id));
	redact_reward(a, &r);
	enum { H = REWARD_NCOLS }; /* the history's columns follow the reward's */
	struct jsonw w;
	jsonw_init(&w, out);
	jsonw_object_open(&w, NULL);
	reward_write_members(&w, &r);
	jsonw_array_open(&w, "history");
	for (; rc == 1 && !store_col_null(st, H + 1); rc = store_step(st)) {
		jsonw_object_open(&w, NULL);
		jsonw_string(&w, "from", store_col_text(st, H));
		jsonw_string(&w, "to", store_col_text(st, H + 1));
		jsonw_string(&w, "actor", store_col_text(st, H + 2));
		jsonw_string(&w, "reason", store_col_text(st, H + 3));
		jsonw_time(&w, "at", store_col_int(st, H + 4), true);
		jsonw_object_close(&w);
	}
	jsonw_array_close(&w);
	jsonw_object_close(&w);
	if (rc < 0)
		return core_done(e, core_store_fail(e, d, "reward history"));
	if (w.err)
		return core_done(e, ff_fail(d, FF_E_INTERNAL, NULL, "reward %s does not fit the answer", id));
	return core_done(e, FF_OK);
}

enum ff_err engine_reward_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
			      struct ff_diag *d)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	enum ff_err err = engine_reward_text(e, a, id, &b, d);
	if (!err && !(*out = json_loadb(b.data, b.len, 0, NULL)))
		err = ff_fail(d, FF_E_INTERNAL, NULL, "reward %s: unreadable answer", id);
	ffbuf_release(&b);
	return err;
}

/* The reasons a reward carries (SPEC.md section 4, docs/cli.md): what
 * GET /v1/rewards?reason= accepts. "review:<signal>" names any fraud signal. */
static const char *const reward_reasons[] = {
	"hold_period",	  "schedule",	      "tax_form_required", "pool_empty",	   "connector_unavailable",
	"retry_scheduled", "outcome_unknown", "in_batch",	  "awaiting_fulfillment", "awaiting_batch",
	"in_flight",	  "delivered",	      "permanent_error",   NULL};
/* served by the partial index rewards_held (Q_REWARD_LIST_HELD) */
static const char *const held_reasons[] = {"outcome_unknown", "connector_unavailable", "pool_empty",
					   "retry_scheduled", NULL};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

bool reward_reason_valid(const char *s)
{
	if (!strncmp(s, "review:", 7)) {
		if (!s[7] || strlen(s) > 64)
			return false;
		for (const char *c = s + 7; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
				return false;
		return true;
	}
	return in_list(reward_reasons, s);
}

enum ff_err engine_rewards_list(struct engine *e, const struct actor *a, const struct reward_filter *f,
				const struct page *p, json_t **out, struct ff_diag *d)
{
	int limit = page_limit(p);
	const char *participant = f ? f->participant : NULL;
	if (a->participant[0]) {
		if (participant && strcmp(participant, a->participant)) {
			*out = list_json(json_array(), limit);
			return core_done(e, FF_OK);
		}
		participant = a->participant;
	}
	if (f && f->status && !reward_status_valid(f->status))
		return core_done(e, ff_fail(d, FF_E_INVALID, "status", "unknown reward status \"%.40s\"", f->status));
	const char *reason = f ? f->reason : NULL;
	if (reason && !reward_reason_valid(reason))
		return core_done(e, ff_fail(d, FF_E_INVALID, "reason", "unknown reward reason \"%.40s\"", reason));
	/* A scoped key's cursor must be one of its own rewards: the page after another's
	 * would tell that it exists, and when it was made (which of the key's own come
	 * after it). Another's is answered as one that does not exist: an empty page. */
	if (p && p->starting_after && (a->participant[0] || a->fulfiller[0])) {
		struct reward cursor;
		enum ff_err err = reward_load(e, p->starting_after, &cursor, d);
		if (err && err != FF_E_NOT_FOUND)
			return core_done(e, err);
		if (err || !in_scope(a, &cursor)) {
			ff_diag_clear(d);
			*out = list_json(json_array(), limit);
			return core_done(e, FF_OK);
		}
	}
	struct store_stmt *st =
		store_query(e->st, reason && in_list(held_reasons, reason) ? Q_REWARD_LIST_HELD : Q_REWARD_LIST);
	store_bind_text(st, 1, f ? f->status : NULL);
	store_bind_text(st, 2, participant);
	store_bind_text(st, 3, f ? f->program : NULL);
	store_bind_text(st, 4, f ? f->batch : NULL);
	store_bind_text(st, 5, a->fulfiller[0] ? a->fulfiller : NULL);
	store_bind_text(st, 6, p ? p->starting_after : NULL);
	store_bind_int(st, 7, limit + 1);
	store_bind_text(st, 8, reason);
	json_t *data = json_array();
	int rc;
	while ((rc = store_step(st)) == 1) {
		struct reward r;
		reward_from_row(st, &r);
		redact_reward(a, &r);
		json_array_append_new(data, reward_json(&r));
	}
	if (rc < 0) {
		json_decref(data);
		return core_done(e, core_store_fail(e, d, "reward list"));
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

enum ff_err engine_participant_rewards(struct engine *e, const struct actor *a, const char *id,
				       const struct page *p, json_t **out, struct ff_diag *d)
{
	if ((a->participant[0] && strcmp(a->participant, id)) || !participant_exists(e, id))
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no participant %s", id));
	struct reward_filter f = {.participant = id};
	return engine_rewards_list(e, a, &f, p, out, d);
}

/* A reward's explanation is stored once, with the conversion (or, for programs
 * triggered by referrals, the referral) that earned it; rewards of that event share it
 * and name themselves in "this_reward". Older rows may carry their own copy. */
static json_t *reward_explanation(struct engine *e, const struct reward *r)
{
	struct store_stmt *st = store_query(e->st, Q_REWARD_EXPLANATION);
	store_bind_text(st, 1, r->id);
	if (store_step(st) == 1 && !store_col_null(st, 0))
		return json_from_text(store_col_text(st, 0), "{}");
	json_t *x = NULL;
	if (r->conversion[0]) {
		st = store_query(e->st, Q_CONVERSION_EXPLANATION);
		store_bind_text(st, 1, r->conversion);
		if (store_step(st) == 1)
			x = json_from_text(store_col_text(st, 0), NULL);
	} else if (r->referral[0]) {
		st = store_query(e->st, Q_REFERRAL_GET);
		store_bind_text(st, 1, r->referral);
		if (store_step(st) == 1)
			x = json_from_text(store_col_text(st, 15), NULL);
	}
	if (!json_is_object(x)) {
		json_decref(x);
		return json_object();
	}
	/* a conversion evaluated by several programs keeps one explanation per program */
	json_t *programs = json_object_get(x, "programs");
	if (json_is_array(programs)) {
		size_t i;
		json_t *p;
		json_array_foreach(programs, i, p)
		{
			const char *id = json_string_value(json_object_get(p, "program"));
			if (id && !strcmp(id, r->program)) {
				json_t *one = json_incref(p);
				json_decref(x);
				x = one;
				break;
			}
		}
	}
	json_object_set_new(x, "this_reward", json_string(r->id));
	return x;
}

enum ff_err engine_explain(struct engine *e, const struct actor *a, const char *id, json_t **out,
			   struct ff_diag *d)
{
	struct reward r;
	enum ff_err err = reward_load(e, id, &r, d);
	if (!err) {
		if (!in_scope(a, &r))
			return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no reward or conversion %s", id));
		json_t *expl = reward_explanation(e, &r);
		rules_redact_for_partner(a, expl, r.role);
		redact_reward(a, &r);
		*out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "object", "explanation", "reward", id, "status",
				 r.status, "participant", r.participant, "explanation", expl, "signals",
				 json_from_text(r.signals[0] ? r.signals : NULL, "[]"));
		return core_done(e, FF_OK);
	}
	if (err != FF_E_NOT_FOUND)
		return core_done(e, err);
	struct store_stmt *st = store_query(e->st, Q_CONVERSION_EXPLANATION);
	store_bind_text(st, 1, id);
	if (store_step(st) == 1) {
		const char *participant = store_col_text(st, 1);
		if (a->participant[0] && strcmp(a->participant, participant))
			return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no reward or conversion %s", id));
		json_t *expl = json_from_text(store_col_text(st, 0), "{}");
		/* a partner reads the explanation of its own purchase only */
		rules_redact_for_partner(a, expl, "referred");
		*out = json_pack("{s:s, s:s, s:s, s:o}", "object", "explanation", "conversion", id, "participant",
				 participant, "explanation", expl);
		return core_done(e, FF_OK);
	}
	return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no reward or conversion %s", id));
}

enum ff_err engine_reward_action(struct engine *e, const struct actor *a, const char *id,
				 enum reward_action act, const char *reason, json_t **out, struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct reward r;
	err = load_scoped(e, a, id, &r, d);
	if (err)
		goto end;
	int64_t now = fftime_now();
	const char *to = NULL, *why = reason;
	char buf[160];
	/* no money moves to a blocked participant: unblock it first (block.c) */
	if ((act == REWARD_APPROVE || act == REWARD_RETRY) && participant_blocked(e, r.participant)) {
		err = ff_fail(d, FF_E_PARTICIPANT_BLOCKED, NULL,
			      "participant %s is blocked: its rewards are not paid until it is unblocked",
			      r.participant);
		goto end;
	}
	switch (act) {
	case REWARD_APPROVE:
		if (strcmp(r.status, "review")) {
			err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL, "reward %s is %s, not in review", id, r.status);
			goto end;
		}
		to = reward_release_status(&r, now, &why);
		/* approval releases it, unless the tax-form rule holds it as it would have at
		 * creation (rules.c sends a reward to review before that check) */
		if (!strcmp(to, "approved") && tax_form_required_for(e, &r, now)) {
			to = "pending";
			why = "tax_form_required";
		}
		break;
	case REWARD_REJECT:
		if (strcmp(r.status, "review")) {
			err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL, "reward %s is %s, not in review", id, r.status);
			goto end;
		}
		if (reward_outcome_unknown(&r)) { /* held for review when its participant was blocked */
			err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL,
				      "reward %s: the last call to connector %s got no answer, so the provider may "
				      "have paid it; approve it once its participant is unblocked, and its retry "
				      "(with the same idempotency key) settles that",
				      id, r.connector);
			goto end;
		}
		to = "cancelled";
		snprintf(buf, sizeof(buf), "rejected%s%s", reason && *reason ? ": " : "", reason ? reason : "");
		why = buf;
		break;
	case REWARD_RETRY:
		if (strcmp(r.status, "failed")) {
			err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL, "reward %s is %s, not failed", id, r.status);
			goto end;
		}
		to = "approved";
		why = "retry";
		if (tax_form_required_for(e, &r, now)) { /* the total may have grown since */
			to = "pending";
			why = "tax_form_required";
		}
		r.attempts = 0;
		r.has_next_attempt = false;
		if (!reward_outcome_unknown(&r)) /* that mark stays until an answer settles it */
			r.last_error[0] = '\0';
		break;
	case REWARD_CANCEL:
		if ((!strcmp(r.status, "approved") || !strcmp(r.status, "failed")) && reward_outcome_unknown(&r)) {
			err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL,
				      "reward %s: the last call to connector %s got no answer, so the provider may "
				      "have paid it; its retry (with the same idempotency key) settles that - cancel "
				      "it then (a paid reward is reversed)",
				      id, r.connector);
			goto end;
		}
		switch (batch_hold_of(e, &r)) {
		case BATCH_LOCKED:
			err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL,
				      "reward %s is in batch %s, which is closed: it is being paid (a refund "
				      "reverses it once the batch is fulfilled)",
				      id, r.batch);
			goto end;
		case BATCH_OPEN: /* it leaves the batch, which is counted again */
			if ((err = batch_release_reward(e, &r, d)))
				goto end;
			break;
		case BATCH_NONE:
			break;
		}
		to = "cancelled";
		snprintf(buf, sizeof(buf), "cancelled%s%s", reason && *reason ? ": " : "", reason ? reason : "");
		why = buf;
		break;
	}
	err = reward_transition(e, &r, to, why, a->label, d);
end:
	err = core_end(e, err, d);
	if (!err) {
		*out = reward_json(&r);
		return core_done(e, FF_OK);
	}
	return core_done(e, err);
}
