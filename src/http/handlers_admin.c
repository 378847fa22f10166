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

/* RFC 4180 field: quoted only when it has to be. */
static void csv_field(struct ffbuf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		ffbuf_adds(b, s);
		return;
	}
	ffbuf_add(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '"')
			ffbuf_add(b, "\"", 1);
		ffbuf_add(b, s, 1);
	}
	ffbuf_add(b, "\"", 1);
}

static void csv_value(struct ffbuf *b, json_t *v)
{
	char num[32];
	if (!v || json_is_null(v))
		return;
	if (json_is_string(v)) {
		csv_field(b, json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		ffbuf_adds(b, num);
	} else if (json_is_true(v) || json_is_false(v)) {
		ffbuf_adds(b, json_is_true(v) ? "true" : "false");
	} else if (json_is_array(v) && json_array_size(v) > 0 && json_is_object(json_array_get(v, 0)) &&
		   json_object_get(json_array_get(v, 0), "currency")) {
		/* money per currency: "USD 2000;EUR 500" */
		size_t i;
		json_t *m;
		struct ffbuf t;
		ffbuf_init(&t, 0);
		json_array_foreach(v, i, m)
		{
			ffbuf_addf(&t, "%s%s %lld", i ? ";" : "", json_string_value(json_object_get(m, "currency")),
				   (long long)json_integer_value(json_object_get(m, "amount")));
		}
		csv_field(b, t.data ? t.data : "");
		ffbuf_release(&t);
	} else {
		char *text = json_text(v, NULL);
		csv_field(b, text);
		free(text);
	}
}

/* A list result ({"data": [...]} or a bare array) as CSV with the first row's keys. */
static enum ff_err to_csv(struct ctx *c, json_t *doc)
{
	json_t *rows = json_is_array(doc) ? doc : json_object_get(doc, "data");
	json_t *first, *row, *v;
	const char *key;
	struct ffbuf b;
	size_t i;

	if (!json_is_array(rows))
		return ff_fail(&c->diag, FF_E_INTERNAL, NULL, "the report has no rows");
	ffbuf_init(&b, 0);
	first = json_array_get(rows, 0);
	if (json_is_object(first)) {
		bool sep = false;
		json_object_foreach(first, key, v)
		{
			if (sep)
				ffbuf_add(&b, ",", 1);
			csv_field(&b, key);
			sep = true;
		}
		ffbuf_add(&b, "\r\n", 2);
	}
	json_array_foreach(rows, i, row)
	{
		bool sep = false;
		json_object_foreach(first, key, v)
		{
			if (sep)
				ffbuf_add(&b, ",", 1);
			csv_value(&b, json_object_get(row, key));
			sep = true;
		}
		ffbuf_add(&b, "\r\n", 2);
	}
	if (!b.data)
		ffbuf_adds(&b, "");
	c->raw = ffbuf_detach(&b, &c->raw_len);
	c->raw_ctype = "text/csv; charset=utf-8";
	return FF_OK;
}

enum ff_err h_report_participants(struct ctx *c)
{
	const char *format = query_get(c, "format");
	json_t *doc = NULL;

	if (format && strcmp(format, "json") && strcmp(format, "csv"))
		return ff_fail(&c->diag, FF_E_INVALID, "format", "format must be json or csv");
	enum ff_err err = engine_report_participants(c->eng, c->actor, &doc, &c->diag);
	if (err)
		return err;
	if (format && strcmp(format, "csv") == 0) {
		err = to_csv(c, doc);
		json_decref(doc);
		return err;
	}
	c->out = doc;
	return FF_OK;
}

/* ---- API keys ---- */

static const char *opt_string(json_t *doc, const char *name, bool *bad)
{
	json_t *v = json_object_get(doc, name);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= HTTP_PARAM_MAX) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

enum ff_err h_key_create(struct ctx *c)
{
	json_t *doc = NULL;
	bool bad = false;
	enum ff_err err = body_object(c, "role,name,participant,fulfiller", &doc);
	if (err)
		return err;
	const char *role = json_string_value(json_object_get(doc, "role"));
	if (!role || role_parse(role) < 0) {
		err = ff_fail(&c->diag, FF_E_INVALID, "role",
			      "role must be admin, operator, finance, auditor, ingest, fulfiller or partner");
		goto out;
	}
	const char *name = opt_string(doc, "name", &bad);
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID, "name", "name must be a non-empty string");
		goto out;
	}
	const char *participant = opt_string(doc, "participant", &bad);
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID, "participant", "participant must be a participant id");
		goto out;
	}
	const char *fulfiller = opt_string(doc, "fulfiller", &bad);
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID, "fulfiller", "fulfiller must be a fulfiller id");
		goto out;
	}
	err = engine_key_create(c->eng, c->actor, role, name, participant, fulfiller, &c->out, &c->diag);
out:
	json_decref(doc);
	return err;
}

enum ff_err h_key_revoke(struct ctx *c)
{
	return engine_key_revoke(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
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

enum ff_err h_audit_verify(struct ctx *c)
{
	return engine_audit_verify(c->eng, &c->out, &c->diag);
}

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

static const char placeholder[] =
	"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fulfill %s</title></head>\n"
	"<body><h1>fulfill %s</h1><p>This page is not built yet. The API is at <a href=\"/v1/openapi.json\">"
	"/v1/openapi.json</a>.</p></body></html>\n";

static const char *content_type(const char *file)
{
	static const struct {
		const char *ext, *type;
	} types[] = {{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		     {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
		     {".svg", "image/svg+xml"},             {".png", "image/png"},
		     {".ico", "image/x-icon"},              {".txt", "text/plain; charset=utf-8"}};
	const char *dot = strrchr(file, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static bool safe_name(const char *s)
{
	if (!*s || *s == '.' || strlen(s) > 100)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '-' || *s == '_'))
			return false;
	return true;
}

enum ff_err h_static(struct ctx *c)
{
	const char *section = strncmp(c->req->route->pattern, "/console", 8) == 0 ? "console" : "portal";
	const char *file = strchr(c->req->route->pattern, '{') ? ctx_param(c, 0) : "index.html";
	char path[1400];
	struct stat st;
	FILE *f;

	if (!safe_name(file))
		return ff_fail(&c->diag, FF_E_NOT_FOUND, NULL, "no such file");
	snprintf(path, sizeof(path), "%s/%s/%s", http_server->web_root, section, file);
	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 16 * 1024 * 1024) {
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
	c->raw_len = (size_t)st.st_size;
	c->raw = ff_malloc(c->raw_len + 1);
	if (fread(c->raw, 1, c->raw_len, f) != c->raw_len) {
		fclose(f);
		free(c->raw);
		c->raw = NULL;
		return ff_fail(&c->diag, FF_E_INTERNAL, NULL, "could not read %s", file);
	}
	fclose(f);
	c->raw_ctype = content_type(file);
	return FF_OK;
}
