/*
 * error.c - the error table (code -> HTTP status, API code) and the allocation layer.
 * All allocation goes through ff_malloc & co so that out-of-memory aborts in one place.
 */
#include "fulfill/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	int status;
	const char *code;
} err_table[FF_E__COUNT] = {
	[FF_OK] = {200, "ok"},
	[FF_E_INVALID] = {400, "invalid_request"},
	[FF_E_MALFORMED] = {400, "malformed_json"},
	[FF_E_UNKNOWN_FIELD] = {400, "unknown_field"},
	[FF_E_INVALID_AMOUNT] = {400, "invalid_amount"},
	[FF_E_INVALID_CURRENCY] = {400, "invalid_currency"},
	[FF_E_INVALID_UTF8] = {400, "invalid_utf8"},
	[FF_E_REF_NOT_FOUND] = {422, "not_found"},
	[FF_E_UNAUTHORIZED] = {401, "unauthorized"},
	[FF_E_FORBIDDEN] = {403, "forbidden"},
	[FF_E_SAME_AUTHOR] = {403, "same_author"},
	[FF_E_NOT_FOUND] = {404, "not_found"},
	[FF_E_METHOD] = {405, "method_not_allowed"},
	[FF_E_INVALID_TRANSITION] = {409, "invalid_transition"},
	[FF_E_IDEM_IN_USE] = {409, "idempotency_key_in_use"},
	[FF_E_INSUFFICIENT_BALANCE] = {409, "insufficient_balance"},
	[FF_E_VERSION_NOT_APPROVED] = {409, "version_not_approved"},
	[FF_E_PARTICIPANT_BLOCKED] = {409, "participant_blocked"},
	[FF_E_CONFLICT] = {409, "conflict"},
	[FF_E_TOO_LARGE] = {413, "too_large"},
	[FF_E_MEDIA_TYPE] = {415, "unsupported_media_type"},
	[FF_E_IDEM_REUSED] = {422, "idempotency_key_reused"},
	[FF_E_RATE_LIMITED] = {429, "rate_limited"},
	[FF_E_HEADER_TOO_LARGE] = {431, "request_header_too_large"},
	[FF_E_INTERNAL] = {500, "internal_error"},
	[FF_E_STORE] = {500, "storage_error"},
	[FF_E_UNAVAILABLE] = {503, "unavailable"},
};

int ff_err_status(enum ff_err err)
{
	if ((int)err < 0 || err >= FF_E__COUNT)
		return 500;
	return err_table[err].status;
}

const char *ff_err_code(enum ff_err err)
{
	if ((int)err < 0 || err >= FF_E__COUNT)
		return "internal_error";
	return err_table[err].code;
}

enum ff_err ff_fail(struct ff_diag *d, enum ff_err err, const char *param, const char *fmt, ...)
{
	if (!d)
		return err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
	snprintf(d->param, sizeof(d->param), "%s", param ? param : "");
	return err;
}

void ff_diag_clear(struct ff_diag *d)
{
	if (d) {
		d->message[0] = '\0';
		d->param[0] = '\0';
	}
}

void ff_oom(void)
{
	fputs("fulfill: out of memory\n", stderr);
	abort();
}

void *ff_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		ff_oom();
	return p;
}

void *ff_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		ff_oom();
	return p;
}

void *ff_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		ff_oom();
	return q;
}

char *ff_strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = ff_malloc(n);
	memcpy(p, s, n);
	return p;
}
