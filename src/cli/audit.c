/*
 * audit.c - `fulfill audit verify|list` and `fulfill migrate`.
 *
 * `audit verify` is meant for cron jobs and monitoring: exit 0 and `ok N records` when
 * the hash chain holds, exit 1 naming the first broken record otherwise.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* " (AT ACTOR ACTION TARGET)" of audit record `seq`, or "" when it cannot be read. */
static void describe_record(struct cli *c, const char *seq, char *out, size_t n)
{
	char *end;
	errno = 0;
	long long v = strtoll(seq, &end, 10);
	if (errno || end == seq || *end || v < 1)
		return;
	char prev[32];
	snprintf(prev, sizeof(prev), "%lld", v - 1);
	struct page p = {1, v > 1 ? prev : NULL};
	json_t *list = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	if (engine_audit_list(c->engine, &c->actor, &p, &list, &d) != FF_OK)
		return;
	json_t *r = json_array_get(json_object_get(list, "data"), 0);
	char b[4][160];
	if (r && !strcmp(cli_str(r, "id", "", b[0], sizeof(b[0])), seq))
		snprintf(out, n, " (%s %s %s %s)", cli_str(r, "at", "", b[0], sizeof(b[0])),
			 cli_str(r, "actor", "", b[1], sizeof(b[1])),
			 cli_str(r, "action", "", b[2], sizeof(b[2])),
			 cli_str(r, "target", "", b[3], sizeof(b[3])));
	json_decref(list);
}

int cli_cmd_audit_verify(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_audit_verify(c->engine, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	bool ok = json_is_true(json_object_get(out, "ok"));
	char b1[64], b2[256];
	const char *records = cli_str(out, "records", "0", b1, sizeof(b1));
	if (c->json) {
		cli_print_json(out);
	} else if (ok) {
		printf("ok %s records\n", records);
	} else {
		const char *bad = cli_str(out, "first_bad", "?", b2, sizeof(b2));
		char detail[512] = "";
		describe_record(c, bad, detail, sizeof(detail));
		printf("broken: record %s%s is the first that does not match the chain; %s records "
		       "verified before it\n",
		       bad, detail, records);
	}
	json_decref(out);
	return ok ? CLI_OK : CLI_FAIL;
}

static void print_audit_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"SEQ", "AT", "ACTOR", "ACTION", "TARGET"};
	struct cli_table *t = cli_table_new(5, hdr);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(out, "data"), i, r)
	{
		char b[5][256];
		const char *seq = cli_str(r, "seq", NULL, b[0], sizeof(b[0]));
		if (!seq)
			seq = cli_str(r, "id", "", b[0], sizeof(b[0]));
		const char *at = cli_str(r, "at", NULL, b[1], sizeof(b[1]));
		if (!at)
			at = cli_str(r, "created_at", "", b[1], sizeof(b[1]));
		const char *row[] = {seq, at, cli_str(r, "actor", "", b[2], sizeof(b[2])),
				     cli_str(r, "action", "", b[3], sizeof(b[3])),
				     cli_str(r, "target", "", b[4], sizeof(b[4]))};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_audit_list(struct cli *c)
{
	return cli_run_list(c, engine_audit_list, print_audit_table,
			    "(more: use --limit / --starting-after)");
}

int cli_cmd_migrate(struct cli *c)
{
	/* engine_open() has already applied every pending migration. */
	int version = engine_schema_version(c->engine);
	if (c->json) {
		json_t *o = json_pack("{s:b, s:i}", "ok", 1, "schema_version", version);
		cli_print_json(o);
		json_decref(o);
	} else {
		printf("schema version %d: up to date\n", version);
	}
	return CLI_OK;
}
