/*
 * error.h - the one error enum of fulfill.
 *
 * Every function that can fail returns an `enum ff_err` (FF_OK is 0). The table in
 * src/util/error.c maps each code to its HTTP status and its API error code
 * (API.md "Errors"). Detail for a person (what is wrong, which field) goes into a
 * caller-owned `struct ff_diag`; library code never prints it.
 */
#ifndef FULFILL_ERROR_H
#define FULFILL_ERROR_H

#include <stddef.h>

enum ff_err {
	FF_OK = 0,
	FF_E_INVALID,              /* 400 invalid_request: a value is wrong */
	FF_E_MALFORMED,            /* 400 malformed_json (or malformed csv) */
	FF_E_UNKNOWN_FIELD,        /* 400 unknown_field */
	FF_E_INVALID_AMOUNT,       /* 400 invalid_amount */
	FF_E_INVALID_CURRENCY,     /* 400 invalid_currency */
	FF_E_INVALID_UTF8,         /* 400 invalid_utf8 */
	FF_E_REF_NOT_FOUND,        /* 422 not_found: a body names an unknown object */
	FF_E_UNAUTHORIZED,         /* 401 unauthorized */
	FF_E_FORBIDDEN,            /* 403 forbidden */
	FF_E_SAME_AUTHOR,          /* 403 same_author */
	FF_E_NOT_FOUND,            /* 404 not_found */
	FF_E_METHOD,               /* 405 method_not_allowed */
	FF_E_INVALID_TRANSITION,   /* 409 invalid_transition */
	FF_E_IDEM_IN_USE,          /* 409 idempotency_key_in_use */
	FF_E_INSUFFICIENT_BALANCE, /* 409 insufficient_balance */
	FF_E_VERSION_NOT_APPROVED, /* 409 version_not_approved */
	FF_E_PARTICIPANT_BLOCKED,  /* 409 participant_blocked: no money moves to a blocked participant */
	FF_E_CONFLICT,             /* 409 conflict */
	FF_E_TOO_LARGE,            /* 413 too_large */
	FF_E_MEDIA_TYPE,           /* 415 unsupported_media_type */
	FF_E_IDEM_REUSED,          /* 422 idempotency_key_reused */
	FF_E_RATE_LIMITED,         /* 429 rate_limited */
	FF_E_HEADER_TOO_LARGE,     /* 431 request_header_too_large */
	FF_E_INTERNAL,             /* 500 internal_error */
	FF_E_STORE,                /* 500 storage_error */
	FF_E_UNAVAILABLE,          /* 503 unavailable */
	FF_E__COUNT
};

/* What went wrong, for a person. `param` names the field at fault ("data.amount"),
 * empty when no single field is. */
struct ff_diag {
	char message[512];
	char param[160];
};

/* HTTP status for `err` (200 for FF_OK). */
int ff_err_status(enum ff_err err);
/* API error code ("unknown_field") for `err`; static storage. */
const char *ff_err_code(enum ff_err err);

/* Fill `d` (may be NULL) and return `err`, so `return ff_fail(d, E, "x", "...")` reads well.
 * `param` may be NULL. */
enum ff_err ff_fail(struct ff_diag *d, enum ff_err err, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reset a diagnostic to empty. */
void ff_diag_clear(struct ff_diag *d);

/* Abort with a message: out of memory. Never returns. */
void ff_oom(void) __attribute__((noreturn));
void *ff_malloc(size_t n);
void *ff_calloc(size_t n, size_t size);
void *ff_realloc(void *p, size_t n);
char *ff_strdup(const char *s);

#endif
