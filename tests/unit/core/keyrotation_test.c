/*
 * keyrotation_test.c - the master key on a real database (engine_fixture.h): the key
 * check on open refuses a wrong key, a rotation vouches for its own keys only, and a
 * database from before the check adopts only a key that opens its sealed values.
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

TestSuite(keyrotation, .init = setup, .fini = teardown);

/* Close F's engine and open it again with the master key of `byte`s and, unless 0, the
 * previous key of `previous` bytes; F.e stays closed when the open fails. */
static enum ff_err reopen_with_key(uint8_t byte, uint8_t previous, struct ff_diag *d)
{
	engine_close(F.e);
	F.e = NULL;
	memset(F.cfg.master_key, byte, sizeof(F.cfg.master_key));
	char hex[2 * FF_MASTER_KEY_BYTES + 1];
	for (int i = 0; i < FF_MASTER_KEY_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", previous);
	if (previous)
		setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	else
		unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	ff_diag_clear(d);
	enum ff_err err = engine_open(&F.cfg, &F.e, d);
	unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	return err;
}

static int64_t key_checks(void)
{
	return fx_sql_int(&F, "SELECT COUNT(*) FROM meta WHERE key = 'master_key_id'");
}

Test(keyrotation, wrong_master_key_is_refused)
{
	/* the fixture's key is 0xab...: the new, empty database took it */
	cr_assert_eq(key_checks(), 1);
	struct ff_diag d;
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID, "an empty database keeps its first key");
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	fx_participant(&F, "jo");

	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID);
	cr_assert_str_eq(d.param, "master_key");
	cr_assert(strstr(d.message, "wrong master key"), "%s", d.message);
	cr_assert(strstr(d.message, "FULFILL_MASTER_KEY") && strstr(d.message, "--master-key-file"),
		  "the message names the settings: %s", d.message);
	cr_assert(strstr(d.message, "t.db.key") || strncmp(F.cfg.db_url, "sqlite:", 7),
		  "and the key file next to a SQLite database: %s", d.message);
	cr_assert_null(F.e);

	/* the database's key as the previous one does not vouch for any other key: no
	 * rotation to it has started (a_rotation_vouches_for_its_keys) */
	cr_assert_eq(reopen_with_key(0xcd, 0xab, &d), FF_E_INVALID);
	cr_assert(strstr(d.message, "rotate-master") && strstr(d.message, "has started"), "%s", d.message);
	cr_assert_null(F.e);
	cr_assert_eq(reopen_with_key(0xab, 0xcd, &d), FF_OK, "%s", d.message);
	json_t *p = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "jo", &p, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(p, "email")), "jo@example.com");
	json_decref(p);
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM participants"), 1, "the refusals wrote nothing");
}

static enum ff_err rotate_to(uint8_t byte, int max_batches, bool *complete, struct ff_diag *d)
{
	uint8_t key[FF_MASTER_KEY_BYTES];
	memset(key, byte, sizeof(key));
	json_t *out = NULL;
	ff_diag_clear(d);
	enum ff_err err = engine_rotate_master_key_steps(F.e, &F.cli, key, 1, max_batches, &out, d);
	*complete = json_is_true(json_object_get(out, "complete"));
	json_decref(out);
	return err;
}

/* A process whose previous key is the recorded one opens with another current key only
 * when a rotation vouches for that key: one to it is under way, or the last completed
 * one moved away from it. */
