/*
 * buf.h - a growable byte buffer with a maximum size (like curl's dynbuf).
 * The buffer is always NUL-terminated. Appends past `max` fail and leave it unchanged.
 */
#ifndef FULFILL_BUF_H
#define FULFILL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ffbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 = unlimited */
};

#define FFBUF_INIT {NULL, 0, 0, 0}

void ffbuf_init(struct ffbuf *b, size_t max);
/* 0, or -1 when the result would exceed max. The common case (it fits in the storage
 * already there, which never passes max) is inline: JSON writing appends short tokens
 * by the thousand. */
int ffbuf_add_slow(struct ffbuf *b, const void *data, size_t len);
static inline int ffbuf_add(struct ffbuf *b, const void *data, size_t len)
{
	/* (len <= PTRDIFF_MAX never fails here; it lets the compiler see that a huge constant
	 * length never reaches memcpy) */
	if (len && len <= PTRDIFF_MAX && b->cap && len < b->cap - b->len) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
		b->data[b->len] = '\0';
		return 0;
	}
	return ffbuf_add_slow(b, data, len);
}
int ffbuf_adds(struct ffbuf *b, const char *s);
/* Make room for `extra` more bytes plus the NUL (b->data + b->len onwards may then be
 * written directly, b->len advanced and the NUL set by the caller). 0, or -1 when
 * that would pass max. */
int ffbuf_reserve(struct ffbuf *b, size_t extra);
int ffbuf_addf(struct ffbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ffbuf_reset(struct ffbuf *b);
/* Free the storage; the buffer may be reused after ffbuf_init. */
void ffbuf_release(struct ffbuf *b);
/* Hand the storage to the caller (free()) and reset the buffer. */
char *ffbuf_detach(struct ffbuf *b, size_t *out_len);

#endif
