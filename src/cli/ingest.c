/*
 * ingest.c - `fulfill ingest FILE [--format ndjson|csv]`: the bulk path for events.
 *
 * The file is streamed, never loaded: NDJSON is read in 64 KiB blocks and cut into
 * lines (each at most 16 MiB; a longer line is rejected as too_large while the reader
 * skips to the next newline without keeping it), CSV rows come from the bounded csv
 * reader and are turned into the same event objects. Events are handed to
 * engine_ingest() in chunks of up to 500 events or 32 MiB, one transaction per chunk;
 * the engine makes a bad line fail alone (docs/ingest.md). Memory therefore stays bounded
 * by one chunk plus one line, whatever the size of the file.
 *
 * Results: one line per rejected line on stderr (`line N: CODE: MESSAGE (PARAM)`), a
 * progress bar on stderr when it is a terminal, and the summary on stdout.
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fulfill/csv.h"

#define LINE_MAX_BYTES ((size_t)16 << 20)
#define CHUNK_EVENTS 500
#define CHUNK_BYTES ((size_t)32 << 20)
#define READ_BLOCK ((size_t)64 << 10)

enum { CNT_ACCEPTED, CNT_DUPLICATE, CNT_REJECTED };

/* One line of the input waiting in the current chunk: either event text for the
 * engine, or a line already rejected here (too long, bad CSV cell). */
struct slot {
	size_t line;
	char *text; /* owned; NULL when pre-rejected */
	size_t len;
	const char *code; /* pre-rejection: static API error code */
	char message[200];
	char param[64];
	uint64_t end; /* input offset just after this line (progress) */
};

struct ingest {
	struct engine *e;
	const struct actor *a;
	const char *name;
	bool quiet;
	struct slot slots[CHUNK_EVENTS];
	struct ingest_item items[CHUNK_EVENTS];
	size_t nslots, nitems, chunk_bytes;
	long long counts[3];
	/* progress */
	bool bar;
	bool bar_shown;
	uint64_t total_bytes; /* 0 when unknown (pipe) */
	uint64_t read_bytes;
	struct timespec last_draw;
	bool failed;		/* the database refused a whole chunk */
	uint64_t line_end;	/* input offset just after the line being added */
	uint64_t line_end_base; /* NDJSON: bytes read so far */
};

/* ---- progress bar ---- */

static void bar_clear(struct ingest *in)
{
	if (in->bar_shown) {
		fputs("\r\033[K", stderr);
		in->bar_shown = false;
	}
}

static void bar_draw(struct ingest *in, bool force)
{
	if (!in->bar)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(now.tv_sec - in->last_draw.tv_sec) * 1000 +
		       (now.tv_nsec - in->last_draw.tv_nsec) / 1000000;
	if (!force && ms < 100)
		return;
	in->last_draw = now;
	long long done = in->counts[0] + in->counts[1] + in->counts[2];
	if (in->total_bytes) {
		uint64_t pct = in->read_bytes * 100 / in->total_bytes;
		if (pct > 100)
			pct = 100;
		char bar[31];
		size_t fill = (size_t)(pct * 30 / 100);
		for (size_t i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr,
			"\r\033[K[%s] %3" PRIu64 "%%  %lld events  (%lld accepted, %lld "
			"duplicate, %lld rejected)",
			bar, pct, done, in->counts[0], in->counts[1], in->counts[2]);
	} else {
		fprintf(stderr,
			"\r\033[K%lld events  (%lld accepted, %lld duplicate, %lld rejected)", done,
			in->counts[0], in->counts[1], in->counts[2]);
	}
	in->bar_shown = true;
}

/* ---- chunks ---- */

static void report(struct ingest *in, size_t line, const char *code, const char *message,
		   const char *param)
{
	in->counts[CNT_REJECTED]++;
	if (in->quiet)
		return;
	bar_clear(in);
	if (param && *param)
		fprintf(stderr, "line %zu: %s: %s (%s)\n", line, code, message, param);
	else
		fprintf(stderr, "line %zu: %s: %s\n", line, code, message);
}

