/*
 * csv.c - the streaming RFC 4180 reader and field writer of csv.h.
 *
 * CSV enters fulfill from outside (event imports, code pools, provider reports for
 * reconciliation), so the reader is strict where ambiguity would change data and
 * bounded everywhere: one record is held in memory at a time and never more than
 * `max_record` bytes of it. A malformed record is reported with its line number and the
 * reader skips to the next physical line, so one bad line does not stop an import.
 *
 * Dialect: fields separated by ",", records by LF, CRLF or a lone CR (as Python's csv
 * reads them). A field that starts with '"' is quoted: it ends at a '"' not followed by
 * another, may contain separators and line breaks, and must be followed by "," or the
 * end of the record. A '"' inside an unquoted field is kept as an ordinary character.
 * NUL bytes are rejected because fields are returned as C strings.
 */
#include "fulfill/csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/buf.h"
#include "fulfill/error.h"

#define CSV_CHUNK ((size_t)64 * 1024)
/* The limit when the caller passes max_record == 0. */
#define CSV_DEFAULT_MAX_RECORD ((size_t)1024 * 1024)

struct csv_reader {
	FILE *f;	/* NULL for a memory reader */
	const char *in; /* the current window of input: the chunk or the whole buffer */
	size_t in_len, pos;
	char *chunk; /* owned read buffer of a file reader */
	bool bom_checked;
	size_t max_record;
	size_t line;	    /* physical line of the next unread byte */
	size_t record_line; /* line where the last returned record started */
	struct ffbuf rec;   /* field bytes of the current record, each NUL-terminated */
	size_t *offs;	    /* start of each field in rec */
	char **fields;
	size_t nfields, fields_cap;
};

static struct csv_reader *csv_new(size_t max_record)
{
	struct csv_reader *r = ff_calloc(1, sizeof(*r));
	r->max_record = max_record ? max_record : CSV_DEFAULT_MAX_RECORD;
	r->line = 1;
	/* The record buffer itself is unlimited: csv_next() stops a record at max_record
	 * input bytes, and the stored bytes (fields plus one NUL each) stay below twice
	 * that. */
	ffbuf_init(&r->rec, 0);
	return r;
}

struct csv_reader *csv_open_file(FILE *f, size_t max_record)
{
	if (!f)
		return NULL;
	struct csv_reader *r = csv_new(max_record);
	r->f = f;
	r->chunk = ff_malloc(CSV_CHUNK);
	r->in = r->chunk;
	return r;
}

struct csv_reader *csv_open_mem(const char *buf, size_t len, size_t max_record)
{
	if (!buf && len)
		return NULL;
	struct csv_reader *r = csv_new(max_record);
	r->in = buf ? buf : "";
	r->in_len = len;
	return r;
}

void csv_free(struct csv_reader *r)
{
	if (!r)
		return;
	ffbuf_release(&r->rec);
	free(r->offs);
	free(r->fields);
	free(r->chunk);
	free(r);
}

size_t csv_line(const struct csv_reader *r) { return r ? r->record_line : 0; }

/* Make sure the window has an unread byte. false at end of input (or a read error,
 * which for an import is the same thing: no more records). */
static bool csv_fill(struct csv_reader *r)
{
	if (r->pos < r->in_len)
		return true;
	if (!r->f)
		return false;
	r->in_len = fread(r->chunk, 1, CSV_CHUNK, r->f);
	r->pos = 0;
	return r->in_len > 0;
}

static int csv_peek(struct csv_reader *r)
{
	return csv_fill(r) ? (unsigned char)r->in[r->pos] : EOF;
}

static int csv_get(struct csv_reader *r)
{
	return csv_fill(r) ? (unsigned char)r->in[r->pos++] : EOF;
}

/* After a CR has been read: swallow the LF of a CRLF and count the line. */
static void csv_end_line_cr(struct csv_reader *r)
{
	if (csv_peek(r) == '\n')
		r->pos++;
	r->line++;
}

/* Discard the rest of the current physical line, terminator included. */
static void csv_skip_line(struct csv_reader *r)
{
	for (;;) {
		int c = csv_get(r);
		if (c == EOF)
			return;
		if (c == '\n') {
			r->line++;
			return;
		}
		if (c == '\r') {
			csv_end_line_cr(r);
			return;
		}
	}
}

static void csv_start_field(struct csv_reader *r)
{
	if (r->nfields == r->fields_cap) {
		r->fields_cap = r->fields_cap ? r->fields_cap * 2 : 16;
		r->offs = ff_realloc(r->offs, r->fields_cap * sizeof(*r->offs));
		r->fields = ff_realloc(r->fields, r->fields_cap * sizeof(*r->fields));
	}
	r->offs[r->nfields++] = r->rec.len;
}

static void csv_end_field(struct csv_reader *r) { ffbuf_add(&r->rec, "", 1); }

/* A character that, outside quotes, is simply part of the field. */
static bool csv_plain(char c)
{
	return c != ',' && c != '"' && c != '\n' && c != '\r' && c != '\0';
}

static void csv_add(struct csv_reader *r, int c)
{
	char ch = (char)c;
	ffbuf_add(&r->rec, &ch, 1);
}

