/*
 * recon_match.c - one reconciliation run's reading and matching (SPEC §6): the
 * expected rewards in an open-addressing hash table over an arena, the report's header
 * mapped to its columns, each CSV line read and matched (by reward id or external
 * reference), the rewards without a line listed as missing, and the run's result. How
 * memory stays bounded is told at the top of recon.c, which records the run and
 * applies its outcome.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/core.h"
#include "core/recon_int.h"
#include "fulfill/csv.h"
#include "fulfill/money.h"

#define MATCHED_CAP 1000
#define LINES_CAP 10000
#define STORED_CAP 1000 /* discrepancy lines kept in the reconciliations table */
#define PROGRESS_EVERY 65536
#define RECORD_MAX (64 * 1024)

/* ---- the expected side: a hash table over an arena ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static int arena_add(struct expected_set *x, const char *s, uint32_t *out)
{
	size_t len = strlen(s) + 1;
	if (x->alen + len > UINT32_MAX)
		return -1;
	if (x->alen + len > x->acap) {
		x->acap = x->acap ? x->acap * 2 : 1 << 20;
		while (x->acap < x->alen + len)
			x->acap *= 2;
		x->arena = ff_realloc(x->arena, x->acap);
	}
	memcpy(x->arena + x->alen, s, len);
	*out = (uint32_t)x->alen;
	x->alen += len;
	return 0;
}

static struct expected *set_find(struct expected_set *x, const char *key)
{
	if (!x->nslots)
		return NULL;
	for (size_t i = hash_str(key) & (x->nslots - 1);; i = (i + 1) & (x->nslots - 1)) {
		uint32_t s = x->slots[i];
		if (!s)
			return NULL;
		if (!strcmp(x->arena + x->v[s - 1].key, key))
			return &x->v[s - 1];
	}
}

/* Every entry is indexed, a second one with the same key too (rewards may share an
 * external reference): linear probing keeps the entries of one key in the order they
 * were added, which find_by_reference() walks. */
static void set_index(struct expected_set *x, size_t idx)
{
	const char *key = x->arena + x->v[idx].key;
	size_t i = hash_str(key) & (x->nslots - 1);
	while (x->slots[i])
		i = (i + 1) & (x->nslots - 1);
	x->slots[i] = (uint32_t)(idx + 1);
}

/* Index the entries by reward id too (the key of a connector reconciliation is the
 * reference; a report that also names the reward is checked against it). */
static void set_index_ids(struct expected_set *x)
{
	free(x->id_slots);
	for (x->id_nslots = 1024; x->id_nslots < 2 * x->n; x->id_nslots *= 2)
		;
	x->id_slots = ff_calloc(x->id_nslots, sizeof(*x->id_slots));
	for (size_t idx = 0; idx < x->n; idx++) {
		size_t i = hash_str(x->arena + x->v[idx].id) & (x->id_nslots - 1);
		while (x->id_slots[i])
			i = (i + 1) & (x->id_nslots - 1);
		x->id_slots[i] = (uint32_t)(idx + 1);
	}
}

static struct expected *set_find_id(struct expected_set *x, const char *id)
{
	if (!x->id_nslots)
		return NULL;
	for (size_t i = hash_str(id) & (x->id_nslots - 1);; i = (i + 1) & (x->id_nslots - 1)) {
		uint32_t s = x->id_slots[i];
		if (!s)
			return NULL;
		if (!strcmp(x->arena + x->v[s - 1].id, id))
			return &x->v[s - 1];
	}
}

/* Room for `n` entries with ids of about `idlen` bytes, so loading a big batch neither
 * copies the arena nor rehashes the table as it grows. */
void recon_set_reserve(struct expected_set *x, size_t n, size_t idlen)
{
	if (!n || n > (1u << 26) || x->n)
		return;
	x->cap = n;
	x->v = ff_realloc(x->v, x->cap * sizeof(*x->v));
	x->acap = n * (idlen + 2);
	x->arena = ff_realloc(x->arena, x->acap);
	for (x->nslots = 1024; x->nslots < 2 * n; x->nslots *= 2)
		;
	free(x->slots);
	x->slots = ff_calloc(x->nslots, sizeof(*x->slots));
}

