/*
 * keyrotation_test.c - the master key on a real database (engine_fixture.h): the key
 * check on open refuses a wrong key, a rotation vouches for its own keys only, and a
 * database from before the check adopts only a key that opens its sealed values; a
 * rotation resumes where it stopped, and stops at a blocklist entry it cannot open
 * (fraud_fixture.h).
 */
#include "core/core.h"
#include "fulfill/crypto.h"
#include "fraud_fixture.h"

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

Test(keyrotation, master_key_rotation_resumes)
{
	fx_program(&F, SIMPLE(""));
	for (int i = 0; i < 30; i++) {
		char id[24], email[32];
		snprintf(id, sizeof(id), "u%d", i);
		snprintf(email, sizeof(email), "user%d@example.com", i);
		person(id, email, ",\"name\":\"Someone\"");
	}
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "email", "user3@example.com", NULL, &out, &d), FF_OK);
	json_decref(out);
	uint8_t key2[32];
	memset(key2, 0x5c, sizeof(key2));
	/* interrupted after one batch of 10 ... */
	cr_assert_eq(engine_rotate_master_key_steps(F.e, &F.cli, key2, 10, 1, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "participants")), 10);
	cr_assert_eq(json_integer_value(json_object_get(out, "blocklist")), 1, "the blocklist went in the same batch");
	cr_assert(json_is_false(json_object_get(out, "complete")));
	json_decref(out);
	/* ... meanwhile a server given the other key as FULFILL_MASTER_KEY_PREVIOUS reads
	 * rows of both keys ... */
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key2[i]);
	setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	engine_close(F.e);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	const char *ids[] = {"u0", "u29"};
	for (int i = 0; i < 2; i++) {
		json_t *mid = NULL;
		char want[32];
		snprintf(want, sizeof(want), "user%s@example.com", ids[i] + 1);
		cr_assert_eq(engine_participant_get(F.e, &F.cli, ids[i], &mid, &d), FF_OK);
		cr_assert_str_eq(json_string_value(json_object_get(mid, "email")), want);
		json_decref(mid);
	}
	unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	engine_close(F.e);
	F.e = NULL;
	/* ... the new key alone does not open it yet (most rows are under the old one) ... */
	uint8_t key1[32];
	memcpy(key1, F.cfg.master_key, 32);
	memcpy(F.cfg.master_key, key2, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_E_INVALID, "the new key before the rotation is done");
	/* ... but with the old one as the previous key it does */
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key1[i]);
	setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	engine_close(F.e);
	unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	memcpy(F.cfg.master_key, key1, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	/* ... and run again, it resumes: only the 20 left */
	cr_assert_eq(engine_rotate_master_key(F.e, &F.cli, key2, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "participants")), 20);
	cr_assert_eq(json_integer_value(json_object_get(out, "blocklist")), 0);
	cr_assert(json_is_true(json_object_get(out, "complete")));
	json_decref(out);
	cr_assert_eq(engine_rotate_master_key(F.e, &F.cli, key2, &out, &d), FF_OK);
	cr_assert_eq(json_integer_value(json_object_get(out, "participants")), 0, "resumable: nothing twice");
	json_decref(out);
	/* the old key no longer opens the database ... */
	engine_close(F.e);
	F.e = NULL;
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_E_INVALID, "the old key after the rotation");
	cr_assert(strstr(d.message, "wrong master key"), "%s", d.message);
	/* ... the new key does: names, e-mails and e-mail lookups work */
	memcpy(F.cfg.master_key, key2, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK);
	json_t *p = NULL;
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "u7", &p, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(p, "email")), "user7@example.com");
	cr_assert_str_eq(json_string_value(json_object_get(p, "name")), "Someone");
	json_decref(p);
	person("x", "x@example.com", NULL);
	const char *sig;
	cr_assert_str_eq(refer("r1", "x", "u3", NULL, &sig), "rejected", "the blocklist hash was rotated too");
	cr_assert_str_eq(sig, "blocklist");

	/* a server still on the old key (the new one as its previous) writes a participant
	 * after the rotation; the catch-up run from a process on the new key, the old one as
	 * its previous key, re-seals it */
	engine_close(F.e);
	F.e = NULL;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key2[i]);
	setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	memcpy(F.cfg.master_key, key1, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	person("late", "late@example.com", NULL);
	engine_close(F.e);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key1[i]);
	setenv("FULFILL_MASTER_KEY_PREVIOUS", hex, 1);
	memcpy(F.cfg.master_key, key2, 32);
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	cr_assert_eq(engine_rotate_master_key(F.e, &F.cli, key2, &out, &d), FF_OK, "%s", d.message);
	cr_assert_eq(json_integer_value(json_object_get(out, "participants")), 1, "the late row only");
	json_decref(out);
	engine_close(F.e);
	unsetenv("FULFILL_MASTER_KEY_PREVIOUS");
	cr_assert_eq(engine_open(&F.cfg, &F.e, &d), FF_OK, "%s", d.message);
	cr_assert_eq(engine_participant_get(F.e, &F.cli, "late", &p, &d), FF_OK);
	cr_assert_str_eq(json_string_value(json_object_get(p, "email")), "late@example.com", "the new key alone opens it");
	json_decref(p);
}

/* A blocklisted e-mail that opens with neither key cannot be re-hashed: the rotation
 * stops with an error naming it instead of finding the same row in every batch and
 * running forever. */
Test(keyrotation, master_key_rotation_stops_at_a_blocklist_entry_it_cannot_open)
{
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_blocklist_put(F.e, &F.cli, "email", "badguy@gmail.com", NULL, &out, &d), FF_OK, "%s",
		     d.message);
	json_decref(out);
	uint8_t other[32], key2[32];
	memset(other, 0x77, sizeof(other));
	memset(key2, 0x5c, sizeof(key2));
	char *foreign = crypto_seal(other, "badguy@gmail.com");
	char sql[512];
	snprintf(sql, sizeof(sql), "UPDATE blocklist SET value_enc = '%s'", foreign);
	free(foreign);
	fx_sql(&F, sql);
	out = NULL;
	/* 50 batches of 1 row: far more than the one row needs */
	enum ff_err err = engine_rotate_master_key_steps(F.e, &F.cli, key2, 1, 50, &out, &d);
	cr_assert_eq(err, FF_E_INVALID, "stopped: %s", out ? json_dumps(out, 0) : d.message);
	cr_assert(strstr(d.message, "opens with neither"), "%s", d.message);
	cr_assert_null(strstr(d.message, "badguy"), "no e-mail in the message: %s", d.message);
	json_decref(out);
}
