/*
 * cli.h - private interface of the `fulfill` command-line tool (src/cli/).
 *
 * main.c holds the command table and the argument parser; each other file in this
 * directory implements one family of subcommands (keys, program, ingest, rewards, ...)
 * as `int cli_cmd_<family>_<name>(struct cli *c)` functions that parse nothing
 * themselves: main.c has already split argv into positional arguments and options,
 * resolved the settings (settings.c) and, for commands that need one, opened the engine.
 * A command calls one engine.h function, renders the result (a table or, with --json,
 * the engine's JSON) on stdout, and returns the process exit code: CLI_OK, CLI_FAIL or
 * CLI_USAGE. Chatter and errors go to stderr.
 *
 * Every exported name here starts with `cli_` because these objects are linked into
 * build/libfulfill.a next to the rest of fulfill.
 */
#ifndef FULFILL_CLI_H
#define FULFILL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fulfill/engine.h"
#include "fulfill/error.h"

/* Exit codes (STYLE.md). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* ---- settings (settings.c): one table, three sources ---- */

/* Indices into the settings table. Keep in the same order as cli_settings_table[]. */
enum cli_setting_id {
	SET_CONFIG,
	SET_DB,
	SET_MASTER_KEY,
	SET_MASTER_KEY_FILE,
	SET_MASTER_KEY_PREVIOUS,
	SET_LISTEN,
	SET_NO_WORKER,
	SET_WEBHOOK_ALLOW_HOSTS,
	SET_HTTP_MAX_BODY,
	SET_SQLITE_CHECKPOINT_PAGES,
	SET_HTTP_THREADS,
	SET_HTTP_RATE,
	SET_HTTP_BURST,
	SET_HTTP_TIMEOUT,
	SET_HTTP_REQUEST_TIMEOUT,
	SET_HTTP_MAX_CONNECTIONS,
	SET_HTTP_MAX_CONNECTIONS_PER_IP,
	SET_HTTP_GROUP_COMMIT,
	SET_WEB_ROOT,
	SET_WORKER_INTERVAL,
	SET_LOG_LEVEL,
	SET_DEMO_DB,
	SET__COUNT
};

/* Where a setting's effective value came from, in rising precedence. */
enum cli_source { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG };

struct cli_setting {
	const char *name;	 /* key in the config file: "db" */
	const char *env;	 /* environment variable: "FULFILL_DB" */
	const char *flag;	 /* command-line flag "--db", or NULL (secrets: never on argv) */
	const char *def;	 /* default value, NULL when unset by default */
	bool secret;		 /* masked by `config show` */
	bool boolean;		 /* the flag takes no argument and means "true" */
	const char *metavar;	 /* argument name in help texts: "URL" */
	const char *description; /* one line, for help, `config show` and docs */
};

extern const struct cli_setting cli_settings_table[SET__COUNT];

/* Effective settings: value (owned, may be NULL) and source per setting. */
struct cli_settings {
	char *value[SET__COUNT];
	enum cli_source source[SET__COUNT];
	char *flag_value[SET__COUNT]; /* set by the argument parser before cli_settings_resolve */
};

/* Find a setting by its flag ("--db"); -1 when none. */
int cli_setting_by_flag(const char *flag, size_t len);
/* Find a setting by its config-file name ("db", "master-key-file"); -1 when none. */
int cli_setting_by_name(const char *name);

/* Resolve every setting: flag > env > config file > default. The config file is the
 * one named by --config / FULFILL_CONFIG (none by default). Prints the reason on stderr
 * and returns CLI_FAIL (file unreadable) or CLI_USAGE (bad line) on error. */
int cli_settings_resolve(struct cli_settings *s);
void cli_settings_release(struct cli_settings *s);
/* true for "1", "true", "yes", "on" (any case). */
bool cli_setting_true(const struct cli_settings *s, enum cli_setting_id id);
const char *cli_source_name(enum cli_source src);


/* Fill an engine config from the settings: db, webhook hosts, max body, master key
 * (FULFILL_MASTER_KEY / master_key / --master-key-file, or the SQLite PATH.key file via
 * engine_config_load_key). `db_override` replaces the db setting when non-NULL.
 * Prints the reason and returns CLI_FAIL/CLI_USAGE on error. */
int cli_engine_config(const struct cli_settings *s, const char *db_override,
		      struct engine_config *out);

/* ---- command-line options ---- */

