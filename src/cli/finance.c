/*
 * finance.c - the finance side of the CLI: `fulfill batch ...` (payout batches
 * for distributors and manual payouts, their CSV export, fulfillment and
 * reconciliation), `fulfill codes ...` (code pools), `fulfill report
 * payouts|aging|tax|kpis| credit-status` and `fulfill program simulate`.
 *
 * Reports share one shape ({"columns": [...], "data": [flat rows]}), so one
 * renderer prints them all as a table, and --csv prints engine_report_csv()'s
 * RFC 4180 text.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fulfill/buf.h"
#include "fulfill/fftime.h"

/* Largest code file `codes upload` reads (1,000,000 codes of up to 128
 * characters). */
#define CODES_MAX_BYTES ((size_t)160 << 20)

static int parse_time_opt(const struct cli *c, enum cli_opt_id id, int64_t *out)
{
	*out = 0;
	const char *s = c->opt[id];
	if (!s)
		return CLI_OK;
	if (fftime_parse(s, out) != 0)
		return cli_usage(c, "'%s' is not a date (2026-10-01) or RFC 3339 time", s);
	return CLI_OK;
}

/* ---- reports ---- */

static bool is_amount_column(const char *col)
{
	size_t n = strlen(col);
	return (n >= 6 && !strcmp(col + n - 6, "amount")) || !strcmp(col, "earned") ||
	       !strcmp(col, "paid") || !strcmp(col, "expected") || !strcmp(col, "actual") ||
	       !strcmp(col, "difference");
}

/* A report object as an aligned table: one column per "columns" entry; amounts
 * of a row that names its currency are formatted ("60.00 USD"), the converted_*
 * ones in the row's reporting_currency. */
static void report_table(const json_t *report)
{
	const json_t *cols = json_object_get(report, "columns");
	const json_t *rows = json_object_get(report, "data");
	size_t ncols = json_array_size(cols);
	if (!ncols) {
		cli_print_json(report);
		return;
	}
	const char **hdr = ff_calloc(ncols, sizeof(char *));
	char **up = ff_calloc(ncols, sizeof(char *));
	for (size_t i = 0; i < ncols; i++) {
		const char *name = json_string_value(json_array_get(cols, i));
		up[i] = ff_strdup(name ? name : "");
		for (char *p = up[i]; *p; p++)
			*p = *p == '_' ? ' ' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		hdr[i] = up[i];
	}
	struct cli_table *t = cli_table_new((int)ncols, hdr);
	char(*bufs)[160] = ff_calloc(ncols, sizeof(*bufs));
	const char **cells = ff_calloc(ncols, sizeof(char *));
	size_t r;
	json_t *row;
	json_array_foreach(rows, r, row)
	{
		const char *cur = json_string_value(json_object_get(row, "currency"));
		const char *reporting = json_string_value(json_object_get(row, "reporting_currency"));
		for (size_t i = 0; i < ncols; i++) {
			const char *col = json_string_value(json_array_get(cols, i));
			const json_t *v = col ? json_object_get(row, col) : NULL;
			const char *in = col && !strncmp(col, "converted_", 10) ? reporting : cur;
			if (col && in && json_is_integer(v) && is_amount_column(col))
				cells[i] = cli_money_amount(json_integer_value(v), in, bufs[i],
							    sizeof(bufs[i]));
			else
				cells[i] =
				    col ? cli_str(row, col, "", bufs[i], sizeof(bufs[i])) : "";
		}
		cli_table_add(t, cells);
	}
	cli_table_print(t, stdout);
	for (size_t i = 0; i < ncols; i++)
		free(up[i]);
	free(up);
	free(hdr);
	free(bufs);
	free(cells);
}

int cli_print_report(struct cli *c, json_t *report)
{
	int rc = CLI_OK;
	if (c->opt[OPT_CSV]) {
		struct ffbuf b;
		ffbuf_init(&b, 0);
		struct ff_diag d;
		ff_diag_clear(&d);
		enum ff_err err = engine_report_csv(report, &b, &d);
		if (err)
			rc = cli_fail_engine(err, &d);
		else
			fwrite(b.data, 1, b.len, stdout);
		ffbuf_release(&b);
	} else if (c->json) {
		cli_print_json(report);
	} else {
		report_table(report);
	}
	json_decref(report);
	return rc;
}

