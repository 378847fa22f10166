/*
 * handlers_finance.c - batches, reconciliation and the finance reports (SPEC.md
 * sections 6, 8, 10): POST/GET /v1/batches, the batch report CSV, close, fulfill,
 * reconcile (a text/csv body), and GET /v1/reports/{payouts,aging,tax,kpis,
 * credit-status}, each as JSON or, with ?format=csv, as CSV rendered by the engine.
 * A fulfiller key reaches its own batches only (the engine answers 404 for others).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/fftime.h"
#include "http/http_int.h"

/* ---- shared ---- */

enum ff_err query_time(struct ctx *c, const char *name, int64_t *out)
{
	const char *v = query_get(c, name);
	*out = 0;
	if (v && fftime_parse(v, out) != 0)
		return ff_fail(&c->diag, FF_E_INVALID, name,
			       "%s must be an RFC 3339 time or a date", name);
	return FF_OK;
}

enum ff_err query_format(struct ctx *c, bool *out_csv)
{
	const char *format = query_get(c, "format");
	*out_csv = format && strcmp(format, "csv") == 0;
	if (format && !*out_csv && strcmp(format, "json") != 0)
		return ff_fail(&c->diag, FF_E_INVALID, "format", "format must be json or csv");
	return FF_OK;
}

/* Answer the CSV text in `b` (taken over; none is an empty body). */
static void csv_answer(struct ctx *c, struct ffbuf *b)
{
	if (!b->data)
		ffbuf_adds(b, "");
	c->raw = ffbuf_detach(b, &c->raw_len);
	c->raw_ctype = "text/csv; charset=utf-8";
}

enum ff_err report_answer(struct ctx *c, bool csv, json_t *doc)
{
	if (!csv) {
		c->out = doc;
		return FF_OK;
	}
	struct ffbuf b;
	ffbuf_init(&b, 0);
	enum ff_err err = engine_report_csv(doc, &b, &c->diag);
	json_decref(doc);
	if (err) {
		ffbuf_release(&b);
		return err;
	}
	csv_answer(c, &b);
	return FF_OK;
}

/* ---- batches ---- */

enum ff_err h_batch_create(struct ctx *c)
{
	struct batch_params p = {0};
	json_t *doc = NULL;
	bool bad = false;
	enum ff_err err = body_object(c, "fulfiller,connector,currency,until", &doc);
	if (err)
		return err;
	p.fulfiller = body_string(doc, "fulfiller", &bad); /* NULL: the fulfiller key's own */
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID, "fulfiller", "fulfiller must be a fulfiller id");
		goto out;
	}
	p.connector = body_string(doc, "connector", &bad);
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID, "connector",
			      "connector must be a connector id");
		goto out;
	}
	p.currency = body_string(doc, "currency", &bad);
	if (bad) {
		err = ff_fail(&c->diag, FF_E_INVALID_CURRENCY, "currency",
			      "currency must be an ISO 4217 code");
		goto out;
	}
	const char *until = body_string(doc, "until", &bad);
	if (bad || (until && fftime_parse(until, &p.until) != 0)) {
		err = ff_fail(&c->diag, FF_E_INVALID, "until", "until must be an RFC 3339 time");
		goto out;
	}
	err = engine_batch_create(c->eng, c->actor, &p, &c->out, &c->diag);
out:
	json_decref(doc);
	return err;
}

enum ff_err h_batch_list(struct ctx *c)
{
	struct page p;
	struct batch_filter f = {query_get(c, "status"), query_get(c, "fulfiller")};
	enum ff_err err = query_page(c, &p);
	if (err)
		return err;
	return engine_batches_list(c->eng, c->actor, &f, &p, &c->out, &c->diag);
}