static void set_grow_slots(struct expected_set *x)
{
	free(x->slots);
	x->nslots = x->nslots ? x->nslots * 2 : 1024;
	x->slots = ff_calloc(x->nslots, sizeof(*x->slots));
	for (size_t i = 0; i < x->n; i++)
		set_index(x, i);
}

static int set_add(struct expected_set *x, const char *key, const char *id, const char *ref, bool has_amount,
		   int64_t amount, const char *currency, int64_t seq)
{
	if (x->n >= UINT32_MAX - 1)
		return -1;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 1024;
		x->v = ff_realloc(x->v, x->cap * sizeof(*x->v));
	}
	struct expected *en = &x->v[x->n];
	memset(en, 0, sizeof(*en));
	if (arena_add(x, id, &en->id))
		return -1;
	if (key == id)
		en->key = en->id;
	else if (arena_add(x, key, &en->key))
		return -1;
	if (arena_add(x, ref ? ref : "", &en->ref))
		return -1;
	en->has_amount = has_amount;
	en->amount = amount;
	en->seq = seq;
	copy_str(en->currency, sizeof(en->currency), currency);
	x->n++;
	if (x->n * 2 > x->nslots)
		set_grow_slots(x);
	else
		set_index(x, x->n - 1);
	return 0;
}

void recon_set_free(struct expected_set *x)
{
	free(x->v);
	free(x->arena);
	free(x->slots);
	free(x->id_slots);
	memset(x, 0, sizeof(*x));
}

/* ---- the report side: header mapping ---- */

static const char *const col_names[COL__N] = {"reward_id", "amount", "currency", "reference", "status"};

/* Accepted header names per column, best first (compared after normalization:
 * lower-case, surrounding blanks trimmed, ' ' and '-' read as '_'). */
static const char *const col_aliases[COL__N][12] = {
	{"reward_id", "reward", "rewardid", "id", "external_id", "reward_ref", NULL},
	{"amount", "total", "value", "paid", "amount_paid", "paid_amount", "credit_amount", "credited", NULL},
	{"currency", "cur", "ccy", "currency_code", "curr", NULL},
	{"reference", "ref", "memo", "memo_number", "credit_memo", "credit_memo_number", "external_reference",
	 "payment_reference", "reference_number", NULL},
	{"status", "state", "payment_status", NULL},
};

/* Values of a status column that mean "paid"; any other value means the line reports
 * a payment that did not happen (it is counted as not_paid and matches nothing). */
static const char *const paid_words[] = {"",	     "paid",	"credited",  "complete", "completed", "success",
					 "succeeded", "successful", "fulfilled", "ok",	     "settled",	  "delivered",
					 "executed",  "sent",	    "issued",	 NULL};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static void normalize(const char *in, char *out, size_t n)
{
	while (*in == ' ' || *in == '\t')
		in++;
	size_t j = 0;
	for (; *in && j + 1 < n; in++)
		out[j++] = (*in == ' ' || *in == '-') ? '_' : (char)tolower((unsigned char)*in);
	while (j && out[j - 1] == '_')
		j--;
	out[j] = '\0';
}

