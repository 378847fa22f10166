/*
 * buf.c - the bounded growable byte buffer of buf.h.
 *
 * Everything that accumulates bytes of unknown length (response bodies, CSV records,
 * log lines) goes through an ffbuf so that input can never make it grow past a limit
 * the caller chose. The storage is always NUL-terminated: `data` of a buffer that owns
 * nothing (cap == 0) points at a shared empty string (or is NULL after FFBUF_INIT), so
 * readers may use `data` as a C string after any successful append.
 */
#include "fulfill/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/error.h"

/* What `data` points at while the buffer owns no storage; never written to. */
static char ffbuf_empty[1] = "";

#define FFBUF_MIN_CAP 64

void ffbuf_init(struct ffbuf *b, size_t max)
{
	b->data = ffbuf_empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int ffbuf_reserve(struct ffbuf *b, size_t extra)
{
	if (extra > SIZE_MAX - 1 - b->len)
		return -1;
	size_t need = b->len + extra;
	if (b->max && need > b->max)
		return -1;
	if (need + 1 <= b->cap)
		return 0;

	size_t cap = b->cap ? b->cap : FFBUF_MIN_CAP;
	while (cap < need + 1)
		cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
	if (b->max && cap > b->max + 1)
		cap = b->max + 1;

	char *p = ff_realloc(b->cap ? b->data : NULL, cap);
	if (!b->cap)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int ffbuf_add_slow(struct ffbuf *b, const void *data, size_t len)
{
	if (len == 0)
		return ffbuf_reserve(b, 0);
	if (ffbuf_reserve(b, len) < 0)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int ffbuf_adds(struct ffbuf *b, const char *s)
{
	if (!s)
		return -1;
	return ffbuf_add(b, s, strlen(s));
}

int ffbuf_addf(struct ffbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *dst = b->cap ? b->data + b->len : NULL;
	size_t room = b->cap ? b->cap - b->len : 0;

	/* Try in place first; on a miss grow to the exact size and format again. */
	va_start(ap, fmt);
	int n = vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto fail;
	if ((size_t)n < room) {
		b->len += (size_t)n;
		return 0;
	}
	if (ffbuf_reserve(b, (size_t)n) < 0)
		goto fail;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto fail;
	b->len += (size_t)n;
	return 0;
fail:
	/* A partial vsnprintf may have overwritten the terminator. */
	if (b->cap)
		b->data[b->len] = '\0';
	return -1;
}

void ffbuf_reset(struct ffbuf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}

void ffbuf_release(struct ffbuf *b)
{
	if (!b)
		return;
	if (b->cap)
		free(b->data);
	b->data = ffbuf_empty;
	b->len = 0;
	b->cap = 0;
}

char *ffbuf_detach(struct ffbuf *b, size_t *out_len)
{
	char *s;

	if (b->cap) {
		s = b->data;
	} else {
		s = ff_malloc(1);
		s[0] = '\0';
	}
	if (out_len)
		*out_len = b->len;
	b->data = ffbuf_empty;
	b->len = 0;
	b->cap = 0;
	return s;
}
