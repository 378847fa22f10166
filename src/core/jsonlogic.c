/*
 * jsonlogic.c - the JsonLogic evaluator behind program eligibility rules.
 *
 * A rule is a jansson value: an object with exactly one key is an operation
 * ({"op": args}), an array is evaluated element by element, anything else (including
 * objects with zero or several keys) is a literal. The semantics are those of the
 * reference implementation, json-logic-js, including JavaScript's coercions: loose ==,
 * relational comparison of strings and numbers, parseFloat in + and *, ToNumber in the
 * other arithmetic, String() in cat / in / var paths, string positions counted in UTF-16
 * code units. The official suite passes unchanged. Where JavaScript has no JSON answer,
 * or its answer is unhelpful, we choose:
 *  - NaN and +-Infinity become null (as JSON.stringify does);
 *  - integer arithmetic stays exact in int64 while it does not overflow (JavaScript
 *    would round past 2^53; money callers want exact amounts), and every integral
 *    numeric result within int64 is a JSON integer (so 4 / 2 is the integer 2);
 *  - {"*": [x]} is parseFloat(x) rather than x unchanged, and {"*": []} is an error;
 *  - missing / missing_some look keys up as paths; keys are not evaluated again;
 *  - "log" returns its argument and prints nothing (library code never prints);
 *  - a string slice that would split a surrogate pair yields U+FFFD for the half.
 *
 * Results are new references but may share sub-values with `rule` and `data` (var and
 * filter hand back parts of data), so callers treat them as read-only.
 *
 * Every evaluation is bounded: nesting depth (JL_MAX_DEPTH), steps (JL_MAX_STEPS; a
 * step is one evaluation, one element copied or scanned, or JL_BYTES_PER_STEP bytes of
 * string built) and string size (JL_MAX_STRING). A hostile rule gets FF_E_INVALID
 * instead of the stack, the CPU or the memory. Number parsing and formatting use the C
 * library and assume the "C" numeric locale, which fulfill never changes.
 *
 * This file holds the operator table, evaluation and validation; jsonlogic_int.h says
 * where the rest lives (JavaScript values in jsonlogic_value.c, the operators in
 * jsonlogic_ops_data.c and jsonlogic_ops_math.c).
 */
#include "core/jsonlogic_int.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- evaluation ------------------------------------------------------------------- */

static const struct jl_op ops[] = {
    {"var", jl_op_var, false, 0, 2},
    {"missing", jl_op_missing, false, 0, JL_ANY},
    {"missing_some", jl_op_missing_some, false, 2, 2},
    {"if", jl_op_if, true, 0, JL_ANY},
    {"?:", jl_op_if, true, 3, 3},
    {"==", jl_op_eq, false, 2, 2},
    {"===", jl_op_seq, false, 2, 2},
    {"!=", jl_op_ne, false, 2, 2},
    {"!==", jl_op_sne, false, 2, 2},
    {"!", jl_op_not, false, 1, 1},
    {"!!", jl_op_truthy, false, 1, 1},
    {"or", jl_op_or, true, 1, JL_ANY},
    {"and", jl_op_and, true, 1, JL_ANY},
    {">", jl_op_gt, false, 2, 2},
    {">=", jl_op_ge, false, 2, 2},
    {"<", jl_op_lt, false, 2, 3},
    {"<=", jl_op_le, false, 2, 3},
    {"max", jl_op_max, false, 1, JL_ANY},
    {"min", jl_op_min, false, 1, JL_ANY},
    {"+", jl_op_add, false, 1, JL_ANY},
    {"-", jl_op_sub, false, 1, 2},
    {"*", jl_op_mul, false, 1, JL_ANY},
    {"/", jl_op_div, false, 2, 2},
    {"%", jl_op_mod, false, 2, 2},
    {"map", jl_op_map, true, 2, 2},
    {"filter", jl_op_filter, true, 2, 2},
    {"reduce", jl_op_reduce, true, 2, 3},
    {"all", jl_op_all, true, 2, 2},
    {"none", jl_op_none, true, 2, 2},
    {"some", jl_op_some, true, 2, 2},
    {"merge", jl_op_merge, false, 0, JL_ANY},
    {"in", jl_op_in, false, 2, 2},
    {"cat", jl_op_cat, false, 0, JL_ANY},
    {"substr", jl_op_substr, false, 2, 3},
    {"log", jl_op_log, false, 1, 1},
};

