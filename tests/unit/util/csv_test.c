/*
 * csv_test.c - unit tests for src/util/csv.c: RFC 4180 records from memory and from a
 * FILE (across read-chunk boundaries), line numbers, malformed records and resync,
 * and csv_write_field quoting (round-tripped through the reader).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/buf.h"
#include "fulfill/csv.h"

/* Read the next record and check it has exactly the fields in `want` (NULL-ended) and
 * started on `line`. */
static void expect_record(struct csv_reader *r, size_t line, const char **want)
{
	char **f;
	size_t n;
	const char *err = NULL;
	int rc = csv_next(r, &f, &n, &err);
	cr_assert_eq(rc, 1, "expected a record at line %zu, got %d (%s)", line, rc,
		     err ? err : "-");
	size_t k = 0;
	while (want[k])
		k++;
	cr_assert_eq(n, k, "line %zu: %zu fields, want %zu", line, n, k);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(f[i], want[i], "line %zu field %zu", line, i);
	cr_expect_eq(csv_line(r), line);
}

static void expect_error(struct csv_reader *r, size_t line, const char *why)
{
	char **f;
	size_t n;
	const char *err = NULL;
	cr_assert_eq(csv_next(r, &f, &n, &err), -1, "expected an error at line %zu", line);
	cr_assert_not_null(err);
	cr_expect_str_eq(err, why);
	cr_expect_eq(csv_line(r), line);
}

static void expect_end(struct csv_reader *r)
{
	char **f;
	size_t n;
	const char *err = NULL;
	cr_expect_eq(csv_next(r, &f, &n, &err), 0);
	cr_expect_eq(n, 0);
	cr_expect_eq(csv_next(r, &f, &n, &err), 0, "end of input is sticky");
}

#define REC(...) ((const char *[]){__VA_ARGS__, NULL})

static struct csv_reader *mem(const char *s, size_t max)
{
	struct csv_reader *r = csv_open_mem(s, strlen(s), max);
	cr_assert_not_null(r);
	return r;
}

Test(csv, simple_records)
{
	struct csv_reader *r = mem("reward_id,amount,currency\nrwd_1,2000,USD\nrwd_2,150,JPY", 0);
	expect_record(r, 1, REC("reward_id", "amount", "currency"));
	expect_record(r, 2, REC("rwd_1", "2000", "USD"));
	expect_record(r, 3, REC("rwd_2", "150", "JPY"));
	expect_end(r);
	csv_free(r);
}

Test(csv, empty_input_and_only_blank_lines)
{
	struct csv_reader *r = mem("", 0);
	expect_end(r);
	csv_free(r);
	r = mem("\n\r\n\n", 0);
	expect_end(r);
	csv_free(r);
	r = csv_open_mem(NULL, 0, 0);
	expect_end(r);
	csv_free(r);
	cr_expect_null(csv_open_mem(NULL, 5, 0));
	cr_expect_null(csv_open_file(NULL, 0));
	csv_free(NULL);
}

Test(csv, empty_fields)
{
	struct csv_reader *r = mem(",,\na,,b\n\"\"\n,\n", 0);
	expect_record(r, 1, REC("", "", ""));
	expect_record(r, 2, REC("a", "", "b"));
	expect_record(r, 3, REC(""));
	expect_record(r, 4, REC("", ""));
	expect_end(r);
	csv_free(r);
}

Test(csv, quoted_commas_and_quotes)
{
	struct csv_reader *r = mem("\"a,b\",\"say \"\"hi\"\"\",\"\"\"\",plain\n", 0);
	expect_record(r, 1, REC("a,b", "say \"hi\"", "\"", "plain"));
	expect_end(r);
	csv_free(r);
}

Test(csv, bare_quote_inside_unquoted_field_is_literal)
{
	struct csv_reader *r = mem("5\" screen,ok\n", 0);
	expect_record(r, 1, REC("5\" screen", "ok"));
	expect_end(r);
	csv_free(r);
}

Test(csv, embedded_newlines_and_line_numbers)
{
	struct csv_reader *r = mem("id,note\n1,\"line one\nline two\r\nline three\"\n2,x\n", 0);
	expect_record(r, 1, REC("id", "note"));
	expect_record(r, 2, REC("1", "line one\nline two\r\nline three"));
	expect_record(r, 5, REC("2", "x"));
	expect_end(r);
	csv_free(r);
}

Test(csv, crlf_and_lone_cr)
{
	struct csv_reader *r = mem("a,b\r\nc,d\r\n\r\ne,f\rg,h\r", 0);
	expect_record(r, 1, REC("a", "b"));
	expect_record(r, 2, REC("c", "d"));
	expect_record(r, 4, REC("e", "f"));
	expect_record(r, 5, REC("g", "h"));
	expect_end(r);
	csv_free(r);
}