/* Map the header to columns; cols[c] = field index or -1. */
static enum ff_err map_header(char **fields, size_t n, bool by_reference, int cols[COL__N], struct ff_diag *d)
{
	int rank[COL__N];
	for (int c = 0; c < COL__N; c++)
		cols[c] = rank[c] = -1;
	for (size_t f = 0; f < n && f < 256; f++) {
		char name[64];
		normalize(fields[f], name, sizeof(name));
		for (int c = 0; c < COL__N; c++)
			for (int k = 0; col_aliases[c][k]; k++)
				if (!strcmp(name, col_aliases[c][k])) {
					if (rank[c] == k)
						return ff_fail(d, FF_E_INVALID, "header",
							       "the %s column is named twice in the header", col_names[c]);
					if (rank[c] < 0 || k < rank[c]) {
						rank[c] = k;
						cols[c] = (int)f;
					}
				}
	}
	int key = by_reference ? COL_REFERENCE : COL_REWARD;
	if (cols[key] < 0 || cols[COL_AMOUNT] < 0) {
		char found[256] = "";
		for (size_t f = 0; f < n && strlen(found) < 200; f++)
			snprintf(found + strlen(found), sizeof(found) - strlen(found), "%s%.40s", f ? "," : "",
				 fields[f]);
		for (char *p = found; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?'; /* the message may become JSON: keep it plain ASCII */
		return ff_fail(d, FF_E_INVALID, "header",
			       "the report's header must name the %s and amount columns (expected "
			       "`reward_id,amount,currency,reference`; got `%s`; see docs/finance.md for accepted names)",
			       col_names[key], found);
	}
	if (cols[COL_REWARD] == cols[COL_REFERENCE])
		cols[by_reference ? COL_REWARD : COL_REFERENCE] = -1;
	return FF_OK;
}

/* ---- one run ---- */

static json_t *report_str(const char *s)
{
	if (!s || !*s)
		return json_null();
	json_t *v = json_string(s);
	if (v)
		return v;
	char *c = ff_strdup(s);
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(c);
	free(c);
	return v ? v : json_null();
}

static json_t *money_obj(bool has, int64_t amount, const char *currency)
{
	json_t *o = json_object();
	json_object_set_new(o, "amount", has ? json_integer(amount) : json_null());
	json_object_set_new(o, "currency", report_str(currency));
	return o;
}

/* One side of a line, built into JSON only when the line is listed. */
struct side {
	bool present;
	bool has_amount;
	int64_t amount;
	const char *currency;
};

static json_t *side_json(const struct side *s)
{
	return s && s->present ? money_obj(s->has_amount, s->amount, s->currency) : json_null();
}

static void add_line(struct run *r, size_t line, const char *reward_id, const char *reference, const char *result,
		     const struct side *expected, const struct side *actual, const char *error)
{
	bool matched = !strcmp(result, "matched");
	int64_t *listed = matched ? &r->listed_matched : &r->listed_other;
	if (*listed >= (matched ? MATCHED_CAP : LINES_CAP)) {
		r->truncated = true;
		return;
	}
	(*listed)++;
	json_t *o = json_object();
	json_object_set_new(o, "line", line ? json_integer((json_int_t)line) : json_null());
	json_object_set_new(o, "reward_id", report_str(reward_id));
	json_object_set_new(o, "reference", report_str(reference));
	json_object_set_new(o, "result", json_string(result));
	json_object_set_new(o, "expected", side_json(expected));
	json_object_set_new(o, "actual", side_json(actual));
	if (error)
		json_object_set_new(o, "error", json_string(error));
	if (!matched && json_array_size(r->stored) < STORED_CAP)
		json_array_append(r->stored, o);
	json_array_append_new(r->lines, o);
}

static bool parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (!*p || strlen(p) > 18)
		return false;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return false;
	int64_t v = strtoll(s, NULL, 10);
	if (v > MONEY_MAX || v < -MONEY_MAX)
		return false;
	*out = v;
	return true;
}

static bool is_paid(const char *status)
{
	char s[32];
	normalize(status, s, sizeof(s));
	for (int i = 0; paid_words[i]; i++)
		if (!strcmp(s, paid_words[i]))
			return true;
	return false;
}

static char *field(char **fields, size_t n, int col)
{
	return col >= 0 && (size_t)col < n ? trim(fields[col]) : NULL;
}

/* A decimal amount of a report: money_parse(), but spreadsheet exports also write
 * "1500." and "1500.00" for JPY or "25.000" for USD - zeros past the currency's digits
 * (and a bare trailing point) are dropped first; any other digit there stays an error. */
