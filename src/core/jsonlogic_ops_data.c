/*
 * jsonlogic_ops_data.c - the JsonLogic operators that read data and steer evaluation:
 * var, missing, missing_some, if / ?:, and, or, and the array operators map, filter,
 * reduce, all, none, some. The lazy ones evaluate their own arguments through
 * jl_eval(); jsonlogic.c lists them all in its operator table.
 */
#include "core/jsonlogic_int.h"

/* Property `name` of v as JavaScript's v[name] reads it for JSON values: object keys,
 * array indices and length, string code units and length. *out is NULL when absent. */
static enum ff_err property(struct jl_ctx *c, const json_t *v, const char *name, size_t len,
			    json_t **out)
{
	size_t size, index = 0, i;
	bool is_index = len > 0 && len <= 10 && (len == 1 || name[0] != '0');
	struct sb b = {NULL, 0, 0};
	enum ff_err err;

	*out = NULL;
	for (i = 0; i < len && is_index; i++) {
		is_index = is_digit(name[i]);
		index = index * 10 + (size_t)(name[i] - '0');
	}
	if (json_is_object(v)) {
		json_t *member = json_object_getn(v, name, len);

		*out = member ? ref(member) : NULL;
		return FF_OK;
	}
	if (json_is_array(v))
		size = json_array_size(v);
	else if (json_is_string(v))
		size = jl_u16_len(json_string_value(v), json_string_length(v));
	else
		return FF_OK;
	if (len == 6 && memcmp(name, "length", 6) == 0) {
		*out = must(json_integer((json_int_t)size));
		return FF_OK;
	}
	if (!is_index || index >= size)
		return FF_OK;
	if (json_is_array(v)) {
		*out = ref(json_array_get(v, index));
		return FF_OK;
	}
	err = jl_u16_slice(c, &b, json_string_value(v), json_string_length(v), index, index + 1);
	if (!err)
		err = sb_json(c, &b, out);
	sb_release(&b);
	return err;
}

/* {"var": [path, default]}: path is split on '.' after String(); "", null or no path
 * is the whole data. A missing step gives `dflt` (null when undefined); a present null
 * at the end is null. */
static enum ff_err var_lookup(struct jl_ctx *c, const json_t *data, const json_t *path,
			      const json_t *dflt, json_t **out)
{
	struct sb b = {NULL, 0, 0};
	json_t *cur, *next;
	size_t start, end;
	enum ff_err err;

	if (!path || json_is_null(path) ||
	    (json_is_string(path) && json_string_length(path) == 0)) {
		*out = ref(data);
		return FF_OK;
	}
	err = jl_to_string(c, path, &b, 0);
	if (err)
		goto out;
	cur = ref(data);
	for (start = 0;; start = end + 1) {
		bool absent;

		for (end = start; end < b.len && b.p[end] != '.'; end++)
			;
		next = NULL;
		err = charge(c, 1);
		if (!err && !json_is_null(cur))
			err = property(c, cur, sb_str(&b) + start, end - start, &next);
		absent = json_is_null(cur) || !next;
		json_decref(cur);
		if (err)
			goto out;
		if (absent) {
			cur = ref(dflt);
			break;
		}
		cur = next;
		if (end >= b.len)
			break;
	}
	*out = cur;
out:
	sb_release(&b);
	return err;
}

enum ff_err jl_op_var(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	return var_lookup(c, data, arg(argv, argc, 0), arg(argv, argc, 1), out);
}

/* The elements of a JSON array as an argument vector (borrowed; free() the vector). */
static enum ff_err array_items(struct jl_ctx *c, const json_t *array, json_t ***items, size_t *n)
{
	enum ff_err err;
	size_t i;

	*n = json_array_size(array);
	*items = NULL;
	err = charge(c, *n);
	if (err)
		return err;
	*items = ff_calloc(*n, sizeof(**items));
	for (i = 0; i < *n; i++)
		(*items)[i] = json_array_get(array, i);
	return FF_OK;
}

