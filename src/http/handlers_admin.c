/*
 * handlers_admin.c - reports, API keys, audit, and the unauthenticated operational
 * routes: /healthz, /readyz, /metrics, /v1/openapi.json and the static console and
 * portal pages under web/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http/http_int.h"

/* ---- reports ---- */

enum ff_err h_report_participants(struct ctx *c)
{
	json_t *doc = NULL;
	bool csv;
	enum ff_err err = query_format(c, &csv);
	if (err)
		return err;
	err = engine_report_participants(c->eng, c->actor, &doc, &c->diag);
	if (err)
		return err;
	return report_answer(c, csv, doc);
}

/* ---- API keys ---- */

enum ff_err h_key_create(struct ctx *c)
{
	json_t *doc = NULL;
	bool bad = false;
	enum ff_err err = body_object(c, "role,name,participant,fulfiller", &doc);
	if (err)
		return err;
	const char *role = json_string_value(json_object_get(doc, "role"));
	if (!role || role_parse(role) < 0) {
		err = ff_fail(
		    &c->diag, FF_E_INVALID, "role",
		    "role must be admin, operator, finance, auditor, ingest, fulfiller or partner");
		goto out;
	}
	const char *name = body_string(doc, "name", &bad);
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID, "name", "name must be a non-empty string");
		goto out;
	}
	const char *participant = body_string(doc, "participant", &bad);
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID, "participant",
			      "participant must be a participant id");
		goto out;
	}
	const char *fulfiller = body_string(doc, "fulfiller", &bad);
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID, "fulfiller",
			      "fulfiller must be a fulfiller id");
		goto out;
	}
	err = engine_key_create(c->eng, c->actor, role, name, participant, fulfiller, &c->out,
				&c->diag);
out:
	json_decref(doc);
	return err;
}

enum ff_err h_key_revoke(struct ctx *c)
{
	enum ff_err err = engine_key_revoke(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
	/* the revoked key must stop working at once, not when its cache entry expires
	 * (under an Idempotency-Key the commit comes just after this: a request racing
	 * it may keep the key for one cache TTL, as with a revocation from the CLI) */
	auth_cache_clear();
	return err;
}

/* ---- audit ---- */

enum ff_err h_audit_list(struct ctx *c)
{
	struct page p;
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_audit_list(c->eng, c->actor, &p, &c->out, &c->diag);
}

enum ff_err h_audit_verify(struct ctx *c) { return engine_audit_verify(c->eng, &c->out, &c->diag); }

/* ---- operations ---- */

enum ff_err h_healthz(struct ctx *c)
{
	c->out = json_pack("{s:b}", "ok", 1);
	return FF_OK;
}

enum ff_err h_readyz(struct ctx *c)
{
	if (!c->eng || !engine_ping(c->eng))
		return ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "the database is not reachable");
	char why[256];
	if (!engine_writable(c->eng, why, sizeof(why)))
		return ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "the database cannot be written: %s", why);
	c->out = json_pack("{s:b}", "ok", 1);
	return FF_OK;
}

enum ff_err h_metrics(struct ctx *c)
{
	c->raw = metrics_render(c->eng, &c->raw_len);
	c->raw_ctype = "text/plain; version=0.0.4; charset=utf-8";
	return FF_OK;
}

enum ff_err h_openapi(struct ctx *c)
{
	const char *doc = http_server->openapi_text ? http_server->openapi_text : "{}";
	c->raw_len = strlen(doc);
	c->raw = ff_malloc(c->raw_len + 1);
	memcpy(c->raw, doc, c->raw_len + 1);
	c->raw_ctype = "application/json";
	return FF_OK;
}

/* ---- static pages ---- */

static const char placeholder[] = "<!doctype html>\n<html lang=\"en\"><head><meta "
				  "charset=\"utf-8\"><title>fulfill %s</title></head>\n"
				  "<body><h1>fulfill %s</h1><p>This page is not built yet. The API "
				  "is at <a href=\"/v1/openapi.json\">"
				  "/v1/openapi.json</a>.</p></body></html>\n";

