/*
 * ingest_int.h - private to the ingest files of src/core: what ingest.c (the fields'
 * validation, one event's envelope, the loop over many) shares with the event types'
 * handlers in ingest_referral.c and ingest_conversion.c. Every validation error names
 * its field (e.g. "data.amount") in `d`.
 */
#ifndef FULFILL_CORE_INGEST_INT_H
#define FULFILL_CORE_INGEST_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

/* ---- fields (ingest.c) ---- */

/* FF_E_UNKNOWN_FIELD for the first key of `obj` not in the NULL-terminated `allowed`;
 * `path` prefixes its name. */
enum ff_err ingest_check_fields(json_t *obj, const char *path, const char *const *allowed,
				struct ff_diag *d);
/* data.<k> as a string of 1 to `maxlen` bytes without control characters; *out is
 * borrowed from the document (NULL when absent and not required). */
enum ff_err ingest_str_field(json_t *obj, const char *k, bool required, size_t maxlen,
			     const char **out, struct ff_diag *d);
/* data.<k> as a non-negative integer count of minor units up to MONEY_MAX; *present
 * (may be NULL) says whether it was given. */
enum ff_err ingest_amount_field(json_t *obj, const char *k, bool required, int64_t *out,
				bool *present, struct ff_diag *d);
/* An id field: ingest_str_field() of at most ID_MAX bytes. */
enum ff_err ingest_id_field(json_t *obj, const char *k, bool required, const char **out,
			    struct ff_diag *d);
/* An ISO 4217 currency code. */
enum ff_err ingest_currency_field(json_t *obj, const char *k, bool required, const char **out,
				  struct ff_diag *d);
/* Whether `s` is one e-mail address as people write them (local@domain). */
bool ingest_email_ok(const char *s);

/* ---- the event types, in the event's transaction (after the dedup check) ---- */

/* ingest_referral.c */
enum ff_err ingest_ev_participant(struct engine *e, const struct actor *a, json_t *data,
				  int64_t now, json_t *result, struct ff_diag *d);
enum ff_err ingest_ev_referral(struct engine *e, const struct actor *a, const char *event_id,
			       json_t *data, int64_t occurred, int64_t now, json_t *result,
			       struct ff_diag *d);
/* Mark a referral successful (with its audit record) unless `was_successful`, its
 * status as read in this transaction. */
enum ff_err ingest_mark_successful(struct engine *e, const char *referral, bool was_successful,
				   const char *actor, int64_t now, struct ff_diag *d);

/* ingest_conversion.c */
enum ff_err ingest_ev_conversion(struct engine *e, const struct actor *a, const char *event_id,
				 json_t *data, int64_t occurred, int64_t now, json_t *result,
				 struct ff_diag *d);
enum ff_err ingest_ev_refund(struct engine *e, const struct actor *a, json_t *data, int64_t now,
			     json_t *result, struct ff_diag *d);

#endif
