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
 */
#include "fulfill/jsonlogic.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
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
static json_t *must(json_t *v)
{
	if (!v)
		ff_oom();
	return v;
}

static void append_new(json_t *array, json_t *v)
{
	if (json_array_append_new(array, v))
		ff_oom();
}

/* A new reference to a value of the rule or data. Only the reference count changes
 * (atomically in jansson 2.14), so the const cast keeps evaluation pure. */
static json_t *ref(const json_t *v) { return v ? json_incref((json_t *)v) : json_null(); }

static enum ff_err charge(struct jl_ctx *c, size_t n)
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

static enum ff_err sb_add(struct jl_ctx *c, struct sb *b, const char *s, size_t n)
{
	size_t before = c->bytes / JL_BYTES_PER_STEP;
	enum ff_err err;

	if (n > (size_t)JL_MAX_STRING - b->len)
		return ff_fail(c->d, FF_E_INVALID, NULL,
			       "rule builds a string over the limit of %d bytes", JL_MAX_STRING);
	c->bytes += n;
	err = charge(c, c->bytes / JL_BYTES_PER_STEP - before);
	if (err)
		return err;
	if (n == 0)
		return FF_OK;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = ff_realloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return FF_OK;
}

static enum ff_err sb_adds(struct jl_ctx *c, struct sb *b, const char *s)
{
	return sb_add(c, b, s, strlen(s));
}

static const char *sb_str(const struct sb *b) { return b->p ? b->p : ""; }

static void sb_release(struct sb *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

/* The built string as a JSON string. The pieces are valid UTF-8 whenever the inputs
 * were, so a refusal means a caller built `rule` or `data` with json_string_nocheck. */
static enum ff_err sb_json(struct jl_ctx *c, const struct sb *b, json_t **out)
{
	*out = json_stringn(sb_str(b), b->len);
	if (!*out)
		return ff_fail(c->d, FF_E_INVALID, NULL,
			       "rule produced a string that is not UTF-8");
	return FF_OK;
}

/* ---- UTF-8 and UTF-16 ------------------------------------------------------------- */

/* Decode the code point at s[*i] and advance; a malformed byte reads as U+FFFD. */
static uint32_t u8_next(const unsigned char *s, size_t n, size_t *i)
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

/* Walks a UTF-8 string as the UTF-16 code units JavaScript sees. */
struct u16_iter {
	const unsigned char *s;
	size_t n;
	size_t i;
	int low; /* pending low surrogate, or -1 */
};

static void u16_start(struct u16_iter *it, const char *s, size_t n)
{
	it->s = (const unsigned char *)s;
	it->n = n;
	it->i = 0;
	it->low = -1;
}

/* The next code unit, or -1 at the end. */
static int u16_next(struct u16_iter *it)
{
	uint32_t cp;
	int unit;

	if (it->low >= 0) {
		unit = it->low;
		it->low = -1;
		return unit;
	}
	if (it->i >= it->n)
		return -1;
	cp = u8_next(it->s, it->n, &it->i);
	if (cp >= 0x10000) {
		cp -= 0x10000;
		it->low = (int)(0xdc00 | (cp & 0x3ff));
		return (int)(0xd800 | (cp >> 10));
	}
	return (int)cp;
}

static size_t u16_len(const char *s, size_t n)
{
	struct u16_iter it;
	size_t len = 0;

	u16_start(&it, s, n);
	while (u16_next(&it) >= 0)
		len++;
	return len;
}

enum ord { ORD_LT, ORD_EQ, ORD_GT, ORD_NONE };

/* JavaScript string order: by UTF-16 code unit. */
static enum ord u16_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	struct u16_iter ia, ib;
	int x, y;

	u16_start(&ia, a, an);
	u16_start(&ib, b, bn);
	for (;;) {
		x = u16_next(&ia);
		y = u16_next(&ib);
		if (x != y || x < 0)
			break;
	}
	if (x == y)
		return ORD_EQ;
	return x < y ? ORD_LT : ORD_GT;
}

