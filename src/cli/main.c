/*
 * main.c - entry point of `fulfill`: the command table, argument parsing and help.
 *
 * `fulfill [global options] <command> [subcommand] [options] [args]`. Global options
 * (every setting's flag, --config, --json, --help) are accepted anywhere on the line;
 * each command declares its own options and how many positional arguments it takes.
 * main() resolves the settings (settings.c), opens the engine when the command needs
 * one, runs the command and returns its exit code: 0 ok, 1 failure, 2 usage error.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "fulfill/alloc.h"
#include "fulfill/crypto.h"
#include "fulfill/log.h"

#define FULFILL_VERSION "0.1.0"

enum need { NEED_NOTHING, NEED_CONFIG, NEED_ENGINE };

struct opt_spec {
	const char *flag;
	const char *metavar; /* NULL: a flag without argument */
	const char *help;
};

static const struct opt_spec opt_specs[OPT__COUNT] = {
    [OPT_ROLE] = {"--role", "ROLE",
		  "admin, operator, finance, auditor, ingest, fulfiller or partner"},
    [OPT_NAME] = {"--name", "NAME", "a label for the key (who or what uses it)"},
    [OPT_PARTICIPANT] = {"--participant", "ID", "a participant id"},
    [OPT_FULFILLER] = {"--fulfiller", "ID", "a fulfiller (distributor, partner) id"},
    [OPT_ONCE] = {"--once", NULL, "run one pass, print its counts and exit"},
    [OPT_NOW] = {"--now", "RFC3339", "run as if the clock said this time (testing, simulation)"},
    [OPT_ACTIVATE] = {"--activate", NULL,
		      "approve and activate the new version as the local operator"},
    [OPT_VERSION] = {"--version", "N", "a version number"},
    [OPT_FORMAT] = {"--format", "FMT", "ndjson or csv (default: from the file name extension)"},
    [OPT_STATUS] = {"--status", "STATUS", "only objects with this status"},
    [OPT_PROGRAM] = {"--program", "ID", "only rewards of this program"},
    [OPT_COUNTRY] = {"--country", "CC", "only participants of this country"},
    [OPT_LIMIT] = {"--limit", "N", "at most N rows (1-1000, default 100)"},
    [OPT_STARTING_AFTER] = {"--starting-after", "ID", "the page after this id"},
    [OPT_REASON] = {"--reason", "TEXT", "why (recorded in the history and the audit log)"},
    [OPT_REASON_FILTER] = {"--reason", "REASON",
			   "only rewards with this reason (outcome_unknown, in_batch, review:SIGNAL, ...)"},
    [OPT_BATCH] = {"--batch", "ID", "only rewards in this batch"},
    [OPT_FROM] = {"--from", "TIME", "start of the window (2026-10-01 or RFC 3339), inclusive"},
    [OPT_TO] = {"--to", "TIME", "end of the window, exclusive (default: now / unbounded)"},
    [OPT_GROUP] = {"--group", "PERIOD", "day, week or month (default month)"},
    [OPT_CURRENCY] = {"--currency", "CUR", "an ISO 4217 currency code"},
    [OPT_UNTIL] = {"--until", "TIME", "only rewards created at or before this time"},
    [OPT_CONNECTOR] = {"--connector", "ID", "connector (default manual)"},
    [OPT_REFERENCE] = {"--reference", "REF", "the fulfiller's reference (e.g. credit memo number)"},
    [OPT_YEAR] = {"--year", "YYYY", "calendar year (default: this year)"},
    [OPT_CSV] = {"--csv", NULL, "print the report as CSV (RFC 4180)"},
    [OPT_NOTE] = {"--note", "TEXT", "why it is listed"},
    [OPT_NEW_KEY_FILE] = {"--new-key-file", "FILE", "file holding the new key (64 hex digits)"},
    [OPT_TYPE] = {"--type", "TYPE", "stripe, recurly, braintree, giftcard, webhook or smtp"},
    [OPT_CONFIG_JSON] = {"--config", "JSON",
			 "the connector's configuration, a JSON object (here --config is not the "
			 "config file: name that with FULFILL_CONFIG)"},
    [OPT_CONFIG_FILE] = {"--config-file", "FILE",
			 "read the configuration JSON object from FILE ('-': stdin)"},
    [OPT_EVENTS] = {"--events", "TYPE,...",
		    "event types to send, comma-separated (default: every event)"},
    [OPT_DESCRIPTION] = {"--description", "TEXT", "what the endpoint is for"},
};

#define OPTS(...)                                                                                  \
	(const int[]) { __VA_ARGS__, -1 }
#define NO_OPTS ((const int[]){-1})

struct command_def {
	struct cli_command cmd;
	enum need need;
};