/* Hand the pending slots to the engine and report each outcome in line order. */
static int flush(struct ingest *in)
{
	if (in->nslots == 0)
		return CLI_OK;
	in->nitems = 0;
	for (size_t i = 0; i < in->nslots; i++) {
		struct slot *s = &in->slots[i];
		if (!s->text)
			continue;
		struct ingest_item *it = &in->items[in->nitems++];
		memset(it, 0, sizeof(*it));
		it->text = s->text;
		it->len = s->len;
	}
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = FF_OK;
	if (in->nitems)
		err = engine_ingest(in->e, in->a, in->items, in->nitems, &d);
	int rc = CLI_OK;
	if (err) {
		/* The transaction itself failed: nothing of this chunk is stored. */
		bar_clear(in);
		fprintf(
		    stderr,
		    "fulfill: %s: %s: %s%s%s\nfulfill: events from line %zu on were not stored; "
		    "ingesting the file again is safe (stored events come back as duplicates)\n",
		    in->name, ff_err_code(err), d.message, d.param[0] ? " " : "", d.param,
		    in->slots[0].line);
		in->failed = true;
		rc = CLI_FAIL;
	}
	size_t k = 0;
	for (size_t i = 0; i < in->nslots; i++) {
		struct slot *s = &in->slots[i];
		if (!s->text) {
			if (rc == CLI_OK)
				report(in, s->line, s->code, s->message, s->param);
			continue;
		}
		struct ingest_item *it = &in->items[k++];
		if (rc == CLI_OK) {
			if (it->err) {
				report(in, s->line, ff_err_code(it->err),
				       it->diag.message[0] ? it->diag.message
							   : ff_err_code(it->err),
				       it->diag.param);
			} else {
				const char *o =
				    json_string_value(json_object_get(it->result, "outcome"));
				in->counts[o && strcmp(o, "duplicate") == 0 ? CNT_DUPLICATE
									    : CNT_ACCEPTED]++;
			}
		}
		json_decref(it->result);
		it->result = NULL;
		free(s->text);
		s->text = NULL;
	}
	in->read_bytes = in->slots[in->nslots - 1].end;
	in->nslots = 0;
	in->chunk_bytes = 0;
	bar_draw(in, false);
	return rc;
}

static struct slot *next_slot(struct ingest *in, size_t line, size_t len, int *rc)
{
	*rc = CLI_OK;
	if (in->nslots == CHUNK_EVENTS || (in->chunk_bytes + len > CHUNK_BYTES && in->nslots))
		*rc = flush(in);
	struct slot *s = &in->slots[in->nslots++];
	memset(s, 0, sizeof(*s));
	s->line = line;
	s->end = in->line_end;
	in->chunk_bytes += len;
	return s;
}

static int add_event(struct ingest *in, size_t line, char *text, size_t len)
{
	int rc;
	struct slot *s = next_slot(in, line, len, &rc);
	s->text = text;
	s->len = len;
	return rc;
}

static int add_rejected(struct ingest *in, size_t line, const char *code, const char *param,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int add_rejected(struct ingest *in, size_t line, const char *code, const char *param,
			const char *fmt, ...)
{
	int rc;
	struct slot *s = next_slot(in, line, 0, &rc);
	s->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->message, sizeof(s->message), fmt, ap);
	va_end(ap);
	snprintf(s->param, sizeof(s->param), "%s", param ? param : "");
	return rc;
}

/* ---- NDJSON ---- */

static bool blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* One complete NDJSON line (owned, with room for a NUL): drop a CR before the newline
 * and a UTF-8 byte-order mark at the start of the file, then queue it (or free it when
 * only the mark made it non-blank). */
static int add_line(struct ingest *in, size_t line, char *text, size_t len)
{
	if (len && text[len - 1] == '\r')
		len--;
	if (line == 1 && len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
		memmove(text, text + 3, len - 3);
		len -= 3;
		if (blank(text, len)) { /* the mark alone on the first line: a blank line */
			free(text);
			return CLI_OK;
		}
	}
	text[len] = '\0';
	return add_event(in, line, text, len);
}

