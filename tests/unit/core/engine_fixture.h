/*
 * engine_fixture.h - a fresh engine on a SQLite file in a temp dir for each test,
 * with helpers to load programs, ingest events and check the invariants every
 * scenario must keep (ledger and audit chain).
 */
#ifndef FULFILL_ENGINE_FIXTURE_H
#define FULFILL_ENGINE_FIXTURE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <unistd.h>

#include "fulfill/engine.h"
#include "fulfill/fftime.h"
#include "testutil.h"

struct fx {
	char *dir;
	struct engine *e;
	struct actor cli;
	struct engine_config cfg;
};

/* 2026-10-01T00:00:00Z */
#define T0 INT64_C(1790812800000)
#define DAY INT64_C(86400000)

/* With FULFILL_TEST_PG_HOST set (tests/with-postgres), every test gets a fresh
 * database on that PostgreSQL cluster instead of a SQLite file: the same scenarios
 * run against both backends. */
static inline void fx_open(struct fx *f)
{
	f->dir = tu_tempdir();
	engine_config_init(&f->cfg);
	const char *pg = getenv("FULFILL_TEST_PG_HOST");
	if (pg && *pg) {
		char admin[600], name[64];
		snprintf(admin, sizeof(admin), "postgresql://postgres@/postgres?host=%s", pg);
		snprintf(name, sizeof(name), "u%d_%ld", (int)getpid(), (long)(fftime_now() % 100000000));
		for (char *c = name; *c; c++)
			if (*c == '-')
				*c = '_';
		PGconn *c = PQconnectdb(admin);
		cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
		char sql[128];
		static int seq;
		snprintf(name + strlen(name), sizeof(name) - strlen(name), "_%d", ++seq);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
		PGresult *r = PQexec(c, sql);
		cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		snprintf(f->cfg.db_url, sizeof(f->cfg.db_url), "postgresql://postgres@/%s?host=%s", name, pg);
	} else {
		snprintf(f->cfg.db_url, sizeof(f->cfg.db_url), "sqlite:%s/t.db", f->dir);
	}
	memset(f->cfg.master_key, 0xab, sizeof(f->cfg.master_key));
	f->cfg.has_master_key = true;
	struct ff_diag d;
	cr_assert_eq(engine_open(&f->cfg, &f->e, &d), FF_OK, "engine_open: %s", d.message);
	actor_cli(&f->cli);
	fftime_set_now(T0);
}

static inline void fx_check_invariants(struct fx *f)
{
	struct ff_diag d;
	cr_assert_eq(engine_ledger_verify(f->e, &d), FF_OK, "ledger invariant: %s", d.message);
	json_t *v = NULL;
	cr_assert_eq(engine_audit_verify(f->e, &v, &d), FF_OK);
	cr_assert(json_is_true(json_object_get(v, "ok")), "audit chain broken at %s",
		  json_string_value(json_object_get(v, "first_bad")));
	json_decref(v);
}