static bool report_decimal(const char *text, const char *currency, int64_t *out)
{
	char buf[64];
	int exp = money_exponent(currency);
	const char *dot = strchr(text, '.');
	size_t len = strlen(text);
	if (exp < 0 || !dot || len >= sizeof(buf))
		return exp >= 0 && !money_parse(text, currency, out);
	memcpy(buf, text, len + 1);
	size_t point = (size_t)(dot - text);
	while (len > point + 1 + (size_t)exp && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len == point + 1)
		buf[--len] = '\0';
	return !money_parse(buf, currency, out);
}

/* true when every field of a record is blank (a spreadsheet's "  " or ",,," line) */
static bool blank_record(char **fields, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (const char *p = fields[i]; *p; p++)
			if (!isspace((unsigned char)*p))
				return false;
	return true;
}

/* An amount of a report line in `currency`: integer minor units, or a decimal in major
 * units (report_decimal). */
static bool line_amount(const char *text, const char *currency, int64_t *out)
{
	return strchr(text, '.') ? money_currency_valid(currency) && report_decimal(text, currency, out)
				 : parse_int(text, out);
}

/* A fulfill reward id ("rwd_..."), as opposed to a provider's own id that an export
 * may carry in a column read as reward_id (such as "id"). */
static bool is_reward_id(const char *s)
{
	return !strncmp(s, "rwd_", 4) && s[4];
}

/* The expected reward a connector report's line pays, by its reference `key`. Several
 * rewards may share one reference (a webhook endpoint that answers with its payout
 * run's id): the first of them not yet seen whose amount and currency are the line's,
 * else the first not yet seen, else the first (the line is then a duplicate). */
static struct expected *find_by_reference(struct expected_set *x, const char *key, const char *amount_text,
					  const char *currency)
{
	if (!x->nslots)
		return NULL;
	struct expected *first = NULL, *unseen = NULL;
	for (size_t i = hash_str(key) & (x->nslots - 1); x->slots[i]; i = (i + 1) & (x->nslots - 1)) {
		struct expected *en = &x->v[x->slots[i] - 1];
		if (strcmp(x->arena + en->key, key))
			continue;
		if (!first)
			first = en;
		if (en->seen)
			continue;
		if (!unseen)
			unseen = en;
		const char *cur = *currency ? currency : en->currency;
		int64_t amount;
		if (en->has_amount && amount_text && *amount_text && line_amount(amount_text, cur, &amount) &&
		    amount == en->amount && !strcmp(cur, en->currency))
			return en;
	}
	return unseen ? unseen : first;
}

