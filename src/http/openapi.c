/*
 * openapi.c - the OpenAPI 3.1 document served at /v1/openapi.json.
 *
 * Generated from the route table in router.c, so every route the server answers is
 * in the document and nothing else is. Per operation: summary, path parameters, the
 * query parameters the route accepts, the headers (Idempotency-Key on writes,
 * X-Request-Id), the roles that may call it (in the description and as "x-roles"),
 * bearer security unless public, the request body (a closed object of the route's
 * fields when the table lists them: any other field is 400 unknown_field), the
 * response headers, 429 with Retry-After for keyed routes, the schema of the success
 * body (the route's `resp`: components.schemas come from openapi_schemas.c) and the
 * error shape.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

static void add_param(json_t *params, const struct route *r, const char *name, const char *in,
		      bool required)
{
	json_t *schema = json_pack("{s:s}", "type", "string");
	bool version_window = strstr(r->pattern, "/diff") != NULL;
	if (strcmp(name, "limit") == 0 ||
	    (version_window && (strcmp(name, "from") == 0 || strcmp(name, "to") == 0)) ||
	    strcmp(name, "version") == 0)
		json_object_set_new(schema, "type", json_string("integer"));
	if (strcmp(name, "limit") == 0) {
		json_object_set_new(schema, "minimum", json_integer(1));
		json_object_set_new(schema, "maximum", json_integer(1000));
		json_object_set_new(schema, "default", json_integer(100));
	}
	if (strcmp(name, "year") == 0)
		json_object_set_new(schema, "type", json_string("integer"));
	if (strcmp(name, "group") == 0)
		json_object_set_new(schema, "enum", json_pack("[s,s,s]", "day", "week", "month"));
	if (strcmp(name, "format") == 0)
		json_object_set_new(schema, "enum", json_pack("[s,s]", "json", "csv"));
	json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", name, "in", in,
						"required", required, "schema", schema));
}

/* The schema of a body field by its name (the names API.md uses throughout). */
static json_t *field_schema(const char *name)
{
	static const struct {
		const char *name;
		const char *type;
		const char *description;
	} fields[] = {
	    {"amount", "integer", "minor units of the currency (cents for USD)"},
	    {"fixed_amount", "integer", "minor units"},
	    {"percent_bp", "integer", "basis points (1/100 of a percent)"},
	    {"version", "integer", "a version number of the program"},
	    {"low_stock_threshold", "integer", NULL},
	    {"per_participant_limit", "integer", NULL},
	    {"currency", "string", "ISO 4217 code, upper case"},
	    {"events", "array", "event types (\"*\" for all)"},
	    {"types", "array", "reward types"},
	    {"approve", "array", "reward ids"},
	    {"reject", "array", "reward ids"},
	    {"codes", "array", "codes"},
	    {"config", "object", "the connector's settings (secrets are write-only)"},
	    {"rates", "object", "currency: rate to the reporting currency, a decimal string"},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(fields[i].name, name) != 0)
			continue;
		json_t *s = json_pack("{s:s}", "type", fields[i].type);
		if (!strcmp(fields[i].type, "array"))
			json_object_set_new(s, "items", json_pack("{s:s}", "type", "string"));
		if (!strcmp(name, "currency"))
			json_object_set_new(s, "pattern", json_string("^[A-Z]{3}$"));
		if (fields[i].description)
			json_object_set_new(s, "description", json_string(fields[i].description));
		return s;
	}
	return json_pack("{s:s}", "type", "string");
}

/* true when the table's body text is a plain field list ("kind,value,note"). */
static bool field_list(const char *body)
{
	if (!body || !*body)
		return false;
	for (const char *p = body; *p; p++)
		if (!islower((unsigned char)*p) && *p != '_' && *p != ',')
			return false;
	return true;
}

/* The JSON request body schema of a route. */
static json_t *body_schema(const struct route *r)
{
	json_t *s = json_pack("{s:s}", "type", "object");
	if (r->body && !strcmp(r->body, "{} (empty)")) {
		json_object_set_new(s, "additionalProperties", json_false());
		json_object_set_new(s, "maxProperties", json_integer(0));
		return s;
	}
	if (!field_list(r->body)) {
		if (r->body)
			json_object_set_new(s, "description", json_string(r->body));
		return s;
	}
	json_t *props = json_object();
	for (const char *p = r->body; *p;) {
		size_t len = strcspn(p, ",");
		char name[64];
		if (len && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			json_object_set_new(props, name, field_schema(name));
		}
		p += len;
		if (*p == ',')
			p++;
	}
	json_object_set_new(s, "properties", props);
	json_object_set_new(s, "additionalProperties", json_false());
	return s;
}