static const struct jl_op *op_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strlen(ops[i].name) == len && memcmp(ops[i].name, name, len) == 0)
			return &ops[i];
	return NULL;
}

/* FF_E_INVALID naming an unknown operator; the name is cut short and made printable
 * so the message stays valid UTF-8 whatever the rule holds. */
static enum ff_err unknown_op(struct ff_diag *d, const char *param, const char *name, size_t len)
{
	const unsigned char *u = (const unsigned char *)name;
	char shown[96];
	size_t i = 0, pos = 0, start;
	uint32_t cp;

	while (i < len && pos < 64) {
		start = i;
		cp = u8_next(u, len, &i);
		if (cp < 0x20 || cp == 0x7f || cp == '"' || cp == '\\' ||
		    (cp == 0xfffd && i - start == 1)) {
			shown[pos++] = '?';
		} else {
			memcpy(shown + pos, name + start, i - start);
			pos += i - start;
		}
	}
	if (i < len) {
		memcpy(shown + pos, "...", 3);
		pos += 3;
	}
	shown[pos] = '\0';
	return ff_fail(d, FF_E_INVALID, param, "unknown operator \"%s\"", shown);
}

/* The single key and value of an operation object. */
static const struct jl_op *op_of(const json_t *rule, const char **name, size_t *len,
				 json_t **values)
{
	void *it = json_object_iter((json_t *)rule);

	*name = json_object_iter_key(it);
	*len = json_object_iter_key_len(it);
	*values = json_object_iter_value(it);
	return op_find(*name, *len);
}

static enum ff_err eval_op(struct jl_ctx *c, const json_t *rule, const json_t *data, json_t **out)
{
	json_t *values, *small[4], **argv = small;
	size_t name_len, argc = 1, done = 0, i;
	const struct jl_op *op;
	enum ff_err err = FF_OK;
	const char *name;

	op = op_of(rule, &name, &name_len, &values);
	if (!op)
		return unknown_op(c->d, NULL, name, name_len);
	/* Unary sugar: {"var": "x"} is {"var": ["x"]}. */
	if (json_is_array(values)) {
		argc = json_array_size(values);
		err = charge(c, argc);
		if (err)
			return err;
		if (argc > sizeof(small) / sizeof(small[0]))
			argv = ff_calloc(argc, sizeof(*argv));
		for (i = 0; i < argc; i++)
			argv[i] = json_array_get(values, i);
	} else {
		argv[0] = values;
	}
	for (done = 0; !op->lazy && done < argc; done++) {
		json_t *v;

		err = jl_eval(c, argv[done], data, &v);
		if (err)
			goto out;
		argv[done] = v;
	}
	err = op->fn(c, argv, argc, data, out);
out:
	/* Evaluated arguments are ours; lazy ones are borrowed from the rule. */
	for (i = 0; !op->lazy && i < done; i++)
		json_decref(argv[i]);
	if (argv != small)
		free(argv);
	return err;
}

static enum ff_err eval_array(struct jl_ctx *c, const json_t *rule, const json_t *data,
			      json_t **out)
{
	json_t *result = must(json_array()), *v;
	enum ff_err err = FF_OK;
	size_t i;

	for (i = 0; i < json_array_size(rule) && !err; i++) {
		err = jl_eval(c, json_array_get(rule, i), data, &v);
		if (!err)
			append_new(result, v);
	}
	if (err)
		json_decref(result);
	else
		*out = result;
	return err;
}

/* Evaluate rule (NULL: undefined, which is null) against data into *out. */
enum ff_err jl_eval(struct jl_ctx *c, const json_t *rule, const json_t *data, json_t **out)
{
	enum ff_err err;

	*out = NULL;
	err = charge(c, 1);
	if (err)
		return err;
	if (c->depth >= JL_MAX_DEPTH)
		return ff_fail(c->d, FF_E_INVALID, NULL, "rule is nested deeper than %d levels",
			       JL_MAX_DEPTH);
	c->depth++;
	if (json_is_array(rule))
		err = eval_array(c, rule, data, out);
	else if (json_is_object(rule) && json_object_size(rule) == 1)
		err = eval_op(c, rule, data, out);
	else
		*out = ref(rule);
	c->depth--;
	return err;
}