static int ingest_ndjson(struct ingest *in, FILE *f)
{
	char *block = ff_malloc(READ_BLOCK);
	char *cur = NULL;
	size_t cur_len = 0, cur_cap = 0, line = 1;
	bool skipping = false; /* the current line is too long: drop bytes until '\n' */
	int rc = CLI_OK;
	for (;;) {
		size_t got = fread(block, 1, READ_BLOCK, f);
		if (got == 0) {
			if (ferror(f)) {
				bar_clear(in);
				rc = cli_fail("cannot read %s: %s", in->name, strerror(errno));
				in->failed = true;
			}
			break;
		}
		uint64_t block_start = in->line_end_base;
		in->line_end_base += got;
		size_t pos = 0;
		while (pos < got && rc == CLI_OK) {
			char *nl = memchr(block + pos, '\n', got - pos);
			size_t seg = (nl ? (size_t)(nl - block) : got) - pos;
			if (!skipping) {
				if (cur_len + seg > LINE_MAX_BYTES) {
					skipping = true;
					free(cur);
					cur = NULL;
					cur_len = cur_cap = 0;
				} else if (seg) {
					if (cur_len + seg + 1 > cur_cap) {
						size_t cap = cur_cap ? cur_cap : 4096;
						while (cap < cur_len + seg + 1)
							cap *= 2;
						cur = ff_realloc(cur, cap);
						cur_cap = cap;
					}
					memcpy(cur + cur_len, block + pos, seg);
					cur_len += seg;
				}
			}
			pos += seg;
			if (!nl)
				break;
			pos++; /* the newline */
			in->line_end = block_start + pos;
			if (skipping) {
				rc = add_rejected(in, line, "too_large", NULL,
						  "line is longer than %zu MiB",
						  LINE_MAX_BYTES >> 20);
				skipping = false;
			} else if (cur_len && !blank(cur, cur_len)) {
				rc = add_line(in, line, cur, cur_len);
				cur = NULL;
				cur_cap = 0;
			}
			cur_len = 0;
			line++;
		}
		if (rc != CLI_OK)
			break;
	}
	in->line_end = in->line_end_base;
	if (rc == CLI_OK) {
		if (skipping)
			rc = add_rejected(in, line, "too_large", NULL,
					  "line is longer than %zu MiB", LINE_MAX_BYTES >> 20);
		else if (cur_len && !blank(cur, cur_len)) {
			rc = add_line(in, line, cur, cur_len);
			cur = NULL;
		}
	}
	free(cur);
	free(block);
	return rc;
}

/* ---- CSV ---- */

enum col_kind { COL_TOP, COL_DATA_ID, COL_DATA_INT, COL_DATA_STR, COL_ATTR };

struct column {
	enum col_kind kind;
	const char *name; /* the column's name as in the header, trimmed (header copy) */
	const char *key;  /* member name (points into the header copy) */
};

static const char *const int_columns[] = {"amount", "quantity"};
static const char *const id_columns[] = {"referral_id", "conversion_id", "participant_id",
					 "refund_id"};

static int csv_header(struct ingest *in, char **fields, size_t n, struct column **out_cols,
		      char ***out_names)
{
	struct column *cols = ff_calloc(n ? n : 1, sizeof(*cols));
	char **names = ff_calloc(n ? n : 1, sizeof(*names));
	bool has_id = false, has_type = false;
	for (size_t i = 0; i < n; i++) {
		names[i] = ff_strdup(fields[i]);
		char *nm = names[i];
		/* Tolerate spaces around names ("id, type"). */
		while (*nm == ' ')
			nm++;
		size_t l = strlen(nm);
		while (l && nm[l - 1] == ' ')
			nm[--l] = '\0';
		/* Compared by the whole name: cols[].key of "attributes.plan" is "plan",
		 * which a column "plan" does not repeat. */
		for (size_t j = 0; j < i; j++)
			if (strcmp(cols[j].name, nm) == 0) {
				int rc = cli_fail("%s: column '%s' appears twice in the header",
						  in->name, nm);
				free(cols);
				for (size_t k = 0; k <= i; k++)
					free(names[k]);
				free(names);
				return rc;
			}
		cols[i].name = nm;
		cols[i].key = nm;
		cols[i].kind = COL_DATA_STR;
		if (!strcmp(nm, "id") || !strcmp(nm, "type") || !strcmp(nm, "occurred_at")) {
			cols[i].kind = COL_TOP;
			has_id |= !strcmp(nm, "id");
			has_type |= !strcmp(nm, "type");
		} else if (!strncmp(nm, "attributes.", 11) && nm[11]) {
			cols[i].kind = COL_ATTR;
			cols[i].key = nm + 11;
		}
		for (size_t j = 0; j < sizeof(id_columns) / sizeof(id_columns[0]); j++)
			if (!strcmp(nm, id_columns[j]))
				cols[i].kind = COL_DATA_ID;
		for (size_t j = 0; j < sizeof(int_columns) / sizeof(int_columns[0]); j++)
			if (!strcmp(nm, int_columns[j]))
				cols[i].kind = COL_DATA_INT;
	}
	if (!has_id || !has_type) {
		for (size_t k = 0; k < n; k++)
			free(names[k]);
		free(names);
		free(cols);
		return cli_fail("%s: the CSV header must name the columns id and type (see "
				"docs/ingest.md)",
				in->name);
	}
	*out_cols = cols;
	*out_names = names;
	return CLI_OK;
}

