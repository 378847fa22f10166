/*
 * jsonlogic.h - a JsonLogic (jsonlogic.com) evaluator over jansson values.
 *
 * Used for program `eligibility`. Passes the official test suite
 * (../shared/conformance/jsonlogic-tests.json). Evaluation is pure: it never changes
 * `rule` or `data`. Numbers compare by value (1 == 1.0). Recursion depth and the work
 * of one evaluation are bounded so a hostile rule cannot exhaust the stack or CPU.
 */
#ifndef FULFILL_JSONLOGIC_H
#define FULFILL_JSONLOGIC_H

#include <jansson.h>
#include <stdbool.h>

#include "fulfill/error.h"

/* Evaluate `rule` against `data`. On success *out is a new reference (caller
 * json_decref()s it). Errors (unknown operator, depth or step limit) return
 * FF_E_INVALID with a message in `d`. */
enum ff_err jsonlogic_apply(const json_t *rule, const json_t *data, json_t **out, struct ff_diag *d);

/* JsonLogic truthiness: false, null, 0, "", [] are false; everything else true. */
bool jsonlogic_truthy(const json_t *v);

/* Check a rule without data: every operator is known and arities are sane.
 * `path` prefixes the param in `d` (e.g. "eligibility"). */
enum ff_err jsonlogic_validate(const json_t *rule, const char *path, struct ff_diag *d);

#endif
