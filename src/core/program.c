/*
 * program.c - program versions (SPEC §3): immutable versions (draft -> approved ->
 * active), the two-person rule, activation, rollback, loading a document in one step,
 * and a small cache of compiled versions. A document is checked and compiled by
 * program_compile.c; versions are read and compared by program_view.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/program_int.h"
#include "fulfill/jsonlogic.h"
#include "fulfill/money.h"

/* ---- cache ---- */

const struct program *program_version_get(struct engine *e, const char *id, int version)
{
	for (int i = 0; i < PROGRAM_CACHE; i++)
		if (e->program_used[i] && e->programs[i].version == version && !strcmp(e->programs[i].id, id))
			return &e->programs[i];
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_VERSION_DOC);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, version);
	if (store_step(st) != 1)
		return NULL;
	json_t *doc = json_loads(store_col_text(st, 0), 0, NULL);
	if (!doc)
		return NULL;
	int slot = e->program_next;
	e->program_next = (e->program_next + 1) % PROGRAM_CACHE;
	if (e->program_used[slot])
		program_release(&e->programs[slot]);
	e->program_used[slot] = false;
	struct ff_diag d;
	enum ff_err err = program_compile(doc, id, &e->programs[slot], &d);
	json_decref(doc);
	if (err)
		return NULL;
	e->programs[slot].version = version;
	e->programs[slot].anomaly_previous = -1;
	e->program_used[slot] = true;
	return &e->programs[slot];
}

const struct program *program_active(struct engine *e, const char *id)
{
	const size_t n = sizeof(e->active) / sizeof(e->active[0]);
	for (size_t i = 0; i < n; i++)
		if (core_tx_cached(e, e->active[i].gen) && !strcmp(e->active[i].id, id))
			return e->active[i].version ? program_version_get(e, id, e->active[i].version) : NULL;
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_ACTIVE_VERSION);
	store_bind_text(st, 1, id);
	int v = store_step(st) == 1 && !store_col_null(st, 0) ? (int)store_col_int(st, 0) : 0;
	if (strlen(id) <= ID_MAX) {
		size_t slot = (size_t)e->active_next++ % n;
		copy_str(e->active[slot].id, sizeof(e->active[slot].id), id);
		e->active[slot].version = v;
		e->active[slot].gen = e->tx_gen;
	}
	return v ? program_version_get(e, id, v) : NULL;
}

/* ---- versions ---- */

/* Fields whose change does not touch payout economics: such a version may be approved
 * by its own author. Everything else needs a second admin (SPEC §3). */
static const char *const cosmetic_fields[] = {"name", "description", "timezone", "schedule", NULL};

bool program_changes_economics(json_t *prev, json_t *next)
{
	if (!prev)
		return true;
	const char *k;
	json_t *v;
	json_object_foreach(next, k, v)
	{
		if (program_in_list(k, cosmetic_fields) || !strcmp(k, "id"))
			continue;
		if (!json_equal(v, json_object_get(prev, k)))
			return true;
	}
	json_object_foreach(prev, k, v)
	{
		if (program_in_list(k, cosmetic_fields) || !strcmp(k, "id"))
			continue;
		if (!json_object_get(next, k))
			return true;
	}
	return false;
}

enum ff_err program_version_load(struct engine *e, const char *id, int version,
				 struct version_row *out, struct ff_diag *d)
{
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_VERSION_GET);
	store_bind_text(st, 1, id);
	store_bind_int(st, 2, version);
	int rc = store_step(st);
	if (rc < 0)
		return core_store_fail(e, d, "program version");
	if (rc == 0)
		return ff_fail(d, FF_E_NOT_FOUND, NULL, "program %s has no version %d", id, version);
	out->version = version;
	copy_str(out->status, sizeof(out->status), store_col_text(st, 1));
	copy_str(out->author, sizeof(out->author), store_col_text(st, 2));
	copy_str(out->approved_by, sizeof(out->approved_by), store_col_text(st, 3));
	out->doc = json_loads(store_col_text(st, 0), 0, NULL);
	return FF_OK;
}

int program_active_version(struct engine *e, const char *id, bool *exists)
{
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_ACTIVE_VERSION);
	store_bind_text(st, 1, id);
	*exists = false;
	if (store_step(st) != 1)
		return 0;
	*exists = true;
	return store_col_null(st, 0) ? 0 : (int)store_col_int(st, 0);
}

/* What a new version may not say, beyond what program_compile() refuses: documents
 * that compile but cannot work as written. Versions stored before these checks still
 * compile and run as approved (a stricter compile would stop an active program). */