Test(csv, bom_is_skipped_only_at_start)
{
	struct csv_reader *r = mem("\xEF\xBB\xBFid,name\n\xEF\xBB\xBFx,y\n", 0);
	expect_record(r, 1, REC("id", "name"));
	expect_record(r, 2, REC("\xEF\xBB\xBFx", "y"));
	expect_end(r);
	csv_free(r);
	r = mem("\xEF\xBB\xBF", 0);
	expect_end(r);
	csv_free(r);
	r = mem("\xEF\xBB", 0);
	expect_record(r, 1, REC("\xEF\xBB"));
	csv_free(r);
}

Test(csv, empty_lines_skipped_but_counted)
{
	struct csv_reader *r = mem("\n\na\n\n\nb\n\n", 0);
	expect_record(r, 3, REC("a"));
	expect_record(r, 6, REC("b"));
	expect_end(r);
	csv_free(r);
}

Test(csv, whitespace_is_data)
{
	struct csv_reader *r = mem(" a , b \n \n", 0);
	expect_record(r, 1, REC(" a ", " b "));
	expect_record(r, 2, REC(" "));
	expect_end(r);
	csv_free(r);
}

Test(csv, unterminated_quote_is_an_error_at_end)
{
	struct csv_reader *r = mem("ok,1\nbad,\"never closed\nmore\n", 0);
	expect_record(r, 1, REC("ok", "1"));
	expect_error(r, 2, "unterminated quoted field");
	expect_end(r);
	csv_free(r);
}

Test(csv, junk_after_closing_quote_resyncs)
{
	struct csv_reader *r = mem("\"a\"b,c\nnext,1\n\"x\" ,y\nlast\n", 0);
	expect_error(r, 1, "unexpected character after closing quote");
	expect_record(r, 2, REC("next", "1"));
	expect_error(r, 3, "unexpected character after closing quote");
	expect_record(r, 4, REC("last"));
	expect_end(r);
	csv_free(r);
}

Test(csv, nul_byte_is_an_error)
{
	const char data[] = "a,b\nc\0d,e\nf,g\n";
	struct csv_reader *r = csv_open_mem(data, sizeof(data) - 1, 0);
	expect_record(r, 1, REC("a", "b"));
	expect_error(r, 2, "NUL byte in record");
	expect_record(r, 3, REC("f", "g"));
	expect_end(r);
	csv_free(r);
}

Test(csv, oversize_record_resyncs_at_next_line)
{
	struct csv_reader *r =
	    mem("short,1\n0123456789012345678901234567890123456789,x\nok,2\n", 16);
	expect_record(r, 1, REC("short", "1"));
	expect_error(r, 2, "record too long");
	expect_record(r, 3, REC("ok", "2"));
	expect_end(r);
	csv_free(r);
}

Test(csv, record_of_exactly_max_is_accepted)
{
	struct csv_reader *r = mem("0123456789\n01234567890\n\"0123456\"\n", 10);
	expect_record(r, 1, REC("0123456789"));
	expect_error(r, 2, "record too long");
	expect_record(r, 3, REC("0123456"));
	expect_end(r);
	csv_free(r);
}

/* A stray quote swallows later lines only up to the limit, then reading resumes. */
Test(csv, oversize_inside_quotes_resyncs)
{
	struct csv_reader *r = mem("a,\"stray\nb,1\nc,2\nd,3\ne,4\n", 12);
	expect_error(r, 1, "record too long");
	expect_record(r, 3, REC("c", "2"));
	expect_record(r, 4, REC("d", "3"));
	expect_record(r, 5, REC("e", "4"));
	expect_end(r);
	csv_free(r);
}

Test(csv, many_fields)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		ffbuf_addf(&b, i ? ",%d" : "%d", i);
	struct csv_reader *r = csv_open_mem(b.data, b.len, 0);
	char **f;
	size_t n;
	const char *err;
	cr_assert_eq(csv_next(r, &f, &n, &err), 1);
	cr_assert_eq(n, 1000);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atoi(f[i]), (int)i);
	csv_free(r);
	ffbuf_release(&b);
}

/* Records larger than the 64 KB read chunk, a CRLF and a quote pair split across chunk
 * edges, and a BOM: the file reader must give what the memory reader gives. */
