/*
 * program.c - `fulfill program load|list|show|diff|approve|activate|rollback`.
 *
 * Program documents are JSON files (SPEC.md section 3, docs/programs.md); the engine
 * validates them. `program load --activate` is the operator's bootstrap path.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_program_load_file(struct engine *e, const struct actor *a, const char *path, bool activate,
			  json_t **out)
{
	json_error_t jerr;
	json_t *doc;
	size_t flags = JSON_REJECT_DUPLICATES;
	if (strcmp(path, "-") == 0) {
		doc = json_loadf(stdin, flags, &jerr);
	} else {
		FILE *f = fopen(path, "r");
		if (!f)
			return cli_fail("cannot read %s: %s", path, strerror(errno));
		doc = json_loadf(f, flags, &jerr);
		fclose(f);
	}
	if (!doc)
		return cli_fail("%s:%d:%d: malformed_json: %s", path, jerr.line, jerr.column,
				jerr.text);
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_program_load(e, a, doc, activate, out, &d);
	json_decref(doc);
	if (err) {
		/* "fulfill: FILE: CODE: MESSAGE (PARAM)": the file, then the engine's error */
		const char *msg = d.message[0] ? d.message : ff_err_code(err);
		if (d.param[0])
			fprintf(stderr, "fulfill: %s: %s: %s (%s)\n", path, ff_err_code(err), msg,
				d.param);
		else
			fprintf(stderr, "fulfill: %s: %s: %s\n", path, ff_err_code(err), msg);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* "program give20get20 version 2: active" from a version object {program, version,
 * status}, or from a program object {id, active_version} (what activate and rollback
 * answer: its active version is the one just activated). */
static void print_version_line(const json_t *o)
{
	char b1[160], b2[32], b3[64];
	const char *id = cli_str(o, "program", NULL, b1, sizeof(b1));
	if (!id && json_is_integer(json_object_get(o, "active_version"))) {
		printf("program %s version %s: active\n", cli_str(o, "id", "?", b1, sizeof(b1)),
		       cli_str(o, "active_version", "?", b2, sizeof(b2)));
		return;
	}
	printf("program %s version %s: %s\n", id ? id : cli_str(o, "id", "?", b1, sizeof(b1)),
	       cli_str(o, "version", "?", b2, sizeof(b2)),
	       cli_str(o, "status", "?", b3, sizeof(b3)));
}

static void render_version_line(const struct cli *c, const json_t *out)
{
	(void)c;
	print_version_line(out);
}

static int finish(struct cli *c, enum ff_err err, const struct ff_diag *d, json_t *out)
{
	return cli_finish(c, err, d, out, render_version_line);
}

int cli_cmd_program_load(struct cli *c)
{
	json_t *out = NULL;
	int rc = cli_program_load_file(c->engine, &c->actor, c->args[0],
				       c->opt[OPT_ACTIVATE] != NULL, &out);
	if (rc != CLI_OK)
		return rc;
	struct ff_diag d;
	ff_diag_clear(&d);
	return finish(c, FF_OK, &d, out);
}

static void print_program_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"ID", "NAME", "CURRENCY", "ACTIVE", "LATEST"};
	struct cli_table *t = cli_table_new(5, hdr);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(out, "data"), i, r)
	{
		char b[5][256];
		const char *latest = cli_str(r, "latest_version", NULL, b[4], sizeof(b[4]));
		json_t *versions = json_object_get(r, "versions");
		if (!latest && json_is_array(versions)) {
			snprintf(b[4], sizeof(b[4]), "%zu", json_array_size(versions));
			latest = b[4];
		}
		const char *row[] = {cli_str(r, "id", "", b[0], sizeof(b[0])),
				     cli_str(r, "name", "", b[1], sizeof(b[1])),
				     cli_str(r, "currency", "", b[2], sizeof(b[2])),
				     cli_str(r, "active_version", "-", b[3], sizeof(b[3])),
				     latest ? latest : ""};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_program_list(struct cli *c)
{
	return cli_run_list(c, engine_program_list, print_program_table, NULL);
}

int cli_cmd_program_show(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err;
	if (c->opt[OPT_VERSION]) {
		int v = cli_parse_version(c->opt[OPT_VERSION]);
		if (v < 0)
			return cli_usage(c, "--version must be a positive number");
		err = engine_program_version(c->engine, &c->actor, c->args[0], v, &out, &d);
	} else {
		err = engine_program_get(c->engine, &c->actor, c->args[0], &out, &d);
	}
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
		json_decref(out);
		return CLI_OK;
	}
	/* Scalars first as `label: value`, then the structured members as JSON. */
	const char *key;
	json_t *v;
	json_object_foreach(out, key, v)
	{
		if (json_is_object(v) || json_is_array(v))
			continue;
		char b[512];
		cli_print_field(key, cli_str(out, key, "-", b, sizeof(b)));
	}
	json_t *versions = json_object_get(out, "versions");
	if (json_is_array(versions)) {
		static const char *const hdr[] = {"VERSION", "STATUS", "AUTHOR", "APPROVED BY",
						  "CREATED"};
		struct cli_table *t = cli_table_new(5, hdr);
		size_t i;
		json_t *r;
		json_array_foreach(versions, i, r)
		{
			char b[5][256];
			const char *row[] = {cli_str(r, "version", "", b[0], sizeof(b[0])),
					     cli_str(r, "status", "", b[1], sizeof(b[1])),
					     cli_str(r, "author", "", b[2], sizeof(b[2])),
					     cli_str(r, "approved_by", "", b[3], sizeof(b[3])),
					     cli_str(r, "created_at", "", b[4], sizeof(b[4]))};
			cli_table_add(t, row);
		}
		putchar('\n');
		cli_table_print(t, stdout);
	}
	json_object_foreach(out, key, v)
	{
		if (!(json_is_object(v) || (json_is_array(v) && strcmp(key, "versions") != 0)))
			continue;
		char *s = json_dumps(v, JSON_INDENT(2));
		printf("\n%s:\n%s\n", key, s ? s : "");
		free(s);
	}
	json_decref(out);
	return CLI_OK;
}