static enum ff_err check_new_version(json_t *doc, const struct program *p, struct ff_diag *d)
{
	json_t *rule = json_object_get(doc, "eligibility");
	if (rule && json_is_null(rule))
		/* JsonLogic reads the literal null as false: nobody would ever qualify */
		return ff_fail(d, FF_E_INVALID, "eligibility",
			       "eligibility must be a JsonLogic rule; leave it out for everyone to qualify");
	for (int k = 0; p->trigger_referral && k < p->nrewards + p->ntiers; k++) {
		const struct reward_spec *r = k < p->nrewards ? &p->rewards[k] : &p->tiers[k - p->nrewards];
		if (r->type != RT_CREDIT || !r->has_percent)
			continue;
		/* a percentage of the purchase: a referral has none, so it would always be 0 */
		char path[48];
		snprintf(path, sizeof(path), "%s[%d].percent_bp", k < p->nrewards ? "rewards" : "tiers",
			 k < p->nrewards ? k : k - p->nrewards);
		return ff_fail(d, FF_E_INVALID, path,
			       "%s: a credit in percent of the purchase needs trigger \"conversion\" (a "
			       "referral has no purchase amount)",
			       path);
	}
	return FF_OK;
}

static enum ff_err put_version(struct engine *e, const struct actor *a, const char *id, json_t *doc, int *out_version,
			       struct ff_diag *d)
{
	struct program p;
	enum ff_err err = program_compile(doc, id, &p, d);
	if (!err && (err = check_new_version(doc, &p, d)))
		program_release(&p);
	if (err)
		return err;
	int64_t now = fftime_now();
	if ((err = core_begin(e, d)))
		goto out;
	json_t *stored = json_deep_copy(doc);
	json_object_set_new(stored, "id", json_string(p.id));
	char *text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(stored);
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_UPSERT);
	store_bind_text(st, 1, p.id);
	store_bind_text(st, 2, p.name);
	store_bind_text(st, 3, p.currency);
	store_bind_int(st, 4, now);
	if (store_exec(st)) {
		free(text);
		err = core_store_fail(e, d, "program");
		goto end;
	}
	st = store_query(e->st, Q_PROGRAM_NEXT_VERSION);
	store_bind_text(st, 1, p.id);
	int version = store_step(st) == 1 ? (int)store_col_int(st, 0) : 1;
	st = store_query(e->st, Q_PROGRAM_VERSION_INSERT);
	store_bind_text(st, 1, p.id);
	store_bind_int(st, 2, version);
	store_bind_text(st, 3, text);
	store_bind_text(st, 4, a->label);
	store_bind_int(st, 5, now);
	free(text);
	if (store_exec(st)) {
		err = core_store_fail(e, d, "program version");
		goto end;
	}
	char target[ID_MAX + 16];
	snprintf(target, sizeof(target), "%s@%d", p.id, version);
	json_t *detail = json_pack("{s:O}", "document", doc);
	err = audit_append(e, a->label, "program.version_created", target, detail, d);
	json_decref(detail);
	*out_version = version;
end:
	err = core_end(e, err, d);
out:
	program_release(&p);
	return err;
}

enum ff_err engine_program_put(struct engine *e, const struct actor *a, const char *id, json_t *doc,
			       json_t **out, struct ff_diag *d)
{
	int version = 0;
	enum ff_err err = put_version(e, a, id, doc, &version, d);
	if (!err)
		*out = json_pack("{s:s, s:i, s:s}", "id", id, "version", version, "status", "draft");
	return core_done(e, err);
}

static enum ff_err approve(struct engine *e, const struct actor *a, const char *id, int version, bool bootstrap,
			   struct ff_diag *d)
{
	struct version_row v = {0};
	enum ff_err err = program_version_load(e, id, version, &v, d);
	if (err)
		return err;
	if (strcmp(v.status, "draft")) {
		err = ff_fail(d, FF_E_CONFLICT, NULL, "version %d of %s is already %s", version, id, v.status);
		goto out;
	}
	if (!bootstrap && !strcmp(v.author, a->label)) {
		/* the two-person rule: find the latest approved version to compare with */
		json_t *prev = NULL;
		struct store_stmt *st = store_query(e->st, Q_PROGRAM_LAST_APPROVED);
		store_bind_text(st, 1, id);
		store_bind_int(st, 2, version);
		if (store_step(st) == 1)
			prev = json_loads(store_col_text(st, 0), 0, NULL);
		bool econ = program_changes_economics(prev, v.doc);
		json_decref(prev);
		if (econ) {
			err = ff_fail(d, FF_E_SAME_AUTHOR, NULL,
				      "version %d changes payout economics: it must be approved by an admin "
				      "other than its author",
				      version);
			goto out;
		}
	}
	int64_t now = fftime_now();
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_VERSION_APPROVE);
	store_bind_text(st, 1, a->label);
	store_bind_int(st, 2, now);
	store_bind_text(st, 3, id);
	store_bind_int(st, 4, version);
	if (store_exec(st)) {
		err = core_store_fail(e, d, "approve");
		goto out;
	}
	char target[ID_MAX + 16];
	snprintf(target, sizeof(target), "%s@%d", id, version);
	err = audit_append(e, a->label, bootstrap ? "program.bootstrap_approved" : "program.approved", target, NULL,
			   d);
