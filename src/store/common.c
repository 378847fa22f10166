/*
 * common.c - pieces both backends share: dialect expansion of migrations.
 */
#include <string.h>

#include "store/store_int.h"
#include "fulfill/buf.h"

char *store_expand_dialect(const char *sql, const char *seq, const char *integer)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	const char *p = sql;
	while (*p) {
		if (strncmp(p, "@SEQ@", 5) == 0) {
			ffbuf_adds(&b, seq);
			p += 5;
		} else if (strncmp(p, "@INT@", 5) == 0) {
			ffbuf_adds(&b, integer);
			p += 5;
		} else {
			ffbuf_add(&b, p, 1);
			p++;
		}
	}
	return ffbuf_detach(&b, NULL);
}