int csv_next(struct csv_reader *r, char ***out_fields, size_t *out_n, const char **out_error)
{
	const char *error = NULL;
	int c;

	*out_fields = NULL;
	*out_n = 0;
	if (out_error)
		*out_error = NULL;

	if (!r->bom_checked) {
		r->bom_checked = true;
		if (csv_fill(r) && r->in_len - r->pos >= 3 &&
		    memcmp(r->in + r->pos, "\xEF\xBB\xBF", 3) == 0)
			r->pos += 3;
	}

	/* Skip empty lines. */
	for (;;) {
		c = csv_peek(r);
		if (c == EOF)
			return 0;
		if (c == '\n') {
			r->pos++;
			r->line++;
		} else if (c == '\r') {
			r->pos++;
			csv_end_line_cr(r);
		} else {
			break;
		}
	}

	r->record_line = r->line;
	ffbuf_reset(&r->rec);
	r->nfields = 0;
	size_t used = 0; /* input bytes of this record, terminator excluded */
	bool quoted = false, after_quote = false, at_field_start = true;
	csv_start_field(r);

	for (;;) {
		c = csv_get(r);
		if (c == '\0') {
			error = "NUL byte in record";
			goto resync;
		}
		if (!quoted && (c == EOF || c == '\n' || c == '\r')) {
			if (c == '\n')
				r->line++;
			else if (c == '\r')
				csv_end_line_cr(r);
			break;
		}
		if (c == EOF) {
			error = "unterminated quoted field";
			goto fail;
		}
		if (++used > r->max_record) {
			error = "record too long";
			goto resync;
		}
		if (quoted) {
			if (c == '"') {
				if (csv_peek(r) == '"') {
					r->pos++;
					used++;
					csv_add(r, '"');
				} else {
					quoted = false;
					after_quote = true;
				}
				continue;
			}
			if (c == '\n' || (c == '\r' && csv_peek(r) != '\n'))
				r->line++;
			csv_add(r, c);
			continue;
		}
		if (c == ',') {
			csv_end_field(r);
			csv_start_field(r);
			at_field_start = true;
			after_quote = false;
			continue;
		}
		if (after_quote) {
			error = "unexpected character after closing quote";
			goto resync;
		}
		if (at_field_start && c == '"') {
			quoted = true;
			at_field_start = false;
			continue;
		}
		at_field_start = false;
		csv_add(r, c);
		/* the rest of a run of plain characters in the buffer, at once (the loop above
		 * would add them one by one to the same effect) */
		const char *run = r->in + r->pos;
		size_t n = 0, most = r->in_len - r->pos;
		if (most > r->max_record - used)
			most = r->max_record - used;
		while (n < most && csv_plain(run[n]))
			n++;
		if (n) {
			ffbuf_add(&r->rec, run, n);
			r->pos += n;
			used += n;
		}
	}
	csv_end_field(r);

	for (size_t i = 0; i < r->nfields; i++)
		r->fields[i] = r->rec.data + r->offs[i];
	*out_fields = r->fields;
	*out_n = r->nfields;
	return 1;

resync:
	/* The byte that failed may itself have ended the line (inside quotes). */
	if (c == '\n')
		r->line++;
	else if (c == '\r')
		csv_end_line_cr(r);
	else
		csv_skip_line(r);
fail:
	if (out_error)
		*out_error = error;
	ffbuf_reset(&r->rec);
	r->nfields = 0;
	return -1;
}

/* Would a spreadsheet read this cell as a formula? A cell that starts with = + - @ (or
 * a tab or CR before one) is run as a formula by Excel, LibreOffice and Google Sheets,
 * quoted or not; the text in these files comes from outside (participant ids and names,
 * a fulfiller's reference), and finance opens them. A signed number ("-12.50") is a
 * value, not a formula, and stays as it is. */
bool csv_formula_like(const char *s)
{
	if (!s[0] || !strchr("=+-@\t\r", s[0]))
		return false;
	if (s[0] != '+' && s[0] != '-')
		return true;
	const char *p = s + 1;
	size_t digits = strspn(p, "0123456789");
	if (digits == 0)
		return true;
	p += digits;
	if (*p == '.') {
		digits = strspn(p + 1, "0123456789");
		if (digits == 0)
			return true;
		p += 1 + digits;
	}
	return *p != '\0';
}

void csv_write_field(struct ffbuf *out, const char *field)
{
	if (!field)
		field = "";
	/* OWASP's defence: a leading apostrophe, which spreadsheets take as "this is text"
	 * and do not show */
	const char *guard = csv_formula_like(field) ? "'" : "";
	if (!strpbrk(field, ",\"\r\n")) {
		ffbuf_adds(out, guard);
		ffbuf_adds(out, field);
		return;
	}
	ffbuf_add(out, "\"", 1);
	ffbuf_adds(out, guard);
	for (const char *p = field; *p; p++) {
		if (*p == '"')
			ffbuf_add(out, "\"\"", 2);
		else
			ffbuf_add(out, p, 1);
	}
	ffbuf_add(out, "\"", 1);
}
