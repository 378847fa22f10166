/*
 * handlers_programs.c - /v1/programs: save drafts, read versions and diffs, approve,
 * activate and roll back (SPEC.md section 3, governance). The engine validates program
 * documents and enforces the two-person rule; these handlers parse paths and bodies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/fftime.h"
#include "http/http_int.h"

/* A version number from the path or query: 1..INT_MAX. */
static bool parse_version(const char *s, int *out)
{
	char *end;
	if (!s || !*s || *s == '+' || *s == '-')
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || errno || v < 1 || v > 2147483647L)
		return false;
	*out = (int)v;
	return true;
}

static enum ff_err path_version(struct ctx *c, int *out)
{
	if (!parse_version(ctx_param(c, 1), out))
		return ff_fail(&c->diag, FF_E_NOT_FOUND, NULL, "no such version: %.60s",
			       ctx_param(c, 1));
	return FF_OK;
}

/* Bodies of approve/activate/jobs-run: nothing, or {}. */
static enum ff_err empty_body(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "", &doc);
	json_decref(doc);
	return err;
}

enum ff_err h_program_put(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err = body_object(c, NULL, &doc);
	if (err)
		return err;
	if (json_object_size(doc) == 0) {
		json_decref(doc);
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "the body must be a program document");
	}
	err = engine_program_put(c->eng, c->actor, ctx_param(c, 0), doc, &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_program_list(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_program_list(c->eng, c->actor, &p, &c->out, &c->diag);
}

enum ff_err h_program_get(struct ctx *c)
{
	return engine_program_get(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

enum ff_err h_program_version(struct ctx *c)
{
	int v = 0;
	enum ff_err err = path_version(c, &v);
	if (err)
		return err;
	return engine_program_version(c->eng, c->actor, ctx_param(c, 0), v, &c->out, &c->diag);
}

enum ff_err h_program_diff(struct ctx *c)
{
	int from = 0, to = 0;
	if (!parse_version(query_get(c, "from"), &from))
		return ff_fail(&c->diag, FF_E_INVALID, "from", "from must be a version number");
	if (!parse_version(query_get(c, "to"), &to))
		return ff_fail(&c->diag, FF_E_INVALID, "to", "to must be a version number");
	return engine_program_diff(c->eng, c->actor, ctx_param(c, 0), from, to, &c->out, &c->diag);
}

enum ff_err h_program_approve(struct ctx *c)
{
	int v = 0;
	enum ff_err err = path_version(c, &v);
	if (!err)
		err = empty_body(c);
	if (err)
		return err;
	return engine_program_approve(c->eng, c->actor, ctx_param(c, 0), v, &c->out, &c->diag);
}

enum ff_err h_program_activate(struct ctx *c)
{
	int v = 0;
	enum ff_err err = path_version(c, &v);
	if (!err)
		err = empty_body(c);
	if (err)
		return err;
	return engine_program_activate(c->eng, c->actor, ctx_param(c, 0), v, &c->out, &c->diag);
}

enum ff_err h_program_rollback(struct ctx *c)
{
	json_t *doc = NULL, *v;
	enum ff_err err = body_object(c, "version", &doc);
	if (err)
		return err;
	v = json_object_get(doc, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 2147483647) {
		json_decref(doc);
		return ff_fail(&c->diag, FF_E_INVALID, "version",
			       "version must be a version number");
	}
	int version = (int)json_integer_value(v);
	json_decref(doc);
	return engine_program_rollback(c->eng, c->actor, ctx_param(c, 0), version, &c->out,
				       &c->diag);
}

enum ff_err h_jobs_run(struct ctx *c)
{
	enum ff_err err = empty_body(c);
	if (err)
		return err;
	int64_t t0 = http_now_ns();
	err = engine_worker_pass(c->eng, c->actor, 0, &c->out, &c->diag);
	metrics_worker_pass((double)(http_now_ns() - t0) / 1e9);
	return err;
}

enum ff_err h_program_simulate(struct ctx *c)
{
	int v = 0;
	int64_t from = 0, to = 0;
	json_t *doc = NULL;
	enum ff_err err = path_version(c, &v);
	if (!err)
		err = body_object(c, "from,to", &doc);
	if (err)
		return err;
	const char *f = json_string_value(json_object_get(doc, "from"));
	const char *t = json_string_value(json_object_get(doc, "to"));
	if (!f || fftime_parse(f, &from) != 0)
		err = ff_fail(&c->diag, FF_E_INVALID, "from", "from must be an RFC 3339 time");
	else if (json_object_get(doc, "to") && !json_is_null(json_object_get(doc, "to")) &&
		 (!t || fftime_parse(t, &to) != 0))
		err = ff_fail(&c->diag, FF_E_INVALID, "to", "to must be an RFC 3339 time");
	else if (to && to <= from)
		err = ff_fail(&c->diag, FF_E_INVALID, "to", "to must be after from");
	else
		err = engine_program_simulate(c->eng, c->actor, ctx_param(c, 0), v, from,
					      to ? to : fftime_now(), &c->out, &c->diag);
	json_decref(doc);
	return err;
}
