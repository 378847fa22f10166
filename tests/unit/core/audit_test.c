/*
 * audit_test.c - the audit hash chain on a real database (engine_fixture.h): tampering
 * with or deleting a record is found, and each record's hash is the SHA-256 of its
 * length-prefixed fields and the previous hash, as docs describe it for outside checks.
 */
#include "core/core.h"
#include "fulfill/crypto.h"
#include "engine_fixture.h"

static struct fx F;
static void setup(void) { fx_open(&F); }
static void teardown(void)
{
	fx_check_invariants(&F);
	fx_close(&F);
}

TestSuite(audit, .init = setup, .fini = teardown);

Test(audit, audit_chain_detects_tampering)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	json_t *v = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_audit_verify(F.e, &v, &d), FF_OK);
	cr_assert(json_is_true(json_object_get(v, "ok")));
	json_int_t n = json_integer_value(json_object_get(v, "records"));
	cr_assert_gt(n, 4);
	json_decref(v);
	/* change one record behind the engine's back */
	fx_sql(&F, "UPDATE audit SET actor = 'mallory' WHERE seq = 3");
	cr_assert_eq(engine_audit_verify(F.e, &v, &d), FF_OK);
	cr_assert(json_is_false(json_object_get(v, "ok")));
	cr_assert_str_eq(json_string_value(json_object_get(v, "first_bad")), "3");
	json_decref(v);
	/* put it back; then delete a record: the gap is found */
	fx_sql(&F, "UPDATE audit SET actor = 'cli' WHERE seq = 3");
	cr_assert_eq(engine_audit_verify(F.e, &v, &d), FF_OK);
	cr_assert(json_is_true(json_object_get(v, "ok")));
	json_decref(v);
	fx_sql(&F, "DELETE FROM audit WHERE seq = 2");
	cr_assert_eq(engine_audit_verify(F.e, &v, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(v, "first_bad")), "3");
	json_decref(v);
	/* leave a valid chain for the teardown check: a fresh database */
	fx_close(&F);
	fx_open(&F);
}

/* Each stored hash is SHA-256 over the record's fields as SPEC §9 and audit.c define
 * them: seq, at (in decimal), actor, action, target, detail, prev_hash, each preceded by
 * its length as 8 bytes big-endian. Recomputed here from the rows, independently of
 * audit.c (which verify shares with the writer), so a change in how the writer spells
 * a field (the numbers are formatted by hand) cannot pass unseen. */
Test(audit, audit_hash_is_sha256_of_the_length_prefixed_fields)
{
	fx_program(&F, GIVE20);
	fx_participant(&F, "jessica");
	fx_referral(&F, "ref_1", "give20", "jessica", "tom");
	static const char *const cols[] = {"seq", "at", "actor", "action", "target", "detail", "prev_hash", "hash"};
	json_t *col[8];
	for (int c = 0; c < 8; c++) {
		char sql[120];
		snprintf(sql, sizeof(sql), "SELECT %s FROM audit ORDER BY seq", cols[c]);
		col[c] = fx_sql_texts(&F, sql);
	}
	size_t n = json_array_size(col[0]);
	cr_assert_gt(n, 4);
	char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
	for (size_t i = 0; i < n; i++) {
		unsigned char buf[8192];
		size_t len = 0;
		for (int c = 0; c < 7; c++) {
			const char *f = c == 6 ? prev : json_string_value(json_array_get(col[c], i));
			cr_assert(f, "record %zu: %s is null", i + 1, cols[c]);
			uint64_t fl = strlen(f);
			cr_assert_lt(len + 8 + fl, sizeof(buf));
			for (int k = 0; k < 8; k++)
				buf[len++] = (unsigned char)(fl >> (56 - 8 * k));
			memcpy(buf + len, f, fl);
			len += fl;
		}
		char want[65];
		crypto_sha256_hex(buf, len, want);
		cr_assert_str_eq(json_string_value(json_array_get(col[7], i)), want, "record %zu", i + 1);
		cr_assert_str_eq(json_string_value(json_array_get(col[6], i)), prev, "record %zu", i + 1);
		cr_assert_eq(strtoll(json_string_value(json_array_get(col[0], i)), NULL, 10), (long long)(i + 1));
		memcpy(prev, want, sizeof(prev));
	}
	for (int c = 0; c < 8; c++)
		json_decref(col[c]);
}
