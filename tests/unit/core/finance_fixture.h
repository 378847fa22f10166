/*
 * finance_fixture.h - what the finance tests share (finance_test.c: batches, payout
 * schedules, reports and fx; recon_test.c: reconciliation; tax_test.c: tax): an engine
 * per test from engine_fixture.h, a finance key and two fulfiller keys (acme, zeta),
 * programs paying cash through them, and helpers that earn rewards, make and fulfil a
 * batch and reconcile a memo. Each test file that includes it gets its own copies (the
 * helpers are static), as with engine_fixture.h.
 */
#ifndef FULFILL_FINANCE_FIXTURE_H
#define FULFILL_FINANCE_FIXTURE_H

#include "core/core.h"
#include "engine_fixture.h"
#include "fulfill/buf.h"

static struct fx F;
static struct actor FIN, ACME, ZETA;

static void setup(void)
{
	fx_open(&F);
	memset(&FIN, 0, sizeof(FIN));
	FIN.role = ROLE_FINANCE;
	snprintf(FIN.label, sizeof(FIN.label), "key:fin");
	memset(&ACME, 0, sizeof(ACME));
	ACME.role = ROLE_FULFILLER;
	snprintf(ACME.label, sizeof(ACME.label), "key:acme");
	snprintf(ACME.fulfiller, sizeof(ACME.fulfiller), "acme");
	ZETA = ACME;
	snprintf(ZETA.label, sizeof(ZETA.label), "key:zeta");
	snprintf(ZETA.fulfiller, sizeof(ZETA.fulfiller), "zeta");
}

static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

/* $25 cash to the referrer on the referred person's purchase, paid by distributor acme */
#define CASH_ACME                                                                                  \
	"{\"id\":\"cash\",\"name\":\"Cash\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","  \
	"\"type\":\"cash\",\"amount\":2500}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"acme\"}}"
#define CASH_ZETA                                                                                  \
	"{\"id\":\"zcash\",\"name\":\"Z\",\"currency\":\"USD\",\"rewards\":[{\"to\":\"referrer\","     \
	"\"type\":\"cash\",\"amount\":1000}],\"fulfillment\":{\"cash\":\"manual\",\"fulfiller\":\"zeta\"}}"

/* `who` refers a friend who buys: one reward of program `prog` for `who`. */
static inline void earn(const char *prog, const char *who, int n)
{
	char ref[64], friend[64], order[64];
	snprintf(ref, sizeof(ref), "ref-%s-%s-%d", prog, who, n);
	snprintf(friend, sizeof(friend), "f-%s-%s-%d", prog, who, n);
	snprintf(order, sizeof(order), "o-%s-%s-%d", prog, who, n);
	fx_referral(&F, ref, prog, who, friend);
	cr_assert_eq(fx_conversion(&F, order, friend, 9000), 1, "one reward for %s", who);
}

/* Three acme rewards (jessica, tom, ann: $25 each) and one zeta reward. */
static inline void three_rewards(void)
{
	fx_program(&F, CASH_ACME);
	fx_program(&F, CASH_ZETA);
	fx_participant(&F, "jessica");
	fx_participant(&F, "tom");
	fx_participant(&F, "ann");
	earn("cash", "jessica", 1);
	earn("cash", "tom", 1);
	earn("cash", "ann", 1);
	earn("zcash", "jessica", 1);
}

static inline json_t *make_batch(const struct actor *a, const char *fulfiller)
{
	struct batch_params p = {.fulfiller = fulfiller};
	json_t *b = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_create(F.e, a, &p, &b, &d), FF_OK, "batch: %s", d.message);
	return b;
}

static inline const char *bid(json_t *b)
{
	return json_string_value(json_object_get(b, "id"));
}

static inline const char *sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static inline json_int_t iget(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The reward ids of a batch, in order. */
static inline const char *rid(json_t *b, size_t i)
{
	return json_string_value(json_array_get(json_object_get(b, "rewards"), i));
}

static inline enum ff_err reconcile(const char *batch, const char *csv, json_t **out, struct ff_diag *d)
{
	struct recon_input in = {.data = csv, .len = strlen(csv)};
	return engine_batch_reconcile(F.e, &FIN, batch, &in, out, d);
}

static inline json_t *fulfilled_batch(void)
{
	three_rewards();
	json_t *b = make_batch(&FIN, "acme");
	json_t *o = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_batch_fulfill(F.e, &ACME, bid(b), "CM-1001", &o, &d), FF_OK, "%s", d.message);
	json_decref(o);
	return b;
}

/* A memo that pays each of the three rewards of fulfilled_batch() in full. */
static inline void clean_memo(json_t *b, char *memo, size_t size)
{
	snprintf(memo, size, "reward_id,amount,currency,reference\n%s,2500,USD,CM-1001\n%s,2500,USD,CM-1001\n%s,2500,USD,CM-1001\n",
		 rid(b, 0), rid(b, 1), rid(b, 2));
}

static inline const char *reward_status(const char *id)
{
	static char buf[32];
	json_t *r = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_reward_get(F.e, &F.cli, id, &r, &d), FF_OK, "%s", d.message);
	snprintf(buf, sizeof(buf), "%s", sget(r, "status"));
	json_decref(r);
	return buf;
}

#endif
