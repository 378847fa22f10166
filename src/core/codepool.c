/*
 * codepool.c - code pools (SPEC §5, API.md "Code pools"): settings, uploads (CSV or
 * JSON), stock counts, and the assignment of codes to rewards for the code_pool
 * connector.
 *
 * Assignment runs inside the worker's transaction and is a conditional update of one
 * `available` row (claimed FOR UPDATE SKIP LOCKED on PostgreSQL), and a unique index on
 * codes.reward, so a code is never given twice and a reward never gets two codes, even
 * with several workers. An empty pool holds its rewards (pool_empty) and raises
 * code_pool.low; an upload releases them at once.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "fulfill/csv.h"

#define CODE_MAX 128
#define UPLOAD_MAX 1000000

static bool pool_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (!n || n > 63)
		return false;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			return false;
	return true;
}

/* A pool as the API shows it. low_stock says whether the stock is low now: at most
 * low_stock_threshold codes available (an empty pool always is), the same test as the
 * code_pool.low alert's (check_low), whether or not the alert has gone out. */
static enum ff_err pool_json(struct engine *e, const char *id, json_t **out, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_POOL_GET);
	store_bind_text(st, 1, id);
	int rc = store_step(st);
	if (rc < 0)
		return core_store_fail(e, d, "code pool");
	if (rc == 0)
		return ff_fail(d, FF_E_NOT_FOUND, NULL, "no code pool %s", id);
	json_t *o = json_pack("{s:s, s:s, s:I, s:o, s:b, s:I, s:I, s:I, s:I, s:o, s:o}", "id", id, "object",
			      "code_pool", "low_stock_threshold", (json_int_t)store_col_int(st, 1),
			      "per_participant_limit",
			      store_col_null(st, 2) ? json_null() : json_integer(store_col_int(st, 2)), "low_stock",
			      false, "available", (json_int_t)0, "assigned", (json_int_t)0,
			      "redeemed", (json_int_t)0, "void", (json_int_t)0, "created_at",
			      json_time(store_col_int(st, 4), true), "updated_at", json_time(store_col_int(st, 5), true));
	st = store_query(e->st, Q_POOL_COUNTS);
	store_bind_text(st, 1, id);
	while ((rc = store_step(st)) == 1)
		json_object_set_new(o, store_col_text(st, 0), json_integer(store_col_int(st, 1)));
	if (rc < 0) {
		json_decref(o);
		return core_store_fail(e, d, "code pool counts");
	}
	json_object_set_new(o, "low_stock",
			    json_boolean(json_integer_value(json_object_get(o, "available")) <=
					 json_integer_value(json_object_get(o, "low_stock_threshold"))));
	*out = o;
	return FF_OK;
}

enum ff_err engine_code_pool_put(struct engine *e, const struct actor *a, const char *id, json_t *body,
				 json_t **out, struct ff_diag *d)
{
	if (!pool_id_ok(id))
		return core_done(e, ff_fail(d, FF_E_INVALID, "id", "a pool id is 1-63 of [A-Za-z0-9_.-]"));
	if (!json_is_object(body))
		return core_done(e, ff_fail(d, FF_E_INVALID, NULL, "the body must be a JSON object"));
	int64_t threshold = 0, limit = 0;
	bool has_limit = false;
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v)
	{
		if (!strcmp(k, "low_stock_threshold")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000000)
				return core_done(e, ff_fail(d, FF_E_INVALID, k, "%s must be an integer >= 0", k));
			threshold = json_integer_value(v);
		} else if (!strcmp(k, "per_participant_limit")) {
			if (json_is_null(v))
				continue;
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
				return core_done(e, ff_fail(d, FF_E_INVALID, k, "%s must be an integer >= 1 or null", k));
			limit = json_integer_value(v);
			has_limit = true;
		} else {
			return core_done(e, ff_fail(d, FF_E_UNKNOWN_FIELD, k, "unknown field %s", k));
		}
	}
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	int64_t now = fftime_now();
	struct store_stmt *st = store_query(e->st, Q_POOL_UPSERT);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, threshold);
	store_bind_int_or_null(st, 3, limit, !has_limit);
	store_bind_int(st, 4, now);
	if (store_exec(st))
		err = core_store_fail(e, d, "code pool");
	if (!err) {
		json_t *detail = json_pack("{s:I, s:o}", "low_stock_threshold", (json_int_t)threshold,
					   "per_participant_limit", has_limit ? json_integer(limit) : json_null());
		err = audit_append(e, a->label, "code_pool.configured", id, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (!err)
		err = pool_json(e, id, out, d);
	return core_done(e, err);
}

enum ff_err engine_code_pool_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
				 struct ff_diag *d)
{
	(void)a;
	return core_done(e, pool_json(e, id, out, d));
}