/* Every command-specific option of every command. */
enum cli_opt_id {
	OPT_ROLE,
	OPT_NAME,
	OPT_PARTICIPANT,
	OPT_FULFILLER,
	OPT_ONCE,
	OPT_NOW,
	OPT_ACTIVATE,
	OPT_VERSION,
	OPT_FORMAT,
	OPT_STATUS,
	OPT_PROGRAM,
	OPT_COUNTRY,
	OPT_LIMIT,
	OPT_STARTING_AFTER,
	OPT_REASON,
	OPT_REASON_FILTER, /* --reason on rewards list: a filter, not a note */
	OPT_BATCH,
	OPT_FROM,
	OPT_TO,
	OPT_GROUP,
	OPT_CURRENCY,
	OPT_UNTIL,
	OPT_CONNECTOR,
	OPT_REFERENCE,
	OPT_YEAR,
	OPT_CSV,
	OPT_NOTE,
	OPT_NEW_KEY_FILE,
	OPT_TYPE,
	OPT_CONFIG_JSON, /* --config of `connectors set`: shadows the global --config there */
	OPT_CONFIG_FILE,
	OPT_EVENTS,
	OPT_DESCRIPTION,
	OPT__COUNT
};

struct cli;

struct cli_command {
	const char *name;    /* "rewards list" (family and subcommand) */
	const char *args;    /* positional synopsis: "ID" */
	const char *summary; /* one line */
	const char *help;    /* paragraphs after the synopsis, may be NULL */
	const int *opts;     /* enum cli_opt_id list, terminated by -1 */
	int min_args, max_args;
	int (*run)(struct cli *c);
};

/* One invocation. */
struct cli {
	const struct cli_command *cmd;
	struct cli_settings settings;
	const char *opt[OPT__COUNT]; /* option values ("1" for flags), NULL when absent */
	char **args;		     /* positional arguments after the command words */
	int nargs;
	bool json; /* --json */
	struct engine_config cfg;
	struct engine *engine; /* open when the command needs the database */
	struct actor actor;    /* the local operator (actor_cli) */
};

/* ---- output helpers (output.c) ---- */

