/*
 * router_test.c - the route table, its matcher, and the OpenAPI document generated
 * from it: every route is in the document and every operation in the document is a
 * route (so /v1/openapi.json cannot drift from what the server answers).
 */
#include <string.h>

#include "http/http_int.h"
#include "testutil.h"

static void lower(const char *in, char *out, size_t n)
{
	size_t i;
	for (i = 0; in[i] && i + 1 < n; i++)
		out[i] = (char)(in[i] | 0x20);
	out[i] = '\0';
}

Test(http_router, every_route_is_in_openapi)
{
	json_t *doc = openapi_build();
	json_t *paths = json_object_get(doc, "paths");
	cr_assert(json_is_object(paths));
	cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct route *r = &http_routes[i];
		char m[16];
		lower(r->method, m, sizeof(m));
		json_t *op = json_object_get(json_object_get(paths, r->pattern), m);
		cr_assert(json_is_object(op), "%s %s missing from the OpenAPI document", r->method,
			  r->pattern);
		cr_assert(json_is_string(json_object_get(op, "summary")), "%s %s has no summary",
			  r->method, r->pattern);
	}
	json_decref(doc);
}

Test(http_router, every_openapi_operation_is_a_route)
{
	json_t *doc = openapi_build();
	json_t *paths = json_object_get(doc, "paths"), *item, *op;
	const char *path, *method;
	size_t ops = 0;
	json_object_foreach(paths, path, item)
	{
		json_object_foreach(item, method, op)
		{
			bool found = false;
			for (size_t i = 0; i < http_routes_count; i++) {
				char m[16];
				lower(http_routes[i].method, m, sizeof(m));
				found = found || (strcmp(http_routes[i].pattern, path) == 0 &&
						  strcmp(m, method) == 0);
			}
			cr_assert(found, "%s %s is documented but not routed", method, path);
			ops++;
		}
	}
	cr_assert_eq(ops, http_routes_count);
	json_decref(doc);
}

Test(http_router, path_parameters_are_declared)
{
	json_t *doc = openapi_build();
	json_t *op = json_object_get(
	    json_object_get(json_object_get(doc, "paths"), "/v1/programs/{id}/versions/{version}"),
	    "get");
	json_t *params = json_object_get(op, "parameters");
	/* the path's two, in order, then the X-Request-Id header (a GET takes no
	 * Idempotency-Key) */
	cr_assert_eq(json_array_size(params), 3);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(params, 0), "name")),
			 "id");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(params, 1), "name")),
			 "version");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(params, 0), "in")), "path");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(params, 2), "name")),
			 "X-Request-Id");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(params, 2), "in")), "header");
	json_decref(doc);
}

Test(http_router, matches_and_extracts_params)
{
	char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX], allow[64];
	bool known;
	const struct route *r = router_match("POST", "/v1/programs/give20/versions/3/approve",
					     params, &known, allow, sizeof(allow));
	cr_assert_not_null(r);
	cr_assert_str_eq(r->pattern, "/v1/programs/{id}/versions/{version}/approve");
	cr_assert_str_eq(params[0], "give20");
	cr_assert_str_eq(params[1], "3");
	r = router_match("GET", "/v1/rewards/", params, &known, allow, sizeof(allow));
	cr_assert_not_null(r);
	cr_assert_str_eq(r->pattern, "/v1/rewards");
}

Test(http_router, wrong_method_is_405_unknown_path_404)
{
	char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX], allow[64];
	bool known;
	cr_assert_null(router_match("DELETE", "/v1/rewards", params, &known, allow, sizeof(allow)));
	cr_assert(known);
	cr_assert_str_eq(allow, "GET, HEAD");
	cr_assert_null(
	    router_match("PATCH", "/v1/programs/x", params, &known, allow, sizeof(allow)));
	cr_assert(known);
	cr_assert_str_eq(allow, "PUT, GET, HEAD");
	cr_assert_null(router_match("GET", "/v1/nothing", params, &known, allow, sizeof(allow)));
	cr_assert(!known);
	cr_assert_null(router_match("GET", "/v1//rewards", params, &known, allow, sizeof(allow)));
	cr_assert_null(
	    router_match("GET", "/v1/rewards/a/b/c", params, &known, allow, sizeof(allow)));
}

Test(http_router, every_authenticated_route_names_roles)
{
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct route *r = &http_routes[i];
		bool v1 = strncmp(r->pattern, "/v1/", 4) == 0 &&
			  strcmp(r->pattern, "/v1/openapi.json") != 0;
		cr_assert(!v1 || r->roles != R_PUBLIC, "%s %s has no roles", r->method, r->pattern);
		cr_assert(!v1 || (r->roles & R_ADMIN), "admin may not %s %s", r->method,
			  r->pattern);
	}
}

Test(http_router, body_checks)
{
	cr_assert(utf8_valid("h\xc3\xa9llo", 6));
	cr_assert(!utf8_valid("\xff", 1));
	cr_assert(!utf8_valid("\xc3", 1));
	cr_assert(!utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	cr_assert(!utf8_valid("\xc0\xaf", 2));	   /* overlong */
	cr_assert_eq(json_depth("{\"a\":[[1]],\"b\":\"[[[[\"}", 22), 3);
	cr_assert(media_type_is("application/json; charset=utf-8", "application/json"));
	cr_assert(media_type_is("Application/JSON", "application/json"));
	cr_assert(!media_type_is("application/jsonx", "application/json"));
	cr_assert(!media_type_is(NULL, "application/json"));
}