/* One CSV row -> event JSON text, or a pre-rejection. */
static int csv_row(struct ingest *in, size_t line, const struct column *cols, size_t ncols,
		   char **fields, size_t n)
{
	if (n != ncols)
		return add_rejected(in, line, "malformed_csv", NULL,
				    "expected %zu fields as in the header, found %zu", ncols, n);
	json_t *ev = json_object(), *data = json_object(), *attrs = NULL;
	int rc = CLI_OK;
	for (size_t i = 0; i < n; i++) {
		const char *v = fields[i];
		if (!*v)
			continue; /* empty cells are omitted */
		json_t *jv = NULL;
		if (cols[i].kind == COL_DATA_INT) {
			char *end;
			errno = 0;
			long long x = strtoll(v, &end, 10);
			if (errno || end == v || *end) {
				char param[64];
				snprintf(param, sizeof(param), "data.%s", cols[i].key);
				/* an amount that is not an integer is invalid_amount, as the
				 * same event in NDJSON ("amount": 12.5) */
				bool amount = errno == ERANGE || !strcmp(cols[i].key, "amount");
				rc = add_rejected(in, line,
						  amount ? "invalid_amount" : "invalid_request",
						  param, "'%.40s' is not an integer%s", v,
						  errno == ERANGE ? " in range" : "");
				goto out;
			}
			jv = json_integer(x);
		} else {
			jv = json_string(v);
			if (!jv) {
				char param[64];
				snprintf(param, sizeof(param), "%s%s",
					 cols[i].kind == COL_TOP ? "" : "data.", cols[i].key);
				rc = add_rejected(in, line, "invalid_utf8", param,
						  "the field is not valid UTF-8");
				goto out;
			}
		}
		switch (cols[i].kind) {
		case COL_TOP:
			json_object_set_new(ev, cols[i].key, jv);
			break;
		case COL_DATA_ID:
			json_object_set_new(data, "id", jv);
			break;
		case COL_ATTR:
			if (!attrs)
				attrs = json_object();
			json_object_set_new(attrs, cols[i].key, jv);
			break;
		case COL_DATA_INT:
		case COL_DATA_STR:
			json_object_set_new(data, cols[i].key, jv);
			break;
		}
	}
	if (attrs) {
		json_object_set_new(data, "attributes", attrs);
		attrs = NULL;
	}
	json_object_set_new(ev, "data", data);
	data = NULL;
	size_t len = 0;
	char *text = json_dumps(ev, JSON_COMPACT);
	if (!text)
		ff_oom();
	len = strlen(text);
	rc = add_event(in, line, text, len);
out:
	json_decref(attrs);
	json_decref(data);
	json_decref(ev);
	return rc;
}