int cli_cmd_report_payouts(struct cli *c)
{
	int64_t from, to;
	int rc;
	if ((rc = parse_time_opt(c, OPT_FROM, &from)) || (rc = parse_time_opt(c, OPT_TO, &to)))
		return rc;
	int group = REPORT_MONTH;
	if (c->opt[OPT_GROUP] && (group = report_group_parse(c->opt[OPT_GROUP])) < 0)
		return cli_usage(c, "--group must be day, week or month");
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_report_payouts(c->engine, &c->actor, from, to, (enum report_group)group,
				  c->opt[OPT_CURRENCY], &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	return cli_print_report(c, out);
}

int cli_cmd_report_aging(struct cli *c)
{
	int64_t now;
	int rc = parse_time_opt(c, OPT_NOW, &now);
	if (rc)
		return rc;
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_report_aging(c->engine, &c->actor, now, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	return cli_print_report(c, out);
}

int cli_cmd_report_tax(struct cli *c)
{
	int year = fftime_year(fftime_now());
	if (c->opt[OPT_YEAR]) {
		char *end;
		errno = 0;
		long y = strtol(c->opt[OPT_YEAR], &end, 10);
		if (errno || *end || end == c->opt[OPT_YEAR] || y < 1970 || y > 9999)
			return cli_usage(c, "--year must be a year such as 2026");
		year = (int)y;
	}
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_report_tax(c->engine, &c->actor, year, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	return cli_print_report(c, out);
}

int cli_cmd_report_kpis(struct cli *c)
{
	int64_t from, to;
	int rc;
	if ((rc = parse_time_opt(c, OPT_FROM, &from)) || (rc = parse_time_opt(c, OPT_TO, &to)))
		return rc;
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_report_kpis(c->engine, &c->actor, from, to, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	return cli_print_report(c, out);
}

int cli_cmd_report_credit_status(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_report_credit_status(c->engine, &c->actor, c->opt[OPT_FULFILLER], &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	return cli_print_report(c, out);
}

/* ---- program simulate ---- */

/* "2 rewards, 50.00 USD" from {"rewards": N, "amounts": [{"currency", "amount"}]}. */
static const char *sim_totals(const json_t *s, char *buf, size_t n)
{
	char count[32];
	size_t used = (size_t)snprintf(buf, n, "%s rewards",
				       cli_str(s, "rewards", "0", count, sizeof(count)));
	size_t k;
	json_t *m;
	json_array_foreach(json_object_get(s, "amounts"), k, m)
	{
		char one[96];
		cli_money(m, one, sizeof(one));
		int w = used < n ? snprintf(buf + used, n - used, ", %s", one) : -1;
		if (w > 0 && (size_t)w < n - used)
			used += (size_t)w;
	}
	return buf;
}

int cli_cmd_program_simulate(struct cli *c)
{
	int v = cli_parse_version(c->args[1]);
	if (v < 0)
		return cli_usage(c, "VERSION must be a positive number, not '%s'", c->args[1]);
	if (!c->opt[OPT_FROM])
		return cli_usage(c, "--from is required");
	int64_t from, to;
	int rc;
	if ((rc = parse_time_opt(c, OPT_FROM, &from)) || (rc = parse_time_opt(c, OPT_TO, &to)))
		return rc;
	if (!to)
		to = fftime_now();
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_program_simulate(c->engine, &c->actor, c->args[0], v, from, to, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
		json_decref(out);
		return CLI_OK;
	}
	char f[32], t[32], b[64];
	printf("program %s version %d, events from %s to %s: %s conversions replayed\n", c->args[0],
	       v, fftime_format(from, f, sizeof(f)), fftime_format(to, t, sizeof(t)),
	       cli_str(out, "conversions", "0", b, sizeof(b)));
	static const char *const sides[] = {"actual", "simulated"};
	for (int i = 0; i < 2; i++) {
		char text[600];
		printf("  %-10s %s\n", sides[i],
		       sim_totals(json_object_get(out, sides[i]), text, sizeof(text)));
	}
	/* one row per conversion whose rewards differ (the engine lists up to 100) */
	const json_t *changes = json_object_get(out, "changes");
	if (json_array_size(changes)) {
		printf("changes:\n");
		static const char *const hdr[] = {"CONVERSION", "ACTUAL", "SIMULATED"};
		struct cli_table *tbl = cli_table_new(3, hdr);
		size_t k;
		json_t *ch;
		json_array_foreach(changes, k, ch)
		{
			char id[160], a[600], s[600];
			const char *row[] = {
			    cli_str(ch, "conversion", "", id, sizeof(id)),
			    sim_totals(json_object_get(ch, "actual"), a, sizeof(a)),
			    sim_totals(json_object_get(ch, "simulated"), s, sizeof(s))};
			cli_table_add(tbl, row);
		}
		cli_table_print(tbl, stdout);
	}
	json_decref(out);
	return CLI_OK;
}

/* ---- batches ---- */

/* "20.00 USD, 3 item(s)" from a batch's totals [{"currency"|null, "amount", "count"}]. */
static const char *batch_totals(const json_t *b, char *buf, size_t n)
{
	size_t k, used = 0;
	json_t *tot;
	buf[0] = '\0';
	json_array_foreach(json_object_get(b, "totals"), k, tot)
	{
		char one[96];
		if (json_is_string(json_object_get(tot, "currency")))
			cli_money(tot, one, sizeof(one));
		else
			snprintf(one, sizeof(one), "%lld item(s)",
				 (long long)json_integer_value(json_object_get(tot, "count")));
		int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", one);
		if (w > 0 && (size_t)w < n - used)
			used += (size_t)w;
	}
	return buf;
}

static void print_batch(const json_t *b)
{
	static const char *const fields[] = {
	    "id",	 "status",	 "fulfiller",	 "connector",  "currency",
	    "until",	 "count",	 "reference",	 "created_by", "created_at",
	    "closed_at", "fulfilled_at", "reconciled_at"};
	char buf[512];
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = cli_str(b, fields[i], NULL, buf, sizeof(buf));
		if (v)
			cli_print_field(fields[i], v);
	}
	size_t k;
	batch_totals(b, buf, sizeof(buf));
	cli_print_field("totals", buf[0] ? buf : "none");
	const json_t *recon = json_object_get(b, "reconciliation");
	if (json_is_object(recon)) {
		char *s = json_dumps(recon, JSON_COMPACT);
		cli_print_field("reconciliation", s);
		free(s);
	}
	const json_t *rewards = json_object_get(b, "rewards");
	if (json_array_size(rewards)) {
		printf("rewards:\n");
		json_t *r;
		json_array_foreach(rewards, k, r)
		{
			printf("  %s\n", json_is_string(r) ? json_string_value(r) : "?");
		}
	}
}

static int finish_batch(struct cli *c, enum ff_err err, const struct ff_diag *d, json_t *out)
{
	if (err)
		return cli_fail_engine(err, d);
	if (c->json)
		cli_print_json(out);
	else
		print_batch(out);
	json_decref(out);
	return CLI_OK;
}

int cli_cmd_batch_create(struct cli *c)
{
	if (!c->opt[OPT_FULFILLER])
		return cli_usage(c, "--fulfiller is required");
	struct batch_params p = {c->opt[OPT_FULFILLER], c->opt[OPT_CONNECTOR], c->opt[OPT_CURRENCY],
				 0};
	int rc = parse_time_opt(c, OPT_UNTIL, &p.until);
	if (rc)
		return rc;
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_batch_create(c->engine, &c->actor, &p, &out, &d);
	return finish_batch(c, err, &d, out);
}

static void print_batch_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"ID",	   "STATUS", "FULFILLER", "CONNECTOR",
					  "COUNT", "TOTALS", "REFERENCE", "CREATED"};
	struct cli_table *t = cli_table_new(8, hdr);
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(out, "data"), i, b)
	{
		char s[8][256];
		batch_totals(b, s[5], sizeof(s[5]));
		const char *row[] = {cli_str(b, "id", "", s[0], sizeof(s[0])),
				     cli_str(b, "status", "", s[1], sizeof(s[1])),
				     cli_str(b, "fulfiller", "", s[2], sizeof(s[2])),
				     cli_str(b, "connector", "", s[3], sizeof(s[3])),
				     cli_str(b, "count", "0", s[4], sizeof(s[4])),
				     s[5],
				     cli_str(b, "reference", "", s[6], sizeof(s[6])),
				     cli_str(b, "created_at", "", s[7], sizeof(s[7]))};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_batch_list(struct cli *c)
{
	struct page p;
	int rc = cli_page_from_opts(c, &p);
	if (rc != CLI_OK)
		return rc;
	struct batch_filter f = {c->opt[OPT_STATUS], c->opt[OPT_FULFILLER]};
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_batches_list(c->engine, &c->actor, &f, &p, &out, &d);
	return cli_finish_list(c, err, &d, out, print_batch_table, NULL);
}

int cli_cmd_batch_show(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_batch_get(c->engine, &c->actor, c->args[0], &out, &d);
	return finish_batch(c, err, &d, out);
}

int cli_cmd_batch_export(struct cli *c)
{
	if (c->json) /* the lines as JSON objects, not the CSV file */
		return cli_run_by_id(c, engine_batch_report_json, NULL);
	struct ffbuf b;
	ffbuf_init(&b, 0);
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_batch_report_csv(c->engine, &c->actor, c->args[0], &b, &d);
	if (!err)
		fwrite(b.data, 1, b.len, stdout);
	ffbuf_release(&b);
	return err ? cli_fail_engine(err, &d) : CLI_OK;
}

int cli_cmd_batch_close(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_batch_close(c->engine, &c->actor, c->args[0], &out, &d);
	return finish_batch(c, err, &d, out);
}

int cli_cmd_batch_fulfill(struct cli *c)
{
	if (!c->opt[OPT_REFERENCE])
		return cli_usage(c, "--reference is required (e.g. the credit memo number)");
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_batch_fulfill(c->engine, &c->actor, c->args[0], c->opt[OPT_REFERENCE], &out, &d);
	return finish_batch(c, err, &d, out);
}

static void recon_progress(void *ctx, uint64_t lines)
{
	(void)ctx;
	fprintf(stderr, "\r\033[K%llu lines read", (unsigned long long)lines);
}

int cli_cmd_batch_reconcile(struct cli *c)
{
	const char *path = c->args[1];
	bool is_stdin = !strcmp(path, "-");
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return cli_fail("cannot read %s: %s", path, strerror(errno));
	bool bar = isatty(STDERR_FILENO);
	struct recon_input in = {f, NULL, 0, bar ? recon_progress : NULL, NULL};
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_batch_reconcile(c->engine, &c->actor, c->args[0], &in, &out, &d);
	if (bar)
		fputs("\r\033[K", stderr);
	if (!is_stdin)
		fclose(f);
	if (err)
		return cli_fail_engine(err, &d);
	char s[8][64];
	if (c->json) {
		bool ok = !strcmp(cli_str(out, "status", "", s[0], sizeof(s[0])), "reconciled");
		cli_print_json(out);
		json_decref(out);
		return ok ? CLI_OK : CLI_FAIL;
	}
	printf("batch %s: %s (%s lines: %s matched, %s amount_mismatch, %s missing, "
	       "%s unexpected, "
	       "%s duplicate)\n",
	       c->args[0], cli_str(out, "status", "?", s[0], sizeof(s[0])),
	       cli_str(out, "lines_read", "0", s[1], sizeof(s[1])),
	       cli_str(out, "matched", "0", s[2], sizeof(s[2])),
	       cli_str(out, "amount_mismatch", "0", s[3], sizeof(s[3])),
	       cli_str(out, "missing", "0", s[4], sizeof(s[4])),
	       cli_str(out, "unexpected", "0", s[5], sizeof(s[5])),
	       cli_str(out, "duplicate", "0", s[6], sizeof(s[6])));
	/* The discrepancies, one per line. */
	size_t i;
	json_t *ln;
	json_array_foreach(json_object_get(out, "lines"), i, ln)
	{
		const char *res = json_string_value(json_object_get(ln, "result"));
		if (!res || !strcmp(res, "matched"))
			continue;
		char e1[96] = "-", a1[96] = "-", b1[160], b2[32];
		const json_t *ex = json_object_get(ln, "expected"),
			     *ac = json_object_get(ln, "actual");
		if (json_is_object(ex) && !cli_money(ex, e1, sizeof(e1))[0])
			snprintf(e1, sizeof(e1), "no amount");
		if (json_is_object(ac) && !cli_money(ac, a1, sizeof(a1))[0])
			snprintf(a1, sizeof(a1), "no amount");
		printf("  line %s: %s %s: expected %s, paid %s\n",
		       cli_str(ln, "line", "?", b2, sizeof(b2)),
		       cli_str(ln, "reward_id", "?", b1, sizeof(b1)), res, e1, a1);
	}
	bool reconciled = !strcmp(cli_str(out, "status", "", s[0], sizeof(s[0])), "reconciled");
	json_decref(out);
	return reconciled ? CLI_OK : CLI_FAIL;
}

/* ---- code pools ---- */

static void print_pool(const json_t *p)
{
	static const char *const fields[] = {
	    "id",	 "available",		"assigned",  "redeemed",
	    "void",	 "low_stock_threshold", "low_stock", "per_participant_limit",
	    "updated_at"};
	char buf[256];
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = cli_str(p, fields[i], NULL, buf, sizeof(buf));
		if (v)
			cli_print_field(fields[i], v);
	}
}

int cli_cmd_codes_upload(struct cli *c)
{
	const char *path = c->args[1];
	bool is_stdin = !strcmp(path, "-");
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return cli_fail("cannot read %s: %s", path, strerror(errno));
	struct ffbuf b;
	ffbuf_init(&b, CODES_MAX_BYTES);
	char chunk[65536];
	size_t n;
	int rc = CLI_OK;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (ffbuf_add(&b, chunk, n) != 0) {
			rc = cli_fail("%s: larger than %zu MiB; split it", path,
				      CODES_MAX_BYTES >> 20);
			break;
		}
	}
	if (rc == CLI_OK && ferror(f))
		rc = cli_fail("cannot read %s: %s", path, strerror(errno));
	if (!is_stdin)
		fclose(f);
	if (rc != CLI_OK) {
		ffbuf_release(&b);
		return rc;
	}
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_code_pool_upload_csv(c->engine, &c->actor, c->args[0],
						      b.data ? b.data : "", b.len, &out, &d);
	ffbuf_release(&b);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
	} else {
		char a[32], du[32];
		printf("pool %s: added %s, duplicates %s\n", c->args[0],
		       cli_str(out, "added", "0", a, sizeof(a)),
		       cli_str(out, "duplicates", "0", du, sizeof(du)));
	}
	json_decref(out);
	return CLI_OK;
}

