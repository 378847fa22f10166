/*
 * testutil.h - small helpers shared by the Criterion unit tests.
 * Tests run from the repository root (make unit), so ../shared is reachable.
 */
#ifndef FULFILL_TESTUTIL_H
#define FULFILL_TESTUTIL_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh temporary directory (caller frees the string); aborts the test on failure. */
static inline char *tu_tempdir(void)
{
	char tmpl[] = "/tmp/fulfill-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	cr_assert_not_null(d, "mkdtemp failed");
	return strdup(d);
}

/* Remove a directory tree created by tu_tempdir. */
static inline void tu_rmtree(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Whether the JSON text of `v` contains `text`. */
static inline bool tu_json_mentions(const json_t *v, const char *text)
{
	char *dump = json_dumps(v, JSON_ENCODE_ANY);
	bool found = dump && strstr(dump, text);
	free(dump);
	return found;
}

#endif
