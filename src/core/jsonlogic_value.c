/*
 * jsonlogic_value.c - JavaScript's values as the JsonLogic evaluator needs them: strings
 * walked as UTF-16 code units, numbers parsed (ToNumber, parseFloat) and formatted
 * (Number::toString), the conversions String(), ToPrimitive and ToNumber, and the
 * equalities (==, ===) and relational comparison. The operators in jsonlogic_ops_*.c
 * call these through jsonlogic_int.h; the choices where JavaScript has no JSON answer
 * are listed at the top of jsonlogic.c.
 */
#include "core/jsonlogic_int.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- the string builder ----------------------------------------------------------- */

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

/* ---- UTF-16 ---------------------------------------------------------------------- */

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

size_t jl_u16_len(const char *s, size_t n)
{
	struct u16_iter it;
	size_t len = 0;

	u16_start(&it, s, n);
	while (u16_next(&it) >= 0)
		len++;
	return len;
}

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
enum ff_err jl_u16_slice(struct jl_ctx *c, struct sb *b, const char *s, size_t n, size_t from,
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

enum ff_err jl_to_string(struct jl_ctx *c, const json_t *v, struct sb *b, int depth);

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
			err = jl_to_string(c, el, b, depth + 1);
	}
	return err;
}

/* Append String(v). */
enum ff_err jl_to_string(struct jl_ctx *c, const json_t *v, struct sb *b, int depth)
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
enum ff_err jl_to_number(struct jl_ctx *c, const json_t *v, struct num *out)
{
	struct prim p;
	enum ff_err err = to_primitive(c, v, &p);

	*out = err ? num_nan() : prim_number(&p);
	prim_release(&p);
	return err;
}

/* parseFloat(v): parseFloat(String(v)), so null and booleans are NaN. */
enum ff_err jl_parse_float(struct jl_ctx *c, const json_t *v, struct num *out)
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

bool jl_strict_eq(const json_t *a, const json_t *b)
{
	enum kind k = kind_of(a);

	return k == kind_of(b) && same_kind_eq(a, b, k);
}

/* JavaScript ==: null and undefined equal only each other; booleans become numbers;
 * an array or object meeting a number or string becomes a string; then strings compare
 * as strings and anything else as numbers. */
enum ff_err jl_loose_eq(struct jl_ctx *c, const json_t *a, const json_t *b, bool *eq)
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
enum ff_err jl_compare(struct jl_ctx *c, const json_t *a, const json_t *b, enum ord *ord)
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
