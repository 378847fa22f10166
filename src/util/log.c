/*
 * log.c - structured JSON log lines on stderr.
 *
 * Each line is one JSON object {"ts","level","msg",...fields} followed by "\n", built
 * in memory and handed to the kernel with a single write() so that lines from
 * concurrent threads (and processes sharing stderr) never interleave. Library code
 * logs operational events only; diagnostics for a caller go in struct ff_diag.
 *
 * "ts" is the real wall clock even when fftime_set_now() fixes the domain clock: logs
 * say when something happened on the machine, not in the simulated timeline.
 */
#include "fulfill/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fulfill/buf.h"
#include "fulfill/error.h"
#include "fulfill/fftime.h"

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* A line longer than this is replaced by a short note saying so. */
#define LOG_LINE_MAX ((size_t)256 * 1024)
/* log_msg() truncates its formatted message here. */
#define LOG_MSG_MAX ((size_t)16 * 1024)

static atomic_int log_min_level = LOG_INFO;

/* Rank of a level name; unknown names log as "info" would. */
static int log_rank(const char *level, int unknown)
{
	if (!level)
		return unknown;
	if (strcmp(level, "debug") == 0)
		return LOG_DEBUG;
	if (strcmp(level, "info") == 0)
		return LOG_INFO;
	if (strcmp(level, "warn") == 0 || strcmp(level, "warning") == 0)
		return LOG_WARN;
	if (strcmp(level, "error") == 0)
		return LOG_ERROR;
	return unknown;
}

void log_set_level(const char *level)
{
	int rank = log_rank(level, -1);
	if (rank >= 0)
		atomic_store(&log_min_level, rank);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* A JSON string of `s`, with each byte that is not valid UTF-8 replaced by U+FFFD:
 * a log line must be valid JSON whatever a message contains. */
static json_t *log_string(const char *s)
{
	if (!s)
		s = "";
	json_t *j = json_string(s);
	if (j)
		return j;

	struct ffbuf b;
	ffbuf_init(&b, 0);
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);
	while (left) {
		size_t n = utf8_seq(p, left);
		if (n) {
			ffbuf_add(&b, p, n);
		} else {
			ffbuf_add(&b, "\xEF\xBF\xBD", 3);
			n = 1;
		}
		p += n;
		left -= n;
	}
	j = json_stringn(b.data ? b.data : "", b.len);
	ffbuf_release(&b);
	return j ? j : json_string("");
}

static int log_dump_cb(const char *buffer, size_t size, void *data)
{
	return ffbuf_add(data, buffer, size);
}

static void log_write(const char *s, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, s, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		s += w;
		len -= (size_t)w;
	}
}

void log_json(const char *level, const char *msg, json_t *fields)
{
	if (log_rank(level, LOG_INFO) < atomic_load(&log_min_level))
		return;

	struct timespec now;
	char ts[40];
	clock_gettime(CLOCK_REALTIME, &now);
	fftime_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts, sizeof(ts));

	json_t *line = json_object();
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level", log_string(level ? level : "info"));
	json_object_set_new(line, "msg", log_string(msg));
	/* The caller's fields never replace ts, level or msg. */
	if (fields && json_is_object(fields))
		json_object_update_missing(line, fields);

	struct ffbuf b;
	ffbuf_init(&b, LOG_LINE_MAX);
	if (json_dump_callback(line, log_dump_cb, &b, JSON_COMPACT) != 0 ||
	    ffbuf_add(&b, "\n", 1) != 0) {
		ffbuf_reset(&b);
		json_object_clear(line);
		json_object_set_new(line, "ts", json_string(ts));
		json_object_set_new(line, "level", json_string("error"));
		json_object_set_new(line, "msg", json_string("log line too long"));
		json_dump_callback(line, log_dump_cb, &b, JSON_COMPACT);
		ffbuf_add(&b, "\n", 1);
	}
	log_write(b.data, b.len);
	ffbuf_release(&b);
	json_decref(line);
}

/* `s` as a JSON string literal: quotes, escapes, invalid UTF-8 as U+FFFD (as log_string).
 * 0, or -1 when the buffer is full. */