static const struct command_def commands[] = {
    {{"serve", "[--listen HOST:PORT] [--no-worker] [--webhook-allow-hosts H,...]",
      "run the HTTP API, console and portal (and the worker)",
      "Serves the HTTP API under /v1, the console (/console), the portal (/portal), "
      "/healthz, /readyz and /metrics on --listen (default 127.0.0.1:8080). The worker "
      "runs in the same process unless --no-worker. Webhook and connector URLs that resolve "
      "to loopback, private or link-local addresses are refused unless their host is listed "
      "in --webhook-allow-hosts. Stops on SIGTERM or SIGINT.",
      NO_OPTS, 0, 0, cli_cmd_serve},
     NEED_CONFIG},
    {{"worker", "[--once] [--now RFC3339]", "run due work: holds, fulfillment, webhooks, expiry",
      "Runs a worker pass every second (worker_interval) until SIGTERM or SIGINT: releases "
      "rewards whose hold and schedule are over, fulfills approved rewards through their "
      "connectors, delivers webhooks and expires old rewards. With --once, runs one pass and "
      "prints its counts. Several workers may run at once.",
      OPTS(OPT_ONCE, OPT_NOW), 0, 0, cli_cmd_worker},
     NEED_ENGINE},
    {{"keys create", "--role ROLE [--name N] [--participant P] [--fulfiller F]",
      "create an API key and print it",
      "Prints the new key alone on stdout (it is shown only this once; only its hash is "
      "stored). With --json, prints the whole key object. A partner key is scoped to "
      "--participant, a fulfiller key to --fulfiller.",
      OPTS(OPT_ROLE, OPT_NAME, OPT_PARTICIPANT, OPT_FULFILLER), 0, 0, cli_cmd_keys_create},
     NEED_ENGINE},
    {{"keys revoke", "PREFIX", "revoke an API key by its prefix", NULL, NO_OPTS, 1, 1,
      cli_cmd_keys_revoke},
     NEED_ENGINE},
    {{"keys rotate-master", "--new-key-file FILE", "re-encrypt PII under a new master key",
      "Re-encrypts every sealed e-mail and name and re-hashes every e-mail (participants and "
      "e-mail blocklist entries) under the key in FILE, 500 rows per transaction; an "
      "interrupted rotation resumes when run again. Then point every process at the new key "
      "and keep the old one as FULFILL_MASTER_KEY_PREVIOUS until they have restarted.",
      OPTS(OPT_NEW_KEY_FILE), 0, 0, cli_cmd_keys_rotate_master},
     NEED_ENGINE},
    {{"blocklist add", "KIND VALUE [--note TEXT]", "block an e-mail, domain, ip or device",
      "KIND is email, domain, ip (an address or a CIDR block) or device. Referrals and "
      "rewards that involve a blocked value get the blocklist fraud signal (rejected by "
      "default). E-mails are stored as a keyed hash plus an encrypted copy.",
      OPTS(OPT_NOTE), 2, 2, cli_cmd_blocklist_add},
     NEED_ENGINE},
    {{"blocklist remove", "KIND VALUE", "remove a blocklist entry", NULL, NO_OPTS, 2, 2,
      cli_cmd_blocklist_remove},
     NEED_ENGINE},
    {{"blocklist list", "", "list the blocklist", NULL, NO_OPTS, 0, 0, cli_cmd_blocklist_list},
     NEED_ENGINE},
    {{"program load", "FILE [--activate]", "save a program document as a new version",
      "Reads a program document (JSON, SPEC.md section 3; '-' reads stdin) and saves it as a "
      "new draft version. With --activate the version is approved and activated by the local "
      "operator (the bootstrap path; audited as 'cli', bypassing the two-person rule).",
      OPTS(OPT_ACTIVATE), 1, 1, cli_cmd_program_load},
     NEED_ENGINE},
    {{"program list", "[--limit N] [--starting-after ID]", "list programs", NULL,
      OPTS(OPT_LIMIT, OPT_STARTING_AFTER), 0, 0, cli_cmd_program_list},
     NEED_ENGINE},
    {{"program show", "ID [--version N]", "show a program (or one version of it)", NULL,
      OPTS(OPT_VERSION), 1, 1, cli_cmd_program_show},
     NEED_ENGINE},
    {{"program diff", "ID V1 V2", "show what changed between two versions", NULL, NO_OPTS, 3, 3,
      cli_cmd_program_diff},
     NEED_ENGINE},
    {{"program approve", "ID VERSION", "approve a version (not by its author)",
      "Versions that change payout economics need a second person's approval before they "
      "can be activated.",
      NO_OPTS, 2, 2, cli_cmd_program_approve},
     NEED_ENGINE},
    {{"program activate", "ID VERSION", "make an approved version the active one", NULL, NO_OPTS, 2,
      2, cli_cmd_program_activate},
     NEED_ENGINE},
    {{"program rollback", "ID VERSION", "re-activate an earlier approved version", NULL, NO_OPTS, 2,
      2, cli_cmd_program_rollback},
     NEED_ENGINE},
    {{"ingest", "FILE [--format ndjson|csv]", "ingest events from an NDJSON or CSV file",
      "Streams the file ('-' reads stdin) into the engine in chunks of 500 events, one "
      "transaction per chunk; a bad line fails alone and never stops the "
      "others. Each rejected line is reported on stderr as 'line N: CODE: MESSAGE (PARAM)'. "
      "Lines longer than 16 MiB are rejected as too_large. A progress bar is drawn on stderr "
      "when it is a terminal. The last line on stdout is 'accepted N, duplicate N, rejected "
      "N'. Exit status 0 unless the file cannot be read or the database refuses a whole "
      "chunk (stderr names the first line not stored; ingesting the file again is safe). "
      "Formats: docs/ingest.md.",
      OPTS(OPT_FORMAT), 1, 1, cli_cmd_ingest},
     NEED_ENGINE},
    {{"explain", "ID", "why a reward (or a conversion) came out as it did",
      "ID is a reward id, or a conversion id to see why it earned nothing: the program "
      "version, each eligibility clause with its value and result, the tier, the limits, "
      "fraud signals and the outcome.",
      NO_OPTS, 1, 1, cli_cmd_explain},
     NEED_ENGINE},
    {{"rewards list",
      "[--status S] [--reason R] [--participant P] [--program P] [--batch B] [--limit N] "
      "[--starting-after ID]",
      "list rewards", NULL,
      OPTS(OPT_STATUS, OPT_REASON_FILTER, OPT_PARTICIPANT, OPT_PROGRAM, OPT_BATCH, OPT_LIMIT,
	   OPT_STARTING_AFTER),
      0,
      0, cli_cmd_rewards_list},
     NEED_ENGINE},
    {{"rewards show", "ID", "show a reward and its history", NULL, NO_OPTS, 1, 1,
      cli_cmd_rewards_show},
     NEED_ENGINE},
    {{"rewards approve", "ID [--reason R]", "approve a reward (e.g. one in review)", NULL,
      OPTS(OPT_REASON), 1, 1, cli_cmd_rewards_approve},
     NEED_ENGINE},
    {{"rewards reject", "ID [--reason R]", "reject a reward in review (it is cancelled)", NULL,
      OPTS(OPT_REASON), 1, 1, cli_cmd_rewards_reject},
     NEED_ENGINE},
    {{"rewards retry", "ID [--reason R]", "send a failed reward back to fulfillment", NULL,
      OPTS(OPT_REASON), 1, 1, cli_cmd_rewards_retry},
     NEED_ENGINE},
    {{"rewards cancel", "ID [--reason R]", "cancel a reward that is not fulfilled yet", NULL,
      OPTS(OPT_REASON), 1, 1, cli_cmd_rewards_cancel},
     NEED_ENGINE},
    {{"review list", "[--limit N] [--starting-after ID]", "list rewards waiting for review", NULL,
      OPTS(OPT_LIMIT, OPT_STARTING_AFTER), 0, 0, cli_cmd_review_list},
     NEED_ENGINE},
    {{"review approve", "ID... [--reason R]", "approve rewards in review",
      "Several IDs are decided in one transaction; each gets its own result line, and the exit "
      "status is 1 when any of them failed.",
      OPTS(OPT_REASON), 1, 1000, cli_cmd_review_approve},
     NEED_ENGINE},
    {{"review reject", "ID... [--reason R]", "reject rewards in review (they are cancelled)",
      "Several IDs are decided in one transaction; each gets its own result line, and the exit "
      "status is 1 when any of them failed.",
      OPTS(OPT_REASON), 1, 1000, cli_cmd_review_reject},
     NEED_ENGINE},
    {{"participants list", "[--status S] [--country CC] [--limit N] [--starting-after ID]",
      "list participants", NULL, OPTS(OPT_STATUS, OPT_COUNTRY, OPT_LIMIT, OPT_STARTING_AFTER), 0, 0,
      cli_cmd_participants_list},
     NEED_ENGINE},
    {{"participants show", "ID", "show a participant with stats and balances", NULL, NO_OPTS, 1, 1,
      cli_cmd_participants_show},
     NEED_ENGINE},
    {{"redeem", "PARTICIPANT AMOUNT CURRENCY", "debit a participant's credit balance",
      "AMOUNT is a decimal amount in the currency's main unit (20 or 20.00 is $20.00 for "
      "USD; 1500 is 1500 yen for JPY). Consumes the soonest-expiring credit first; fails "
      "with insufficient_balance when the balance is short, with participant_blocked when the "
      "participant is blocked.",
      NO_OPTS, 3, 3, cli_cmd_redeem},
     NEED_ENGINE},
    {{"report participants", "[--csv]", "per participant: referrals, rewards, amounts", NULL,
      OPTS(OPT_CSV), 0, 0, cli_cmd_report_participants},
     NEED_ENGINE},
    {{"program simulate", "ID VERSION --from TIME [--to TIME]",
      "replay past events against a version and compare payouts",
      "Replays the referral and conversion events that occurred in [--from, --to) against "
      "version VERSION inside a transaction that is rolled back, and reports the rewards it "
      "would have created beside the ones that were created. Nothing changes.",
      OPTS(OPT_FROM, OPT_TO), 2, 2, cli_cmd_program_simulate},
     NEED_ENGINE},
    {{"batch create", "--fulfiller F [--connector C] [--currency CUR] [--until TIME]",
      "roll approved rewards of a fulfiller into a payout batch",
      "Every approved, unbatched reward of the fulfiller (and connector, default manual; "
      "optionally one currency and up to a time) goes into a new open batch; the rewards "
      "keep status approved with reason in_batch.",
      OPTS(OPT_FULFILLER, OPT_CONNECTOR, OPT_CURRENCY, OPT_UNTIL), 0, 0, cli_cmd_batch_create},
     NEED_ENGINE},
    {{"batch list", "[--status S] [--fulfiller F] [--limit N] [--starting-after ID]",
      "list payout batches", NULL, OPTS(OPT_STATUS, OPT_FULFILLER, OPT_LIMIT, OPT_STARTING_AFTER),
      0, 0, cli_cmd_batch_list},
     NEED_ENGINE},
    {{"batch show", "ID", "show a batch, its totals and rewards", NULL, NO_OPTS, 1, 1,
      cli_cmd_batch_show},
     NEED_ENGINE},
    {{"batch export", "ID", "print the batch report as CSV",
      "Header reward_id,participant,type,amount,currency,reference; amounts in minor units.",
      NO_OPTS, 1, 1, cli_cmd_batch_export},
     NEED_ENGINE},
    {{"batch close", "ID", "mark an open batch closed (submitted to the fulfiller)", NULL, NO_OPTS,
      1, 1, cli_cmd_batch_close},
     NEED_ENGINE},
    {{"batch fulfill", "ID --reference REF", "mark a batch and its rewards fulfilled", NULL,
      OPTS(OPT_REFERENCE), 1, 1, cli_cmd_batch_fulfill},
     NEED_ENGINE},
    {{"batch reconcile", "ID FILE", "reconcile a fulfilled batch against a provider report",
      "FILE ('-': stdin) is CSV with the header reward_id,amount,currency,reference. Each "
      "line is matched, amount_mismatch, missing, unexpected or duplicate; when all match "
      "the batch and its rewards become reconciled, otherwise the batch is disputed and "
      "the discrepancies are listed (exit status 1). A disputed batch may be reconciled "
      "again with a corrected report.",
      NO_OPTS, 2, 2, cli_cmd_batch_reconcile},
     NEED_ENGINE},
    {{"codes upload", "POOL FILE", "add codes to a code pool",
      "FILE ('-': stdin) holds one code per line, with an optional header line 'code'. "
      "Creates the pool when missing; rewards waiting with pool_empty resume.",
      NO_OPTS, 2, 2, cli_cmd_codes_upload},
     NEED_ENGINE},
    {{"codes show", "POOL", "a code pool's stock", NULL, NO_OPTS, 1, 1, cli_cmd_codes_show},
     NEED_ENGINE},
    {{"codes list", "[--limit N] [--starting-after POOL]", "the code pools and their stock", NULL,
      OPTS(OPT_LIMIT, OPT_STARTING_AFTER), 0, 0, cli_cmd_codes_list},
     NEED_ENGINE},
    {{"connectors set", "ID --type TYPE (--config JSON | --config-file FILE)",
      "create or replace a connector's configuration",
      "Saves the configuration of connector ID (the name rewards and programs use, or a "
      "type name) for a connector of type TYPE; fields per type: docs/connectors.md. "
      "Secret fields (api_key, private_key, password, ...) are encrypted with the master key "
      "and write-only: every output shows them masked (sk_...1234), and a secret left out "
      "of a later set keeps its stored value. Passing secrets in a file (--config-file, or "
      "'-' for stdin) keeps them out of the shell history and the process list. Saving "
      "closes the connector's circuit breaker and releases the rewards waiting for it. "
      "URLs (base_url, url) resolving to loopback, private or link-local addresses are "
      "refused unless their host is in --webhook-allow-hosts.",
      OPTS(OPT_TYPE, OPT_CONFIG_JSON, OPT_CONFIG_FILE), 1, 1, cli_cmd_connectors_set},
     NEED_ENGINE},
    {{"connectors list", "[--limit N] [--starting-after ID]",
      "the configured connectors and their breakers", NULL, OPTS(OPT_LIMIT, OPT_STARTING_AFTER), 0,
      0, cli_cmd_connectors_list},
     NEED_ENGINE},
    {{"connectors show", "ID", "a connector's configuration (secrets masked) and breaker", NULL,
      NO_OPTS, 1, 1, cli_cmd_connectors_show},
     NEED_ENGINE},
    {{"connectors delete", "ID", "delete a connector's configuration",
      "Rewards routed to it wait with connector_unavailable until it is configured again.",
      NO_OPTS, 1, 1, cli_cmd_connectors_delete},
     NEED_ENGINE},
    {{"webhooks create", "URL [--events TYPE,...] [--description TEXT]",
      "add a webhook endpoint and print its signing secret",
      "Deliveries follow Standard Webhooks (docs/webhooks.md). Event types: reward.created, "
      "reward.approved, reward.fulfilled, reward.failed, reward.cancelled, reward.reversed, "
      "batch.closed, batch.reconciled, code_pool.low, or * for all (the default). The "
      "signing secret (whsec_...) is printed this once; store it now. URLs resolving to "
      "loopback, private or link-local addresses are refused unless their host is in "
      "--webhook-allow-hosts.",
      OPTS(OPT_EVENTS, OPT_DESCRIPTION), 1, 1, cli_cmd_webhooks_create},
     NEED_ENGINE},
    {{"webhooks list", "[--limit N] [--starting-after ID]", "list webhook endpoints", NULL,
      OPTS(OPT_LIMIT, OPT_STARTING_AFTER), 0, 0, cli_cmd_webhooks_list},
     NEED_ENGINE},
    {{"webhooks show", "ID", "a webhook endpoint and its deliveries by status", NULL, NO_OPTS, 1,
      1, cli_cmd_webhooks_show},
     NEED_ENGINE},
    {{"webhooks delete", "ID", "delete a webhook endpoint",
      "Its pending deliveries fail with 'endpoint deleted'.", NO_OPTS, 1, 1,
      cli_cmd_webhooks_delete},
     NEED_ENGINE},
    {{"webhooks deliveries", "ID [--limit N] [--starting-after SEQ]",
      "every delivery attempt to an endpoint, oldest first",
      "One line per attempt: sequence number (for --starting-after), time, event type, "
      "webhook-id, attempt number, HTTP status, duration and error.",
      OPTS(OPT_LIMIT, OPT_STARTING_AFTER), 1, 1, cli_cmd_webhooks_deliveries},
     NEED_ENGINE},
    {{"participants tax-form", "ID FORM", "record a tax form (w9, w8ben or none)",
      "Rewards waiting with reason tax_form_required are released.", NO_OPTS, 2, 2,
      cli_cmd_participants_tax_form},
     NEED_ENGINE},
    {{"report payouts",
      "[--from TIME] [--to TIME] [--group day|week|month] [--currency CUR] [--csv]",
      "expected vs actual payouts per period and currency",
      "Expected: rewards earned in the period (not cancelled, reversed or expired); actual: "
      "rewards paid (fulfilled or reconciled). --currency converts the totals into a "
      "reporting currency with the configured rates.",
      OPTS(OPT_FROM, OPT_TO, OPT_GROUP, OPT_CURRENCY, OPT_CSV), 0, 0, cli_cmd_report_payouts},
     NEED_ENGINE},
    {{"report aging", "[--now TIME] [--csv]", "pending and approved rewards by age", NULL,
      OPTS(OPT_NOW, OPT_CSV), 0, 0, cli_cmd_report_aging},
     NEED_ENGINE},
    {{"report tax", "[--year YYYY] [--csv]", "tax-reportable payouts per participant (1099-style)",
      NULL, OPTS(OPT_YEAR, OPT_CSV), 0, 0, cli_cmd_report_tax},
     NEED_ENGINE},
    {{"report kpis", "[--from TIME] [--to TIME] [--csv]",
      "payout accuracy, cycle time, cost per payout, exceptions", NULL,
      OPTS(OPT_FROM, OPT_TO, OPT_CSV), 0, 0, cli_cmd_report_kpis},
     NEED_ENGINE},
    {{"report credit-status", "[--fulfiller F] [--csv]",
      "per participant and fulfiller: new, in batch, fulfilled, reconciled", NULL,
      OPTS(OPT_FULFILLER, OPT_CSV), 0, 0, cli_cmd_report_credit_status},
     NEED_ENGINE},
    {{"audit verify", "", "check the audit log's hash chain",
      "Recomputes the hash chain of the audit log. Prints 'ok N records' and exits 0 when "
      "it holds; prints the first broken record and exits 1 otherwise.",
      NO_OPTS, 0, 0, cli_cmd_audit_verify},
     NEED_ENGINE},
    {{"audit list", "[--limit N] [--starting-after ID]", "list audit records", NULL,
      OPTS(OPT_LIMIT, OPT_STARTING_AFTER), 0, 0, cli_cmd_audit_list},
     NEED_ENGINE},
    {{"migrate", "", "create or upgrade the database schema",
      "Opens the database, which applies any pending numbered migration, and prints the "
      "schema version. Every other command does the same on open.",
      NO_OPTS, 0, 0, cli_cmd_migrate},
     NEED_ENGINE},
    {{"config show", "", "print the effective settings and where each comes from",
      "Each setting comes from a flag, an environment variable FULFILL_<NAME> or the config "
      "file (--config), in that order of precedence, else its default. Secrets are masked.",
      NO_OPTS, 0, 0, cli_cmd_config_show},
     NEED_NOTHING},
    {{"demo", "[--listen HOST:PORT] [--demo-db PATH]",
      "a fresh demo database with example programs and events, then serve",
      "Deletes and re-creates the SQLite file --demo-db (default fulfill-demo.db in the "
      "current directory; never the --db database), loads examples/programs/*.json, the "
      "codes in examples/give10get10-codes.csv and examples/demo-events.ndjson, runs a worker "
      "pass, prints a summary and an admin key, "
      "and serves the API on --listen (default 127.0.0.1:8080) until interrupted.",
      NO_OPTS, 0, 0, cli_cmd_demo},
     NEED_NOTHING},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* ---- help ---- */

/* Print "  LEFT  text..." with `text` wrapped to 80 columns under itself. */
static void print_option(FILE *f, const char *left, const char *text)
{
	fprintf(f, "  %-28s", left);
	size_t col = 31, n = strlen(left);
	if (n > 28) {
		fprintf(f, "\n%30s", "");
	}
	const char *p = text;
	bool first = true;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t w = strcspn(p, " ");
		if (!w)
			break;
		if (!first && col + 1 + w > 80) {
			fprintf(f, "\n%30s", "");
			col = 31;
		}
		fprintf(f, " %.*s", (int)w, p);
		col += 1 + w;
		first = false;
		p += w;
	}
	fputc('\n', f);
}

