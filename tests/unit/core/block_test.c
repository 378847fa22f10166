/*
 * block_test.c - a blocked participant is not paid (src/core/block.c, docs/fraud.md
 * "Blocked participants"): blocking holds its undelivered rewards for review in the
 * same transaction, with history and audit; the worker, batches and redemptions never
 * pay it, even when the block lands behind a claim's back; unblocking releases nothing
 * until an operator approves, and then the reward is paid once.
 */
#include "engine_fixture.h"

static struct fx F;
static struct actor FIN;
static void setup(void)
{
	fx_open(&F);
	memset(&FIN, 0, sizeof(FIN));
	FIN.role = ROLE_FINANCE;
	snprintf(FIN.label, sizeof(FIN.label), "key:fin");
}
static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

TestSuite(block, .init = setup, .fini = teardown);

#define HOLD30                                                                                     \
	"{\"id\":\"hold\",\"name\":\"Held\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","   \
	"\"type\":\"credit\",\"amount\":1500}],\"hold_days\":30}"
#define CASH_ACME                                                                                  \
	"{\"id\":\"cash\",\"name\":\"Cash\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","  \
	"\"type\":\"cash\",\"amount\":2500}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}"
#define STRIPE                                                                                     \
	"{\"id\":\"ext\",\"name\":\"Ext\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","     \
	"\"type\":\"credit\",\"amount\":700}],\"fulfillment\":{\"credit\":\"stripe\"}}"
#define BLOCKLIST_OFF                                                                              \
	"{\"id\":\"off\",\"name\":\"Off\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","     \
	"\"type\":\"credit\",\"amount\":1000},{\"to\":\"referred\",\"type\":\"credit\",\"amount\":500}]," \
	"\"fraud\":{\"blocklist\":\"off\"}}"

static void set_status(const char *id, const char *status)
{
	static int n;
	fx_ok(&F, "{\"id\":\"st-%d\",\"type\":\"participant\",\"data\":{\"id\":\"%s\",\"status\":\"%s\"}}", ++n, id,
	      status);
}

/* The only reward of `who` (asserted), as the API shows it with its history. */
static json_t *only_reward(const char *who)
{
	json_t *all = fx_rewards(&F, NULL, who);
	cr_assert_eq(json_array_size(all), 1, "%s has %zu rewards", who, json_array_size(all));
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reward_get(F.e, &F.cli, json_string_value(json_object_get(json_array_get(all, 0), "id")),
				       &r, &d),
		     FF_OK, "%s", d.message);
	json_decref(all);
	return r;
}

/* jess refers tom in `program`, and tom buys for 50.00: the program's rewards for the
 * pair. Returns how many the purchase made. */
static size_t jess_refers_tom(const char *program)
{
	fx_participant(&F, "jess");
	fx_participant(&F, "tom");
	fx_referral(&F, "ref1", program, "jess", "tom");
	return fx_conversion(&F, "o1", "tom", 5000);
}

static const char *sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void assert_held(json_t *r)
{
	cr_assert_str_eq(sget(r, "status"), "review");
	cr_assert_str_eq(sget(r, "reason"), "review:participant_blocked");
	json_t *h = json_object_get(r, "history");
	json_t *last = json_array_get(h, json_array_size(h) - 1);
	cr_assert_str_eq(sget(last, "to"), "review");
	cr_assert_str_eq(sget(last, "reason"), "review:participant_blocked");
	cr_assert(json_is_null(json_object_get(r, "batch")), "a held reward leaves its batch");
}

static enum ff_err act(const char *id, enum reward_action a, struct ff_diag *d)
{
	json_t *out = NULL;
	enum ff_err err = engine_reward_action(F.e, &F.cli, id, a, NULL, &out, d);
	json_decref(out);
	return err;
}

Test(block, blocking_holds_approved_rewards_and_the_worker_pays_nothing)
{
	fx_program(&F, GIVE20);
	cr_assert_eq(jess_refers_tom("give20"), 2);
	set_status("jess", "blocked");
	json_t *r = only_reward("jess");
	assert_held(r);
	cr_assert_str_eq(sget(json_array_get(json_object_get(r, "history"), 1), "actor"), "cli");
	/* the audit chain says who blocked it, how many rewards that held, and each one */
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM audit WHERE action = 'participant.updated' AND "
				    "target = 'jess' AND detail LIKE '%\"rewards_held\":1%' AND "
				    "detail LIKE '%\"status\":\"blocked\"%'"),
		     1);
	char q[200];
	snprintf(q, sizeof(q), "SELECT COUNT(*) FROM audit WHERE action = 'reward.review' AND target = '%s'",
		 sget(r, "id"));
	cr_assert_eq(fx_sql_int(&F, q), 1);
	json_decref(r);
	json_decref(fx_worker(&F, T0 + DAY));
	cr_assert_eq(fx_balance(&F, "jess", "USD"), 0, "a blocked participant is not paid");
	cr_assert_eq(fx_balance(&F, "tom", "USD"), 2000, "the others are");
	r = only_reward("jess");
	cr_assert_str_eq(sget(r, "status"), "review");
	json_decref(r);
}

