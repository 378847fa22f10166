/*
 * output.c - how the CLI prints: JSON for scripts (--json), aligned tables and
 * `label: value` blocks for people, and error lines on stderr. Output is deterministic:
 * rows come in the engine's order, columns in a fixed order.
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/money.h"

void cli_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (!s)
		ff_oom();
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
}

int cli_fail_engine(enum ff_err err, const struct ff_diag *d)
{
	const char *msg = d && d->message[0] ? d->message : ff_err_code(err);
	if (d && d->param[0])
		fprintf(stderr, "fulfill: %s: %s (%s)\n", ff_err_code(err), msg, d->param);
	else
		fprintf(stderr, "fulfill: %s: %s\n", ff_err_code(err), msg);
	return CLI_FAIL;
}

/* "fulfill: <message>\n" on stderr. */
static void say_error(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void say_error(const char *fmt, va_list ap)
{
	fputs("fulfill: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say_error(fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

int cli_usage(const struct cli *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say_error(fmt, ap);
	va_end(ap);
	if (c && c->cmd)
		fprintf(stderr, "Try 'fulfill %s --help'.\n", c->cmd->name);
	else
		fputs("Try 'fulfill --help'.\n", stderr);
	return CLI_USAGE;
}

const char *cli_str(const json_t *o, const char *key, const char *dflt, char *buf, size_t n)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
	if (!v || json_is_null(v))
		return dflt;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_true(v))
		return "true";
	if (json_is_false(v))
		return "false";
	if (json_is_real(v)) {
		snprintf(buf, n, "%g", json_real_value(v));
		return buf;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(buf, n, "%s", s ? s : "");
	free(s);
	return buf;
}

const char *cli_money_amount(int64_t amount, const char *currency, char *buf, size_t n)
{
	char num[48];
	if (currency && money_exponent(currency) >= 0)
		money_format(amount, currency, num, sizeof(num));
	else
		snprintf(num, sizeof(num), "%" PRId64, amount);
	snprintf(buf, n, "%s %s", num, currency ? currency : "");
	return buf;
}

const char *cli_money(const json_t *o, char *buf, size_t n)
{
	const json_t *amt = json_object_get(o, "amount");
	const json_t *cur = json_object_get(o, "currency");
	if (!json_is_integer(amt)) {
		buf[0] = '\0';
		return buf;
	}
	return cli_money_amount(json_integer_value(amt), json_string_value(cur), buf, n);
}

/* ---- tables ---- */

struct cli_table {
	int ncols;
	size_t nrows, cap;
	char **cells; /* (nrows + 1) * ncols; row 0 = headers */
};

struct cli_table *cli_table_new(int ncols, const char *const *headers)
{
	struct cli_table *t = ff_calloc(1, sizeof(*t));
	t->ncols = ncols;
	cli_table_add(t, headers);
	return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = ff_realloc(t->cells, t->cap * (size_t)t->ncols * sizeof(char *));
	}
	for (int i = 0; i < t->ncols; i++) {
		const char *s = cells[i] ? cells[i] : "";
		/* Keep one row on one line: control characters become spaces. */
		char *copy = ff_strdup(s);
		for (char *p = copy; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = copy;
	}
	t->nrows++;
}

/* Display width of a UTF-8 string: one column per code point. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void cli_table_print(struct cli_table *t, FILE *f)
{
	size_t *w = ff_calloc((size_t)t->ncols, sizeof(size_t));
	for (size_t r = 0; r < t->nrows; r++)
		for (int col = 0; col < t->ncols; col++) {
			size_t cw = width(t->cells[r * (size_t)t->ncols + (size_t)col]);
			if (cw > w[col])
				w[col] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		char **row = &t->cells[r * (size_t)t->ncols];
		int last =
		    t->ncols - 1; /* no trailing blanks: stop after the last non-empty cell */
		while (last > 0 && !row[last][0])
			last--;
		for (int col = 0; col <= last; col++) {
			fputs(row[col], f);
			if (col < last)
				fprintf(f, "%*s", (int)(w[col] - width(row[col]) + 2), "");
		}
		fputc('\n', f);
	}
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
	free(t);
}

void cli_print_field(const char *label, const char *value)
{
	char l[64];
	snprintf(l, sizeof(l), "%s:", label);
	printf("%-20s %s\n", l, value ? value : "");
}

int cli_page_from_opts(const struct cli *c, struct page *p)
{
	p->limit = 0;
	p->starting_after = c->opt[OPT_STARTING_AFTER];
	const char *s = c->opt[OPT_LIMIT];
	if (!s)
		return CLI_OK;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 1000)
		return cli_usage(c, "--limit must be a number from 1 to 1000, not '%s'", s);
	p->limit = (int)v;
	return CLI_OK;
}

int cli_parse_version(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 1000000)
		return -1;
	return (int)v;
}

int cli_finish(struct cli *c, enum ff_err err, const struct ff_diag *d, json_t *out,
	       cli_render_fn *render)
{
	if (err)
		return cli_fail_engine(err, d);
	if (c->json)
		cli_print_json(out);
	else
		render(c, out);
	json_decref(out);
	return CLI_OK;
}

int cli_finish_list(struct cli *c, enum ff_err err, const struct ff_diag *d, json_t *out,
		    cli_render_fn *render, const char *more_hint)
{
	if (err || c->json || !more_hint)
		return cli_finish(c, err, d, out, render);
	render(c, out);
	if (json_is_true(json_object_get(out, "has_more")))
		fprintf(stderr, "%s\n", more_hint);
	json_decref(out);
	return CLI_OK;
}

int cli_run_list(struct cli *c, cli_list_fn *list, cli_render_fn *render, const char *more_hint)
{
	struct page p;
	int rc = cli_page_from_opts(c, &p);
	if (rc != CLI_OK)
		return rc;
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = list(c->engine, &c->actor, &p, &out, &d);
	return cli_finish_list(c, err, &d, out, render, more_hint);
}

int cli_run_by_id(struct cli *c, cli_by_id_fn *fn, cli_render_fn *render)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = fn(c->engine, &c->actor, c->args[0], &out, &d);
	return cli_finish(c, err, &d, out, render);
}
