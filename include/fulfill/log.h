/*
 * log.h - structured JSON log lines on stderr.
 * log_event("info", "request", "{\"status\":200}") style: level, message, and an
 * optional JSON object whose fields are merged into the line. Thread-safe (one write()).
 */
#ifndef FULFILL_LOG_H
#define FULFILL_LOG_H

#include <jansson.h>
#include <stddef.h>

/* Minimum level printed: "debug", "info" (default), "warn", "error". */
void log_set_level(const char *level);
/* Write one line {"ts","level","msg",...fields}. `fields` may be NULL; it is not stolen. */
void log_json(const char *level, const char *msg, json_t *fields);
/* A field of log_fields(): a string when `str` is not NULL, otherwise the number `num`. */
struct log_field {
	const char *name; /* a plain ASCII name, written as is */
	const char *str;
	double num;
};
/* The same line as log_json() from `n` typed fields, without building JSON values:
 * for lines written per request. */
void log_fields(const char *level, const char *msg, const struct log_field *fields, size_t n);
/* printf-style convenience. */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