/* Settings that only matter to the server (serve, demo) or the worker loop. */
static bool server_setting(int id)
{
	return id == SET_LISTEN || id == SET_NO_WORKER || id == SET_WEBHOOK_ALLOW_HOSTS ||
	       id == SET_HTTP_MAX_BODY || id == SET_SQLITE_CHECKPOINT_PAGES || id == SET_HTTP_THREADS ||
	       id == SET_HTTP_RATE || id == SET_HTTP_BURST || id == SET_HTTP_TIMEOUT ||
	       id == SET_HTTP_REQUEST_TIMEOUT || id == SET_HTTP_MAX_CONNECTIONS ||
	       id == SET_HTTP_MAX_CONNECTIONS_PER_IP || id == SET_HTTP_GROUP_COMMIT ||
	       id == SET_WEB_ROOT || id == SET_WORKER_INTERVAL || id == SET_DEMO_DB;
}

/* Does `cmd` declare an option of its own spelled `flag` (it wins over the setting)? */
static bool command_shadows(const struct cli_command *cmd, const char *flag)
{
	for (const int *o = cmd ? cmd->opts : NO_OPTS; *o >= 0; o++)
		if (!strcmp(opt_specs[*o].flag, flag))
			return true;
	return false;
}

/* The global options; with `cmd`, also the server settings that command uses. */
static void print_global_options(FILE *f, const struct cli_command *cmd)
{
	bool server = cmd && (!strcmp(cmd->name, "serve") || !strcmp(cmd->name, "demo"));
	bool worker = cmd && !strcmp(cmd->name, "worker");
	bool ssrf = cmd && (!strcmp(cmd->name, "connectors set") || !strcmp(cmd->name, "webhooks create"));
	if (ssrf) {
		const struct cli_setting *s = &cli_settings_table[SET_WEBHOOK_ALLOW_HOSTS];
		char left[64], text[512];
		fputs("\nSettings (flag, environment variable, or config file):\n", f);
		snprintf(left, sizeof(left), "%s %s", s->flag, s->metavar ? s->metavar : "");
		snprintf(text, sizeof(text), "%s [%s]", s->description, s->env);
		print_option(f, left, text);
	}
	if (server || worker) {
		fputs("\nSettings (flag, environment variable, or config file):\n", f);
		for (int i = 0; i < SET__COUNT; i++) {
			const struct cli_setting *s = &cli_settings_table[i];
			if (!s->flag || !server_setting(i) ||
			    (worker && i != SET_WORKER_INTERVAL) ||
			    (i == SET_DEMO_DB && strcmp(cmd->name, "demo") != 0))
				continue;
			char left[64], text[512];
			snprintf(left, sizeof(left), "%s%s%s", s->flag, s->metavar ? " " : "",
				 s->metavar ? s->metavar : "");
			snprintf(text, sizeof(text), "%s [%s]", s->description, s->env);
			print_option(f, left, text);
		}
	}
	fputs("\nGlobal options (accepted by every command):\n", f);
	print_option(f, "--json", "print results as JSON (commands that print data)");
	print_option(f, "-h, --help", "show help");
	for (int i = 0; i < SET__COUNT; i++) {
		const struct cli_setting *s = &cli_settings_table[i];
		if (!s->flag || server_setting(i) || command_shadows(cmd, s->flag))
			continue;
		char left[64], text[512];
		snprintf(left, sizeof(left), "%s%s%s", s->flag, s->metavar ? " " : "",
			 s->metavar ? s->metavar : "");
		snprintf(text, sizeof(text), "%s [%s]", s->description, s->env);
		print_option(f, left, text);
	}
	print_option(f, "",
		     "FULFILL_MASTER_KEY: the PII key (64 hex digits), from the environment "
		     "or the config file only. Every setting: 'fulfill config show', fulfill(1).");
}