static void print_diff_value(const char *label, const json_t *v)
{
	if (!v) {
		fputs(label, stdout);
		return;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	printf("%s%s", label, s ? s : "");
	free(s);
}

int cli_cmd_program_diff(struct cli *c)
{
	int from = cli_parse_version(c->args[1]), to = cli_parse_version(c->args[2]);
	if (from < 0 || to < 0)
		return cli_usage(c, "versions must be positive numbers");
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_program_diff(c->engine, &c->actor, c->args[0], from, to, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
		json_decref(out);
		return CLI_OK;
	}
	printf("program %s: version %d -> %d\n", c->args[0], from, to);
	json_t *changes = json_object_get(out, "changes");
	if (!json_is_array(changes))
		changes = json_is_array(out) ? out : NULL;
	if (!changes || json_array_size(changes) == 0) {
		if (changes)
			printf("no changes\n");
		else
			cli_print_json(out);
		json_decref(out);
		return CLI_OK;
	}
	size_t i;
	json_t *ch;
	json_array_foreach(changes, i, ch)
	{
		char b[256];
		const char *path = cli_str(ch, "path", "?", b, sizeof(b));
		const char *op = json_string_value(json_object_get(ch, "op"));
		json_t *fv = json_object_get(ch, "from"), *tv = json_object_get(ch, "to");
		if (op && !strcmp(op, "added")) {
			print_diff_value("+ ", NULL);
			printf("%s: ", path);
			print_diff_value("", tv);
		} else if (op && !strcmp(op, "removed")) {
			printf("- %s: ", path);
			print_diff_value("", fv);
		} else {
			printf("~ %s: ", path);
			print_diff_value("", fv);
			print_diff_value(" -> ", tv);
		}
		putchar('\n');
	}
	json_t *econ = json_object_get(out, "changes_economics");
	if (json_is_boolean(econ))
		printf("%s\n", json_is_true(econ)
				   ? "changes payout economics: needs a second admin's approval"
				   : "does not change payout economics");
	json_decref(out);
	return CLI_OK;
}

typedef enum ff_err (*version_fn)(struct engine *, const struct actor *, const char *, int,
				  json_t **, struct ff_diag *);

/* Run `fn` on ID VERSION (the positional arguments) and print its answer; *err and *v
 * say what the engine answered for which version (FF_OK, 0 on a usage error). */
static int version_run(struct cli *c, version_fn fn, enum ff_err *err, int *v)
{
	*err = FF_OK;
	*v = cli_parse_version(c->args[1]);
	if (*v < 0)
		return cli_usage(c, "VERSION must be a positive number, not '%s'", c->args[1]);
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	*err = fn(c->engine, &c->actor, c->args[0], *v, &out, &d);
	return finish(c, *err, &d, out);
}

static int version_action(struct cli *c, version_fn fn)
{
	enum ff_err err;
	int v;
	return version_run(c, fn, &err, &v);
}

int cli_cmd_program_approve(struct cli *c)
{
	enum ff_err err;
	int v;
	int rc = version_run(c, engine_program_approve, &err, &v);
	/* The command line always acts as `cli`: it cannot be the second admin of a version
	 * it loaded itself. Say who can. */
	if (err == FF_E_SAME_AUTHOR)
		fprintf(stderr,
			"fulfill: the command line approves as '%s', the author of this version: "
			"another admin approves it with their API key (POST "
			"/v1/programs/%s/versions/%d/approve, or the console's Programs screen)\n",
			c->actor.label, c->args[0], v);
	return rc;
}

int cli_cmd_program_activate(struct cli *c) { return version_action(c, engine_program_activate); }

int cli_cmd_program_rollback(struct cli *c) { return version_action(c, engine_program_rollback); }
