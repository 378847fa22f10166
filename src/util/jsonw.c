/*
 * jsonw.c - JSON text into an ffbuf (see jsonw.h).
 */
#include "fulfill/jsonw.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/error.h"
#include "fulfill/fftime.h"

void jsonw_init(struct jsonw *w, struct ffbuf *b)
{
	w->b = b;
	w->depth = 0;
	w->has_member[0] = false;
	w->err = 0;
}

static void put(struct jsonw *w, const char *s, size_t len)
{
	if (!w->err && ffbuf_add(w->b, s, len))
		w->err = -1;
}

/* One byte (a bracket, a comma, a colon): inline while the storage has room. */
static inline void put_char(struct jsonw *w, char c)
{
	struct ffbuf *b = w->b;
	if (!w->err && b->cap && b->len + 1 < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return;
	}
	put(w, &c, 1);
}

/* Bytes that a JSON string cannot hold as they are: control characters, '"', '\\'. */
static const bool needs_escape[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
	[0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1,
	[0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
	[0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1,
	['"'] = 1, ['\\'] = 1,
};

/* Room for the worst case (every byte a \u00XX) first, then written in place: runs of
 * plain bytes are copied whole. */
static void put_string_n(struct jsonw *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson */
	struct ffbuf *b = w->b;
	if (w->err)
		return;
	if (len > (SIZE_MAX - 3) / 6 ||
	    (!(b->cap && len * 6 + 2 < b->cap - b->len) && ffbuf_reserve(b, len * 6 + 2))) {
		/* near a bounded buffer's end: the exact size decides */
		size_t need = 2;
		for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + len; p++)
			need += !needs_escape[*p] ? 1 : *p && strchr("\"\\\b\f\n\r\t", *p) ? 2 : 6;
		if (ffbuf_reserve(b, need)) {
			w->err = -1;
			return;
		}
	}
	char *o = b->data + b->len;
	*o++ = '"';
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		/* byte by byte: the strings of the ingest path are short, and a memcpy call per
		 * run cost more than the bytes */
		unsigned char c = *p++;
		if (!needs_escape[c]) {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			memcpy(o, "u00", 3);
			o[3] = hex[c >> 4];
			o[4] = hex[c & 15];
			o += 5;
		}
	}
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->data);
}

static void put_string(struct jsonw *w, const char *s) { put_string_n(w, s, strlen(s)); }

/* The separator and the member name before a value. */
static void begin_value(struct jsonw *w, const char *key)
{
	if (w->depth > 0) {
		if (w->has_member[w->depth])
			put_char(w, ',');
		w->has_member[w->depth] = true;
	}
	if (key) {
		put_string(w, key);
		put_char(w, ':');
	}
}

static void open_container(struct jsonw *w, const char *key, const char *bracket)
{
	begin_value(w, key);
	put_char(w, *bracket);
	if (w->depth + 1 >= JSONW_DEPTH) {
		w->err = -1;
		return;
	}
	w->has_member[++w->depth] = false;
}

static void close_container(struct jsonw *w, const char *bracket)
{
	put_char(w, *bracket);
	if (w->depth > 0)
		w->depth--;
}

void jsonw_object_open(struct jsonw *w, const char *key) { open_container(w, key, "{"); }

void jsonw_object_close(struct jsonw *w) { close_container(w, "}"); }

void jsonw_array_open(struct jsonw *w, const char *key) { open_container(w, key, "["); }

void jsonw_array_close(struct jsonw *w) { close_container(w, "]"); }

void jsonw_string(struct jsonw *w, const char *key, const char *s)
{
	begin_value(w, key);
	if (s)
		put_string(w, s);
	else
		put(w, "null", 4);
}

/* v in decimal (what "%lld" writes, without printf's cost). */
static void put_int(struct jsonw *w, int64_t v)
{
	char tmp[24];
	size_t k = sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[--k] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--k] = '-';
	put(w, tmp + k, sizeof(tmp) - k);
}

void jsonw_int(struct jsonw *w, const char *key, int64_t v)
{
	begin_value(w, key);
	put_int(w, v);
}

