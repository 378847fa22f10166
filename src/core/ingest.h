/*
 * ingest.h - private to src/core: participant upserts and referral/conversion helpers
 * shared by the ingest*.c files, participant.c and rules_eligibility.c.
 */
#ifndef FULFILL_CORE_INGEST_H
#define FULFILL_CORE_INGEST_H

#include "core/core.h"

/* A participant create/update; NULL fields are left as they are. */
struct participant_in {
	const char *id;
	const char *email;
	const char *name;
	const char *country;
	const char *currency;
	const char *status;
	const char *tax_form;
	json_t *attributes; /* merged key by key; borrowed */
	const char *device_id;
	const char *ip;
};

enum ff_err participant_upsert(struct engine *e, const struct participant_in *in, const char *actor, int64_t now,
			       struct ff_diag *d);
/* Keyed hash (hex) of the normalized e-mail. */
void participant_email_hash(struct engine *e, const char *email, char out[65]);
/* The same under another key (a master key rotation re-hashes with the new one). */
void email_hash_with(const uint8_t key[FF_MASTER_KEY_BYTES], const char *email, char out[65]);
/* Find a participant by e-mail (keyed hash); false when none. */
bool participant_find_by_email(struct engine *e, const char *email, char *out_id, size_t n);
/* The API object of the referral row at the statement's current row (REFERRAL_COLS). */
json_t *referral_row_json(struct store_stmt *st);

/* Eligibility context for a referral (and optional conversion object). New reference. */
json_t *rules_context(struct engine *e, const struct program *p, struct store_stmt *referral_row, json_t *conversion,
		      bool *out_referral_successful);
/* A copy of the referral row at the statement's current row (REFERRAL_COLS): a JSON
 * array of its columns as strings (NULL as null), for rules_context_of() after the
 * statement moved on. New reference. */
json_t *referral_row_copy(struct store_stmt *st);
/* rules_context() from such a copy. */
json_t *rules_context_of(struct engine *e, const struct program *p, json_t *referral_row, json_t *conversion,
			 bool *out_referral_successful);

#endif
