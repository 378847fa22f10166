/*
 * program_int.h - private to the program files of src/core: what program_compile.c
 * (documents), program.c (versions and their lifecycle) and program_view.c (reading
 * and diffing versions) share beyond core.h.
 */
#ifndef FULFILL_PROGRAM_INT_H
#define FULFILL_PROGRAM_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "core/core.h"

/* A stored version as program.c and program_view.c read it; `doc` is a new reference
 * (NULL when the stored text does not parse), json_decref()ed by the caller. */
struct version_row {
	int version;
	char status[16];
	char author[48];
	char approved_by[48];
	json_t *doc;
};

/* Whether `k` is one of the NULL-terminated `allowed` (program_compile.c). */
bool program_in_list(const char *k, const char *const *allowed);

/* Version `version` of program `id` into *out: FF_E_NOT_FOUND when there is none
 * (program.c). */
enum ff_err program_version_load(struct engine *e, const char *id, int version,
				 struct version_row *out, struct ff_diag *d);

/* The active version of program `id` (0: none); *exists says whether the program
 * exists at all (program.c). */
int program_active_version(struct engine *e, const char *id, bool *exists);

/* Whether `next` changes a field beyond the cosmetic ones of `prev` (NULL: no previous
 * version, which counts as a change), i.e. whether it needs a second admin (program.c). */
bool program_changes_economics(json_t *prev, json_t *next);

#endif
