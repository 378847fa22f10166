/*
 * openapi_test.c - the response schemas of the OpenAPI document (openapi.c,
 * openapi_schemas.c): every route names the schema of its success body, every reference
 * resolves, the type notation means what its comment says, and the Reward schema
 * agrees with the member table the engine writes rewards from (reward_json.c).
 */
#include <string.h>

#include "core/core.h"
#include "http/http_int.h"
#include "testutil.h"

static json_t *schema_named(json_t *doc, const char *name)
{
	return json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
			       name);
}

/* Every "$ref" below `v` resolves; counts them into *n. No "x-unknown-type" anywhere. */
static void check_refs(json_t *doc, json_t *v, size_t *n)
{
	const char *k;
	json_t *sub;
	size_t i;
	if (json_is_array(v)) {
		json_array_foreach(v, i, sub) check_refs(doc, sub, n);
		return;
	}
	if (!json_is_object(v))
		return;
	cr_assert_null(json_object_get(v, "x-unknown-type"),
		       "a type the notation does not know: %s",
		       json_string_value(json_object_get(v, "x-unknown-type")));
	json_object_foreach(v, k, sub)
	{
		if (strcmp(k, "$ref") == 0) {
			const char *ref = json_string_value(sub);
			cr_assert(ref && strncmp(ref, "#/components/schemas/", 21) == 0, "%s", ref);
			cr_assert_not_null(schema_named(doc, ref + 21), "%s does not resolve", ref);
			(*n)++;
		} else {
			check_refs(doc, sub, n);
		}
	}
}

Test(http_openapi, every_route_names_its_success_body)
{
	json_t *doc = openapi_build();
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct route *r = &http_routes[i];
		char m[16], code[8];
		size_t k;
		for (k = 0; r->method[k] && k + 1 < sizeof(m); k++)
			m[k] = (char)(r->method[k] | 0x20);
		m[k] = '\0';
		snprintf(code, sizeof(code), "%d", r->status);
		cr_assert(r->resp && *r->resp, "%s %s has no response schema", r->method,
			  r->pattern);
		json_t *op =
		    json_object_get(json_object_get(json_object_get(doc, "paths"), r->pattern), m);
		json_t *content = json_object_get(
		    json_object_get(json_object_get(op, "responses"), code), "content");
		cr_assert(json_object_size(content) > 0, "%s %s", r->method, r->pattern);
		const char *media;
		json_t *one;
		json_object_foreach(content, media, one) cr_assert_not_null(
		    json_object_get(one, "schema"), "%s %s %s", r->method, r->pattern, media);
		if (strchr(r->resp, '/')) {
			cr_assert_not_null(json_object_get(content, r->resp), "%s %s", r->method,
					   r->pattern);
			continue;
		}
		json_t *schema =
		    json_object_get(json_object_get(content, "application/json"), "schema");
		cr_assert_not_null(schema, "%s %s answers JSON", r->method, r->pattern);
		if (strncmp(r->resp, "list:", 5) == 0) {
			char name[64];
			snprintf(name, sizeof(name), "%sList", r->resp + 5);
			cr_assert_not_null(schema_named(doc, name), "%s", name);
		}
	}
	size_t refs = 0;
	check_refs(doc, doc, &refs);
	cr_assert_gt(refs, 200);
	json_decref(doc);
}

