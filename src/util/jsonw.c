/*
 * jsonw.c - JSON text into an ffbuf (see jsonw.h).
 */
#include "fulfill/jsonw.h"

#include <stdint.h>
#include <string.h>

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

/* Room for the worst case (every byte a \u00XX) first, then written in place. */
static void put_string(struct jsonw *w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson */
	size_t len = strlen(s);
	if (w->err)
		return;
	if (len > (SIZE_MAX - 3) / 6 || ffbuf_reserve(w->b, len * 6 + 2)) {
		/* near a bounded buffer's end: the exact size decides */
		size_t need = 2;
		for (const unsigned char *p = (const unsigned char *)s; *p; p++)
			need += *p >= 0x20 && *p != '"' && *p != '\\' ? 1 : strchr("\"\\\b\f\n\r\t", *p) ? 2 : 6;
		if (ffbuf_reserve(w->b, need)) {
			w->err = -1;
			return;
		}
	}
	char *o = w->b->data + w->b->len;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if (c >= 0x20 && c != '"' && c != '\\') {
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
	w->b->len = (size_t)(o - w->b->data);
}

/* The separator and the member name before a value. */
static void begin_value(struct jsonw *w, const char *key)
{
	if (w->depth > 0) {
		if (w->has_member[w->depth])
			put(w, ",", 1);
		w->has_member[w->depth] = true;
	}
	if (key) {
		put_string(w, key);
		put(w, ":", 1);
	}
}

static void open_container(struct jsonw *w, const char *key, const char *bracket)
{
	begin_value(w, key);
	put(w, bracket, 1);
	if (w->depth + 1 >= JSONW_DEPTH) {
		w->err = -1;
		return;
	}
	w->has_member[++w->depth] = false;
}

static void close_container(struct jsonw *w, const char *bracket)
{
	put(w, bracket, 1);
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

void jsonw_int(struct jsonw *w, const char *key, int64_t v)
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
	begin_value(w, key);
	put(w, tmp + k, sizeof(tmp) - k);
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