enum ff_err jsonlogic_apply(const json_t *rule, const json_t *data, json_t **out, struct ff_diag *d)
{
	struct jl_ctx c = {0, 0, 0, d};
	enum ff_err err;

	assert(out);
	err = jl_eval(&c, rule, data, out);
	if (err) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

bool jsonlogic_truthy(const json_t *v)
{
	switch (kind_of(v)) {
	case K_BOOL:
		return json_is_true(v);
	case K_NUM:
		return json_number_value(v) != 0;
	case K_STR:
		return json_string_length(v) > 0;
	case K_OBJ:
		return !json_is_array(v) || json_array_size(v) > 0;
	default:
		return false;
	}
}

/* ---- validation ------------------------------------------------------------------- */

/* Where the walk is, for d->param: "eligibility.and[1].!". Long paths are cut short. */
struct jl_path {
	char buf[256];
	size_t len;
};

static void path_push(struct jl_path *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void path_push(struct jl_path *p, const char *fmt, ...)
{
	size_t room = sizeof(p->buf) - p->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->buf + p->len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->len += (size_t)n < room ? (size_t)n : room - 1;
}

static void path_pop(struct jl_path *p, size_t len)
{
	p->len = len;
	p->buf[len] = '\0';
}

static enum ff_err arity_error(struct ff_diag *d, const char *param, const struct jl_op *op)
{
	if (op->max_args == JL_ANY)
		return ff_fail(d, FF_E_INVALID, param,
			       "operator \"%s\" takes at least %d argument%s", op->name,
			       op->min_args, op->min_args == 1 ? "" : "s");
	if (op->min_args == op->max_args)
		return ff_fail(d, FF_E_INVALID, param, "operator \"%s\" takes %d argument%s",
			       op->name, op->min_args, op->min_args == 1 ? "" : "s");
	return ff_fail(d, FF_E_INVALID, param, "operator \"%s\" takes %d to %d arguments", op->name,
		       op->min_args, op->max_args);
}

/* Mirrors jl_eval(): same depth accounting, so a rule that validates never hits the depth
 * limit when applied. */
static enum ff_err walk(const json_t *v, int depth, struct jl_path *p, struct ff_diag *d)
{
	const struct jl_op *op;
	const char *name;
	json_t *values;
	size_t len, argc, i, save = p->len;
	enum ff_err err = FF_OK;

	if (depth >= JL_MAX_DEPTH)
		return ff_fail(d, FF_E_INVALID, p->buf, "rule is nested deeper than %d levels",
			       JL_MAX_DEPTH);
	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v) && !err; i++) {
			path_push(p, "[%zu]", i);
			err = walk(json_array_get(v, i), depth + 1, p, d);
			path_pop(p, save);
		}
		return err;
	}
	if (!json_is_object(v) || json_object_size(v) != 1)
		return FF_OK;
	op = op_of(v, &name, &len, &values);
	if (!op)
		return unknown_op(d, p->buf, name, len);
	argc = json_is_array(values) ? json_array_size(values) : 1;
	if (argc < op->min_args || (op->max_args != JL_ANY && argc > op->max_args))
		return arity_error(d, p->buf, op);
	if (!json_is_array(values)) {
		path_push(p, "%s%s", save ? "." : "", op->name);
		err = walk(values, depth + 1, p, d);
		path_pop(p, save);
		return err;
	}
	for (i = 0; i < argc && !err; i++) {
		path_push(p, "%s%s[%zu]", save ? "." : "", op->name, i);
		err = walk(json_array_get(values, i), depth + 1, p, d);
		path_pop(p, save);
	}
	return err;
}

enum ff_err jsonlogic_validate(const json_t *rule, const char *path, struct ff_diag *d)
{
	struct jl_path p;

	p.len = 0;
	p.buf[0] = '\0';
	path_push(&p, "%s", path ? path : "");
	return walk(rule, 0, &p, d);
}