void jsonw_bool(struct jsonw *w, const char *key, bool v)
{
	begin_value(w, key);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(struct jsonw *w, const char *key)
{
	begin_value(w, key);
	put(w, "null", 4);
}

void jsonw_time(struct jsonw *w, const char *key, int64_t ms, bool has)
{
	if (!has) {
		jsonw_null(w, key);
		return;
	}
	char ts[40];
	jsonw_string(w, key, fftime_format(ms, ts, sizeof(ts)));
}

void jsonw_raw(struct jsonw *w, const char *key, const char *json, size_t len)
{
	begin_value(w, key);
	put(w, json, len);
}

/* ---- jansson values ---- */

/* A real as jansson's jsonp_dtostr() writes it. -1 when it is not finite. */
static int format_real(double v, char *out, size_t n)
{
	if (!isfinite(v))
		return -1;
	int len = snprintf(out, n, "%.17g", v);
	if (len < 0 || (size_t)len + 3 > n)
		return -1;
	if (!strchr(out, '.') && !strchr(out, 'e')) {
		memcpy(out + len, ".0", 3);
		len += 2;
	}
	char *e = strchr(out, 'e');
	if (e) {
		char *start = e + 1, *digits;
		if (*start == '-')
			start++;
		digits = start;
		while (*digits == '+' || *digits == '0')
			digits++;
		if (!*digits)
			digits--; /* keep one 0 */
		memmove(start, digits, strlen(digits) + 1);
		len = (int)strlen(out);
	}
	return len;
}

struct member_ref {
	const char *key;
	size_t len;
	const json_t *value;
};

/* jansson's order for JSON_SORT_KEYS: bytes, then length */
static int compare_members(const void *a, const void *b)
{
	const struct member_ref *x = a, *y = b;
	int r = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
	return r ? r : (x->len > y->len) - (x->len < y->len);
}

static void put_value(struct jsonw *w, const json_t *v, bool sort_keys)
{
	char num[40];
	int len;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		struct member_ref small[16];
		struct member_ref *m = n <= 16 ? small : ff_malloc(n * sizeof(*m));
		for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it), i++)
			m[i] = (struct member_ref){json_object_iter_key(it), json_object_iter_key_len(it),
						   json_object_iter_value(it)};
		if (sort_keys && n > 1)
			qsort(m, n, sizeof(*m), compare_members);
		put_char(w, '{');
		for (i = 0; i < n && !w->err; i++) {
			if (i)
				put_char(w, ',');
			put_string_n(w, m[i].key, m[i].len);
			put_char(w, ':');
			put_value(w, m[i].value, sort_keys);
		}
		put_char(w, '}');
		if (m != small)
			free(m);
		break;
	}
	case JSON_ARRAY:
		put_char(w, '[');
		for (size_t i = 0; i < json_array_size(v) && !w->err; i++) {
			if (i)
				put_char(w, ',');
			put_value(w, json_array_get(v, i), sort_keys);
		}
		put_char(w, ']');
		break;
	case JSON_STRING:
		put_string_n(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		put_int(w, json_integer_value(v));
		break;
	case JSON_REAL:
		len = format_real(json_real_value(v), num, sizeof(num));
		if (len < 0)
			w->err = -1;
		else
			put(w, num, (size_t)len);
		break;
	case JSON_TRUE:
		put(w, "true", 4);
		break;
	case JSON_FALSE:
		put(w, "false", 5);
		break;
	case JSON_NULL:
		put(w, "null", 4);
		break;
	}
}

void jsonw_value(struct jsonw *w, const char *key, const json_t *v, bool sort_keys)
{
	begin_value(w, key);
	if (!v)
		w->err = -1;
	else
		put_value(w, v, sort_keys);
}

char *jsonw_dumps(const json_t *v, bool sort_keys)
{
	if (!v)
		return NULL;
	struct ffbuf b;
	struct jsonw w;
	ffbuf_init(&b, 0);
	ffbuf_reserve(&b, 256);
	jsonw_init(&w, &b);
	put_value(&w, v, sort_keys);
	if (w.err) {
		ffbuf_release(&b);
		return NULL;
	}
	return ffbuf_detach(&b, NULL);
}