/* Print `text` wrapped at 78 columns with a two-space indent. */
static void print_wrapped(FILE *f, const char *text)
{
	const char *p = text;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t avail = 76, n = strlen(p);
		if (n <= avail) {
			fprintf(f, "  %s\n", p);
			break;
		}
		size_t cut = avail;
		while (cut > 0 && p[cut] != ' ')
			cut--;
		if (cut == 0)
			cut = avail;
		fprintf(f, "  %.*s\n", (int)cut, p);
		p += cut;
	}
}

static void print_command_help(FILE *f, const struct cli_command *cmd)
{
	fprintf(f, "Usage: fulfill %s%s%s\n\n", cmd->name, cmd->args[0] ? " " : "", cmd->args);
	print_wrapped(f, cmd->summary);
	if (cmd->help) {
		fputc('\n', f);
		print_wrapped(f, cmd->help);
	}
	if (cmd->opts[0] >= 0) {
		fputs("\nOptions:\n", f);
		for (const int *o = cmd->opts; *o >= 0; o++) {
			const struct opt_spec *s = &opt_specs[*o];
			char left[64];
			if (s->metavar)
				snprintf(left, sizeof(left), "%s %s", s->flag, s->metavar);
			else
				snprintf(left, sizeof(left), "%s", s->flag);
			print_option(f, left, s->help);
		}
	}
	print_global_options(f, cmd);
	fputs("\nExit status: 0 ok, 1 failure, 2 usage error. See fulfill(1) and docs/cli.md.\n",
	      f);
}

