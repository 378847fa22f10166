/*
 * jsonlogic_ops_math.c - the JsonLogic operators that compute on values: ==, !=, ===,
 * !==, the relations, !, !!, the arithmetic (+ - * / %), min, max, merge, in, cat, substr
 * and log, with JavaScript's coercions from jsonlogic_value.c. jsonlogic.c lists them
 * in its operator table.
 */
#include "core/jsonlogic_int.h"

/* ==, !=, ===, !== */
static enum ff_err equality(struct jl_ctx *c, json_t *const *argv, size_t argc, bool strict,
			    bool negate, json_t **out)
{
	json_t *a = arg(argv, argc, 0), *b = arg(argv, argc, 1);
	enum ff_err err = FF_OK;
	bool eq;

	if (strict)
		eq = jl_strict_eq(a, b);
	else
		err = jl_loose_eq(c, a, b, &eq);
	if (!err)
		*out = json_boolean(eq != negate);
	return err;
}

enum ff_err jl_op_eq(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	(void)data;
	return equality(c, argv, argc, false, false, out);
}

enum ff_err jl_op_ne(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	(void)data;
	return equality(c, argv, argc, false, true, out);
}

enum ff_err jl_op_seq(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	(void)data;
	return equality(c, argv, argc, true, false, out);
}

enum ff_err jl_op_sne(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	(void)data;
	return equality(c, argv, argc, true, true, out);
}

/* >, >=, <, <=; < and <= with three arguments test a < b < c ("between"). */
static enum ff_err relation(struct jl_ctx *c, json_t *const *argv, size_t argc, bool less,
			    bool or_equal, json_t **out)
{
	size_t pairs = less && argc >= 3 ? 2 : 1, i;
	enum ff_err err = FF_OK;
	bool holds = true;
	enum ord ord;

	for (i = 0; i < pairs && holds; i++) {
		err = jl_compare(c, arg(argv, argc, i), arg(argv, argc, i + 1), &ord);
		if (err)
			return err;
		holds = ord == (less ? ORD_LT : ORD_GT) || (or_equal && ord == ORD_EQ);
	}
	*out = json_boolean(holds);
	return FF_OK;
}

enum ff_err jl_op_gt(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	(void)data;
	return relation(c, argv, argc, false, false, out);
}

enum ff_err jl_op_ge(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	(void)data;
	return relation(c, argv, argc, false, true, out);
}

enum ff_err jl_op_lt(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	(void)data;
	return relation(c, argv, argc, true, false, out);
}

enum ff_err jl_op_le(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	(void)data;
	return relation(c, argv, argc, true, true, out);
}

enum ff_err jl_op_not(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	(void)c;
	(void)data;
	*out = json_boolean(!jsonlogic_truthy(arg(argv, argc, 0)));
	return FF_OK;
}

enum ff_err jl_op_truthy(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	(void)c;
	(void)data;
	*out = json_boolean(jsonlogic_truthy(arg(argv, argc, 0)));
	return FF_OK;
}

/* Binary arithmetic on ToNumber of both arguments. */
static enum ff_err arith(struct jl_ctx *c, json_t *const *argv, size_t argc,
			 struct num (*fn)(struct num, struct num), json_t **out)
{
	struct num a, b;
	enum ff_err err;

	err = jl_to_number(c, arg(argv, argc, 0), &a);
	if (!err)
		err = jl_to_number(c, arg(argv, argc, 1), &b);
	if (!err)
		*out = num_json(fn(a, b));
	return err;
}

enum ff_err jl_op_mod(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	(void)data;
	return arith(c, argv, argc, num_mod, out);
}

enum ff_err jl_op_div(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	(void)data;
	return arith(c, argv, argc, num_div, out);
}

enum ff_err jl_op_sub(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	struct num a;
	enum ff_err err;

	(void)data;
	if (argc >= 2)
		return arith(c, argv, argc, num_sub, out);
	err = jl_to_number(c, arg(argv, argc, 0), &a);
	if (!err)
		*out = num_json(num_neg(a));
	return err;
}

/* + and * apply parseFloat to every argument. */
enum ff_err jl_op_add(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	struct num sum = num_int(0), n;
	enum ff_err err;
	size_t i;

	(void)data;
	for (i = 0; i < argc; i++) {
		err = jl_parse_float(c, argv[i], &n);
		if (err)
			return err;
		sum = num_add(sum, n);
	}
	*out = num_json(sum);
	return FF_OK;
}

enum ff_err jl_op_mul(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	struct num product = num_int(1), n;
	enum ff_err err;
	size_t i;

	(void)data;
	if (argc == 0)
		return ff_fail(c->d, FF_E_INVALID, NULL,
			       "operator \"*\" needs at least one argument");
	for (i = 0; i < argc; i++) {
		err = jl_parse_float(c, argv[i], &n);
		if (err)
			return err;
		product = num_mul(product, n);
	}
	*out = num_json(product);
	return FF_OK;
}