Test(keyrotation, a_rotation_vouches_for_its_keys)
{
	fx_participant(&F, "jo");
	fx_participant(&F, "bo");
	struct ff_diag d;
	bool complete;
	/* a rotation to 0xcd, interrupted after one row */
	cr_assert_eq(rotate_to(0xcd, 1, &complete, &d), FF_OK, "%s", d.message);
	cr_assert(!complete);
	cr_assert_eq(reopen_with_key(0xcd, 0xab, &d), FF_OK, "the rollout of its key: %s", d.message);
	json_t *p = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "bo", &p, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(p, "email")), "bo@example.com");
	json_decref(p);
	cr_assert_eq(reopen_with_key(0xee, 0xab, &d), FF_E_INVALID, "a key no rotation goes to");
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "the old key alone until it completes: %s", d.message);

	/* completed: the new key, alone or with the old one; the old one with the new one
	 * as previous (the reverse); never a third key, nor the old one alone */
	cr_assert_eq(rotate_to(0xcd, 0, &complete, &d), FF_OK, "%s", d.message);
	cr_assert(complete);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xab, 0xcd, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xee, 0xcd, &d), FF_E_INVALID);
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_E_INVALID);

	/* the catch-up run to the same key keeps the reverse working */
	cr_assert_eq(reopen_with_key(0xcd, 0xab, &d), FF_OK, "%s", d.message);
	cr_assert_eq(rotate_to(0xcd, 0, &complete, &d), FF_OK, "%s", d.message);
	cr_assert(complete);
	cr_assert_eq(reopen_with_key(0xab, 0xcd, &d), FF_OK, "%s", d.message);

	/* a next rotation, to 0xee, started: the key two rotations back is out */
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(rotate_to(0xee, 1, &complete, &d), FF_OK, "%s", d.message);
	cr_assert(!complete);
	cr_assert_eq(reopen_with_key(0xee, 0xcd, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xab, 0xcd, &d), FF_E_INVALID);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
}

Test(keyrotation, database_without_key_check_adopts_the_key_that_opens_it)
{
	fx_participant(&F, "jo");
	/* as a database from before the check: no master_key_id */
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	struct ff_diag d;
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID, "its e-mails do not open with this key");
	cr_assert(strstr(d.message, "wrong master key"), "%s", d.message);
	cr_assert_eq(key_checks(), 0, "a refused key is not adopted");
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(key_checks(), 1, "the key that opens them is");
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID);

	/* in the middle of a rotation (to 0xcd, none of its rows moved yet), the previous
	 * key that opens them is adopted */
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	uint8_t cd[FF_MASTER_KEY_BYTES];
	char cd_id[17];
	memset(cd, 0xcd, sizeof(cd));
	engine_key_id(cd, cd_id);
	char sql[200];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO meta (key, value) VALUES ('master_key_rotation', '{\"key_id\":\"%s\",\"complete\":false}')",
		 cd_id);
	fx_sql(&F, sql);
	cr_assert_eq(reopen_with_key(0xcd, 0xab, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID);

	/* nothing sealed yet: the key given is adopted */
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	fx_sql(&F, "UPDATE participants SET email_enc = NULL, name_enc = NULL");
	fx_sql(&F, "DELETE FROM events"); /* jo's participant event body is sealed too */
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_E_INVALID);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_OK, "%s", d.message);
}

/* A database from before the check whose participants carry no e-mail or name still
 * has sealed values: the participant and referral event bodies, webhook endpoint and
 * connector secrets. A key that opens none of them is not adopted. */
Test(keyrotation, database_without_key_check_refuses_a_key_that_opens_no_sealed_value)
{
	fx_ok(&F, "{\"id\":\"p-anon\",\"type\":\"participant\",\"data\":{\"id\":\"anon\",\"country\":\"US\","
		  "\"currency\":\"USD\"}}");
	cr_assert_eq(fx_sql_int(&F, "SELECT COUNT(*) FROM participants WHERE email_enc IS NOT NULL OR name_enc IS NOT NULL"), 0);
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	struct ff_diag d;
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID, "the event body does not open with this key");
	cr_assert_eq(key_checks(), 0, "a refused key is not adopted");
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID);

	/* a webhook endpoint's secret alone */
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
	json_t *body = json_loads("{\"url\":\"https://hooks.example.com/x\",\"events\":[\"reward.fulfilled\"]}", 0, NULL);
	json_t *ep = NULL;
	cr_assert_eq(engine_webhook_endpoint_create(F.e, &F.cli, body, &ep, &d), FF_OK, "%s", d.message);
	json_decref(body);
	json_decref(ep);
	fx_sql(&F, "DELETE FROM events");
	fx_sql(&F, "DELETE FROM meta WHERE key = 'master_key_id'");
	cr_assert_eq(reopen_with_key(0xcd, 0, &d), FF_E_INVALID, "the endpoint secret does not open with this key");
	cr_assert_eq(key_checks(), 0);
	cr_assert_eq(reopen_with_key(0xab, 0, &d), FF_OK, "%s", d.message);
}
