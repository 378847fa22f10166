/*
 * jsonlogic_int.h - private to the JsonLogic evaluator (src/core/jsonlogic*.c), as
 * SQLite's btreeInt.h is to btree.c: the limits, the evaluation context, the string
 * builder, JavaScript numbers and kinds, the operator table's entry type, and the
 * functions one piece calls in another. The public face is include/fulfill/jsonlogic.h.
 *
 * The pieces: jsonlogic.c (the operator table, evaluation, validation),
 * jsonlogic_value.c (JavaScript values: UTF-16 strings, number parsing and formatting,
 * conversions, == and <), jsonlogic_ops_data.c (var, missing, if/and/or, the array
 * operators) and jsonlogic_ops_math.c (equality, comparison, arithmetic, strings).
 * Small helpers on the evaluation's hot path are `static inline` here so that splitting
 * the file did not turn them into calls.
 */
#ifndef FULFILL_JSONLOGIC_INT_H
#define FULFILL_JSONLOGIC_INT_H

#include "fulfill/jsonlogic.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JL_MAX_DEPTH 64		/* nested rules, arrays and joined values */
#define JL_MAX_STEPS 100000	/* work units per jsonlogic_apply() */
#define JL_MAX_STRING (1 << 20) /* bytes in one string built by a rule */
#define JL_BYTES_PER_STEP 64	/* string bytes built per step charged */
#define JL_ANY 255		/* no upper bound on the number of arguments */

struct jl_ctx {
	size_t steps;	   /* charged so far, never above JL_MAX_STEPS */
	size_t bytes;	   /* string bytes built so far */
	int depth;	   /* current nesting of eval() */
	struct ff_diag *d; /* where errors go; may be NULL */
};

/* ---- small helpers ---------------------------------------------------------------- */

/* jansson reports out of memory as NULL; we abort in one place (error.c). */
static inline json_t *must(json_t *v)
{
	if (!v)
		ff_oom();
	return v;
}

static inline void append_new(json_t *array, json_t *v)
{
	if (json_array_append_new(array, v))
		ff_oom();
}

/* A new reference to a value of the rule or data. Only the reference count changes
 * (atomically in jansson 2.14), so the const cast keeps evaluation pure. */
static inline json_t *ref(const json_t *v) { return v ? json_incref((json_t *)v) : json_null(); }

static inline enum ff_err charge(struct jl_ctx *c, size_t n)
{
	if (n > JL_MAX_STEPS - c->steps)
		return ff_fail(c->d, FF_E_INVALID, NULL,
			       "rule exceeds the limit of %d evaluation steps", JL_MAX_STEPS);
	c->steps += n;
	return FF_OK;
}

/* A string being built: bounded by JL_MAX_STRING and charged to the step budget. */
struct sb {
	char *p;
	size_t len;
	size_t cap;
};

static inline const char *sb_str(const struct sb *b) { return b->p ? b->p : ""; }

static inline void sb_release(struct sb *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

/* The built string as a JSON string. The pieces are valid UTF-8 whenever the inputs
 * were, so a refusal means a caller built `rule` or `data` with json_string_nocheck. */
static inline enum ff_err sb_json(struct jl_ctx *c, const struct sb *b, json_t **out)
{
	*out = json_stringn(sb_str(b), b->len);
	if (!*out)
		return ff_fail(c->d, FF_E_INVALID, NULL,
			       "rule produced a string that is not UTF-8");
	return FF_OK;
}

/* ---- UTF-8 ---------------------------------------------------------------------- */

/* Decode the code point at s[*i] and advance; a malformed byte reads as U+FFFD. */
static inline uint32_t u8_next(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char b = s[*i];
	uint32_t cp;
	size_t need, k;

	if (b < 0x80) {
		*i += 1;
		return b;
	}
	if ((b & 0xe0) == 0xc0) {
		need = 1;
		cp = b & 0x1f;
	} else if ((b & 0xf0) == 0xe0) {
		need = 2;
		cp = b & 0x0f;
	} else if ((b & 0xf8) == 0xf0) {
		need = 3;
		cp = b & 0x07;
	} else {
		*i += 1;
		return 0xfffd;
	}
	if (n - *i <= need) {
		*i += 1;
		return 0xfffd;
	}
	for (k = 1; k <= need; k++) {
		if ((s[*i + k] & 0xc0) != 0x80) {
			*i += 1;
			return 0xfffd;
		}
		cp = cp << 6 | (s[*i + k] & 0x3f);
	}
	*i += need + 1;
	return cp;
}

enum ord { ORD_LT, ORD_EQ, ORD_GT, ORD_NONE };

/* ---- numbers ---------------------------------------------------------------------- */

/* A JavaScript number that remembers when it is an exact int64. */
struct num {
	bool is_int;
	int64_t i;
	double d; /* the value as a double, also when is_int */
};

static inline struct num num_int(int64_t i)
{
	struct num n = {true, i, (double)i};

	return n;
}

static inline struct num num_dbl(double d)
{
	struct num n = {false, 0, d};

	return n;
}

static inline struct num num_nan(void) { return num_dbl(NAN); }

static inline struct num num_of_json(const json_t *v)
{
	if (json_is_integer(v))
		return num_int((int64_t)json_integer_value(v));
	return num_dbl(json_number_value(v));
}

/* The JSON form of a result: null when not finite, an integer when integral. */
static inline json_t *num_json(struct num n)
{
	if (n.is_int)
		return must(json_integer((json_int_t)n.i));
	if (!isfinite(n.d))
		return json_null();
	if (n.d == trunc(n.d) && n.d >= -0x1p63 && n.d < 0x1p63)
		return must(json_integer((json_int_t)n.d));
	return must(json_real(n.d));
}

static inline enum ord num_cmp(struct num a, struct num b)
{
	if (a.is_int && b.is_int)
		return a.i < b.i ? ORD_LT : a.i > b.i ? ORD_GT : ORD_EQ;
	if (isnan(a.d) || isnan(b.d))
		return ORD_NONE;
	return a.d < b.d ? ORD_LT : a.d > b.d ? ORD_GT : ORD_EQ;
}

static inline struct num num_add(struct num a, struct num b)
{
	int64_t r;

	if (a.is_int && b.is_int && !__builtin_add_overflow(a.i, b.i, &r))
		return num_int(r);
	return num_dbl(a.d + b.d);
}

static inline struct num num_sub(struct num a, struct num b)
{
	int64_t r;

	if (a.is_int && b.is_int && !__builtin_sub_overflow(a.i, b.i, &r))
		return num_int(r);
	return num_dbl(a.d - b.d);
}

static inline struct num num_mul(struct num a, struct num b)
{
	int64_t r;

	if (a.is_int && b.is_int && !__builtin_mul_overflow(a.i, b.i, &r))
		return num_int(r);
	return num_dbl(a.d * b.d);
}

static inline struct num num_div(struct num a, struct num b)
{
	if (a.is_int && b.is_int && b.i != 0 && !(a.i == INT64_MIN && b.i == -1) && a.i % b.i == 0)
		return num_int(a.i / b.i);
	return num_dbl(a.d / b.d);
}

/* JavaScript %: the sign follows the dividend, like C's % and fmod(). */
static inline struct num num_mod(struct num a, struct num b)
{
	if (a.is_int && b.is_int) {
		if (b.i == 0)
			return num_nan();
		if (b.i == -1)
			return num_int(0);
		return num_int(a.i % b.i);
	}
	return num_dbl(fmod(a.d, b.d));
}

static inline struct num num_neg(struct num a)
{
	if (a.is_int && a.i != INT64_MIN)
		return num_int(-a.i);
	return num_dbl(-a.d);
}

static inline bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* ---- JavaScript kinds -------------------------------------------------------------- */

/* The JavaScript type of a value; NULL stands for undefined (a missing argument). */
enum kind { K_UNDEF, K_NULL, K_BOOL, K_NUM, K_STR, K_OBJ };

static inline enum kind kind_of(const json_t *v)
{
	if (!v)
		return K_UNDEF;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return K_NULL;
	case JSON_TRUE:
	case JSON_FALSE:
		return K_BOOL;
	case JSON_INTEGER:
	case JSON_REAL:
		return K_NUM;
	case JSON_STRING:
		return K_STR;
	default:
		return K_OBJ;
	}
}