static void process_line(struct run *r, char **fields, size_t n, size_t line)
{
	char *key = field(fields, n, r->by_reference ? r->cols[COL_REFERENCE] : r->cols[COL_REWARD]);
	char *csv_reward = field(fields, n, r->cols[COL_REWARD]);
	char *reference = field(fields, n, r->cols[COL_REFERENCE]);
	char *amount_text = field(fields, n, r->cols[COL_AMOUNT]);
	char *cur_text = field(fields, n, r->cols[COL_CURRENCY]);
	char *status = field(fields, n, r->cols[COL_STATUS]);
	if (status && !is_paid(status)) {
		r->not_paid++;
		return;
	}
	if (!key || !*key) {
		r->invalid++;
		add_line(r, line, csv_reward, reference, "invalid", NULL, NULL,
			 r->by_reference ? "no reference" : "no reward_id");
		return;
	}
	char currency[8] = "";
	if (cur_text) {
		for (size_t i = 0; cur_text[i] && i < sizeof(currency) - 1; i++)
			currency[i] = (char)toupper((unsigned char)cur_text[i]);
		currency[sizeof(currency) - 1] = '\0';
		if (strlen(cur_text) >= sizeof(currency))
			copy_str(currency, sizeof(currency), "?");
	}
	struct expected *en = NULL;
	const char *conflict = NULL;
	char why[200];
	if (!r->by_reference) {
		en = set_find(&r->x, key);
	} else if (csv_reward && *csv_reward && (en = set_find_id(&r->x, csv_reward)) != NULL) {
		/* the line names an expected reward: it is that reward's line only if the
		 * reference is that reward's too */
		if (strcmp(r->x.arena + en->ref, key)) {
			snprintf(why, sizeof(why), "reward %.40s has reference %.60s, not %.60s", csv_reward,
				 r->x.arena + en->ref, key);
			conflict = why;
			en = NULL;
		}
	} else if (csv_reward && *csv_reward && is_reward_id(csv_reward)) {
		/* a reward this reconciliation does not expect: whichever reward the
		 * reference belongs to, this line is not its payment */
		struct expected *owner = find_by_reference(&r->x, key, amount_text, currency);
		if (owner) {
			snprintf(why, sizeof(why), "reference %.60s is reward %.40s's, not %.40s's", key,
				 r->x.arena + owner->id, csv_reward);
			conflict = why;
		}
	} else {
		en = find_by_reference(&r->x, key, amount_text, currency);
	}
	const char *rid = en ? r->x.arena + en->id : csv_reward;
	if (!*currency && en)
		copy_str(currency, sizeof(currency), en->currency); /* no currency column: the expected one */
	int64_t amount = 0;
	bool has_amount = amount_text && *amount_text;
	const char *error = NULL;
	if (has_amount) {
		if (!line_amount(amount_text, currency, &amount))
			error = strchr(amount_text, '.') && !money_currency_valid(currency)
					? "a decimal amount needs a known currency"
					: "amount is not a number of minor units (or a decimal with the currency's digits)";
	} else if (!en || en->has_amount) {
		error = "no amount";
	}
	struct side actual = {!error, has_amount, amount, currency};
	struct side expected = {en != NULL, en && en->has_amount, en ? en->amount : 0, en ? en->currency : NULL};
	if (en && en->seen) {
		r->duplicate++;
		add_line(r, line, rid, reference, "duplicate", &expected, &actual, NULL);
		return;
	}
	if (en)
		en->seen = true; /* even an unreadable line names it: it is not also missing */
	if (error) {
		r->invalid++;
		add_line(r, line, rid, reference, "invalid", &expected, &actual, error);
		return;
	}
	if (!en) {
		r->unexpected++;
		add_line(r, line, rid, reference, "unexpected", NULL, &actual, conflict);
		return;
	}
	bool same = !strcmp(currency, en->currency) &&
		    (en->has_amount ? has_amount && amount == en->amount : !has_amount || amount == 0);
	if (same)
		r->matched++;
	else
		r->mismatch++;
	add_line(r, line, rid, reference, same ? "matched" : "amount_mismatch", &expected, &actual, NULL);
}

static enum ff_err read_report(struct run *r, const struct recon_input *in, struct ff_diag *d)
{
	struct csv_reader *cr = in->file ? csv_open_file(in->file, RECORD_MAX)
					 : csv_open_mem(in->data ? in->data : "", in->data ? in->len : 0, RECORD_MAX);
	if (!cr)
		return ff_fail(d, FF_E_INVALID, NULL, "no report to read");
	char **fields;
	size_t n;
	const char *why;
	enum ff_err err = FF_OK;
	int rc = csv_next(cr, &fields, &n, &why);
	if (rc == 0)
		err = ff_fail(d, FF_E_INVALID, "header", "the report is empty: it needs the header `reward_id,amount,currency,reference`");
	else if (rc < 0)
		err = ff_fail(d, FF_E_INVALID, "header", "unreadable header: %s", why);
	else
		err = map_header(fields, n, r->by_reference, r->cols, d);
	for (int c = 0; !err && c < COL__N; c++)
		if (r->cols[c] >= 0)
			copy_str(r->header[c], sizeof(r->header[c]), trim(fields[r->cols[c]]));
	if (!err && r->by_reference && r->cols[COL_REWARD] >= 0)
		set_index_ids(&r->x); /* each line's reward_id is checked against its reference */
	while (!err && (rc = csv_next(cr, &fields, &n, &why)) != 0) {
		if (rc > 0 && blank_record(fields, n))
			continue; /* as an empty line: not a line of the report */
		r->read++;
		if (rc < 0) {
			r->invalid++;
			add_line(r, csv_line(cr), NULL, NULL, "invalid", NULL, NULL, why);
		} else {
			process_line(r, fields, n, csv_line(cr));
		}
		if (in->progress && r->read % PROGRESS_EVERY == 0)
			in->progress(in->progress_ctx, (uint64_t)r->read);
	}
	if (!err && in->progress)
		in->progress(in->progress_ctx, (uint64_t)r->read);
	csv_free(cr);
	return err;
}