static int add_string(struct ffbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t left = strlen((const char *)p);
	int err = ffbuf_add(b, "\"", 1);

	while (left && !err) {
		/* the longest run written as is: printable ASCII and valid UTF-8 */
		size_t run = 0, n;
		while (run < left && p[run] >= 0x20 && p[run] != '"' && p[run] != '\\' &&
		       (n = p[run] < 0x80 ? 1 : utf8_seq(p + run, left - run)) != 0)
			run += n;
		if (run) {
			err = ffbuf_add(b, p, run);
			p += run;
			left -= run;
			continue;
		}
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			err = ffbuf_add(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			err = ffbuf_add(b, esc, 6);
		} else {
			err = ffbuf_add(b, "\xEF\xBF\xBD", 3); /* not UTF-8 */
		}
		p++;
		left--;
	}
	return err ? err : ffbuf_add(b, "\"", 1);
}

/* Integers and fractions to three places (durations in ms) by hand, as this runs for
 * every request; anything else as %.15g (integers exactly, fractions without binary
 * noise). */
static int format_num(double v, char *out, size_t n)
{
	if (!isfinite(v))
		return snprintf(out, n, "null");
	double milli = v * 1000.0;
	if (fabs(milli) >= 9e15 || milli != milli)
		return snprintf(out, n, "%.15g", v);
	long long t = llround(milli);
	if ((double)t != milli && fabs(milli - (double)t) > 1e-9 * fabs(milli))
		return snprintf(out, n, "%.15g", v); /* more than three places: keep them */
	char tmp[32];
	size_t k = 0;
	bool neg = t < 0;
	unsigned long long u = neg ? 0ULL - (unsigned long long)t : (unsigned long long)t;
	int frac = (int)(u % 1000);
	u /= 1000;
	if (frac) {
		int places = 3;
		while (frac % 10 == 0) {
			frac /= 10;
			places--;
		}
		for (int i = 0; i < places; i++, frac /= 10)
			tmp[k++] = (char)('0' + frac % 10);
		tmp[k++] = '.';
	}
	do {
		tmp[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (neg)
		tmp[k++] = '-';
	if (k + 1 > n)
		return snprintf(out, n, "%.15g", v);
	for (size_t i = 0; i < k; i++)
		out[i] = tmp[k - 1 - i];
	out[k] = '\0';
	return (int)k;
}

void log_fields(const char *level, const char *msg, const struct log_field *fields, size_t n)
{
	if (log_rank(level, LOG_INFO) < atomic_load(&log_min_level))
		return;

	struct timespec now;
	char ts[40], num[40];
	clock_gettime(CLOCK_REALTIME, &now);
	fftime_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts, sizeof(ts));

	struct ffbuf b;
	int err = 0;
	ffbuf_init(&b, LOG_LINE_MAX);
	err |= ffbuf_reserve(&b, 512); /* a request line fits */
	err |= ffbuf_add(&b, "{\"ts\":", 6);
	err |= add_string(&b, ts);
	err |= ffbuf_add(&b, ",\"level\":", 9);
	err |= add_string(&b, level ? level : "info");
	err |= ffbuf_add(&b, ",\"msg\":", 7);
	err |= add_string(&b, msg);
	for (size_t i = 0; i < n && !err; i++) {
		err |= ffbuf_add(&b, ",\"", 2);
		err |= ffbuf_add(&b, fields[i].name, strlen(fields[i].name));
		err |= ffbuf_add(&b, "\":", 2);
		if (fields[i].str) {
			err |= add_string(&b, fields[i].str);
		} else {
			int len = format_num(fields[i].num, num, sizeof(num));
			err |= ffbuf_add(&b, num, (size_t)len);
		}
	}
	err |= ffbuf_add(&b, "}\n", 2);
	if (err) {
		ffbuf_release(&b);
		log_json("error", "log line too long", NULL);
		return;
	}
	log_write(b.data, b.len);
	ffbuf_release(&b);
}

void log_msg(const char *level, const char *fmt, ...)
{
	if (log_rank(level, LOG_INFO) < atomic_load(&log_min_level))
		return;

	char small[512];
	char *heap = NULL;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		size_t size = (size_t)n + 1 > LOG_MSG_MAX ? LOG_MSG_MAX : (size_t)n + 1;
		heap = ff_malloc(size);
		va_start(ap, fmt);
		vsnprintf(heap, size, fmt, ap);
		va_end(ap);
	}
	log_json(level, heap ? heap : small, NULL);
	free(heap);
}