/* One line of a command list: the synopsis, then the summary in a column of its own;
 * a synopsis too long for the column gets a line to itself, whole. */
static void print_command_line(FILE *f, const char *name, const char *args, const char *summary)
{
	int n = fprintf(f, "  %s %s", name, args);
	if (n > 2 + 44)
		fprintf(f, "\n%*s", 2 + 44, "");
	else
		fprintf(f, "%*s", 2 + 44 - n, "");
	fprintf(f, " %s\n", summary);
}

static void print_family_help(FILE *f, const char *family)
{
	size_t fl = strlen(family);
	fprintf(f, "Usage: fulfill %s <subcommand> [options]\n\nSubcommands:\n", family);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct cli_command *c = &commands[i].cmd;
		if (strncmp(c->name, family, fl) == 0 && c->name[fl] == ' ')
			print_command_line(f, c->name + fl + 1, c->args, c->summary);
	}
	fprintf(f, "\nRun 'fulfill %s <subcommand> --help' for details.\n", family);
}

static void print_main_help(FILE *f)
{
	fputs("Usage: fulfill <command> [options] [args]\n\n"
	      "fulfill turns referral-program events into rewards and delivers each earned\n"
	      "reward exactly once, traceably, and reconciled.\n\nCommands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct cli_command *c = &commands[i].cmd;
		print_command_line(f, c->name, c->args, c->summary);
	}
	print_global_options(f, NULL);
	fputs("\nRun 'fulfill <command> --help' for a command's options. Settings: 'fulfill\n"
	      "config show'. Exit status: 0 ok, 1 failure, 2 usage error.\n",
	      f);
}