static void render_pool(const struct cli *c, const json_t *out)
{
	(void)c;
	print_pool(out);
}

int cli_cmd_codes_show(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_code_pool_get(c->engine, &c->actor, c->args[0], &out, &d);
	return cli_finish(c, err, &d, out, render_pool);
}

static void print_pool_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"POOL",     "AVAILABLE", "ASSIGNED",
					  "REDEEMED", "VOID",	   "LOW STOCK"};
	struct cli_table *t = cli_table_new(6, hdr);
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(out, "data"), i, p)
	{
		char s[6][160];
		const char *row[] = {cli_str(p, "id", "", s[0], sizeof(s[0])),
				     cli_str(p, "available", "0", s[1], sizeof(s[1])),
				     cli_str(p, "assigned", "0", s[2], sizeof(s[2])),
				     cli_str(p, "redeemed", "0", s[3], sizeof(s[3])),
				     cli_str(p, "void", "0", s[4], sizeof(s[4])),
				     json_is_true(json_object_get(p, "low_stock")) ? "yes" : "no"};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_codes_list(struct cli *c)
{
	return cli_run_list(c, engine_code_pools_list, print_pool_table,
			    "(more code pools: use --limit / --starting-after)");
}

/* ---- participants tax-form ---- */

int cli_cmd_participants_tax_form(struct cli *c)
{
	const char *form = c->args[1];
	if (strcmp(form, "w9") != 0 && strcmp(form, "w8ben") != 0 && strcmp(form, "none") != 0)
		return cli_usage(c, "FORM must be w9, w8ben or none");
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_participant_tax_form(c->engine, &c->actor, c->args[0], form, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
	} else {
		char b[160];
		printf("%s: tax form %s\n", cli_str(out, "id", c->args[0], b, sizeof(b)), form);
	}
	json_decref(out);
	return CLI_OK;
}