enum ff_err h_batch_get(struct ctx *c)
{
	return engine_batch_get(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

enum ff_err h_batch_report(struct ctx *c)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	enum ff_err err = engine_batch_report_csv(c->eng, c->actor, ctx_param(c, 0), &b, &c->diag);
	if (err) {
		ffbuf_release(&b);
		return err;
	}
	csv_answer(c, &b);
	return FF_OK;
}

enum ff_err h_batch_close(struct ctx *c)
{
	json_t *doc = NULL;
	enum ff_err err = body_object(c, "", &doc);
	json_decref(doc);
	if (err)
		return err;
	return engine_batch_close(c->eng, c->actor, ctx_param(c, 0), &c->out, &c->diag);
}

enum ff_err h_batch_fulfill(struct ctx *c)
{
	json_t *doc = NULL;
	bool bad = false;
	enum ff_err err = body_object(c, "reference", &doc);
	if (err)
		return err;
	const char *ref = body_string(doc, "reference", &bad);
	if (bad || !ref)
		err = ff_fail(
		    &c->diag, FF_E_INVALID, "reference",
		    "reference (the fulfiller's credit memo or payout reference) is required");
	else
		err =
		    engine_batch_fulfill(c->eng, c->actor, ctx_param(c, 0), ref, &c->out, &c->diag);
	json_decref(doc);
	return err;
}

enum ff_err h_batch_reconcile(struct ctx *c)
{
	struct recon_input in = {.data = c->body, .len = c->body_len};
	if (!utf8_valid(c->body, c->body_len))
		return ff_fail(&c->diag, FF_E_INVALID_UTF8, NULL, "the report is not valid UTF-8");
	return engine_batch_reconcile(c->eng, c->actor, ctx_param(c, 0), &in, &c->out, &c->diag);
}

/* ---- reports ---- */

enum ff_err h_report_payouts(struct ctx *c)
{
	int64_t from, to;
	bool csv;
	int group = REPORT_MONTH;
	const char *g = query_get(c, "group"), *reporting = query_get(c, "reporting");
	json_t *doc = NULL;
	enum ff_err err = query_format(c, &csv);
	if (!err)
		err = query_time(c, "from", &from);
	if (!err)
		err = query_time(c, "to", &to);
	if (err)
		return err;
	if (g && (group = report_group_parse(g)) < 0)
		return ff_fail(&c->diag, FF_E_INVALID, "group", "group must be day, week or month");
	err = engine_report_payouts(c->eng, c->actor, from, to, (enum report_group)group, reporting,
				    &doc, &c->diag);
	return err ? err : report_answer(c, csv, doc);
}

enum ff_err h_report_aging(struct ctx *c)
{
	bool csv;
	json_t *doc = NULL;
	enum ff_err err = query_format(c, &csv);
	if (!err)
		err = engine_report_aging(c->eng, c->actor, 0, &doc, &c->diag);
	return err ? err : report_answer(c, csv, doc);
}

enum ff_err h_report_tax(struct ctx *c)
{
	bool csv;
	json_t *doc = NULL;
	const char *y = query_get(c, "year");
	int year = fftime_year(fftime_now());
	enum ff_err err = query_format(c, &csv);
	if (err)
		return err;
	if (y) {
		char *end;
		errno = 0;
		long v = strtol(y, &end, 10);
		if (!*y || *end || errno || v < 1970 || v > 9999)
			return ff_fail(&c->diag, FF_E_INVALID, "year",
				       "year must be a calendar year");
		year = (int)v;
	}
	err = engine_report_tax(c->eng, c->actor, year, &doc, &c->diag);
	return err ? err : report_answer(c, csv, doc);
}

enum ff_err h_report_kpis(struct ctx *c)
{
	int64_t from, to;
	bool csv;
	json_t *doc = NULL;
	enum ff_err err = query_format(c, &csv);
	if (!err)
		err = query_time(c, "from", &from);
	if (!err)
		err = query_time(c, "to", &to);
	if (!err)
		err = engine_report_kpis(c->eng, c->actor, from, to, &doc, &c->diag);
	return err ? err : report_answer(c, csv, doc);
}

enum ff_err h_report_credit_status(struct ctx *c)
{
	bool csv;
	json_t *doc = NULL;
	enum ff_err err = query_format(c, &csv);
	if (!err)
		err = engine_report_credit_status(c->eng, c->actor, query_get(c, "fulfiller"), &doc,
						  &c->diag);
	return err ? err : report_answer(c, csv, doc);
}
