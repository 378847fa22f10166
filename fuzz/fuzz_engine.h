/*
 * fuzz_engine.h - the engine the engine-level fuzz drivers (event, ndjson, program)
 * share: opened once per process on a fresh SQLite file in a temporary directory
 * ($TMPDIR or /tmp, removed at exit), with a master key, two active programs and a few
 * participants, referrals and a fulfilled conversion committed up front, so that every
 * event type reaches its interesting paths (attribution, eligibility, tiers, limits,
 * review, the referral trigger, refunds and ledger clawbacks).
 *
 * Each input then runs inside fuzz_input_begin() / fuzz_input_end(): an outer
 * transaction that is always rolled back. Inputs therefore see the same database (a
 * crash reproduces from the input alone), nothing grows, and no fsync slows the loop.
 *
 * Oracles shared by the drivers (fuzz_check_*): client input must never produce an
 * internal or storage error (a 500), and results follow the ownership rules of
 * include/fulfill/engine.h (a result exactly when the call succeeded). FUZZ_VERBOSE=1
 * prints each ingested item's outcome (to check that seeds reach what they should).
 */
#ifndef FULFILL_FUZZ_ENGINE_H
#define FULFILL_FUZZ_ENGINE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fulfill/crypto.h"
#include "fulfill/engine.h"

#define FUZZ_CHECK(cond, ...)                                                            \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz: check failed: %s (%s:%d): ", #cond, __FILE__, \
				__LINE__);                                               \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
			abort();                                                         \
		}                                                                        \
	} while (0)

static struct engine *fuzz_engine;
static struct actor fuzz_actor;
static char fuzz_dir[512];

/* The conversion-triggered program: every rule feature a conversion can reach. */
static const char fuzz_program_p1[] =
	"{\"id\":\"p1\",\"name\":\"Give 20 get 20\",\"currency\":\"USD\",\"trigger\":\"conversion\","
	"\"attribution\":\"first_touch\",\"eligibility\":{\"and\":["
	"{\">=\":[{\"var\":\"conversion.amount\"},1000]},"
	"{\"!=\":[{\"var\":\"referred.status\"},\"blocked\"]},"
	"{\"<=\":[{\"var\":\"stats.referred_prior_conversions\"},3]},"
	"{\"or\":[{\"in\":[{\"var\":\"referrer.country\"},[\"US\",\"CA\",\"\"]]},{\"var\":\"referrer.vip\"}]}]},"
	"\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":2000},"
	"{\"to\":\"referred\",\"type\":\"credit\",\"percent_bp\":1000,\"max_amount\":5000}],"
	"\"tiers\":[{\"from\":3,\"to\":\"referrer\",\"type\":\"credit\",\"amount\":3000}],"
	"\"limits\":{\"referrer_rewards_per_year\":20,\"referrer_amount_per_month\":100000},"
	"\"expires_days\":365,\"review\":{\"amount_at_least\":4000,"
	"\"when\":{\"==\":[{\"var\":\"conversion.category\"},\"giftcards\"]}},"
	"\"fulfillment\":{\"credit\":\"ledger\"}}";

/* The referral-triggered program: points for signing up. */
static const char fuzz_program_signup[] =
	"{\"id\":\"signup\",\"name\":\"Points for joining\",\"currency\":\"USD\",\"trigger\":\"referral\","
	"\"eligibility\":{\"!!\":[{\"var\":\"referred.id\"}]},"
	"\"rewards\":[{\"to\":\"referred\",\"type\":\"points\",\"amount\":100}],"
	"\"fulfillment\":{\"points\":\"ledger\"}}";

/* Committed before fuzzing: people, referrals, and a conversion whose rewards are
 * fulfilled, so refunds of "conv_seed" claw credit back. */
static const char *const fuzz_seed_events[] = {
	"{\"id\":\"s1\",\"type\":\"participant\",\"data\":{\"id\":\"alice\",\"email\":\"alice@example.com\","
	"\"name\":\"Alice\",\"country\":\"US\",\"currency\":\"USD\",\"attributes\":{\"vip\":true}}}",
	"{\"id\":\"s2\",\"type\":\"participant\",\"data\":{\"id\":\"bob\",\"email\":\"bob@example.com\"}}",
	"{\"id\":\"s3\",\"type\":\"participant\",\"data\":{\"id\":\"erin\",\"country\":\"CA\"}}",
	"{\"id\":\"s4\",\"type\":\"referral\",\"data\":{\"id\":\"ref_bob\",\"program\":\"p1\",\"referrer\":\"alice\","
	"\"referred\":\"bob\",\"code\":\"ALICE20\",\"source\":\"email\"}}",
	"{\"id\":\"s5\",\"type\":\"referral\",\"data\":{\"id\":\"ref_erin\",\"program\":\"p1\",\"referrer\":\"alice\","
	"\"referred\":\"erin\"}}",
	"{\"id\":\"s6\",\"type\":\"referral\",\"data\":{\"id\":\"ref_carol\",\"program\":\"signup\","
	"\"referrer\":\"alice\",\"referred_email\":\"carol@example.com\"}}",
	"{\"id\":\"s7\",\"type\":\"conversion\",\"occurred_at\":\"2026-01-05T10:00:00Z\",\"data\":{\"id\":\"conv_seed\","
	"\"participant\":\"erin\",\"amount\":12000,\"currency\":\"USD\",\"category\":\"shoes\"}}",
};