static json_t *header_param(const char *name, int max_len, const char *description)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:i}}", "name", name, "in", "header", "required", 0,
			 "description", description, "schema", "type", "string", "maxLength", max_len);
}

static json_t *roles_json(unsigned roles, char *text, size_t n)
{
	json_t *arr = json_array();
	size_t used = 0;

	text[0] = '\0';
	for (int r = 0; r < ROLE__COUNT; r++) {
		if (!(roles & (1u << r)))
			continue;
		json_array_append_new(arr, json_string(role_name((enum role)r)));
		used += (size_t)snprintf(text + used, used < n ? n - used : 0, "%s%s",
					 used ? ", " : "", role_name((enum role)r));
		if (used >= n)
			used = n - 1;
	}
	return arr;
}

/* The schema of a static file of media type `media`: any JSON, text, or bytes. */
static json_t *file_schema(const char *media)
{
	if (!strcmp(media, "application/json"))
		return json_object();
	if (!strncmp(media, "text/", 5))
		return json_pack("{s:s}", "type", "string");
	return json_pack("{s:s}", "description", "the file's bytes");
}

/* The content of a route's success response, from its `resp` (router.c): a JSON
 * schema (by reference, or one of several), with text/csv beside it on the reports
 * (?format=csv), or a media type whose body is text. A list ("list:Reward") refers to
 * an envelope schema ("RewardList") that is added to `schemas` when a route first names
 * it. */
static json_t *success_content(const struct route *r, json_t *schemas)
{
	json_t *content = json_object(), *schema;

	if (strchr(r->resp, '/')) {
		json_object_set_new(content, r->resp,
				    json_pack("{s:{s:s}}", "schema", "type", "string"));
		if (!(r->flags & RF_STATIC) || !strchr(r->pattern, '{'))
			return content;
		/* a file of the static pages: its type follows its extension */
		for (size_t i = 0; i < http_static_types_count; i++) {
			const char *type = http_static_types[i].type;
			char media[64];
			snprintf(media, sizeof(media), "%.*s", (int)strcspn(type, ";"), type);
			json_object_set_new(content, media,
					    json_pack("{s:o}", "schema", file_schema(media)));
		}
		json_object_set_new(
		    content, "application/octet-stream",
		    json_pack("{s:o}", "schema", file_schema("application/octet-stream")));
		return content;
	}
	if (strncmp(r->resp, "list:", 5) == 0) {
		char name[64];
		snprintf(name, sizeof(name), "%sList", r->resp + 5);
		if (!json_object_get(schemas, name))
			json_object_set_new(schemas, name, openapi_list_schema(r->resp + 5));
		schema = json_pack("{s:s+}", "$ref", "#/components/schemas/", name);
	} else if (strchr(r->resp, '|')) {
		json_t *one_of = json_array();
		for (const char *p = r->resp; *p;) {
			char name[64];
			size_t len = strcspn(p, "|");
			snprintf(name, sizeof(name), "%.*s", (int)len, p);
			json_array_append_new(one_of, openapi_type_schema(name));
			p += len + (p[len] == '|');
		}
		schema = json_pack("{s:o}", "oneOf", one_of);
	} else {
		schema = openapi_type_schema(r->resp);
	}
	json_object_set_new(content, "application/json", json_pack("{s:o}", "schema", schema));
	if (r->query && strstr(r->query, "format"))
		json_object_set_new(content, "text/csv",
				    json_pack("{s:{s:s}}", "schema", "type", "string"));
	return content;
}