/* {"missing": keys}: the keys whose value is null or "". When the first argument is an
 * array, it is the list of keys. A key that is an array is [path, default]. */
enum ff_err jl_op_missing(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	json_t **items = NULL, *const *keys = argv, *result, *value;
	size_t n = argc, i;
	enum ff_err err = FF_OK;

	if (argc > 0 && json_is_array(argv[0])) {
		err = array_items(c, argv[0], &items, &n);
		if (err)
			return err;
		keys = items;
	}
	result = must(json_array());
	for (i = 0; i < n && !err; i++) {
		const json_t *key = keys[i], *path = key, *dflt = NULL;

		if (json_is_array(key)) {
			path = json_array_get(key, 0);
			dflt = json_array_get(key, 1);
		}
		err = var_lookup(c, data, path, dflt, &value);
		if (err)
			break;
		if (json_is_null(value) ||
		    (json_is_string(value) && json_string_length(value) == 0))
			append_new(result, ref(key));
		json_decref(value);
	}
	free(items);
	if (err)
		json_decref(result);
	else
		*out = result;
	return err;
}

/* {"missing_some": [need, keys]}: [] when at least `need` keys are present, else the
 * missing ones. */
enum ff_err jl_op_missing_some(struct jl_ctx *c, json_t *const *argv, size_t argc,
			       const json_t *data, json_t **out)
{
	json_t *options = arg(argv, argc, 1), **items = NULL, *missing = NULL;
	struct num need, present = num_nan();
	size_t n;
	enum ff_err err;
	enum ord ord;

	if (!options || json_is_null(options))
		return ff_fail(c->d, FF_E_INVALID, NULL,
			       "missing_some needs a count and a list of keys");
	if (json_is_array(options)) {
		err = array_items(c, options, &items, &n);
		if (!err)
			err = jl_op_missing(c, items, n, data, &missing);
		free(items);
	} else {
		err = jl_op_missing(c, &options, 1, data, &missing);
	}
	if (!err)
		err = jl_to_number(c, arg(argv, argc, 0), &need);
	if (err) {
		json_decref(missing);
		return err;
	}
	if (json_is_array(options))
		present = num_int((int64_t)(json_array_size(options) - json_array_size(missing)));
	else if (json_is_string(options))
		present = num_dbl(
		    (double)jl_u16_len(json_string_value(options), json_string_length(options)) -
		    (double)json_array_size(missing));
	ord = num_cmp(present, need);
	if (ord == ORD_GT || ord == ORD_EQ) {
		json_decref(missing);
		missing = must(json_array());
	}
	*out = missing;
	return FF_OK;
}

/* {"if": [c1, v1, c2, v2, ..., else]}; "?:" is the same. Lazy. */
enum ff_err jl_op_if(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	json_t *cond;
	enum ff_err err;
	size_t i;
	bool truthy;

	for (i = 0; i + 1 < argc; i += 2) {
		err = jl_eval(c, argv[i], data, &cond);
		if (err)
			return err;
		truthy = jsonlogic_truthy(cond);
		json_decref(cond);
		if (truthy)
			return jl_eval(c, argv[i + 1], data, out);
	}
	if (argc == i + 1)
		return jl_eval(c, argv[i], data, out);
	*out = json_null();
	return FF_OK;
}

/* "and" returns the first falsy value or the last; "or" the first truthy or the last.
 * Lazy: evaluation stops at the deciding value. */
static enum ff_err and_or(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  bool stop_when, json_t **out)
{
	json_t *current = NULL;
	enum ff_err err;
	size_t i;

	for (i = 0; i < argc; i++) {
		json_decref(current);
		err = jl_eval(c, argv[i], data, &current);
		if (err)
			return err;
		if (jsonlogic_truthy(current) == stop_when)
			break;
	}
	*out = current ? current : json_null();
	return FF_OK;
}