Test(http_openapi, the_type_notation)
{
	json_t *s = openapi_type_schema("time?");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "type"), 0)),
			 "string");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "type"), 1)), "null");
	cr_assert_str_eq(json_string_value(json_object_get(s, "format")), "date-time");
	json_decref(s);

	s = openapi_type_schema("Money[]");
	cr_assert_str_eq(json_string_value(json_object_get(s, "type")), "array");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "items"), "$ref")),
			 "#/components/schemas/Money");
	json_decref(s);

	s = openapi_type_schema("Reward?"); /* a reference or null */
	cr_assert_eq(json_array_size(json_object_get(s, "anyOf")), 2);
	json_decref(s);

	s = openapi_type_schema("map:uint");
	cr_assert_eq(json_integer_value(
			 json_object_get(json_object_get(s, "additionalProperties"), "minimum")),
		     0);
	json_decref(s);

	s = openapi_type_schema("enum:a|b?");
	json_t *values = json_object_get(s, "enum");
	cr_assert_eq(json_array_size(values), 3);
	cr_assert_str_eq(json_string_value(json_array_get(values, 1)), "b");
	cr_assert(json_is_null(json_array_get(values, 2)));
	json_decref(s);

	s = openapi_type_schema("id:rwd");
	cr_assert_str_eq(json_string_value(json_object_get(s, "pattern")), "^rwd_[0-9A-Za-z]+$");
	json_decref(s);

	s = openapi_type_schema("true");
	cr_assert(json_is_true(json_object_get(s, "const")));
	json_decref(s);

	s = openapi_type_schema("strnig"); /* a typo shows, and every_route_... looks for it */
	cr_assert_not_null(json_object_get(s, "x-unknown-type"));
	json_decref(s);

	s = openapi_list_schema("Reward");
	cr_assert_str_eq(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(json_object_get(s, "properties"), "data"), "items"),
		"$ref")),
	    "#/components/schemas/Reward");
	json_decref(s);
}

/* Whether `v` has a type that `schema` lists (a reference or anyOf: not looked into). */
static bool type_fits(json_t *schema, json_t *v)
{
	json_t *type = json_object_get(schema, "type");
	if (!type)
		return true;
	static const struct {
		const char *name;
		json_type t;
	} names[] = {{"string", JSON_STRING},
		     {"integer", JSON_INTEGER},
		     {"object", JSON_OBJECT},
		     {"array", JSON_ARRAY},
		     {"null", JSON_NULL}};
	for (size_t k = 0; k < (json_is_array(type) ? json_array_size(type) : 1); k++) {
		const char *t =
		    json_string_value(json_is_array(type) ? json_array_get(type, k) : type);
		if (!strcmp(t, "boolean") && json_is_boolean(v))
			return true;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(t, names[i].name) && json_typeof(v) == names[i].t)
				return true;
	}
	return false;
}

/* reward_json of `r` against the Reward schema: every member is a property of a fitting
 * type, and every required property is written. */
static void check_reward(json_t *schema, const struct reward *r)
{
	json_t *o = reward_json(r), *props = json_object_get(schema, "properties"), *v;
	const char *k;
	size_t i;
	json_object_foreach(o, k, v)
	{
		json_t *p = json_object_get(props, k);
		cr_assert_not_null(p, "reward_json writes %s, which the schema lacks", k);
		cr_assert(type_fits(p, v), "%s: %s does not fit", k,
			  json_dumps(v, JSON_ENCODE_ANY));
	}
	json_array_foreach(json_object_get(schema, "required"), i, v)
	    cr_assert_not_null(json_object_get(o, json_string_value(v)),
			       "reward_json leaves out %s", json_string_value(v));
	json_decref(o);
}

Test(http_openapi, the_reward_schema_is_what_reward_json_writes)
{
	json_t *doc = openapi_build();
	json_t *schema = schema_named(doc, "Reward");
	struct reward r;

	memset(&r, 0, sizeof(r)); /* the fewest members: nulls */
	strcpy(r.id, "rwd_1");
	strcpy(r.status, "pending");
	check_reward(schema, &r);

	/* every member there is: a custom reward with every option */
	strcpy(r.conversion, "ord_1");
	strcpy(r.referral, "ref_1");
	strcpy(r.currency, "USD");
	strcpy(r.code, "C1");
	strcpy(r.pool, "p");
	strcpy(r.sku, "TSHIRT");
	strcpy(r.brand, "acme");
	strcpy(r.reason, "review:always");
	strcpy(r.external_reference, "R1");
	strcpy(r.batch, "bat_1");
	strcpy(r.last_error, "timeout");
	strcpy(r.signals, "[{\"signal\":\"velocity\",\"detail\":\"x\",\"action\":\"review\"}]");
	r.has_amount = r.has_percent = r.has_max = r.has_months = r.has_quantity = true;
	r.has_hold = r.has_release = r.has_expires = r.has_fulfilled = true;
	r.amount = 2000;
	r.quantity = 2;
	check_reward(schema, &r);
	json_t *o = reward_json(&r);
	size_t members = json_object_size(o);
	json_decref(o);
	cr_assert_eq(members, json_object_size(json_object_get(schema, "properties")),
		     "the schema has members reward_json never writes");
	json_decref(doc);
}