Test(block, pending_rewards_are_held_and_unblocking_releases_nothing)
{
	fx_program(&F, HOLD30);
	cr_assert_eq(jess_refers_tom("hold"), 1);
	json_t *r = only_reward("jess");
	cr_assert_str_eq(sget(r, "status"), "pending");
	json_decref(r);
	set_status("jess", "blocked");
	r = only_reward("jess");
	assert_held(r);
	json_decref(r);
	set_status("jess", "active");
	json_decref(fx_worker(&F, T0 + 40 * DAY));
	r = only_reward("jess");
	cr_assert_str_eq(sget(r, "status"), "review", "unblocking does not release money by itself");
	json_decref(r);
	cr_assert_eq(fx_balance(&F, "jess", "USD"), 0);
}

Test(block, approve_and_retry_are_refused_while_blocked_then_paid_once)
{
	fx_program(&F, GIVE20);
	jess_refers_tom("give20");
	set_status("jess", "blocked");
	json_t *r = only_reward("jess");
	char id[64];
	snprintf(id, sizeof(id), "%s", sget(r, "id"));
	json_decref(r);
	struct ff_diag d;
	cr_assert_eq(act(id, REWARD_APPROVE, &d), FF_E_PARTICIPANT_BLOCKED);
	cr_assert_eq(act(id, REWARD_RETRY, &d), FF_E_PARTICIPANT_BLOCKED);
	r = only_reward("jess");
	cr_assert_str_eq(sget(r, "status"), "review", "a refused approval changes nothing");
	json_decref(r);
	set_status("jess", "active");
	cr_assert_eq(act(id, REWARD_APPROVE, &d), FF_OK, "%s", d.message);
	json_decref(fx_worker(&F, T0 + DAY));
	json_decref(fx_worker(&F, T0 + 2 * DAY));
	cr_assert_eq(fx_balance(&F, "jess", "USD"), 2000, "paid once");
	r = only_reward("jess");
	cr_assert_str_eq(sget(r, "status"), "fulfilled");
	json_decref(r);
}

Test(block, redemption_is_refused_while_blocked)
{
	fx_program(&F, GIVE20);
	jess_refers_tom("give20");
	json_decref(fx_worker(&F, T0 + DAY));
	cr_assert_eq(fx_balance(&F, "jess", "USD"), 2000);
	set_status("jess", "blocked");
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "jess", 500, "USD", &out, &d), FF_E_PARTICIPANT_BLOCKED);
	cr_assert_str_eq(ff_err_code(FF_E_PARTICIPANT_BLOCKED), "participant_blocked");
	cr_assert_eq(ff_err_status(FF_E_PARTICIPANT_BLOCKED), 409);
	cr_assert_eq(fx_balance(&F, "jess", "USD"), 2000, "nothing was taken");
	/* bad input is still told apart from the block */
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "jess", 500, "XYZ", &out, &d), FF_E_INVALID_CURRENCY);
	set_status("jess", "active");
	cr_assert_eq(engine_participant_redeem(F.e, &F.cli, "jess", 500, "USD", &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	cr_assert_eq(fx_balance(&F, "jess", "USD"), 1500);
}

Test(block, an_invalid_status_changes_nothing)
{
	fx_program(&F, GIVE20);
	jess_refers_tom("give20");
	struct ff_diag d;
	cr_assert_eq(fx_event(&F, NULL, &d, "{\"id\":\"bad\",\"type\":\"participant\",\"data\":{\"id\":\"jess\","
					   "\"status\":\"Blocked\"}}"),
		     FF_E_INVALID);
	cr_assert_str_eq(d.param, "data.status");
	json_t *r = only_reward("jess");
	cr_assert_str_eq(sget(r, "status"), "approved");
	json_decref(r);
}

/* The block lands after the reward was approved but without the engine's sweep (as when
 * it commits while a worker pass runs): the claim itself reads the status. */
Test(block, the_worker_claim_holds_a_reward_whose_participant_is_blocked)
{
	fx_program(&F, GIVE20);
	jess_refers_tom("give20");
	fx_sql(&F, "UPDATE participants SET status = 'blocked' WHERE id = 'jess'");
	json_decref(fx_worker(&F, T0 + DAY));
	cr_assert_eq(fx_balance(&F, "jess", "USD"), 0);
	cr_assert_eq(fx_balance(&F, "tom", "USD"), 2000);
	json_t *r = only_reward("jess");
	assert_held(r);
	json_decref(r);
}

Test(block, the_external_issue_claim_holds_a_reward_whose_participant_is_blocked)
{
	fx_program(&F, STRIPE);
	jess_refers_tom("ext");
	fx_sql(&F, "UPDATE participants SET status = 'blocked' WHERE id = 'jess'");
	json_decref(fx_worker(&F, T0 + DAY));
	json_t *r = only_reward("jess");
	assert_held(r); /* not issuing, not even waiting for the unconfigured connector */
	json_decref(r);
}

Test(block, a_recipient_blocked_before_is_reviewed_even_when_the_blocklist_is_off)
{
	fx_program(&F, BLOCKLIST_OFF);
	fx_participant(&F, "jess");
	fx_participant(&F, "tom");
	set_status("jess", "blocked");
	fx_referral(&F, "ref1", "off", "jess", "tom");
	cr_assert_eq(fx_conversion(&F, "o1", "tom", 5000), 2);
	json_t *r = only_reward("jess");
	cr_assert_str_eq(sget(r, "status"), "review");
	cr_assert_str_eq(sget(r, "reason"), "review:participant_blocked");
	json_decref(r);
	r = only_reward("tom");
	cr_assert_str_eq(sget(r, "status"), "approved");
	json_decref(r);
	json_decref(fx_worker(&F, T0 + DAY));
	cr_assert_eq(fx_balance(&F, "jess", "USD"), 0);
}

static json_t *batch_create(enum ff_err want)
{
	struct batch_params p = {.fulfiller = "acme"};
	json_t *b = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_create(F.e, &FIN, &p, &b, &d), want, "batch: %s", d.message);
	return b;
}