/* Append code units [from, to) of s to b; a surrogate pair cut in half becomes U+FFFD. */
static enum ff_err u16_slice(struct jl_ctx *c, struct sb *b, const char *s, size_t n, size_t from,
			     size_t to)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, unit = 0, start;
	enum ff_err err = FF_OK;
	uint32_t cp;
	bool first, second;

	while (i < n && unit < to && !err) {
		start = i;
		cp = u8_next(u, n, &i);
		if (cp < 0x10000) {
			if (unit >= from)
				err = sb_add(c, b, s + start, i - start);
			unit++;
			continue;
		}
		first = unit >= from;
		second = unit + 1 >= from && unit + 1 < to;
		if (first && second)
			err = sb_add(c, b, s + start, i - start);
		else if (first || second)
			err = sb_adds(c, b, "\xef\xbf\xbd");
		unit += 2;
	}
	return err;
}

/* ---- numbers ---------------------------------------------------------------------- */

/* A JavaScript number that remembers when it is an exact int64. */
struct num {
	bool is_int;
	int64_t i;
	double d; /* the value as a double, also when is_int */
};

static struct num num_int(int64_t i)
{
	struct num n = {true, i, (double)i};

	return n;
}

static struct num num_dbl(double d)
{
	struct num n = {false, 0, d};

	return n;
}

static struct num num_nan(void) { return num_dbl(NAN); }

static struct num num_of_json(const json_t *v)
{
	if (json_is_integer(v))
		return num_int((int64_t)json_integer_value(v));
	return num_dbl(json_number_value(v));
}

/* The JSON form of a result: null when not finite, an integer when integral. */
static json_t *num_json(struct num n)
{
	if (n.is_int)
		return must(json_integer((json_int_t)n.i));
	if (!isfinite(n.d))
		return json_null();
	if (n.d == trunc(n.d) && n.d >= -0x1p63 && n.d < 0x1p63)
		return must(json_integer((json_int_t)n.d));
	return must(json_real(n.d));
}

static enum ord num_cmp(struct num a, struct num b)
{
	if (a.is_int && b.is_int)
		return a.i < b.i ? ORD_LT : a.i > b.i ? ORD_GT : ORD_EQ;
	if (isnan(a.d) || isnan(b.d))
		return ORD_NONE;
	return a.d < b.d ? ORD_LT : a.d > b.d ? ORD_GT : ORD_EQ;
}

static struct num num_add(struct num a, struct num b)
{
	int64_t r;

	if (a.is_int && b.is_int && !__builtin_add_overflow(a.i, b.i, &r))
		return num_int(r);
	return num_dbl(a.d + b.d);
}

static struct num num_sub(struct num a, struct num b)
{
	int64_t r;

	if (a.is_int && b.is_int && !__builtin_sub_overflow(a.i, b.i, &r))
		return num_int(r);
	return num_dbl(a.d - b.d);
}

static struct num num_mul(struct num a, struct num b)
{
	int64_t r;

	if (a.is_int && b.is_int && !__builtin_mul_overflow(a.i, b.i, &r))
		return num_int(r);
	return num_dbl(a.d * b.d);
}

static struct num num_div(struct num a, struct num b)
{
	if (a.is_int && b.is_int && b.i != 0 && !(a.i == INT64_MIN && b.i == -1) && a.i % b.i == 0)
		return num_int(a.i / b.i);
	return num_dbl(a.d / b.d);
}

/* JavaScript %: the sign follows the dividend, like C's % and fmod(). */
static struct num num_mod(struct num a, struct num b)
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

static struct num num_neg(struct num a)
{
	if (a.is_int && a.i != INT64_MIN)
		return num_int(-a.i);
	return num_dbl(-a.d);
}

/* Byte length of the JavaScript white space (WhiteSpace or LineTerminator) at s, or 0. */
static size_t js_space(const unsigned char *s, size_t n)
{
	size_t i = 0;
	uint32_t cp;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		switch (s[0]) {
		case ' ':
		case '\t':
		case '\n':
		case '\v':
		case '\f':
		case '\r':
			return 1;
		default:
			return 0;
		}
	}
	cp = u8_next(s, n, &i);
	switch (cp) {
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
	case 0xfeff:
		return i;
	default:
		return cp >= 0x2000 && cp <= 0x200a ? i : 0;
	}
}