/* Run raw SQL behind the engine's back (tampering tests), on either backend. */
static inline void fx_sql(struct fx *f, const char *sql)
{
	if (!strncmp(f->cfg.db_url, "postgresql://", 13)) {
		PGconn *c = PQconnectdb(f->cfg.db_url);
		PGresult *r = PQexec(c, sql);
		cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return;
	}
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(f->cfg.db_url + 7, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* The first column of every row of a query, as strings (NULL as JSON null), on either
 * backend. New reference. */
static inline json_t *fx_sql_texts(struct fx *f, const char *sql)
{
	json_t *out = json_array();
	if (!strncmp(f->cfg.db_url, "postgresql://", 13)) {
		PGconn *c = PQconnectdb(f->cfg.db_url);
		PGresult *r = PQexec(c, sql);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
		for (int i = 0; i < PQntuples(r); i++)
			json_array_append_new(out, PQgetisnull(r, i, 0) ? json_null() : json_string(PQgetvalue(r, i, 0)));
		PQclear(r);
		PQfinish(c);
		return out;
	}
	sqlite3 *db;
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_open(f->cfg.db_url + 7, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		json_array_append_new(out, v ? json_string(v) : json_null());
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* The first column of the first row of a query, as an integer, on either backend. */
static inline int64_t fx_sql_int(struct fx *f, const char *sql)
{
	json_t *rows = fx_sql_texts(f, sql);
	cr_assert_geq(json_array_size(rows), 1, "%s: no row", sql);
	const char *text = json_string_value(json_array_get(rows, 0)); /* NULL reads as 0 */
	int64_t v = text ? strtoll(text, NULL, 10) : 0;
	json_decref(rows);
	return v;
}

static inline void fx_close(struct fx *f)
{
	fftime_set_now(0);
	engine_close(f->e);
	tu_rmtree(f->dir);
	free(f->dir);
}

/* Load and activate a program given as JSON text. */
static inline void fx_program(struct fx *f, const char *text)
{
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	cr_assert_not_null(doc, "program JSON: %s", je.text);
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_program_load(f->e, &f->cli, doc, true, &out, &d), FF_OK, "program load: %s (%s)",
		     d.message, d.param);
	json_decref(out);
	json_decref(doc);
}

/* Ingest one event (printf-style text). Returns the error; *out the result (may be NULL). */
static inline enum ff_err fx_event(struct fx *f, json_t **out, struct ff_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline enum ff_err fx_event(struct fx *f, json_t **out, struct ff_diag *d, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	struct ingest_item it = {.text = buf, .len = strlen(buf)};
	struct ff_diag dd;
	cr_assert_eq(engine_ingest(f->e, &f->cli, &it, 1, &dd), FF_OK, "transaction: %s", dd.message);
	if (d)
		*d = it.diag;
	if (out)
		*out = it.result;
	else
		json_decref(it.result);
	return it.err;
}

/* Ingest an event that must be accepted; returns the number of rewards it made. */
#define fx_ok(f, ...)                                                                              \
	({                                                                                         \
		json_t *r_ = NULL;                                                                 \
		struct ff_diag d_;                                                                 \
		enum ff_err e_ = fx_event((f), &r_, &d_, __VA_ARGS__);                             \
		cr_assert_eq(e_, FF_OK, "event rejected: %s (%s)", d_.message, d_.param);          \
		size_t n_ = json_array_size(json_object_get(r_, "rewards"));                       \
		json_decref(r_);                                                                   \
		n_;                                                                                \
	})

static inline void fx_participant(struct fx *f, const char *id)
{
	fx_ok(f,
	      "{\"id\":\"p-%s\",\"type\":\"participant\",\"data\":{\"id\":\"%s\",\"email\":\"%s@example.com\","
	      "\"country\":\"US\",\"currency\":\"USD\",\"status\":\"active\"}}",
	      id, id, id);
}

static inline void fx_referral(struct fx *f, const char *ref, const char *program, const char *referrer,
			       const char *referred)
{
	fx_ok(f,
	      "{\"id\":\"r-%s\",\"type\":\"referral\",\"data\":{\"id\":\"%s\",\"program\":\"%s\",\"referrer\":\"%s\","
	      "\"referred\":\"%s\"}}",
	      ref, ref, program, referrer, referred);
}

static inline size_t fx_conversion(struct fx *f, const char *id, const char *who, long long amount)
{
	return fx_ok(f,
		     "{\"id\":\"c-%s\",\"type\":\"conversion\",\"data\":{\"id\":\"%s\",\"participant\":\"%s\","
		     "\"amount\":%lld,\"currency\":\"USD\"}}",
		     id, id, who, amount);
}

/* Friend f<i> (ref_<i>, order o<i>) is referred by `referrer` through `program` and buys
 * for `amount`: the number of rewards the conversion made. */
static inline int fx_friend_buys(struct fx *f, const char *program, const char *referrer, int i, int64_t amount)
{
	char ref[16], who[16], order[16];
	snprintf(ref, sizeof(ref), "ref_%d", i);
	snprintf(who, sizeof(who), "f%d", i);
	snprintf(order, sizeof(order), "o%d", i);
	fx_referral(f, ref, program, referrer, who);
	return fx_conversion(f, order, who, amount);
}

/* `referrer`'s i-th friend joins, is referred through `program` and buys for 50.00
 * (a conversion that must earn). */
static inline void fx_friend_converts(struct fx *f, const char *program, const char *referrer, int i)
{
	char friend[64], ref[80], conv[80];
	snprintf(friend, sizeof(friend), "%s-f%d", referrer, i);
	snprintf(ref, sizeof(ref), "ref-%s-%d", referrer, i);
	snprintf(conv, sizeof(conv), "c-%s-%d", referrer, i);
	fx_participant(f, friend);
	fx_referral(f, ref, program, referrer, friend);
	cr_assert_geq(fx_conversion(f, conv, friend, 5000), 1);
}

/* The rewards list for a filter as a JSON array (caller frees). */
static inline json_t *fx_rewards(struct fx *f, const char *status, const char *participant)
{
	struct reward_filter rf = {.status = status, .participant = participant};
	struct page pg = {.limit = 1000};
	json_t *out = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_rewards_list(f->e, &f->cli, &rf, &pg, &out, &d), FF_OK, "%s", d.message);
	json_t *data = json_incref(json_object_get(out, "data"));
	json_decref(out);
	return data;
}

/* How many rewards have `status`. */
static inline int fx_count_status(struct fx *f, const char *status)
{
	json_t *r = fx_rewards(f, status, NULL);
	int n = (int)json_array_size(r);
	json_decref(r);
	return n;
}

static inline int64_t fx_balance(struct fx *f, const char *participant, const char *currency)
{
	json_t *p = NULL;
	struct ff_diag d;
	cr_assert_eq(engine_participant_get(f->e, &f->cli, participant, &p, &d), FF_OK, "%s", d.message);
	int64_t bal = 0;
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(p, "balances"), i, b) if (!strcmp(
		json_string_value(json_object_get(b, "currency")), currency)) bal =
		json_integer_value(json_object_get(b, "amount"));
	json_decref(p);
	return bal;
}

static inline json_t *fx_worker(struct fx *f, int64_t now)
{
	json_t *out = NULL;
	struct ff_diag d;
	fftime_set_now(now);
	cr_assert_eq(engine_worker_pass(f->e, &f->cli, now, &out, &d), FF_OK, "worker: %s", d.message);
	return out;
}

/* The status of the i-th reward of a list (fx_rewards); borrowed. */
static inline const char *fx_status_of(json_t *rewards, size_t i)
{
	return json_string_value(json_object_get(json_array_get(rewards, i), "status"));
}

#define GIVE20                                                                                     \
	"{\"id\":\"give20\",\"name\":\"Give $20, get $20\",\"currency\":\"USD\",\"eligibility\":{\"and\":[" \
	"{\">=\":[{\"var\":\"conversion.amount\"},5000]},{\"==\":[{\"var\":\"referred.status\"},"   \
	"\"active\"]},{\"==\":[{\"var\":\"stats.referred_prior_conversions\"},0]}]},\"rewards\":[" \
	"{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":2000},{\"to\":\"referred\",\"type\":"  \
	"\"credit\",\"amount\":2000}],\"hold_days\":0,\"expires_days\":365}"

#endif