static int ingest_csv(struct ingest *in, FILE *f)
{
	struct csv_reader *r = csv_open_file(f, LINE_MAX_BYTES);
	if (!r)
		ff_oom();
	struct column *cols = NULL;
	char **names = NULL;
	size_t ncols = 0;
	int rc = CLI_OK;
	char **fields;
	size_t n;
	const char *why;
	int got;
	while (rc == CLI_OK && (got = csv_next(r, &fields, &n, &why)) != 0) {
		size_t line = csv_line(r);
		off_t pos = ftello(f); /* read-ahead makes this approximate: fine for a bar */
		if (pos > 0)
			in->line_end = (uint64_t)pos;
		if (got < 0) {
			if (!cols) {
				rc = cli_fail("%s: line %zu: cannot read the CSV header: %s",
					      in->name, line, why);
				break;
			}
			bool too_long = why && strstr(why, "long");
			rc = add_rejected(in, line, too_long ? "too_large" : "malformed_csv", NULL,
					  "%s", why ? why : "malformed record");
			continue;
		}
		if (!cols) {
			rc = csv_header(in, fields, n, &cols, &names);
			ncols = n;
			continue;
		}
		rc = csv_row(in, line, cols, ncols, fields, n);
	}
	if (rc == CLI_OK && ferror(f)) {
		rc = cli_fail("cannot read %s: %s", in->name, strerror(errno));
		in->failed = true;
	}
	csv_free(r);
	for (size_t i = 0; names && i < ncols; i++)
		free(names[i]);
	free(names);
	free(cols);
	return rc;
}

/* ---- entry points ---- */

int cli_ingest_stream(struct engine *e, const struct actor *a, FILE *f, const char *name,
		      enum cli_ingest_format fmt, bool quiet, long long out_counts[3])
{
	struct ingest *in = ff_calloc(1, sizeof(*in));
	in->e = e;
	in->a = a;
	in->name = name;
	in->quiet = quiet;
	in->bar = !quiet && isatty(STDERR_FILENO);
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		in->total_bytes = (uint64_t)st.st_size;
	int rc = fmt == CLI_FORMAT_CSV ? ingest_csv(in, f) : ingest_ndjson(in, f);
	if (rc == CLI_OK)
		rc = flush(in);
	else
		for (size_t i = 0; i < in->nslots; i++)
			free(in->slots[i].text);
	if (in->bar && rc == CLI_OK && !in->failed) {
		in->read_bytes = in->total_bytes;
		bar_draw(in, true);
	}
	if (in->bar_shown)
		fputc('\n', stderr);
	memcpy(out_counts, in->counts, sizeof(in->counts));
	free(in);
	return rc;
}

int cli_cmd_ingest(struct cli *c)
{
	const char *path = c->args[0];
	enum cli_ingest_format fmt = CLI_FORMAT_NDJSON;
	const char *fs = c->opt[OPT_FORMAT];
	if (fs) {
		if (!strcmp(fs, "csv"))
			fmt = CLI_FORMAT_CSV;
		else if (strcmp(fs, "ndjson") != 0 && strcmp(fs, "jsonl") != 0)
			return cli_usage(c, "--format must be ndjson or csv, not '%s'", fs);
	} else {
		const char *dot = strrchr(path, '.');
		if (dot && (!strcasecmp(dot, ".csv")))
			fmt = CLI_FORMAT_CSV;
	}
	FILE *f = stdin;
	bool is_stdin = strcmp(path, "-") == 0;
	if (!is_stdin) {
		f = fopen(path, "rb");
		if (!f)
			return cli_fail("cannot read %s: %s", path, strerror(errno));
		struct stat st;
		if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
			fclose(f);
			return cli_fail("cannot read %s: it is a directory", path);
		}
	}
	long long counts[3];
	int rc = cli_ingest_stream(c->engine, &c->actor, f, is_stdin ? "stdin" : path, fmt, false,
				   counts);
	if (!is_stdin)
		fclose(f);
	if (c->json) {
		json_t *o =
		    json_pack("{s:I, s:I, s:I}", "accepted", (json_int_t)counts[0], "duplicate",
			      (json_int_t)counts[1], "rejected", (json_int_t)counts[2]);
		cli_print_json(o);
		json_decref(o);
	} else {
		printf("accepted %lld, duplicate %lld, rejected %lld\n", counts[0], counts[1],
		       counts[2]);
	}
	return rc;
}