static json_t *operation(const struct route *r, json_t *schemas)
{
	json_t *op = json_object(), *params = json_array(), *responses = json_object();
	char roles[160], desc[320], code[8];
	const char *p;

	/* path parameters, in order */
	for (p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
		char name[64];
		const char *close = strchr(p, '}');
		size_t len = close ? (size_t)(close - p - 1) : 0;
		if (len == 0 || len >= sizeof(name))
			continue;
		memcpy(name, p + 1, len);
		name[len] = '\0';
		add_param(params, r, name, "path", true);
	}
	/* query parameters */
	for (p = r->query; p && *p;) {
		char name[64];
		size_t len = strcspn(p, ",");
		if (len && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			add_param(params, r, name, "query",
				  strcmp(r->pattern, "/v1/programs/{id}/diff") == 0);
		}
		p += len;
		if (*p == ',')
			p++;
	}

	json_object_set_new(op, "summary", json_string(r->summary));
	json_object_set_new(op, "operationId", json_sprintf("%s %s", r->method, r->pattern));
	if (r->roles == R_PUBLIC) {
		snprintf(desc, sizeof(desc), "No API key needed.");
		json_object_set_new(op, "security", json_array());
		json_object_set_new(op, "x-roles", json_array());
	} else {
		json_object_set_new(op, "x-roles", roles_json(r->roles, roles, sizeof(roles)));
		snprintf(desc, sizeof(desc), "Roles: %s.%s%s", roles, r->body ? " Body: " : "",
			 r->body ? r->body : "");
	}
	json_object_set_new(op, "description", json_string(desc));
	bool writes = strcmp(r->method, "GET") != 0;
	if (writes && !(r->flags & RF_STATIC))
		json_array_append_new(params, header_param("Idempotency-Key", HTTP_IDEM_KEY_MAX,
							   "replay protection, scoped to the API key: the "
							   "first 2xx answer is stored for 24 hours and "
							   "replayed byte for byte"));
	json_array_append_new(params, header_param("X-Request-Id", HTTP_REQUEST_ID_MAX,
						   "echoed in the answer and the log line; generated "
						   "when absent"));
	if (json_array_size(params))
		json_object_set_new(op, "parameters", params);
	else
		json_decref(params);
	if (r->flags & RF_BODY) {
		json_t *content =
		    (r->flags & RF_NOJSON)
			? json_pack("{s:{s:{s:s}}}", "text/csv", "schema", "type", "string")
			: json_pack("{s:{s:o}}", "application/json", "schema", body_schema(r));
		if ((r->flags & RF_CSV) && !(r->flags & RF_NOJSON))
			json_object_set_new(content, "text/csv",
					    json_pack("{s:{s:s}}", "schema", "type", "string"));
		if (r->flags & RF_GROUPCOMMIT)
			json_object_set_new(content, "application/x-ndjson",
					    json_pack("{s:{s:s}}", "schema", "type", "string"));
		json_object_set_new(op, "requestBody",
				    json_pack("{s:b, s:o}", "required", false, "content", content));
	}

	snprintf(code, sizeof(code), "%d", r->status);
	json_t *ok_content = success_content(r, schemas);
	json_t *headers = json_pack("{s:{s:s, s:{s:s}}}", "X-Request-Id", "description",
				    "the request's id (echoed or generated)", "schema", "type", "string");
	if (writes && !(r->flags & RF_STATIC))
		json_object_set_new(headers, "Idempotent-Replayed",
				    json_pack("{s:s, s:{s:s, s:[s]}}", "description",
					      "present on a replay of a stored answer", "schema", "type",
					      "string", "enum", "true"));
	json_object_set_new(responses, code,
			    json_pack("{s:s, s:o, s:o}", "description", "Success", "headers", headers,
				      "content", ok_content));
	if (r->roles != R_PUBLIC)
		json_object_set_new(
		    responses, "429",
		    json_pack("{s:s, s:{s:{s:s, s:{s:s, s:i}}}, s:{s:{s:{s:s}}}}", "description",
			      "rate_limited: the API key's token bucket is empty", "headers", "Retry-After",
			      "description", "whole seconds to wait", "schema", "type", "integer", "minimum",
			      1, "content", "application/json", "schema", "$ref", "#/components/schemas/Error"));
	json_object_set_new(responses, "default",
			    json_pack("{s:s, s:{s:{s:{s:s}}}}", "description",
				      "Error: {\"error\": {\"code\", \"message\", \"param\"?}}",
				      "content", "application/json", "schema", "$ref",
				      "#/components/schemas/Error"));
	json_object_set_new(op, "responses", responses);
	return op;
}

json_t *openapi_build(void)
{
	json_t *paths = json_object(), *schemas = openapi_schemas();

	for (size_t i = 0; i < http_routes_count; i++) {
		const struct route *r = &http_routes[i];
		json_t *item = json_object_get(paths, r->pattern);
		char method[16];
		size_t k;
		if (!item) {
			item = json_object();
			json_object_set_new(paths, r->pattern, item);
		}
		for (k = 0; r->method[k] && k + 1 < sizeof(method); k++)
			method[k] = (char)(r->method[k] | 0x20); /* lower case */
		method[k] = '\0';
		json_object_set_new(item, method, operation(r, schemas));
	}

	json_t *doc =
	    json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o, s:{s:{s:{s:s, s:s}}, s:o}}",
		      "openapi", "3.1.0", "info", "title", "fulfill", "version", "1", "description",
		      "Referral-reward fulfillment engine. Auth: Authorization: Bearer <API "
		      "key>. Every success response names the schema of its body.",
		      "servers", "url", "/", "paths", paths, "components", "securitySchemes",
		      "bearer", "type", "http", "scheme", "bearer", "schemas", schemas);
	if (!doc)
		ff_oom();
	json_object_set_new(doc, "security", json_pack("[{s:[]}]", "bearer"));
	return doc;
}