/* What the static routes serve (the OpenAPI document lists these types); any other
 * extension is application/octet-stream. */
const struct static_type http_static_types[] = {{".html", "text/html; charset=utf-8"},
						{".js", "text/javascript; charset=utf-8"},
						{".css", "text/css; charset=utf-8"},
						{".json", "application/json"},
						{".svg", "image/svg+xml"},
						{".png", "image/png"},
						{".ico", "image/x-icon"},
						{".txt", "text/plain; charset=utf-8"}};
const size_t http_static_types_count = sizeof(http_static_types) / sizeof(http_static_types[0]);

static const char *content_type(const char *file)
{
	const char *dot = strrchr(file, '.');
	for (size_t i = 0; dot && i < http_static_types_count; i++)
		if (strcmp(dot, http_static_types[i].ext) == 0)
			return http_static_types[i].type;
	return "application/octet-stream";
}

static bool safe_name(const char *s)
{
	if (!*s || *s == '.' || strlen(s) > 100)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_'))
			return false;
	return true;
}

enum ff_err h_static(struct ctx *c)
{
	const char *section =
	    strncmp(c->req->route->pattern, "/console", 8) == 0 ? "console" : "portal";
	const char *file = strchr(c->req->route->pattern, '{') ? ctx_param(c, 0) : "index.html";
	char path[1400];
	struct stat st;
	FILE *f;

	if (!safe_name(file))
		return ff_fail(&c->diag, FF_E_NOT_FOUND, NULL, "no such file");
	c->page = true;
	snprintf(path, sizeof(path), "%s/%s/%s", http_server->web_root, section, file);
	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)16 * 1024 * 1024) {
		if (f)
			fclose(f);
		if (strcmp(file, "index.html") != 0)
			return ff_fail(&c->diag, FF_E_NOT_FOUND, NULL, "no such file");
		struct ffbuf b;
		ffbuf_init(&b, 0);
		ffbuf_addf(&b, placeholder, section, section);
		c->raw = ffbuf_detach(&b, &c->raw_len);
		c->raw_ctype = "text/html; charset=utf-8";
		return FF_OK;
	}
	/* a validator that changes whenever the file is replaced or rewritten */
	snprintf(c->etag, sizeof(c->etag), "\"%llx-%llx.%lx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
	c->raw_ctype = content_type(file);
	const char *inm =
	    MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && strstr(inm, c->etag)) {
		fclose(f);
		c->status = 304;
		c->raw = ff_malloc(1);
		c->raw_len = 0;
		return FF_OK;
	}
	c->raw_len = (size_t)st.st_size;
	c->raw = ff_malloc(c->raw_len + 1);
	if (fread(c->raw, 1, c->raw_len, f) != c->raw_len) {
		fclose(f);
		free(c->raw);
		c->raw = NULL;
		return ff_fail(&c->diag, FF_E_INTERNAL, NULL, "could not read %s", file);
	}
	fclose(f);
	return FF_OK;
}

/* ---- the calling key ---- */

/* GET /v1/me: what the console and the portal need to know about the key they were
 * given: its role (which screens and actions to offer) and its scope (the portal's
 * participant). Every role may ask; the key itself is never echoed, only its prefix. */
enum ff_err h_me(struct ctx *c)
{
	const struct actor *a = c->actor;
	c->out = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "object", "api_key", "role",
			   role_name(a->role), "prefix", a->key_prefix, "participant",
			   a->participant[0] ? a->participant : NULL, "fulfiller",
			   a->fulfiller[0] ? a->fulfiller : NULL);
	if (!c->out)
		ff_oom();
	/* s:s? leaves a NULL out; the API shows absent scopes as null */
	if (!json_object_get(c->out, "participant"))
		json_object_set_new(c->out, "participant", json_null());
	if (!json_object_get(c->out, "fulfiller"))
		json_object_set_new(c->out, "fulfiller", json_null());
	return FF_OK;
}