/* ---- parsing ---- */

static bool is_family(const char *w)
{
	size_t n = strlen(w);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strncmp(commands[i].cmd.name, w, n) == 0 && commands[i].cmd.name[n] == ' ')
			return true;
	return false;
}

static const struct command_def *find_command(const char *first, const char *second)
{
	char name[128];
	if (second)
		snprintf(name, sizeof(name), "%s %s", first, second);
	else
		snprintf(name, sizeof(name), "%s", first);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].cmd.name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Does argv[i] (a global option) consume the next word? */
static bool global_takes_arg(const char *a)
{
	const char *eq = strchr(a, '=');
	if (eq)
		return false;
	int id = cli_setting_by_flag(a, strlen(a));
	return id >= 0 && !cli_settings_table[id].boolean;
}

/* Does argv word `a` name a command-specific option with an argument (any command)? */
static bool any_opt_takes_arg(const char *a)
{
	if (strchr(a, '='))
		return false;
	for (int i = 0; i < OPT__COUNT; i++)
		if (strcmp(opt_specs[i].flag, a) == 0)
			return opt_specs[i].metavar != NULL;
	return false;
}

int main(int argc, char **argv)
{
	ff_alloc_install(); /* before jansson or SQLite allocate anything */
	struct cli c;
	memset(&c, 0, sizeof(c));
	int rc = CLI_OK;
	bool help = false, version = false;

	/* Pass 1: find the command words (positions) without knowing the command yet. */
	int w1 = -1, w2 = -1, wh = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (a[0] == '-' && a[1]) {
			if (global_takes_arg(a) || any_opt_takes_arg(a))
				i++;
			continue;
		}
		if (w1 < 0) {
			w1 = i;
			if (!is_family(a) && strcmp(a, "help") != 0)
				break;
		} else {
			w2 = i;
			break;
		}
	}

	/* `fulfill help [command words]` is `fulfill [command words] --help`. */
	if (w1 >= 0 && strcmp(argv[w1], "help") == 0) {
		help = true;
		wh = w1;
		w1 = w2;
		w2 = -1;
		if (w1 >= 0 && is_family(argv[w1]) && w1 + 1 < argc && argv[w1 + 1][0] != '-')
			w2 = w1 + 1;
	}

	const struct command_def *def = NULL;
	const char *family = NULL;
	if (w1 >= 0) {
		if (is_family(argv[w1])) {
			family = argv[w1];
			if (w2 >= 0) {
				def = find_command(argv[w1], argv[w2]);
				if (!def) {
					fprintf(stderr, "fulfill: unknown command '%s %s'\n",
						argv[w1], argv[w2]);
					print_family_help(stderr, family);
					return CLI_USAGE;
				}
			}
		} else {
			def = find_command(argv[w1], NULL);
			if (!def) {
				fprintf(stderr,
					"fulfill: unknown command '%s'\nTry 'fulfill --help'.\n",
					argv[w1]);
				return CLI_USAGE;
			}
		}
	}
	if (def)
		c.cmd = &def->cmd;

	/* Pass 2: options and positional arguments, now that the command is known. */
	c.args = ff_calloc((size_t)argc + 1, sizeof(char *));
	bool only_positional = false;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (i == w1 || i == w2 || i == wh)
			continue;
		if (only_positional || a[0] != '-' || a[1] == '\0') {
			c.args[c.nargs++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_positional = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			c.json = true;
			continue;
		}
		if (strcmp(a, "--version") == 0 && !c.cmd) {
			version = true;
			continue;
		}
		if (a[1] != '-') {
			rc = cli_usage(&c, "unknown option '%s'", a);
			goto out;
		}
		const char *eq = strchr(a, '=');
		size_t flen = eq ? (size_t)(eq - a) : strlen(a);
		const char *val = eq ? eq + 1 : NULL;
		bool has_arg;
		int set = -1, opt = -1;
		/* the command's own options first: `connectors set --config JSON` is not the
		 * global --config FILE */
		for (const int *o = c.cmd ? c.cmd->opts : NO_OPTS; *o >= 0; o++)
			if (strlen(opt_specs[*o].flag) == flen &&
			    memcmp(opt_specs[*o].flag, a, flen) == 0)
				opt = *o;
		if (opt < 0)
			set = cli_setting_by_flag(a, flen);
		if (opt >= 0) {
			has_arg = opt_specs[opt].metavar != NULL;
		} else if (set >= 0) {
			has_arg = !cli_settings_table[set].boolean;
		} else {
			rc = cli_usage(&c, "unknown option '%.*s'", (int)flen, a);
			goto out;
		}
		if (!has_arg && val) {
			rc = cli_usage(&c, "option '%.*s' takes no argument", (int)flen, a);
			goto out;
		}
		if (has_arg && !val) {
			if (i + 1 >= argc) {
				rc = cli_usage(&c, "option '%s' needs an argument", a);
				goto out;
			}
			val = argv[++i];
		}
		if (!has_arg)
			val = set >= 0 ? "true" : "1";
		if (set >= 0)
			c.settings.flag_value[set] = (char *)val;
		else
			c.opt[opt] = val;
	}

	if (help) {
		if (c.cmd)
			print_command_help(stdout, c.cmd);
		else if (family)
			print_family_help(stdout, family);
		else
			print_main_help(stdout);
		goto out;
	}
	if (version && !c.cmd && !family) {
		printf("fulfill %s\n", FULFILL_VERSION);
		goto out;
	}
	if (!c.cmd) {
		if (family) {
			fprintf(stderr, "fulfill: '%s' needs a subcommand\n", family);
			print_family_help(stderr, family);
		} else {
			print_main_help(stderr);
		}
		rc = CLI_USAGE;
		goto out;
	}
	if (c.nargs < c.cmd->min_args) {
		rc = cli_usage(&c, "missing argument: fulfill %s %s", c.cmd->name, c.cmd->args);
		goto out;
	}
	if (c.nargs > c.cmd->max_args) {
		rc = cli_usage(&c, "unexpected argument '%s'", c.args[c.cmd->max_args]);
		goto out;
	}

	rc = cli_settings_resolve(&c.settings);
	if (rc != CLI_OK)
		goto out;
	log_set_level(c.settings.value[SET_LOG_LEVEL]);
	if (crypto_init() != 0) {
		rc = cli_fail("cannot initialise libsodium");
		goto out;
	}
	if (def->need >= NEED_CONFIG) {
		rc = cli_engine_config(&c.settings, NULL, &c.cfg);
		if (rc != CLI_OK)
			goto out;
	}
	if (def->need == NEED_ENGINE) {
		struct ff_diag d;
		ff_diag_clear(&d);
		enum ff_err err = engine_open(&c.cfg, &c.engine, &d);
		if (err) {
			rc = cli_fail_engine(err, &d);
			goto out;
		}
		actor_cli(&c.actor);
	}
	rc = c.cmd->run(&c);
	if (fflush(stdout) != 0 && rc == CLI_OK)
		rc = cli_fail("cannot write output");
out:
	if (c.engine)
		engine_close(c.engine);
	cli_settings_release(&c.settings);
	free(c.args);
	return rc;
}
