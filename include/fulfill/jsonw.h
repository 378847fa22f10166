/*
 * jsonw.h - JSON text written straight into an ffbuf, for answers built on hot paths
 * (GET /v1/rewards/{id} is served hundreds of thousands of times a minute): no value
 * tree, no allocation per member. The output is byte for byte what jansson's
 * json_dumps(JSON_COMPACT) gives for the same members in the same order: strings are
 * written as UTF-8 (the caller hands valid UTF-8), with \", \\, \b, \f, \n, \r, \t
 * and \u00XX for other control characters.
 *
 * Every function takes `key`: the member name inside an object, NULL inside an array
 * or for the top-level value. Appends past the buffer's max are remembered in
 * w->err and the buffer is left as it was before the failing append.
 */
#ifndef FULFILL_JSONW_H
#define FULFILL_JSONW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fulfill/buf.h"

#define JSONW_DEPTH 16

struct jsonw {
	struct ffbuf *b;
	int depth;		    /* open objects and arrays */
	bool has_member[JSONW_DEPTH]; /* the container at this depth has a member already */
	int err;		    /* -1 once an append failed */
};

/* Start writing into b (which keeps what it holds). */
void jsonw_init(struct jsonw *w, struct ffbuf *b);

void jsonw_object_open(struct jsonw *w, const char *key);
void jsonw_object_close(struct jsonw *w);
void jsonw_array_open(struct jsonw *w, const char *key);
void jsonw_array_close(struct jsonw *w);

/* A string; NULL writes null. */
void jsonw_string(struct jsonw *w, const char *key, const char *s);
void jsonw_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_bool(struct jsonw *w, const char *key, bool v);
void jsonw_null(struct jsonw *w, const char *key);
/* A timestamp as RFC 3339 UTC with milliseconds (fftime_format), or null when !has. */
void jsonw_time(struct jsonw *w, const char *key, int64_t ms, bool has);
/* JSON text that is already valid and compact (as stored by the engine), as is. */
void jsonw_raw(struct jsonw *w, const char *key, const char *json, size_t len);
/* A jansson value, written as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY, plus
 * JSON_SORT_KEYS when sort_keys) would: byte for byte (the audit chain hashes this
 * text), several times faster. Reals as jansson writes them (%.17g, ".0" added to a
 * whole number, no '+' or leading zeros in the exponent); a non-finite real is an
 * error, as in jansson. */
void jsonw_value(struct jsonw *w, const char *key, const json_t *v, bool sort_keys);
/* jsonw_value() into a new string (free()), or NULL where json_dumps() gives NULL
 * (v NULL, a non-finite real). */
char *jsonw_dumps(const json_t *v, bool sort_keys);

#endif
