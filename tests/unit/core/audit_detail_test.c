/*
 * audit_detail_test.c - the audit details written directly as text on the ingest path
 * (reward.created, conversion.created) are byte for byte what audit_canonical() makes of the same members
 * as a jansson value: the chain hashes these bytes, and `audit verify` rebuilds them
 * from the row.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static void expect_same(const struct reward *r)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "participant", r->participant, "type", r->type,
			      "status", r->status, "amount", r->has_amount ? json_integer(r->amount) : json_null(),
			      "currency", r->currency, "program", r->program);
	cr_assert_not_null(v);
	char *want = audit_canonical(v);
	char *got = reward_created_detail(r);
	cr_expect_str_eq(got, want);
	free(want);
	free(got);
	json_decref(v);
}

Test(audit_detail, reward_created_matches_the_canonical_value)
{
	struct reward r;
	memset(&r, 0, sizeof(r));
	strcpy(r.participant, "r000447");
	strcpy(r.type, "credit");
	strcpy(r.status, "approved");
	strcpy(r.currency, "USD");
	strcpy(r.program, "bench");
	r.has_amount = true;
	r.amount = 2000;
	expect_same(&r);

	/* no amount, no currency (goods), names that need escaping, a negative amount */
	r.has_amount = false;
	r.currency[0] = '\0';
	strcpy(r.type, "goods");
	strcpy(r.participant, "p\"q\\r\x01\xc3\xa9");
	strcpy(r.program, "pr\togram");
	expect_same(&r);
	r.has_amount = true;
	r.amount = -9007199254740993LL;
	expect_same(&r);
}

static void expect_same_conversion(int64_t amount, const char *currency, const char *participant, json_t *rewards)
{
	json_t *v = json_pack("{s:s, s:I, s:s, s:O}", "participant", participant, "amount", (json_int_t)amount,
			      "currency", currency, "rewards", rewards);
	cr_assert_not_null(v);
	char *want = audit_canonical(v);
	char *got = conversion_created_detail(amount, currency, participant, rewards);
	cr_expect_str_eq(got, want);
	free(want);
	free(got);
	json_decref(v);
}

Test(audit_detail, conversion_created_matches_the_canonical_value)
{
	json_t *rewards = json_pack("[s, s]", "rwd_0VbtBUIT34whyuuHgxttOZ", "rwd_0VbtBULDeNQfbVnVD0T8Oy");
	expect_same_conversion(5000, "USD", "u0044701", rewards);
	json_decref(rewards);
	rewards = json_array(); /* no reward earned */
	expect_same_conversion(0, "JPY", "p\"q\\r\x01\xc3\xa9", rewards);
	json_decref(rewards);
}