/* Length of s without trailing JavaScript white space. */
static size_t trim_end(const unsigned char *s, size_t n)
{
	size_t i = 0, end = 0, w;

	while (i < n) {
		w = js_space(s + i, n - i);
		if (w) {
			i += w;
			continue;
		}
		u8_next(s, n, &i);
		end = i;
	}
	return end;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Length of the longest prefix of s that is a decimal literal (sign, digits, fraction,
 * exponent), 0 if none. *integral: no fraction and no exponent. */
static size_t scan_decimal(const char *s, size_t n, bool *integral)
{
	size_t i = 0, j, digits = 0;

	*integral = true;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < n && is_digit(s[i])) {
		i++;
		digits++;
	}
	if (i < n && s[i] == '.') {
		for (j = i + 1; j < n && is_digit(s[j]); j++)
			digits++;
		if (digits == 0)
			return 0;
		i = j;
		*integral = false;
	}
	if (digits == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		j = i + 1;
		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < n && is_digit(s[j])) {
			while (j < n && is_digit(s[j]))
				j++;
			i = j;
			*integral = false;
		}
	}
	return i;
}

/* The value of a decimal literal found by scan_decimal(). */
static struct num decimal_value(const char *s, size_t n, bool integral)
{
	char small[64], *copy;
	struct num r;

	if (integral) {
		uint64_t v = 0;
		size_t i = 0;
		bool neg = false, ok = true;

		if (s[0] == '+' || s[0] == '-') {
			neg = s[0] == '-';
			i++;
		}
		for (; i < n && ok; i++) {
			unsigned digit = (unsigned)(s[i] - '0');

			if (v > (UINT64_MAX - digit) / 10)
				ok = false;
			else
				v = v * 10 + digit;
		}
		if (ok && !neg && v <= (uint64_t)INT64_MAX)
			return num_int((int64_t)v);
		if (ok && neg && v <= (uint64_t)INT64_MAX)
			return num_int(-(int64_t)v);
		if (ok && neg && v == (uint64_t)INT64_MAX + 1)
			return num_int(INT64_MIN);
	}
	copy = n < sizeof(small) ? small : ff_malloc(n + 1);
	memcpy(copy, s, n);
	copy[n] = '\0';
	r = num_dbl(strtod(copy, NULL));
	if (copy != small)
		free(copy);
	return r;
}

/* 0x / 0o / 0b literals (JavaScript's ToNumber accepts them; parseFloat does not). */
static struct num radix_value(const char *s, size_t n, unsigned base)
{
	uint64_t v = 0;
	double dv = 0;
	bool exact = true;
	size_t i;

	if (n == 0)
		return num_nan();
	for (i = 0; i < n; i++) {
		char ch = s[i];
		unsigned digit;

		if (is_digit(ch))
			digit = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			digit = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			digit = (unsigned)(ch - 'A' + 10);
		else
			return num_nan();
		if (digit >= base)
			return num_nan();
		if (v > (UINT64_MAX - digit) / base)
			exact = false;
		v = v * base + digit;
		dv = dv * base + digit;
	}
	if (exact && v <= (uint64_t)INT64_MAX)
		return num_int((int64_t)v);
	return num_dbl(dv);
}

/* JavaScript's ToNumber on a string (prefix false), or parseFloat (prefix true: leading
 * white space, then the longest decimal or Infinity prefix; no hex; "" is NaN). */
static struct num parse_number(const char *str, size_t n, bool prefix)
{
	const unsigned char *u = (const unsigned char *)str;
	const char *s;
	size_t w, k, m;
	bool integral;

	while (n > 0 && (w = js_space(u, n)) > 0) {
		u += w;
		n -= w;
	}
	if (!prefix)
		n = trim_end(u, n);
	s = (const char *)u;
	if (n == 0)
		return prefix ? num_nan() : num_int(0);
	if (!prefix && n >= 2 && s[0] == '0') {
		switch (s[1]) {
		case 'x':
		case 'X':
			return radix_value(s + 2, n - 2, 16);
		case 'o':
		case 'O':
			return radix_value(s + 2, n - 2, 8);
		case 'b':
		case 'B':
			return radix_value(s + 2, n - 2, 2);
		default:
			break;
		}
	}
	k = s[0] == '+' || s[0] == '-';
	if (n - k >= 8 && memcmp(s + k, "Infinity", 8) == 0) {
		if (!prefix && n != k + 8)
			return num_nan();
		return num_dbl(s[0] == '-' ? -INFINITY : INFINITY);
	}
	m = scan_decimal(s, n, &integral);
	if (m == 0 || (!prefix && m != n))
		return num_nan();
	return decimal_value(s, m, integral);
}

