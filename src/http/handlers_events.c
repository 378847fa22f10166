/*
 * handlers_events.c - POST /v1/events: one event (JSON) or many (NDJSON).
 *
 * The handler only cuts the body into events and checks what the engine cannot be
 * handed (valid UTF-8, nesting depth, the 10,000-line cap); the engine validates each
 * event document. The events go to the group-commit writer as one job while the
 * connection is suspended; events_render() turns the job's per-item results into the
 * API's answer, on the writer thread (so an Idempotency-Key can store exactly the
 * bytes that are sent).
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* A line that is empty or only whitespace carries no event. */
static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* The checks the engine is not handed; FF_OK when the text may go to the engine. */
static enum ff_err precheck(const char *s, size_t n, struct ff_diag *d)
{
	if (!utf8_valid(s, n))
		return ff_fail(d, FF_E_INVALID_UTF8, NULL, "the event is not valid UTF-8");
	if (json_depth(s, n) > HTTP_JSON_MAX_DEPTH)
		return ff_fail(d, FF_E_INVALID, NULL, "JSON nested deeper than %d levels",
			       HTTP_JSON_MAX_DEPTH);
	return FF_OK;
}

/* Parse the event here, on the request's thread, so the single writer does not. One
 * that does not parse is left to the writer, which reports it as usual. */
static void preparse(struct ingest_item *it)
{
	struct ff_diag d;
	if (engine_event_parse(it->text, it->len, &it->parsed, &d) != FF_OK)
		it->parsed = NULL;
}

/* A UTF-8 byte-order mark at the start of the body is not part of the first event
 * (RFC 8259 lets a parser ignore it; `fulfill ingest` does): its length, or 0. */
static size_t bom_len(const char *s, size_t n)
{
	return n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
}

static enum ff_err split_ndjson(struct ctx *c, struct gc_job *job)
{
	size_t cap = 0, lines = 0, events = 0;
	const char *p = c->body + bom_len(c->body, c->body_len), *end = c->body + c->body_len;

	/* count first so the arrays are sized once and the cap is checked up front */
	for (const char *q = p; q < end;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);
		if (!blank(q, n))
			events++;
		q += n + 1;
	}
	if (events == 0)
		return ff_fail(&c->diag, FF_E_INVALID, NULL, "the NDJSON body holds no events");
	if (events > HTTP_NDJSON_MAX_LINES)
		return ff_fail(&c->diag, FF_E_TOO_LARGE, NULL,
			       "at most %d events per NDJSON request (got %zu)",
			       HTTP_NDJSON_MAX_LINES, events);
	cap = events;
	job->items = ff_calloc(cap, sizeof(*job->items));
	job->lines = ff_calloc(cap, sizeof(*job->lines));
	job->pre = ff_calloc(cap, sizeof(*job->pre));
	job->pre_lines = ff_calloc(cap, sizeof(*job->pre_lines));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lines++;
		if (!blank(p, n)) {
			struct ff_diag d;
			ff_diag_clear(&d);
			enum ff_err err = precheck(p, n, &d);
			if (err) {
				job->pre[job->npre].err = err;
				job->pre[job->npre].diag = d;
				job->pre_lines[job->npre++] = lines;
			} else {
				job->items[job->n].text = p;
				job->items[job->n].len = n;
				preparse(&job->items[job->n]);
				job->lines[job->n++] = lines;
			}
		}
		p += n + 1;
	}
	return FF_OK;
}

enum ff_err h_events(struct ctx *c)
{
	struct request *req = c->req;
	struct gc_job *job;
	enum ff_err err;

	job = ff_calloc(1, sizeof(*job));
	job->actor = *c->actor;
	job->conn = c->conn;
	atomic_init(&job->done, false);
	if (media_type_is(c->ctype, "application/x-ndjson")) {
		err = split_ndjson(c, job);
		if (err)
			goto fail;
	} else {
		size_t skip = bom_len(c->body, c->body_len);
		const char *text = c->body + skip;
		size_t len = c->body_len - skip;
		if (len == 0 || blank(text, len)) {
			err = ff_fail(&c->diag, FF_E_INVALID, NULL,
				      "the request body must be an event object");
			goto fail;
		}
		err = precheck(text, len, &c->diag);
		if (err) {
			metrics_event("rejected");
			goto fail;
		}
		job->items = ff_calloc(1, sizeof(*job->items));
		job->items[0].text = text;
		job->items[0].len = len;
		preparse(&job->items[0]);
		job->n = 1;
	}
	if (req->has_idem) {
		job->idem_scope = req->actor.key_prefix;
		job->idem_key = req->idem_key;
		job->idem_fp = req->idem_fp;
	}
	req->job = job;
	req->suspended = true;
	c->suspended = true;
	if (groupcommit_submit(job))
		return FF_OK;
	req->job = NULL;
	req->suspended = false;
	c->suspended = false;
	err = ff_fail(&c->diag, FF_E_UNAVAILABLE, NULL, "the server is shutting down: retry the request");
fail:
	gc_job_free(job);
	return err;
}

static void set_body(struct gc_job *job, int status, json_t *body)
{
	job->status = status;
	job->body = json_text(body, NULL);
	json_decref(body);
}

static json_t *line_result(size_t line, const struct ingest_item *it)
{
	if (it->err)
		return json_pack("{s:I, s:s, s:o}", "line", (json_int_t)line, "outcome", "rejected",
				 "error", error_object(it->err, &it->diag));
	json_t *r = json_pack("{s:I}", "line", (json_int_t)line);
	json_object_update(r, it->result);
	return r;
}

void events_render(struct gc_job *job)
{
	if (job->body)
		return;
	if (job->err) {
		set_body(job, ff_err_status(job->err),
			 json_pack("{s:o}", "error", error_object(job->err, &job->diag)));
		return;
	}
	if (!job->lines) {
		const struct ingest_item *it = &job->items[0];
		if (it->err)
			set_body(job, ff_err_status(it->err),
				 json_pack("{s:o}", "error", error_object(it->err, &it->diag)));
		else
			set_body(job, 200, json_incref(it->result));
		return;
	}

	/* NDJSON: merge engine results and pre-rejected lines in line order */
	json_int_t accepted = 0, duplicate = 0, rejected = (json_int_t)job->npre;
	json_t *results = json_array();
	size_t i = 0, k = 0;
	while (i < job->n || k < job->npre) {
		bool take_item =
		    k >= job->npre || (i < job->n && job->lines[i] < job->pre_lines[k]);
		if (take_item) {
			const struct ingest_item *it = &job->items[i];
			const char *outcome =
			    it->err ? NULL
				    : json_string_value(json_object_get(it->result, "outcome"));
			if (it->err)
				rejected++;
			else if (outcome && strcmp(outcome, "duplicate") == 0)
				duplicate++;
			else
				accepted++;
			json_array_append_new(results, line_result(job->lines[i], it));
			i++;
		} else {
			json_array_append_new(results,
					      line_result(job->pre_lines[k], &job->pre[k]));
			k++;
		}
	}
	set_body(job, 200,
		 json_pack("{s:I, s:I, s:I, s:o}", "accepted", accepted, "duplicate", duplicate,
			   "rejected", rejected, "results", results));
}