/* Math.min / Math.max: ToNumber of every argument; NaN wins; none gives +-Infinity. */
static enum ff_err min_max(struct jl_ctx *c, json_t *const *argv, size_t argc, bool max,
			   json_t **out)
{
	struct num best = num_dbl(max ? -INFINITY : INFINITY), n;
	enum ff_err err;
	size_t i;

	for (i = 0; i < argc; i++) {
		err = jl_to_number(c, argv[i], &n);
		if (err)
			return err;
		if (isnan(n.d) || isnan(best.d))
			best = num_nan();
		else if (num_cmp(n, best) == (max ? ORD_GT : ORD_LT))
			best = n;
	}
	*out = num_json(best);
	return FF_OK;
}

enum ff_err jl_op_max(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	(void)data;
	return min_max(c, argv, argc, true, out);
}

enum ff_err jl_op_min(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	(void)data;
	return min_max(c, argv, argc, false, out);
}

/* {"merge": [...]}: arrays are flattened one level, other values appended. */
enum ff_err jl_op_merge(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			json_t **out)
{
	json_t *result = must(json_array());
	enum ff_err err = FF_OK;
	size_t i, j;

	(void)data;
	for (i = 0; i < argc && !err; i++) {
		if (!json_is_array(argv[i])) {
			err = charge(c, 1);
			if (!err)
				append_new(result, ref(argv[i]));
			continue;
		}
		err = charge(c, json_array_size(argv[i]));
		for (j = 0; !err && j < json_array_size(argv[i]); j++)
			append_new(result, ref(json_array_get(argv[i], j)));
	}
	if (err)
		json_decref(result);
	else
		*out = result;
	return err;
}

/* {"in": [a, b]}: substring when b is a non-empty string, === membership when b is an
 * array, otherwise false. */
enum ff_err jl_op_in(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out)
{
	json_t *a = arg(argv, argc, 0), *b = arg(argv, argc, 1);
	struct sb needle = {NULL, 0, 0};
	enum ff_err err = FF_OK;
	bool found = false;
	size_t i;

	(void)data;
	if (json_is_string(b) && json_string_length(b) > 0) {
		err = jl_to_string(c, a, &needle, 0);
		if (!err)
			err = charge(c, json_string_length(b) / JL_BYTES_PER_STEP);
		if (!err)
			found =
			    needle.len == 0 || memmem(json_string_value(b), json_string_length(b),
						      needle.p, needle.len) != NULL;
		sb_release(&needle);
	} else if (json_is_array(b)) {
		err = charge(c, json_array_size(b));
		for (i = 0; !err && !found && i < json_array_size(b); i++)
			found = jl_strict_eq(a, json_array_get(b, i));
	}
	if (!err)
		*out = json_boolean(found);
	return err;
}

/* {"cat": [...]}: the arguments' strings joined; null adds nothing. */
enum ff_err jl_op_cat(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	struct sb b = {NULL, 0, 0};
	enum ff_err err = FF_OK;
	size_t i;

	(void)data;
	for (i = 0; i < argc && !err; i++)
		if (!json_is_null(argv[i]))
			err = jl_to_string(c, argv[i], &b, 0);
	if (!err)
		err = sb_json(c, &b, out);
	sb_release(&b);
	return err;
}

/* String.prototype.substr(start, length) on a string of `size` code units: the range
 * [*from, *to). has_len false means length undefined (to the end). */
static void substr_range(double size, double start, bool has_len, double len, double *from,
			 double *to)
{
	if (start < 0)
		start = fmax(size + start, 0);
	start = fmin(start, size);
	if (!has_len)
		len = size;
	len = fmin(fmax(len, 0), size);
	*from = start;
	*to = fmax(fmin(start + len, size), start);
}

/* {"substr": [s, start, end]} as json-logic-js: a negative end drops that many code
 * units from the end of s.substr(start). */
enum ff_err jl_op_substr(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	struct sb src = {NULL, 0, 0}, res = {NULL, 0, 0};
	json_t *end = arg(argv, argc, 2);
	double size, from, to, f2, t2, keep;
	struct num start, e;
	enum ff_err err;

	(void)data;
	err = jl_to_string(c, arg(argv, argc, 0), &src, 0);
	if (!err)
		err = jl_to_number(c, arg(argv, argc, 1), &start);
	if (!err && end)
		err = jl_to_number(c, end, &e);
	if (err)
		goto out;
	size = (double)jl_u16_len(sb_str(&src), src.len);
	if (!end) {
		substr_range(size, to_integer(start), false, 0, &from, &to);
	} else if (num_cmp(e, num_int(0)) == ORD_LT) {
		substr_range(size, to_integer(start), false, 0, &from, &to);
		/* JavaScript computes temp.length + end: a number only when end is one
		 * (a string end concatenates to something that is not a number). */
		keep = json_is_number(end) ? to_integer(num_dbl((to - from) + e.d)) : 0;
		substr_range(to - from, 0, true, keep, &f2, &t2);
		to = from + t2;
		from += f2;
	} else {
		substr_range(size, to_integer(start), true, to_integer(e), &from, &to);
	}
	err = jl_u16_slice(c, &res, sb_str(&src), src.len, (size_t)from, (size_t)to);
	if (!err)
		err = sb_json(c, &res, out);
out:
	sb_release(&src);
	sb_release(&res);
	return err;
}

enum ff_err jl_op_log(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out)
{
	(void)c;
	(void)data;
	*out = ref(arg(argv, argc, 0));
	return FF_OK;
}