/* JavaScript's Number::toString: shortest round-trip digits, exponent outside
 * [1e-7, 1e21). `out` holds at least 32 bytes. */
static void fmt_double(double v, char *out)
{
	char tmp[40], digits[24];
	int prec, k = 0, n, i, pos = 0, e;

	if (isnan(v) || isinf(v) || v == 0) {
		strcpy(out, isnan(v) ? "NaN" : v == 0 ? "0" : v < 0 ? "-Infinity" : "Infinity");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	for (i = 0; tmp[i] && tmp[i] != 'e'; i++)
		if (is_digit(tmp[i]))
			digits[k++] = tmp[i];
	n = (int)strtol(tmp + i + 1, NULL, 10) + 1;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	if (v < 0)
		out[pos++] = '-';
	if (k <= n && n <= 21) {
		for (i = 0; i < k; i++)
			out[pos++] = digits[i];
		for (i = k; i < n; i++)
			out[pos++] = '0';
	} else if (n > 0 && n <= 21) {
		for (i = 0; i < k; i++) {
			if (i == n)
				out[pos++] = '.';
			out[pos++] = digits[i];
		}
	} else if (n > -6 && n <= 0) {
		out[pos++] = '0';
		out[pos++] = '.';
		for (i = n; i < 0; i++)
			out[pos++] = '0';
		for (i = 0; i < k; i++)
			out[pos++] = digits[i];
	} else {
		out[pos++] = digits[0];
		if (k > 1)
			out[pos++] = '.';
		for (i = 1; i < k; i++)
			out[pos++] = digits[i];
		e = n - 1;
		pos += snprintf(out + pos, 8, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
	}
	out[pos] = '\0';
}

static void fmt_num(struct num n, char *out)
{
	if (n.is_int)
		snprintf(out, 32, "%" PRId64, n.i);
	else
		fmt_double(n.d, out);
}

/* ---- JavaScript conversions ------------------------------------------------------- */

/* The JavaScript type of a value; NULL stands for undefined (a missing argument). */
enum kind { K_UNDEF, K_NULL, K_BOOL, K_NUM, K_STR, K_OBJ };

static enum kind kind_of(const json_t *v)
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

static enum ff_err to_string(struct jl_ctx *c, const json_t *v, struct sb *b, int depth);

/* Array.prototype.join(","): null elements are empty. */
static enum ff_err join(struct jl_ctx *c, const json_t *array, struct sb *b, int depth)
{
	enum ff_err err = FF_OK;
	size_t i;

	if (depth >= JL_MAX_DEPTH)
		return ff_fail(c->d, FF_E_INVALID, NULL, "value is nested deeper than %d levels",
			       JL_MAX_DEPTH);
	for (i = 0; i < json_array_size(array) && !err; i++) {
		const json_t *el = json_array_get(array, i);

		err = charge(c, 1);
		if (!err && i > 0)
			err = sb_adds(c, b, ",");
		if (!err && !json_is_null(el))
			err = to_string(c, el, b, depth + 1);
	}
	return err;
}

/* Append String(v). */
static enum ff_err to_string(struct jl_ctx *c, const json_t *v, struct sb *b, int depth)
{
	char num[32];

	switch (kind_of(v)) {
	case K_UNDEF:
		return sb_adds(c, b, "undefined");
	case K_NULL:
		return sb_adds(c, b, "null");
	case K_BOOL:
		return sb_adds(c, b, json_is_true(v) ? "true" : "false");
	case K_NUM:
		fmt_num(num_of_json(v), num);
		return sb_adds(c, b, num);
	case K_STR:
		return sb_add(c, b, json_string_value(v), json_string_length(v));
	case K_OBJ:
		if (json_is_array(v))
			return join(c, v, b, depth);
		return sb_adds(c, b, "[object Object]");
	}
	return FF_OK;
}

/* A value after ToPrimitive: arrays and objects have become strings. */
struct prim {
	enum kind kind; /* never K_OBJ */
	struct num n;	/* K_BOOL (0 or 1) and K_NUM */
	const char *s;	/* K_STR */
	size_t len;
	struct sb own; /* storage for a joined array */
};

static enum ff_err to_primitive(struct jl_ctx *c, const json_t *v, struct prim *p)
{
	enum ff_err err;

	memset(p, 0, sizeof(*p));
	p->kind = kind_of(v);
	switch (p->kind) {
	case K_UNDEF:
	case K_NULL:
		break;
	case K_BOOL:
		p->n = num_int(json_is_true(v));
		break;
	case K_NUM:
		p->n = num_of_json(v);
		break;
	case K_STR:
		p->s = json_string_value(v);
		p->len = json_string_length(v);
		break;
	case K_OBJ:
		p->kind = K_STR;
		if (!json_is_array(v)) {
			p->s = "[object Object]";
			p->len = strlen(p->s);
			break;
		}
		err = join(c, v, &p->own, 0);
		p->s = sb_str(&p->own);
		p->len = p->own.len;
		return err;
	}
	return FF_OK;
}

static void prim_release(struct prim *p) { sb_release(&p->own); }

static struct num prim_number(const struct prim *p)
{
	switch (p->kind) {
	case K_NULL:
		return num_int(0);
	case K_BOOL:
	case K_NUM:
		return p->n;
	case K_STR:
		return parse_number(p->s, p->len, false);
	default:
		return num_nan();
	}
}

/* ToNumber(v). */
static enum ff_err to_number(struct jl_ctx *c, const json_t *v, struct num *out)
{
	struct prim p;
	enum ff_err err = to_primitive(c, v, &p);

	*out = err ? num_nan() : prim_number(&p);
	prim_release(&p);
	return err;
}

/* parseFloat(v): parseFloat(String(v)), so null and booleans are NaN. */
static enum ff_err parse_float(struct jl_ctx *c, const json_t *v, struct num *out)
{
	struct prim p;
	enum ff_err err = to_primitive(c, v, &p);

	if (err)
		*out = num_nan();
	else if (p.kind == K_NUM)
		*out = p.n;
	else if (p.kind == K_STR)
		*out = parse_number(p.s, p.len, true);
	else
		*out = num_nan();
	prim_release(&p);
	return err;
}

/* ToIntegerOrInfinity. */
static double to_integer(struct num n) { return isnan(n.d) ? 0 : trunc(n.d); }

/* === for two values of the same kind; arrays and objects by identity, as in JS. */
static bool same_kind_eq(const json_t *a, const json_t *b, enum kind k)
{
	switch (k) {
	case K_UNDEF:
	case K_NULL:
		return true;
	case K_BOOL:
		return json_is_true(a) == json_is_true(b);
	case K_NUM:
		return num_cmp(num_of_json(a), num_of_json(b)) == ORD_EQ;
	case K_STR:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) ==
			   0;
	case K_OBJ:
		return a == b;
	}
	return false;
}

static bool strict_eq(const json_t *a, const json_t *b)
{
	enum kind k = kind_of(a);

	return k == kind_of(b) && same_kind_eq(a, b, k);
}

/* JavaScript ==: null and undefined equal only each other; booleans become numbers;
 * an array or object meeting a number or string becomes a string; then strings compare
 * as strings and anything else as numbers. */
static enum ff_err loose_eq(struct jl_ctx *c, const json_t *a, const json_t *b, bool *eq)
{
	enum kind ka = kind_of(a), kb = kind_of(b);
	struct prim pa, pb;
	enum ff_err err;

	if (ka == kb) {
		*eq = same_kind_eq(a, b, ka);
		return FF_OK;
	}
	if (ka <= K_NULL || kb <= K_NULL) {
		*eq = ka <= K_NULL && kb <= K_NULL;
		return FF_OK;
	}
	memset(&pb, 0, sizeof(pb));
	err = to_primitive(c, a, &pa);
	if (!err)
		err = to_primitive(c, b, &pb);
	if (!err && pa.kind == K_STR && pb.kind == K_STR)
		*eq = pa.len == pb.len && memcmp(pa.s, pb.s, pa.len) == 0;
	else if (!err)
		*eq = num_cmp(prim_number(&pa), prim_number(&pb)) == ORD_EQ;
	prim_release(&pa);
	prim_release(&pb);
	return err;
}

/* JavaScript's relational comparison: two strings by code unit, else as numbers
 * (NaN, including undefined, is unordered). */
static enum ff_err compare(struct jl_ctx *c, const json_t *a, const json_t *b, enum ord *ord)
{
	struct prim pa, pb;
	enum ff_err err;

	memset(&pb, 0, sizeof(pb));
	*ord = ORD_NONE;
	err = to_primitive(c, a, &pa);
	if (!err)
		err = to_primitive(c, b, &pb);
	if (!err && pa.kind == K_STR && pb.kind == K_STR)
		*ord = u16_cmp(pa.s, pa.len, pb.s, pb.len);
	else if (!err)
		*ord = num_cmp(prim_number(&pa), prim_number(&pb));
	prim_release(&pa);
	prim_release(&pb);
	return err;
}

/* ---- evaluation ------------------------------------------------------------------- */

static enum ff_err eval(struct jl_ctx *c, const json_t *rule, const json_t *data, json_t **out);

/* An operation gets its arguments evaluated (or, when lazy, as written); argv[i] for
 * i >= argc is undefined, which arg() reports as NULL. It sets *out only on success. */
typedef enum ff_err (*op_fn)(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			     json_t **out);

static json_t *arg(json_t *const *argv, size_t argc, size_t i) { return i < argc ? argv[i] : NULL; }

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
		size = u16_len(json_string_value(v), json_string_length(v));
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
	err = u16_slice(c, &b, json_string_value(v), json_string_length(v), index, index + 1);
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
	err = to_string(c, path, &b, 0);
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

static enum ff_err op_var(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
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
static enum ff_err op_missing(struct jl_ctx *c, json_t *const *argv, size_t argc,
			      const json_t *data, json_t **out)
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
static enum ff_err op_missing_some(struct jl_ctx *c, json_t *const *argv, size_t argc,
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
			err = op_missing(c, items, n, data, &missing);
		free(items);
	} else {
		err = op_missing(c, &options, 1, data, &missing);
	}
	if (!err)
		err = to_number(c, arg(argv, argc, 0), &need);
	if (err) {
		json_decref(missing);
		return err;
	}
	if (json_is_array(options))
		present = num_int((int64_t)(json_array_size(options) - json_array_size(missing)));
	else if (json_is_string(options))
		present = num_dbl(
		    (double)u16_len(json_string_value(options), json_string_length(options)) -
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
static enum ff_err op_if(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	json_t *cond;
	enum ff_err err;
	size_t i;
	bool truthy;

	for (i = 0; i + 1 < argc; i += 2) {
		err = eval(c, argv[i], data, &cond);
		if (err)
			return err;
		truthy = jsonlogic_truthy(cond);
		json_decref(cond);
		if (truthy)
			return eval(c, argv[i + 1], data, out);
	}
	if (argc == i + 1)
		return eval(c, argv[i], data, out);
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
		err = eval(c, argv[i], data, &current);
		if (err)
			return err;
		if (jsonlogic_truthy(current) == stop_when)
			break;
	}
	*out = current ? current : json_null();
	return FF_OK;
}

static enum ff_err op_and(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	return and_or(c, argv, argc, data, false, out);
}

static enum ff_err op_or(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
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

	err = eval(c, arg(argv, argc, 0), data, &scoped);
	if (err)
		return err;
	result = must(json_array());
	for (i = 0; json_is_array(scoped) && i < json_array_size(scoped); i++) {
		el = json_array_get(scoped, i);
		err = eval(c, arg(argv, argc, 1), el, &v);
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

static enum ff_err op_map(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	return map_filter(c, argv, argc, data, false, out);
}

static enum ff_err op_filter(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			     json_t **out)
{
	return map_filter(c, argv, argc, data, true, out);
}

/* {"reduce": [array, logic, initial]}: logic sees {"current", "accumulator"}. Lazy. */
static enum ff_err op_reduce(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			     json_t **out)
{
	json_t *scoped = NULL, *acc = NULL, *scope, *next;
	enum ff_err err;
	size_t i;

	err = eval(c, arg(argv, argc, 0), data, &scoped);
	if (err)
		return err;
	if (argc > 2)
		err = eval(c, argv[2], data, &acc);
	else
		acc = json_null();
	for (i = 0; !err && json_is_array(scoped) && i < json_array_size(scoped); i++) {
		/* A fresh scope each time: the accumulator may be the previous scope itself. */
		scope = must(json_object());
		if (json_object_set(scope, "current", json_array_get(scoped, i)) ||
		    json_object_set_new(scope, "accumulator", acc))
			ff_oom();
		acc = NULL;
		err = eval(c, arg(argv, argc, 1), scope, &next);
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

	err = eval(c, arg(argv, argc, 0), data, &scoped);
	if (err)
		return err;
	if (!json_is_array(scoped) || json_array_size(scoped) == 0)
		result = on_empty;
	for (i = 0; json_is_array(scoped) && i < json_array_size(scoped); i++) {
		err = eval(c, arg(argv, argc, 1), json_array_get(scoped, i), &v);
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

static enum ff_err op_all(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	return quantify(c, argv, argc, data, false, false, false, out);
}

static enum ff_err op_none(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			   json_t **out)
{
	return quantify(c, argv, argc, data, true, true, false, out);
}

static enum ff_err op_some(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			   json_t **out)
{
	return quantify(c, argv, argc, data, false, true, true, out);
}

/* ==, !=, ===, !== */
static enum ff_err equality(struct jl_ctx *c, json_t *const *argv, size_t argc, bool strict,
			    bool negate, json_t **out)
{
	json_t *a = arg(argv, argc, 0), *b = arg(argv, argc, 1);
	enum ff_err err = FF_OK;
	bool eq;

	if (strict)
		eq = strict_eq(a, b);
	else
		err = loose_eq(c, a, b, &eq);
	if (!err)
		*out = json_boolean(eq != negate);
	return err;
}

static enum ff_err op_eq(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	(void)data;
	return equality(c, argv, argc, false, false, out);
}

static enum ff_err op_ne(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	(void)data;
	return equality(c, argv, argc, false, true, out);
}

static enum ff_err op_seq(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	(void)data;
	return equality(c, argv, argc, true, false, out);
}

static enum ff_err op_sne(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
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
		err = compare(c, arg(argv, argc, i), arg(argv, argc, i + 1), &ord);
		if (err)
			return err;
		holds = ord == (less ? ORD_LT : ORD_GT) || (or_equal && ord == ORD_EQ);
	}
	*out = json_boolean(holds);
	return FF_OK;
}

static enum ff_err op_gt(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	(void)data;
	return relation(c, argv, argc, false, false, out);
}

static enum ff_err op_ge(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	(void)data;
	return relation(c, argv, argc, false, true, out);
}

static enum ff_err op_lt(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	(void)data;
	return relation(c, argv, argc, true, false, out);
}

static enum ff_err op_le(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	(void)data;
	return relation(c, argv, argc, true, true, out);
}

static enum ff_err op_not(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	(void)c;
	(void)data;
	*out = json_boolean(!jsonlogic_truthy(arg(argv, argc, 0)));
	return FF_OK;
}

static enum ff_err op_truthy(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
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

	err = to_number(c, arg(argv, argc, 0), &a);
	if (!err)
		err = to_number(c, arg(argv, argc, 1), &b);
	if (!err)
		*out = num_json(fn(a, b));
	return err;
}

static enum ff_err op_mod(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	(void)data;
	return arith(c, argv, argc, num_mod, out);
}

static enum ff_err op_div(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	(void)data;
	return arith(c, argv, argc, num_div, out);
}

static enum ff_err op_sub(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	struct num a;
	enum ff_err err;

	(void)data;
	if (argc >= 2)
		return arith(c, argv, argc, num_sub, out);
	err = to_number(c, arg(argv, argc, 0), &a);
	if (!err)
		*out = num_json(num_neg(a));
	return err;
}

/* + and * apply parseFloat to every argument. */
static enum ff_err op_add(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	struct num sum = num_int(0), n;
	enum ff_err err;
	size_t i;

	(void)data;
	for (i = 0; i < argc; i++) {
		err = parse_float(c, argv[i], &n);
		if (err)
			return err;
		sum = num_add(sum, n);
	}
	*out = num_json(sum);
	return FF_OK;
}

static enum ff_err op_mul(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
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
		err = parse_float(c, argv[i], &n);
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
		err = to_number(c, argv[i], &n);
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

static enum ff_err op_max(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	(void)data;
	return min_max(c, argv, argc, true, out);
}

static enum ff_err op_min(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	(void)data;
	return min_max(c, argv, argc, false, out);
}

/* {"merge": [...]}: arrays are flattened one level, other values appended. */
static enum ff_err op_merge(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
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
static enum ff_err op_in(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			 json_t **out)
{
	json_t *a = arg(argv, argc, 0), *b = arg(argv, argc, 1);
	struct sb needle = {NULL, 0, 0};
	enum ff_err err = FF_OK;
	bool found = false;
	size_t i;

	(void)data;
	if (json_is_string(b) && json_string_length(b) > 0) {
		err = to_string(c, a, &needle, 0);
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
			found = strict_eq(a, json_array_get(b, i));
	}
	if (!err)
		*out = json_boolean(found);
	return err;
}

/* {"cat": [...]}: the arguments' strings joined; null adds nothing. */
static enum ff_err op_cat(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	struct sb b = {NULL, 0, 0};
	enum ff_err err = FF_OK;
	size_t i;

	(void)data;
	for (i = 0; i < argc && !err; i++)
		if (!json_is_null(argv[i]))
			err = to_string(c, argv[i], &b, 0);
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
static enum ff_err op_substr(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			     json_t **out)
{
	struct sb src = {NULL, 0, 0}, res = {NULL, 0, 0};
	json_t *end = arg(argv, argc, 2);
	double size, from, to, f2, t2, keep;
	struct num start, e;
	enum ff_err err;

	(void)data;
	err = to_string(c, arg(argv, argc, 0), &src, 0);
	if (!err)
		err = to_number(c, arg(argv, argc, 1), &start);
	if (!err && end)
		err = to_number(c, end, &e);
	if (err)
		goto out;
	size = (double)u16_len(sb_str(&src), src.len);
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
	err = u16_slice(c, &res, sb_str(&src), src.len, (size_t)from, (size_t)to);
	if (!err)
		err = sb_json(c, &res, out);
out:
	sb_release(&src);
	sb_release(&res);
	return err;
}

static enum ff_err op_log(struct jl_ctx *c, json_t *const *argv, size_t argc, const json_t *data,
			  json_t **out)
{
	(void)c;
	(void)data;
	*out = ref(arg(argv, argc, 0));
	return FF_OK;
}

struct jl_op {
	const char *name;
	op_fn fn;
	bool lazy;		/* gets its arguments unevaluated */
	unsigned char min_args; /* arity jsonlogic_validate() accepts */
	unsigned char max_args; /* JL_ANY: no bound */
};

static const struct jl_op ops[] = {
    {"var", op_var, false, 0, 2},
    {"missing", op_missing, false, 0, JL_ANY},
    {"missing_some", op_missing_some, false, 2, 2},
    {"if", op_if, true, 0, JL_ANY},
    {"?:", op_if, true, 3, 3},
    {"==", op_eq, false, 2, 2},
    {"===", op_seq, false, 2, 2},
    {"!=", op_ne, false, 2, 2},
    {"!==", op_sne, false, 2, 2},
    {"!", op_not, false, 1, 1},
    {"!!", op_truthy, false, 1, 1},
    {"or", op_or, true, 1, JL_ANY},
    {"and", op_and, true, 1, JL_ANY},
    {">", op_gt, false, 2, 2},
    {">=", op_ge, false, 2, 2},
    {"<", op_lt, false, 2, 3},
    {"<=", op_le, false, 2, 3},
    {"max", op_max, false, 1, JL_ANY},
    {"min", op_min, false, 1, JL_ANY},
    {"+", op_add, false, 1, JL_ANY},
    {"-", op_sub, false, 1, 2},
    {"*", op_mul, false, 1, JL_ANY},
    {"/", op_div, false, 2, 2},
    {"%", op_mod, false, 2, 2},
    {"map", op_map, true, 2, 2},
    {"filter", op_filter, true, 2, 2},
    {"reduce", op_reduce, true, 2, 3},
    {"all", op_all, true, 2, 2},
    {"none", op_none, true, 2, 2},
    {"some", op_some, true, 2, 2},
    {"merge", op_merge, false, 0, JL_ANY},
    {"in", op_in, false, 2, 2},
    {"cat", op_cat, false, 0, JL_ANY},
    {"substr", op_substr, false, 2, 3},
    {"log", op_log, false, 1, 1},
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

		err = eval(c, argv[done], data, &v);
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
		err = eval(c, json_array_get(rule, i), data, &v);
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
static enum ff_err eval(struct jl_ctx *c, const json_t *rule, const json_t *data, json_t **out)
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
	err = eval(&c, rule, data, out);
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

/* Mirrors eval(): same depth accounting, so a rule that validates never hits the depth
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