enum ff_err engine_code_pools_list(struct engine *e, const struct actor *a, const struct page *p,
				   json_t **out, struct ff_diag *d)
{
	(void)a;
	int limit = page_limit(p);
	json_t *ids = json_array(), *data = json_array();
	struct store_stmt *st = store_query(e->st, Q_POOL_LIST);
	store_bind_text(st, 1, p ? p->starting_after : NULL);
	store_bind_int(st, 2, limit + 1);
	enum ff_err err = core_collect_ids(e, st, ids, "code pools", d);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		json_t *o = NULL;
		if (err || (err = pool_json(e, json_string_value(v), &o, d)))
			break;
		json_array_append_new(data, o);
	}
	json_decref(ids);
	if (err) {
		json_decref(data);
		return core_done(e, err);
	}
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

/* Insert the codes of `codes` (an array of strings, already validated). */
static enum ff_err upload(struct engine *e, const struct actor *a, const char *id, json_t *codes, json_t **out,
			  struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return err;
	int64_t now = fftime_now(), added = 0, dups = 0;
	struct store_stmt *st = store_query(e->st, Q_POOL_ENSURE);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, now);
	if (store_exec(st))
		err = core_store_fail(e, d, "code pool");
	size_t i;
	json_t *v;
	json_array_foreach(codes, i, v)
	{
		if (err)
			break;
		st = store_query(e->st, Q_CODE_INSERT);
		store_bind_text(st, 1, id);
		store_bind_text(st, 2, json_string_value(v));
		store_bind_int(st, 3, now);
		if (store_exec(st)) {
			err = core_store_fail(e, d, "code insert");
			break;
		}
		if (store_changes(e->st) == 1)
			added++;
		else
			dups++;
	}
	if (!err && added) {
		/* rewards waiting for codes go now; the low-stock alert may fire again */
		st = store_query(e->st, Q_REWARDS_UNHOLD_POOL);
		store_bind_int(st, 1, now);
		store_bind_text(st, 2, id);
		if (store_exec(st))
			err = core_store_fail(e, d, "release held rewards");
		st = store_query(e->st, Q_POOL_GET);
		store_bind_text(st, 1, id);
		int64_t threshold = store_step(st) == 1 ? store_col_int(st, 1) : 0;
		st = store_query(e->st, Q_POOL_AVAILABLE);
		store_bind_text(st, 1, id);
		store_bind_int(st, 2, threshold + 1);
		int64_t avail = store_step(st) == 1 ? store_col_int(st, 0) : 0;
		if (!err && avail > threshold) {
			st = store_query(e->st, Q_POOL_SET_ALERTED);
			store_bind_int(st, 1, 0);
			store_bind_text(st, 2, id);
			if (store_exec(st))
				err = core_store_fail(e, d, "code pool");
		}
	}
	if (!err) {
		json_t *detail = json_pack("{s:I, s:I}", "added", (json_int_t)added, "duplicates", (json_int_t)dups);
		err = audit_append(e, a->label, "code_pool.uploaded", id, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (!err)
		*out = json_pack("{s:s, s:I, s:I}", "pool", id, "added", (json_int_t)added, "duplicates",
				 (json_int_t)dups);
	return err;
}

static enum ff_err check_code(const char *s, size_t n, size_t index, struct ff_diag *d)
{
	char param[48];
	snprintf(param, sizeof(param), "codes[%zu]", index);
	if (n == 0 || n > CODE_MAX)
		return ff_fail(d, FF_E_INVALID, param, "a code is 1 to %d characters", CODE_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
			return ff_fail(d, FF_E_INVALID, param, "a code has no spaces or control characters");
	return FF_OK;
}

enum ff_err engine_code_pool_upload(struct engine *e, const struct actor *a, const char *id, json_t *body,
				    json_t **out, struct ff_diag *d)
{
	if (!pool_id_ok(id))
		return core_done(e, ff_fail(d, FF_E_INVALID, "id", "a pool id is 1-63 of [A-Za-z0-9_.-]"));
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v) if (strcmp(k, "codes")) return core_done(
		e, ff_fail(d, FF_E_UNKNOWN_FIELD, k, "unknown field %s", k));
	json_t *codes = json_object_get(body, "codes");
	if (!json_is_array(codes))
		return core_done(e, ff_fail(d, FF_E_INVALID, "codes", "codes must be an array of strings"));
	if (json_array_size(codes) > UPLOAD_MAX)
		return core_done(e, ff_fail(d, FF_E_TOO_LARGE, "codes", "at most %d codes per upload", UPLOAD_MAX));
	size_t i;
	json_array_foreach(codes, i, v)
	{
		if (!json_is_string(v))
			return core_done(e, ff_fail(d, FF_E_INVALID, "codes", "codes must be an array of strings"));
		enum ff_err err = check_code(json_string_value(v), json_string_length(v), i, d);
		if (err)
			return core_done(e, err);
	}
	return core_done(e, upload(e, a, id, codes, out, d));
}

/* `s` without its leading and trailing blanks (in place). */
static char *trim_blank(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

enum ff_err engine_code_pool_upload_csv(struct engine *e, const struct actor *a, const char *id, const char *text,
					size_t len, json_t **out, struct ff_diag *d)
{
	if (!pool_id_ok(id))
		return core_done(e, ff_fail(d, FF_E_INVALID, "id", "a pool id is 1-63 of [A-Za-z0-9_.-]"));
	json_t *codes = json_array();
	enum ff_err err = FF_OK;
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
		text += 3; /* a BOM from spreadsheet exports */
		len -= 3;
	}
	/* RFC 4180 records. A first record with a column named "code" is the header and
	 * names the column to read; without one, each record holds one code (trailing
	 * empty fields aside): a line of several values is an error, not a code. */
	struct csv_reader *cr = csv_open_mem(text, len, 64 * 1024);
	char **fields;
	size_t n;
	const char *why;
	int rc, col = -1;
	bool header = false;
	while (!err && (rc = csv_next(cr, &fields, &n, &why)) != 0) {
		size_t line = csv_line(cr);
		if (rc < 0) {
			err = ff_fail(d, FF_E_INVALID, NULL, "line %zu: %s", line, why);
			snprintf(d->param, sizeof(d->param), "line %zu", line);
			break;
		}
		size_t used = 0; /* fields up to the last non-blank one */
		for (size_t i = 0; i < n; i++)
			if (*trim_blank(fields[i]))
				used = i + 1;
		if (!used)
			continue; /* blank line */
		if (col < 0) {
			for (size_t i = 0; i < n && col < 0; i++)
				if (!strcasecmp(trim_blank(fields[i]), "code"))
					col = (int)i;
			if (col >= 0) {
				header = true;
				continue;
			}
			col = 0;
		}
		if (!header && used > 1) {
			err = ff_fail(d, FF_E_INVALID, NULL,
				      "line %zu has several values: a CSV of several columns needs a header with a "
				      "\"code\" column",
				      line);
			snprintf(d->param, sizeof(d->param), "line %zu", line);
			break;
		}
		const char *code = (size_t)col < n ? trim_blank(fields[col]) : "";
		if (json_array_size(codes) >= UPLOAD_MAX) {
			err = ff_fail(d, FF_E_TOO_LARGE, NULL, "at most %d codes per upload", UPLOAD_MAX);
			break;
		}
		if ((err = check_code(code, strlen(code), json_array_size(codes), d))) {
			snprintf(d->param, sizeof(d->param), "line %zu", line);
			break;
		}
		json_array_append_new(codes, json_string(code));
	}
	csv_free(cr);
	if (!err)
		err = upload(e, a, id, codes, out, d);
	json_decref(codes);
	return core_done(e, err);
}

enum ff_err engine_code_set_status(struct engine *e, const struct actor *a, const char *pool, const char *code,
				   const char *status, json_t **out, struct ff_diag *d)
{
	if (!status || (strcmp(status, "redeemed") && strcmp(status, "void")))
		return core_done(e, ff_fail(d, FF_E_INVALID, "status", "status must be redeemed or void"));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	struct store_stmt *st = store_query(e->st, Q_CODE_GET);
	store_bind_text(st, 1, pool);
	store_bind_text(st, 2, code);
	char reward[64] = "", old[16] = "";
	int rc = store_step(st);
	if (rc == 1) {
		copy_str(old, sizeof(old), store_col_text(st, 0));
		copy_str(reward, sizeof(reward), store_col_text(st, 1));
	}
	int64_t now = fftime_now();
	if (rc < 0)
		err = core_store_fail(e, d, "code");
	else if (rc == 0)
		err = ff_fail(d, FF_E_NOT_FOUND, NULL, "no code %s in pool %s", code, pool);
	else if (!strcmp(old, "redeemed") || (!strcmp(old, "void") && strcmp(status, "void")))
		err = ff_fail(d, FF_E_INVALID_TRANSITION, NULL, "code is %s", old);
	if (!err) {
		st = store_query(e->st, Q_CODE_SET_STATUS);
		store_bind_text(st, 1, status);
		store_bind_int_or_null(st, 2, now, strcmp(status, "redeemed") != 0);
		store_bind_text(st, 3, pool);
		store_bind_text(st, 4, code);
		if (store_exec(st))
			err = core_store_fail(e, d, "code");
	}
	if (!err && reward[0] && !strcmp(status, "redeemed")) {
		st = store_query(e->st, Q_REWARD_SYNC_SET);
		store_bind_null(st, 1);
		store_bind_text(st, 2, "redeemed");
		store_bind_int(st, 3, now);
		store_bind_text(st, 4, reward);
		if (store_exec(st))
			err = core_store_fail(e, d, "reward redeemed");
	}
	if (!err) {
		json_t *detail = json_pack("{s:s, s:s, s:s?}", "pool", pool, "status", status, "reward",
					   reward[0] ? reward : NULL);
		err = audit_append(e, a->label, "code.status", code, detail, d);
		json_decref(detail);
	}
	err = core_end(e, err, d);
	if (!err)
		*out = json_pack("{s:s, s:s, s:s, s:s?}", "pool", pool, "code", code, "status", status, "reward",
				 reward[0] ? reward : NULL);
	return core_done(e, err);
}

/* Raise code_pool.low once per dip to the threshold or below (re-armed by an upload that
 * lifts the stock above it): the state pool_json shows as low_stock. */
static enum ff_err check_low(struct engine *e, const char *pool, int64_t threshold, bool alerted, bool empty,
			     struct ff_diag *d)
{
	if (alerted)
		return FF_OK;
	int64_t avail = 0;
	if (!empty) {
		struct store_stmt *st = store_query(e->st, Q_POOL_AVAILABLE);
		store_bind_text(st, 1, pool);
		store_bind_int(st, 2, threshold + 1);
		if (store_step(st) == 1)
			avail = store_col_int(st, 0);
		if (avail > threshold)
			return FF_OK;
	}
	struct store_stmt *st = store_query(e->st, Q_POOL_SET_ALERTED);
	store_bind_int(st, 1, 1);
	store_bind_text(st, 2, pool);
	if (store_exec(st))
		return core_store_fail(e, d, "code pool");
	json_t *data = json_pack("{s:s, s:s, s:I, s:I}", "object", "code_pool", "id", pool, "available",
				 (json_int_t)avail, "low_stock_threshold", (json_int_t)threshold);
	enum ff_err err = outbox_event(e, "code_pool.low", data, d);
	json_decref(data);
	return err;
}

int codepool_assign(struct engine *e, struct reward *r, int64_t now, char *why, size_t why_n, struct ff_diag *d)
{
	if (!r->pool[0]) {
		snprintf(why, why_n, "reward %s names no code pool", r->id);
		return 2;
	}
	struct store_stmt *st = store_query(e->st, Q_CODE_OF_REWARD);
	store_bind_text(st, 1, r->id);
	if (store_step(st) == 1) { /* assigned before (idempotent) */
		copy_str(r->code, sizeof(r->code), store_col_text(st, 0));
		return 0;
	}
	st = store_query(e->st, Q_POOL_ENSURE);
	store_bind_text(st, 1, r->pool);
	store_bind_int(st, 2, now);
	if (store_exec(st))
		return core_store_fail(e, d, "code pool"), -1;
	st = store_query(e->st, Q_POOL_GET);
	store_bind_text(st, 1, r->pool);
	if (store_step(st) != 1)
		return core_store_fail(e, d, "code pool"), -1;
	if (!store_col_null(st, 2) && store_kind(e->st) == STORE_PG) {
		/* a per-participant limit is checked by counting the participant's codes and
		 * then assigning one: on PostgreSQL two workers (or chunks) assigning from the
		 * pool at once would both count before either committed and both assign, so
		 * they take turns on the pool's row (held until the chunk commits); SQLite's
		 * write transaction already excludes the other writers */
		st = store_query(e->st, Q_POOL_LOCK);
		store_bind_text(st, 1, r->pool);
		if (store_step(st) != 1)
			return core_store_fail(e, d, "code pool"), -1;
	}
	int64_t threshold = store_col_int(st, 1);
	bool has_limit = !store_col_null(st, 2);
	int64_t limit = store_col_int(st, 2);
	bool alerted = store_col_int(st, 3) != 0;
	if (has_limit) {
		st = store_query(e->st, Q_CODE_COUNT_PARTICIPANT);
		store_bind_text(st, 1, r->pool);
		store_bind_text(st, 2, r->participant);
		if (store_step(st) == 1 && store_col_int(st, 0) >= limit) {
			snprintf(why, why_n, "per_participant_limit: %s already has %lld code(s) from pool %s", r->participant,
				 (long long)limit, r->pool);
			return 2;
		}
	}
	for (int tries = 0; tries < 8; tries++) {
		st = store_query(e->st, Q_CODE_NEXT);
		store_bind_text(st, 1, r->pool);
		int rc = store_step(st);
		if (rc < 0)
			return core_store_fail(e, d, "next code"), -1;
		if (rc == 0) {
			snprintf(why, why_n, "pool_empty");
			return check_low(e, r->pool, threshold, alerted, true, d) ? -1 : 1;
		}
		int64_t seq = store_col_int(st, 0);
		char code[CODE_MAX + 1];
		copy_str(code, sizeof(code), store_col_text(st, 1));
		st = store_query(e->st, Q_CODE_ASSIGN);
		store_bind_text(st, 1, r->id);
		store_bind_text(st, 2, r->participant);
		store_bind_int(st, 3, now);
		store_bind_int(st, 4, seq);
		if (store_exec(st))
			return core_store_fail(e, d, "assign code"), -1;
		if (store_changes(e->st) != 1)
			continue; /* taken meanwhile: the next one */
		copy_str(r->code, sizeof(r->code), code);
		return check_low(e, r->pool, threshold, alerted, false, d) ? -1 : 0;
	}
	snprintf(why, why_n, "pool_empty");
	return 1;
}