/* Print `v` as indented JSON on stdout with a final newline. Does not steal `v`. */
void cli_print_json(const json_t *v);
/* "fulfill: <code>: <message> (param)" on stderr; returns CLI_FAIL. */
int cli_fail_engine(enum ff_err err, const struct ff_diag *d);
/* "fulfill: <message>" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "fulfill: <message>" plus a pointer to --help on stderr; returns CLI_USAGE. */
int cli_usage(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* String value of member `key` of object `o`: strings as is, integers/reals/booleans
 * formatted, null or missing as `dflt`. The returned pointer stays valid until the
 * next call with the same `buf`. */
const char *cli_str(const json_t *o, const char *key, const char *dflt, char *buf, size_t n);
/* "20.00 USD" for members amount+currency of `o` ("" when there is no amount). */
const char *cli_money(const json_t *o, char *buf, size_t n);
/* Format an integer money amount of `currency` with its code: "20.00 USD". */
const char *cli_money_amount(int64_t amount, const char *currency, char *buf, size_t n);

/* An aligned text table: add headers, then rows of strings (copied), then print. */
struct cli_table;
struct cli_table *cli_table_new(int ncols, const char *const *headers);
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Print to `f` with two spaces between columns; frees the table. */
void cli_table_print(struct cli_table *t, FILE *f);
/* A "key: value" block: print label-aligned lines. */
void cli_print_field(const char *label, const char *value);

/* Parse a --limit value (1..1000) into p->limit; CLI_USAGE on junk. */
int cli_page_from_opts(const struct cli *c, struct page *p);
/* Parse a positive int positional (a program version); -1 on junk. */
int cli_parse_version(const char *s);

/* Renders an engine result as text on stdout for people (the --json case is handled
 * by the caller). Does not free `out`. */
typedef void cli_render_fn(const struct cli *c, const json_t *out);
/* Engine calls of the two common shapes: a page of a list, and one object by ID. */
typedef enum ff_err cli_list_fn(struct engine *e, const struct actor *a, const struct page *p,
				json_t **out, struct ff_diag *d);
typedef enum ff_err cli_by_id_fn(struct engine *e, const struct actor *a, const char *id,
				 json_t **out, struct ff_diag *d);

/* The end of most commands: on `err` print it (cli_fail_engine) and return CLI_FAIL;
 * otherwise print `out` as JSON with --json or through `render`, free `out` and return
 * CLI_OK. */
int cli_finish(struct cli *c, enum ff_err err, const struct ff_diag *d, json_t *out,
	       cli_render_fn *render);
/* cli_finish for a page of a list: when `more_hint` is non-NULL and the text output has
 * more pages, it is printed as a line on stderr after the table. */
int cli_finish_list(struct cli *c, enum ff_err err, const struct ff_diag *d, json_t *out,
		    cli_render_fn *render, const char *more_hint);
/* A paged list command: --limit / --starting-after into a page, `list`, then
 * cli_finish_list. */
int cli_run_list(struct cli *c, cli_list_fn *list, cli_render_fn *render, const char *more_hint);
/* A command on one object: `fn` with the first positional argument as the ID, then
 * cli_finish. */
int cli_run_by_id(struct cli *c, cli_by_id_fn *fn, cli_render_fn *render);

/* ---- commands, one function each (defined in the family files) ---- */
int cli_cmd_serve(struct cli *c);
int cli_cmd_demo(struct cli *c);
int cli_cmd_worker(struct cli *c);
int cli_cmd_keys_create(struct cli *c);
int cli_cmd_keys_revoke(struct cli *c);
int cli_cmd_program_load(struct cli *c);
int cli_cmd_program_list(struct cli *c);
int cli_cmd_program_show(struct cli *c);
int cli_cmd_program_diff(struct cli *c);
int cli_cmd_program_approve(struct cli *c);
int cli_cmd_program_activate(struct cli *c);
int cli_cmd_program_rollback(struct cli *c);
int cli_cmd_ingest(struct cli *c);
int cli_cmd_explain(struct cli *c);
int cli_cmd_rewards_list(struct cli *c);
int cli_cmd_rewards_show(struct cli *c);
int cli_cmd_rewards_approve(struct cli *c);
int cli_cmd_rewards_reject(struct cli *c);
int cli_cmd_rewards_retry(struct cli *c);
int cli_cmd_rewards_cancel(struct cli *c);
int cli_cmd_review_list(struct cli *c);
int cli_cmd_review_approve(struct cli *c);
int cli_cmd_review_reject(struct cli *c);
int cli_cmd_participants_list(struct cli *c);
int cli_cmd_participants_show(struct cli *c);
int cli_cmd_redeem(struct cli *c);
int cli_cmd_report_participants(struct cli *c);
int cli_cmd_audit_verify(struct cli *c);
int cli_cmd_audit_list(struct cli *c);
int cli_cmd_migrate(struct cli *c);
int cli_cmd_config_show(struct cli *c);
int cli_cmd_program_simulate(struct cli *c);
int cli_cmd_batch_create(struct cli *c);
int cli_cmd_batch_list(struct cli *c);
int cli_cmd_batch_show(struct cli *c);
int cli_cmd_batch_export(struct cli *c);
int cli_cmd_batch_close(struct cli *c);
int cli_cmd_batch_fulfill(struct cli *c);
int cli_cmd_batch_reconcile(struct cli *c);
int cli_cmd_codes_upload(struct cli *c);
int cli_cmd_codes_show(struct cli *c);
int cli_cmd_codes_list(struct cli *c);
int cli_cmd_report_payouts(struct cli *c);
int cli_cmd_report_aging(struct cli *c);
int cli_cmd_report_tax(struct cli *c);
int cli_cmd_report_kpis(struct cli *c);
int cli_cmd_report_credit_status(struct cli *c);
int cli_cmd_participants_tax_form(struct cli *c);
int cli_cmd_blocklist_add(struct cli *c);
int cli_cmd_blocklist_remove(struct cli *c);
int cli_cmd_blocklist_list(struct cli *c);
int cli_cmd_keys_rotate_master(struct cli *c);
int cli_cmd_connectors_set(struct cli *c);
int cli_cmd_connectors_list(struct cli *c);
int cli_cmd_connectors_show(struct cli *c);
int cli_cmd_connectors_delete(struct cli *c);
int cli_cmd_webhooks_create(struct cli *c);
int cli_cmd_webhooks_list(struct cli *c);
int cli_cmd_webhooks_show(struct cli *c);
int cli_cmd_webhooks_delete(struct cli *c);
int cli_cmd_webhooks_deliveries(struct cli *c);

/* ---- shared pieces used by more than one family ---- */

/* Stream-ingest an opened NDJSON or CSV file into the engine (ingest.c). `name` is for
 * messages. Counts go to *out_counts = {accepted, duplicate, rejected}. `quiet`
 * suppresses per-line errors and the progress bar. Returns CLI_OK or CLI_FAIL
 * (read error / database failure). */
enum cli_ingest_format { CLI_FORMAT_NDJSON, CLI_FORMAT_CSV };
int cli_ingest_stream(struct engine *e, const struct actor *a, FILE *f, const char *name,
		      enum cli_ingest_format fmt, bool quiet, long long out_counts[3]);

/* Load one program document file (program.c); prints errors. */
int cli_program_load_file(struct engine *e, const struct actor *a, const char *path, bool activate,
			  json_t **out);

/* Print a report object ({"columns", "data"}) as a table, or with --json as JSON, or
 * with --csv through engine_report_csv (finance.c). Takes ownership of `report`. */
int cli_print_report(struct cli *c, json_t *report);

/* The worker pass counts as one line "released N, fulfilled N, ..." on `f`. */
void cli_print_worker_counts(FILE *f, const json_t *counts);

#endif