static inline void fuzz_cleanup(void)
{
	engine_close(fuzz_engine);
	fuzz_engine = NULL;
	if (fuzz_dir[0]) {
		char path[600];
		static const char *const files[] = {"fuzz.db", "fuzz.db-wal", "fuzz.db-shm", "fuzz.db-journal"};
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", fuzz_dir, files[i]);
			unlink(path);
		}
		rmdir(fuzz_dir);
	}
}

static inline void fuzz_load_program(const char *text)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr);
	FUZZ_CHECK(doc, "seed program does not parse: %s", jerr.text);
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_program_load(fuzz_engine, &fuzz_actor, doc, true, &out, &d);
	FUZZ_CHECK(err == FF_OK, "seed program: %s", d.message);
	json_decref(out);
	json_decref(doc);
}

/* Open the shared engine (once). */
static inline struct engine *fuzz_engine_get(void)
{
	if (fuzz_engine)
		return fuzz_engine;
	FUZZ_CHECK(crypto_init() == 0, "libsodium");
	const char *tmp = getenv("TMPDIR");
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fulfill-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(fuzz_dir), "cannot create %s", fuzz_dir);
	struct engine_config cfg;
	engine_config_init(&cfg);
	snprintf(cfg.db_url, sizeof(cfg.db_url), "sqlite:%s/fuzz.db", fuzz_dir);
	for (int i = 0; i < FF_MASTER_KEY_BYTES; i++)
		cfg.master_key[i] = (uint8_t)(0xA5 ^ i);
	cfg.has_master_key = true;
	struct ff_diag d;
	ff_diag_clear(&d);
	FUZZ_CHECK(engine_open(&cfg, &fuzz_engine, &d) == FF_OK, "engine_open: %s", d.message);
	atexit(fuzz_cleanup);
	actor_cli(&fuzz_actor);

	fuzz_load_program(fuzz_program_p1);
	fuzz_load_program(fuzz_program_signup);
	size_t n = sizeof(fuzz_seed_events) / sizeof(fuzz_seed_events[0]);
	struct ingest_item items[sizeof(fuzz_seed_events) / sizeof(fuzz_seed_events[0])];
	memset(items, 0, sizeof(items));
	for (size_t i = 0; i < n; i++) {
		items[i].text = fuzz_seed_events[i];
		items[i].len = strlen(fuzz_seed_events[i]);
	}
	FUZZ_CHECK(engine_ingest(fuzz_engine, &fuzz_actor, items, n, &d) == FF_OK, "seed ingest: %s", d.message);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(items[i].err == FF_OK, "seed event %zu: %s", i, items[i].diag.message);
		json_decref(items[i].result);
	}
	/* fulfil conv_seed's rewards so refunds take credit back from the ledger */
	json_t *out = NULL;
	FUZZ_CHECK(engine_worker_pass(fuzz_engine, &fuzz_actor, 0, &out, &d) == FF_OK, "worker: %s", d.message);
	json_decref(out);
	return fuzz_engine;
}

static inline void fuzz_input_begin(void)
{
	FUZZ_CHECK(engine_tx_begin(fuzz_engine_get()) == FF_OK, "engine_tx_begin");
}

static inline void fuzz_input_end(void)
{
	engine_tx_rollback(fuzz_engine);
}

/* Client input never causes a 500. */
static inline void fuzz_check_client_error(enum ff_err err, const struct ff_diag *d, const char *what)
{
	FUZZ_CHECK(err >= FF_OK && err < FF_E__COUNT, "%s: error %d out of range", what, (int)err);
	FUZZ_CHECK(err != FF_E_INTERNAL && err != FF_E_STORE && err != FF_E_UNAVAILABLE, "%s: %s: %s", what,
		   ff_err_code(err), d ? d->message : "");
	FUZZ_CHECK(err == FF_OK || !d || d->message[0], "%s: error %s without a message", what, ff_err_code(err));
}

/* One ingested item: a result exactly on success, with the documented shape. */
static inline void fuzz_check_item(const struct ingest_item *it)
{
	if (getenv("FUZZ_VERBOSE")) {
		/* FUZZ_VERBOSE=1 fuzz/build/event FILE... shows what each input did */
		char *r = it->result ? json_dumps(it->result, JSON_COMPACT) : NULL;
		fprintf(stderr, "fuzz: %s %s %s\n", ff_err_code(it->err), r ? r : "", it->diag.message);
		free(r);
	}
	fuzz_check_client_error(it->err, &it->diag, "ingest item");
	if (it->err) {
		FUZZ_CHECK(it->result == NULL, "failed item with a result");
		return;
	}
	FUZZ_CHECK(json_is_object(it->result), "accepted item without a result object");
	const char *outcome = json_string_value(json_object_get(it->result, "outcome"));
	FUZZ_CHECK(outcome && (!strcmp(outcome, "accepted") || !strcmp(outcome, "duplicate")), "outcome %s",
		   outcome ? outcome : "(none)");
	FUZZ_CHECK(json_is_string(json_object_get(it->result, "id")), "result without an id");
	char *text = json_dumps(it->result, JSON_COMPACT);
	FUZZ_CHECK(text, "result does not serialize");
	free(text);
}

#endif