out:
	json_decref(v.doc);
	return err;
}

static enum ff_err activate(struct engine *e, const struct actor *a, const char *id, int version,
			    const char *action, struct ff_diag *d)
{
	struct version_row v = {0};
	enum ff_err err = program_version_load(e, id, version, &v, d);
	if (err)
		return err;
	json_decref(v.doc);
	if (!strcmp(v.status, "draft"))
		return ff_fail(d, FF_E_VERSION_NOT_APPROVED, NULL, "version %d of %s is not approved", version, id);
	bool exists;
	int prev = program_active_version(e, id, &exists);
	const struct program *p = program_version_get(e, id, version);
	if (!p)
		return ff_fail(d, FF_E_INTERNAL, NULL, "version %d of %s does not compile", version, id);
	core_tx_forget(e);
	struct store_stmt *st = store_query(e->st, Q_PROGRAM_SET_ACTIVE);
	store_bind_int(st, 1, version);
	store_bind_int(st, 2, fftime_now());
	store_bind_text(st, 3, p->name);
	store_bind_text(st, 4, p->currency);
	store_bind_text(st, 5, id);
	if (store_exec(st))
		return core_store_fail(e, d, "activate");
	st = store_query(e->st, Q_PROGRAM_VERSION_ACTIVATED);
	store_bind_int(st, 1, fftime_now());
	store_bind_text(st, 2, id);
	store_bind_int(st, 3, version);
	if (store_exec(st))
		return core_store_fail(e, d, "activate");
	char target[ID_MAX + 16];
	snprintf(target, sizeof(target), "%s@%d", id, version);
	json_t *detail = json_pack("{s:i}", "previous_version", prev);
	err = audit_append(e, a->label, action, target, detail, d);
	json_decref(detail);
	return err;
}

enum ff_err engine_program_approve(struct engine *e, const struct actor *a, const char *id, int version,
				   json_t **out, struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	err = core_end(e, approve(e, a, id, version, false, d), d);
	if (!err)
		return engine_program_version(e, a, id, version, out, d);
	return core_done(e, err);
}

enum ff_err engine_program_activate(struct engine *e, const struct actor *a, const char *id, int version,
				    json_t **out, struct ff_diag *d)
{
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	err = core_end(e, activate(e, a, id, version, "program.activated", d), d);
	if (!err)
		return engine_program_get(e, a, id, out, d);
	return core_done(e, err);
}

enum ff_err engine_program_rollback(struct engine *e, const struct actor *a, const char *id, int version,
				    json_t **out, struct ff_diag *d)
{
	bool exists;
	int cur = program_active_version(e, id, &exists);
	if (!exists)
		return core_done(e, ff_fail(d, FF_E_NOT_FOUND, NULL, "no program %s", id));
	if (cur == version)
		return core_done(e, ff_fail(d, FF_E_CONFLICT, "version", "version %d is already active", version));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	err = core_end(e, activate(e, a, id, version, "program.rolled_back", d), d);
	if (!err)
		return engine_program_get(e, a, id, out, d);
	return core_done(e, err);
}

enum ff_err engine_program_load(struct engine *e, const struct actor *a, json_t *doc, bool do_activate,
				json_t **out, struct ff_diag *d)
{
	json_t *idv = json_object_get(doc, "id");
	if (!json_is_string(idv))
		return ff_fail(d, FF_E_INVALID, "id", "the program document needs an \"id\"");
	char id[ID_MAX + 1];
	copy_str(id, sizeof(id), json_string_value(idv));
	enum ff_err err = core_begin(e, d);
	if (err)
		return core_done(e, err);
	int version = 0;
	err = put_version(e, a, id, doc, &version, d);
	if (!err && do_activate) {
		err = approve(e, a, id, version, true, d);
		if (!err)
			err = activate(e, a, id, version, "program.activated", d);
	}
	err = core_end(e, err, d);
	if (!err)
		return engine_program_version(e, a, id, version, out, d);
	return core_done(e, err);
}
