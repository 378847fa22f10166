/*
 * csv.h - a streaming RFC 4180 CSV reader with bounded memory.
 *
 * Reads one record at a time from a FILE* or a memory buffer: quoted fields with
 * embedded commas, quotes ("") and newlines; CRLF or LF; a UTF-8 BOM at the start is
 * skipped; empty lines are skipped. A record longer than `max_record` bytes is an error
 * for that record only (the reader resynchronises at the next line).
 */
#ifndef FULFILL_CSV_H
#define FULFILL_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct csv_reader;

/* Readers over a stream (not closed by csv_free) or a memory buffer (not copied; must
 * outlive the reader). */
struct csv_reader *csv_open_file(FILE *f, size_t max_record);
struct csv_reader *csv_open_mem(const char *buf, size_t len, size_t max_record);
void csv_free(struct csv_reader *r);

/* Read the next record. Returns 1 with *out_fields / *out_n set (valid until the next
 * call), 0 at end of input, -1 on a malformed record (unterminated quote, too long):
 * *out_error says why and the reader is positioned at the next record. */
int csv_next(struct csv_reader *r, char ***out_fields, size_t *out_n, const char **out_error);

/* 1-based physical line number where the last returned record started. */
size_t csv_line(const struct csv_reader *r);

/* Append `field` to `out` quoted as RFC 4180 needs (only when it contains , " CR LF).
 * A field a spreadsheet would run as a formula (it starts with = + - @, a tab or a CR,
 * and is not a signed number such as "-12.50") is written with a leading "'", so that
 * it opens as text: every CSV fulfill exports goes through here. */
struct ffbuf;
void csv_write_field(struct ffbuf *out, const char *field);
/* Whether csv_write_field() guards `field` with a leading "'" (a would-be formula). */
bool csv_formula_like(const char *field);

#endif