Test(csv, file_reader_matches_memory_reader)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	ffbuf_add(&b, "\xEF\xBB\xBF", 3);
	for (int i = 0; i < 3000; i++) {
		ffbuf_addf(&b, "%d,\"q\"\"%d\",", i, i);
		for (int k = 0; k < i % 97; k++)
			ffbuf_add(&b, "x", 1);
		ffbuf_adds(&b, i % 3 ? "\r\n" : "\n");
		if (i % 500 == 0) {
			ffbuf_adds(&b, "big,\"");
			for (int k = 0; k < 70000; k++)
				ffbuf_add(&b, k % 1000 == 999 ? "\n" : "y", 1);
			ffbuf_adds(&b, "\"\n");
		}
	}
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(b.data, 1, b.len, f), b.len);
	rewind(f);

	struct csv_reader *rf = csv_open_file(f, 100000);
	struct csv_reader *rm = csv_open_mem(b.data, b.len, 100000);
	int records = 0;
	for (;;) {
		char **ff, **fm;
		size_t nf, nm;
		const char *ef, *em;
		int a = csv_next(rf, &ff, &nf, &ef);
		int c = csv_next(rm, &fm, &nm, &em);
		cr_assert_eq(a, c, "record %d", records);
		if (a == 0)
			break;
		cr_assert_eq(a, 1);
		cr_assert_eq(nf, nm);
		cr_assert_eq(csv_line(rf), csv_line(rm));
		for (size_t i = 0; i < nf; i++)
			cr_assert_str_eq(ff[i], fm[i]);
		if (records == 0)
			cr_expect_str_eq(ff[0], "0", "BOM skipped in file mode");
		if (strcmp(ff[0], "big") == 0)
			cr_assert_eq(strlen(ff[1]), 70000);
		else
			cr_assert_eq(nf, 3);
		records++;
	}
	cr_expect_eq(records, 3006);
	csv_free(rf);
	csv_free(rm);
	fclose(f);
	ffbuf_release(&b);
}

static char *write_fields(const char **fields)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	for (size_t i = 0; fields[i]; i++) {
		if (i)
			ffbuf_add(&b, ",", 1);
		csv_write_field(&b, fields[i]);
	}
	ffbuf_add(&b, "\r\n", 2);
	return ffbuf_detach(&b, NULL);
}

Test(csv, write_field_quotes_only_when_needed)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	csv_write_field(&b, "plain");
	cr_expect_str_eq(b.data, "plain");
	ffbuf_reset(&b);
	csv_write_field(&b, "a,b");
	cr_expect_str_eq(b.data, "\"a,b\"");
	ffbuf_reset(&b);
	csv_write_field(&b, "say \"hi\"");
	cr_expect_str_eq(b.data, "\"say \"\"hi\"\"\"");
	ffbuf_reset(&b);
	csv_write_field(&b, "two\nlines");
	cr_expect_str_eq(b.data, "\"two\nlines\"");
	ffbuf_reset(&b);
	csv_write_field(&b, "cr\r");
	cr_expect_str_eq(b.data, "\"cr\r\"");
	ffbuf_reset(&b);
	csv_write_field(&b, "");
	cr_expect_str_eq(b.data, "");
	ffbuf_reset(&b);
	csv_write_field(&b, NULL);
	cr_expect_str_eq(b.data, "");
	ffbuf_reset(&b);
	csv_write_field(&b, " spaced ");
	cr_expect_str_eq(b.data, " spaced ");
	ffbuf_release(&b);
}

Test(csv, formula_cells_open_as_text)
{
	/* what a spreadsheet would run is written with a leading apostrophe, quoted or not */
	static const char *const cases[][2] = {
	    {"=HYPERLINK(\"http://evil.example/\",\"Click\")", "\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"Click\"\")\""},
	    {"=1+1", "'=1+1"},
	    {"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
	    {"-2+3", "'-2+3"},
	    {"@SUM(A1:A9)", "'@SUM(A1:A9)"},
	    {"\t=1", "'\t=1"},
	    {"\r=1", "\"'\r=1\""},
	    {"-", "'-"},
	    {"+", "'+"},
	    {"-1.", "'-1."},
	    {"-1e5", "'-1e5"},
	    {"a=1", "a=1"},
	    {"-12.50", "-12.50"},
	    {"+3", "+3"},
	    {"-0", "-0"},
	    {"12", "12"},
	    {"", ""},
	};
	struct ffbuf b;
	ffbuf_init(&b, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ffbuf_reset(&b);
		csv_write_field(&b, cases[i][0]);
		cr_expect_str_eq(b.data ? b.data : "", cases[i][1], "case %zu", i);
	}
	ffbuf_release(&b);
}

Test(csv, write_then_read_round_trip)
{
	const char *rows[][5] = {
	    {"rwd_1", "participant, with comma", "cash", "20.00", NULL},
	    {"rwd_2", "\"quoted\"", "", "multi\nline\r\nvalue", NULL},
	    {"", "", "x", NULL, NULL},
	    {"\"", ",", "x\r", "\n", NULL}, /* a lone "\r" is guarded: formula_cells_open_as_text */
	};
	struct ffbuf all;
	ffbuf_init(&all, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *line = write_fields(rows[i]);
		ffbuf_adds(&all, line);
		free(line);
	}
	struct csv_reader *r = csv_open_mem(all.data, all.len, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char **f;
		size_t n;
		const char *err;
		cr_assert_eq(csv_next(r, &f, &n, &err), 1, "row %zu", i);
		size_t k = 0;
		while (rows[i][k])
			k++;
		cr_assert_eq(n, k, "row %zu", i);
		for (size_t j = 0; j < n; j++)
			cr_expect_str_eq(f[j], rows[i][j], "row %zu field %zu", i, j);
	}
	expect_end(r);
	csv_free(r);
	ffbuf_release(&all);
}