/* ToIntegerOrInfinity. */
static inline double to_integer(struct num n) { return isnan(n.d) ? 0 : trunc(n.d); }

/* ---- between the pieces ------------------------------------------------------------ */

/* jsonlogic_value.c */
size_t jl_u16_len(const char *s, size_t n);
enum ff_err jl_u16_slice(struct jl_ctx *c, struct sb *b, const char *s, size_t n, size_t from,
			 size_t to);
enum ff_err jl_to_string(struct jl_ctx *c, const json_t *v, struct sb *b, int depth);
enum ff_err jl_to_number(struct jl_ctx *c, const json_t *v, struct num *out);
enum ff_err jl_parse_float(struct jl_ctx *c, const json_t *v, struct num *out);
bool jl_strict_eq(const json_t *a, const json_t *b);
enum ff_err jl_loose_eq(struct jl_ctx *c, const json_t *a, const json_t *b, bool *eq);
enum ff_err jl_compare(struct jl_ctx *c, const json_t *a, const json_t *b, enum ord *ord);

/* jsonlogic.c: evaluate rule (NULL: undefined, which is null) against data into *out. */
enum ff_err jl_eval(struct jl_ctx *c, const json_t *rule, const json_t *data, json_t **out);

/* An operation gets its arguments evaluated (or, when lazy, as written); argv[i] for
 * i >= argc is undefined, which arg() reports as NULL. It sets *out only on success. */
typedef enum ff_err (*op_fn)(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			     json_t **out);

static inline json_t *arg(json_t *const *argv, size_t argc, size_t i)
{
	return i < argc ? argv[i] : NULL;
}

struct jl_op {
	const char *name;
	op_fn fn;
	bool lazy;		/* gets its arguments unevaluated */
	unsigned char min_args; /* arity jsonlogic_validate() accepts */
	unsigned char max_args; /* JL_ANY: no bound */
};

/* The operators (jsonlogic_ops_data.c, jsonlogic_ops_math.c), listed in jsonlogic.c. */
enum ff_err jl_op_var(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_missing(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out);
enum ff_err jl_op_missing_some(struct jl_ctx *c, json_t *const *argv, size_t argc,
			       const json_t *data, json_t **out);
enum ff_err jl_op_if(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_and(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_or(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_map(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_filter(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out);
enum ff_err jl_op_reduce(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out);
enum ff_err jl_op_all(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_none(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		       json_t **out);
enum ff_err jl_op_some(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		       json_t **out);
enum ff_err jl_op_eq(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_ne(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_seq(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_sne(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_gt(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_ge(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_lt(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_le(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_not(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_truthy(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out);
enum ff_err jl_op_mod(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_div(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_sub(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_add(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_mul(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_max(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_min(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_merge(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			json_t **out);
enum ff_err jl_op_in(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		     json_t **out);
enum ff_err jl_op_cat(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);
enum ff_err jl_op_substr(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out);
enum ff_err jl_op_log(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
		      json_t **out);

#endif