enum ff_err jl_op_and(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	return and_or(c, argv, argc, data, false, out);
}

enum ff_err jl_op_or(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	return and_or(c, argv, argc, data, true, out);
}

/* map and filter: argv[1] runs once per element of the array argv[0] evaluates to,
 * with the element as data. A non-array gives []. Lazy. */
static enum ff_err map_filter(struct jl_ctx *c, json_t *const *argv, size_t argc,
			      const json_t *data, bool filter, json_t **out)
{
	json_t *scoped, *result, *v, *el;
	enum ff_err err;
	size_t i;

	err = jl_eval(c, arg(argv, argc, 0), data, &scoped);
	if (err)
		return err;
	result = must(json_array());
	for (i = 0; json_is_array(scoped) && i < json_array_size(scoped); i++) {
		el = json_array_get(scoped, i);
		err = jl_eval(c, arg(argv, argc, 1), el, &v);
		if (err)
			break;
		if (!filter) {
			append_new(result, v);
			continue;
		}
		if (jsonlogic_truthy(v))
			append_new(result, ref(el));
		json_decref(v);
	}
	json_decref(scoped);
	if (err)
		json_decref(result);
	else
		*out = result;
	return err;
}

enum ff_err jl_op_map(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	return map_filter(c, argv, argc, data, false, out);
}

enum ff_err jl_op_filter(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	return map_filter(c, argv, argc, data, true, out);
}

/* {"reduce": [array, logic, initial]}: logic sees {"current", "accumulator"}. Lazy. */
enum ff_err jl_op_reduce(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	json_t *scoped = NULL, *acc = NULL, *scope, *next;
	enum ff_err err;
	size_t i;

	err = jl_eval(c, arg(argv, argc, 0), data, &scoped);
	if (err)
		return err;
	if (argc > 2)
		err = jl_eval(c, argv[2], data, &acc);
	else
		acc = json_null();
	for (i = 0; !err && json_is_array(scoped) && i < json_array_size(scoped); i++) {
		/* A fresh scope each time: the accumulator may be the previous scope itself. */
		scope = must(json_object());
		if (json_object_set(scope, "current", json_array_get(scoped, i)) ||
		    json_object_set_new(scope, "accumulator", acc))
			ff_oom();
		acc = NULL;
		err = jl_eval(c, arg(argv, argc, 1), scope, &next);
		json_decref(scope);
		if (!err)
			acc = next;
	}
	json_decref(scoped);
	if (!err)
		*out = acc;
	return err;
}

/* all / none / some over an array: `on_empty` for an empty or non-array input, else
 * stop with `stop_result` at the first element whose truthiness is `stop_when`. Lazy. */
static enum ff_err quantify(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			    bool on_empty, bool stop_when, bool stop_result, json_t **out)
{
	json_t *scoped, *v;
	bool result = !stop_result, truthy;
	enum ff_err err;
	size_t i;

	err = jl_eval(c, arg(argv, argc, 0), data, &scoped);
	if (err)
		return err;
	if (!json_is_array(scoped) || json_array_size(scoped) == 0)
		result = on_empty;
	for (i = 0; json_is_array(scoped) && i < json_array_size(scoped); i++) {
		err = jl_eval(c, arg(argv, argc, 1), json_array_get(scoped, i), &v);
		if (err)
			break;
		truthy = jsonlogic_truthy(v);
		json_decref(v);
		if (truthy == stop_when) {
			result = stop_result;
			break;
		}
	}
	json_decref(scoped);
	if (!err)
		*out = json_boolean(result);
	return err;
}

enum ff_err jl_op_all(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	return quantify(c, argv, argc, data, false, false, false, out);
}

enum ff_err jl_op_none(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		       json_t **out)
{
	return quantify(c, argv, argc, data, true, true, false, out);
}

enum ff_err jl_op_some(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		       json_t **out)
{
	return quantify(c, argv, argc, data, false, true, true, out);
}