/* Load the expected rewards from a query with columns id, amount, currency, reference, seq. */
static enum ff_err load_expected(struct engine *e, struct run *r, struct store_stmt *st, struct ff_diag *d)
{
	int rc;
	while ((rc = store_step(st)) == 1) {
		const char *id = store_col_text(st, 0);
		const char *ref = store_col_text(st, 3);
		if (set_add(&r->x, r->by_reference ? ref : id, id, ref, !store_col_null(st, 1), store_col_int(st, 1),
			    store_col_text(st, 2), store_col_int(st, 4)))
			return ff_fail(d, FF_E_TOO_LARGE, NULL, "too many rewards to reconcile at once");
	}
	if (rc < 0)
		return core_store_fail(e, d, "expected rewards");
	return FF_OK;
}

static void list_missing(struct run *r)
{
	for (size_t i = 0; i < r->x.n; i++) {
		struct expected *en = &r->x.v[i];
		if (en->seen)
			continue;
		r->missing++;
		struct side expected = {true, en->has_amount, en->amount, en->currency};
		add_line(r, 0, r->x.arena + en->id, r->x.arena + en->ref, "missing", &expected, NULL, NULL);
	}
}

bool recon_all_match(const struct run *r)
{
	return !r->mismatch && !r->missing && !r->unexpected && !r->duplicate && !r->invalid;
}

json_t *recon_summary(const struct run *r, const char *id, const char *status, int64_t now)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "id", id, "status", status,
			 "lines_read", (json_int_t)r->read, "matched", (json_int_t)r->matched, "amount_mismatch",
			 (json_int_t)r->mismatch, "missing", (json_int_t)r->missing, "unexpected",
			 (json_int_t)r->unexpected, "duplicate", (json_int_t)r->duplicate, "invalid",
			 (json_int_t)r->invalid, "not_paid", (json_int_t)r->not_paid, "at", json_time(now, true));
}

json_t *recon_result_json(struct run *r, const char *id, const char *status, int64_t now)
{
	json_t *o = recon_summary(r, id, status, now);
	json_object_set_new(o, "object", json_string("reconciliation"));
	json_object_set(o, "lines", r->lines);
	json_object_set_new(o, "lines_truncated", json_boolean(r->truncated));
	json_t *cols = json_object();
	for (int c = 0; c < COL__N; c++)
		json_object_set_new(cols, col_names[c], r->cols[c] >= 0 ? report_str(r->header[c]) : json_null());
	json_object_set_new(o, "columns", cols);
	return o;
}

void recon_run_init(struct run *r, bool by_reference)
{
	memset(r, 0, sizeof(*r));
	r->by_reference = by_reference;
	r->lines = json_array();
	r->stored = json_array();
}

void recon_run_release(struct run *r)
{
	recon_set_free(&r->x);
	json_decref(r->lines);
	json_decref(r->stored);
}

/* Load what `st` (bound) says was paid, end the read snapshot before the long read of
 * the report, read the report and list what it lacks. On error `r` is released. */
enum ff_err recon_run_compare(struct engine *e, struct run *r, struct store_stmt *st,
			       const struct recon_input *in, struct ff_diag *d)
{
	enum ff_err err = load_expected(e, r, st, d);
	core_done(e, FF_OK);
	if (!err)
		err = read_report(r, in, d);
	if (err) {
		recon_run_release(r);
		return err;
	}
	list_missing(r);
	return FF_OK;
}
