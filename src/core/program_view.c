/*
 * program_view.c - reading programs (SPEC §3): one version, a program with its active
 * version, the list of programs, and the diff between two versions as JSON-pointer
 * paths with their old and new values. The versions themselves are made by program.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/program_int.h"
#include "fulfill/jsonlogic.h"
#include "fulfill/money.h"

static json_t *version_json(struct store_stmt *st, int active, bool with_doc, const char *id)
{
	/* columns: version, status, author, approved_by, approved_at, activated_at, created_at, doc */
	int v = (int)store_col_int(st, 0);
	const char *status = store_col_text(st, 1);
	json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:o, s:o, s:o, s:o}", "program", id, "version", v, "status",
			      v == active ? "active" : status, "author", store_col_text(st, 2), "approved_by",
			      store_col_null(st, 3) ? json_null() : json_string(store_col_text(st, 3)),
			      "approved_at", json_time(store_col_int(st, 4), !store_col_null(st, 4)),
			      "activated_at", json_time(store_col_int(st, 5), !store_col_null(st, 5)),
			      "created_at", json_time(store_col_int(st, 6), true));
	if (with_doc)
		json_object_set_new(o, "document", json_from_text(store_col_text(st, 7), "{}"));
	return o;
}

enum ff_err engine_program_version(struct engine *e, const struct actor *a, const char *id, int version,
				   json_t **out, struct ff_diag *d)
{
	bool exists;
	int active = program_active_version(e, id, &exists);
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_VERSIONS);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, version);
	store_bind_int(st, 3, version);
	if (store_step(st) != 1)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "program %s has no version %d", id, version));
	*out = version_json(st, active, true, id);
	return core_done(e, FF_OK);
}

static json_t *program_json(struct engine *e, struct store_stmt *pst)
{
	/* columns: id, name, currency, active_version, created_at, updated_at */
	const char *id = store_col_text(pst, 0);
	int active = store_col_null(pst, 3) ? 0 : (int)store_col_int(pst, 3);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "id", id, "name", store_col_text(pst, 1),
			      "currency", store_col_text(pst, 2), "active_version",
			      active ? json_integer(active) : json_null(), "created_at",
			      json_time(store_col_int(pst, 4), true), "updated_at",
			      json_time(store_col_int(pst, 5), true));
	json_t *versions = json_array();
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_VERSIONS);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, 0);
	store_bind_int(st, 3, 1 << 30);
	while (store_step(st) == 1)
		json_array_append_new(versions, version_json(st, active, false, id));
	json_object_set_new(o, "versions", versions);
	return o;
}

enum ff_err engine_program_get(struct engine *e, const struct actor *a, const char *id, json_t **out,
			       struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_GET);
	store_bind_text(st, 1, id);
	if (store_step(st) != 1)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no program %s", id));
	json_t *o = program_json(e, st);
	int active = json_integer_value(json_object_get(o, "active_version"));
	if (active) {
		const struct program *p = program_version_get(e, id, active);
		if (p)
			json_object_set(o, "document", p->doc);
	}
	*out = o;
	return core_done(e, FF_OK);
}

enum ff_err engine_program_list(struct engine *e, const struct actor *a, const struct page *pg, json_t **out,
				struct ff_diag *d)
{
	int limit = page_limit(pg);
	json_t *ids = json_array();
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_LIST);
	store_bind_text(st, 1, pg ? pg->starting_after : NULL);
	store_bind_int(st, 2, limit + 1);
	while (store_step(st) == 1)
		json_array_append_new(ids, json_string(store_col_text(st, 0)));
	json_t *data = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		st = store_query(e->st, Q_PROGRAM_GET);
		store_bind_text(st, 1, json_string_value(v));
		if (store_step(st) == 1)
			json_array_append_new(data, program_json(e, st));
	}
	json_decref(ids);
	*out = list_json(data, limit);
	return core_done(e, FF_OK);
}

/* ---- diff: JSON-pointer paths with old and new values ---- */

static void pointer_append(char *out, size_t n, const char *base, const char *key)
{
	size_t len = strlen(base);
	snprintf(out, n, "%s/", base);
	char *w = out + len + 1;
	char *end = out + n - 1;
	for (const char *k = key; *k && w < end - 1; k++) {
		if (*k == '~' || *k == '/') {
			*w++ = '~';
			*w++ = *k == '~' ? '0' : '1';
		} else {
			*w++ = *k;
		}
	}
	*w = '\0';
}

static void diff_values(json_t *a, json_t *b, const char *path, json_t *out)
{
	if (json_equal(a, b))
		return;
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;
		json_object_foreach(a, k, v)
		{
			char p[512];
			pointer_append(p, sizeof(p), path, k);
			diff_values(v, json_object_get(b, k), p, out);
		}
		json_object_foreach(b, k, v)
		{
			if (json_object_get(a, k))
				continue;
			char p[512];
			pointer_append(p, sizeof(p), path, k);
			diff_values(NULL, v, p, out);
		}
		return;
	}
	if (json_is_array(a) && json_is_array(b)) {
		size_t na = json_array_size(a), nb = json_array_size(b);
		for (size_t i = 0; i < (na > nb ? na : nb); i++) {
			char p[512], idx[24];
			snprintf(idx, sizeof(idx), "%zu", i);
			pointer_append(p, sizeof(p), path, idx);
			diff_values(json_array_get(a, i), json_array_get(b, i), p, out);
		}
		return;
	}
	const char *op = !a ? "added" : !b ? "removed" : "changed";
	json_array_append_new(out, json_pack("{s:s, s:s, s:O?, s:O?}", "path", *path ? path : "/", "op", op, "from", a,
					     "to", b));
}

enum ff_err engine_program_diff(struct engine *e, const struct actor *a, const char *id, int from, int to,
				json_t **out, struct ff_diag *d)
{
	struct version_row va = {0}, vb = {0};
	enum ff_err err = program_version_load(e, id, from, &va, d);
	if (!err)
		err = program_version_load(e, id, to, &vb, d);
	if (!err) {
		json_t *changes = json_array();
		diff_values(va.doc, vb.doc, "", changes);
		*out = json_pack("{s:s, s:i, s:i, s:b, s:o}", "program", id, "from", from, "to", to,
				 "changes_economics", program_changes_economics(va.doc, vb.doc), "changes", changes);
	}
	json_decref(va.doc);
	json_decref(vb.doc);
	return core_done(e, err);
}