static json_t *batch_get(const char *id)
{
	json_t *b = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_get(F.e, &FIN, id, &b, &d), FF_OK, "%s", d.message);
	return b;
}

static void two_cash_rewards(void)
{
	fx_program(&F, CASH_ACME);
	fx_participant(&F, "jess");
	fx_participant(&F, "ann");
	fx_participant(&F, "tom");
	fx_participant(&F, "bob");
	fx_referral(&F, "ref1", "cash", "jess", "tom");
	fx_conversion(&F, "o1", "tom", 5000);
	fx_referral(&F, "ref2", "cash", "ann", "bob");
	fx_conversion(&F, "o2", "bob", 5000);
}

Test(block, rewards_leave_open_and_closed_batches_when_blocked)
{
	two_cash_rewards();
	json_t *b = batch_create(FF_OK);
	char id[64];
	snprintf(id, sizeof(id), "%s", sget(b, "id"));
	json_decref(b);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_close(F.e, &FIN, id, &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	set_status("jess", "blocked");
	json_t *r = only_reward("jess");
	assert_held(r);
	json_decref(r);
	b = batch_get(id);
	cr_assert_eq(json_integer_value(json_object_get(b, "count")), 1, "the batch no longer lists it");
	json_decref(b);
	cr_assert_eq(engine_batch_fulfill(F.e, &FIN, id, "CM-1", &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	r = only_reward("jess");
	cr_assert_str_eq(sget(r, "status"), "review");
	json_decref(r);
	r = only_reward("ann");
	cr_assert_str_eq(sget(r, "status"), "fulfilled");
	json_decref(r);
}

Test(block, batch_creation_and_fulfilment_hold_rewards_blocked_behind_their_back)
{
	two_cash_rewards();
	/* creation: jess's reward is held, ann's batched */
	fx_sql(&F, "UPDATE participants SET status = 'blocked' WHERE id = 'jess'");
	json_t *b = batch_create(FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(b, "count")), 1);
	json_decref(b);
	json_t *r = only_reward("jess");
	assert_held(r);
	json_decref(r);
	/* fulfilment: ann blocked after her reward was batched */
	fx_sql(&F, "UPDATE participants SET status = 'active' WHERE id = 'jess'");
	json_t *ann = only_reward("ann");
	char batch[64];
	snprintf(batch, sizeof(batch), "%s", sget(ann, "batch"));
	json_decref(ann);
	fx_sql(&F, "UPDATE participants SET status = 'blocked' WHERE id = 'ann'");
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_fulfill(F.e, &FIN, batch, "CM-2", &out, &d), FF_OK, "%s", d.message);
	json_decref(out);
	r = only_reward("ann");
	assert_held(r);
	json_decref(r);
	b = batch_get(batch);
	cr_assert_eq(json_integer_value(json_object_get(b, "count")), 0);
	json_decref(b);
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM audit WHERE action = 'batch.fulfilled' AND detail LIKE "
				    "'%\"rewards_held_participant_blocked\":1%'"),
		     1);
}
