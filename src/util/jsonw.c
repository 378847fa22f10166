/*
 * jsonw.c - JSON text into an ffbuf (see jsonw.h).
 */
#include "fulfill/jsonw.h"

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

static void put_string(struct jsonw *w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson */
	put(w, "\"", 1);
	const char *run = s;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(w, run, (size_t)(p - run));
		run = p + 1;
		char esc[6] = {'\\', 0};
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		put(w, esc, n);
	}
	put(w, run, strlen(run));
	put(w, "\"", 1);
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
