/*
 * settings.c - the settings layer of the CLI: one table, three sources.
 *
 * Every setting has a name (config file key), an environment variable FULFILL_<NAME>
 * and, unless it is a secret, a command-line flag. The effective value is the first
 * one found in: flag, environment, config file (--config FILE / FULFILL_CONFIG,
 * `key = value` lines, # comments), built-in default. `fulfill config show` prints the
 * result with its source (secrets masked); docs/configuration.md and etc/fulfill.conf
 * describe the same table.
 */
#include "cli/cli.h"
#include "fulfill/http_client.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fulfill/log.h"

const struct cli_setting cli_settings_table[SET__COUNT] = {
    [SET_CONFIG] = {"config", "FULFILL_CONFIG", "--config", NULL, false, false, "FILE",
		    "configuration file of `key = value` lines (read only from the flag or the "
		    "environment)"},
    [SET_DB] = {"db", "FULFILL_DB", "--db", "sqlite:fulfill.db", false, false, "URL",
		"database: sqlite:PATH, a bare PATH (SQLite) or postgres://..."},
    [SET_MASTER_KEY] = {"master_key", "FULFILL_MASTER_KEY", NULL, NULL, true, false, "HEX",
			"PII encryption key, 64 hex digits (never a flag: argv is visible to "
			"other users)"},
    [SET_MASTER_KEY_FILE] = {"master_key_file", "FULFILL_MASTER_KEY_FILE", "--master-key-file",
			     NULL, false, false, "FILE",
			     "file holding the PII key (64 hex digits); default for SQLite: "
			     "PATH.key beside the database, created on first use"},
    [SET_MASTER_KEY_PREVIOUS] = {"master_key_previous", "FULFILL_MASTER_KEY_PREVIOUS", NULL, NULL,
				 true, false, "HEX",
				 "the previous PII key while a `keys rotate-master` is rolled "
				 "out: rows sealed with it stay readable"},
    [SET_LISTEN] = {"listen", "FULFILL_LISTEN", "--listen", "127.0.0.1:8080", false, false,
		    "HOST:PORT", "address of the HTTP server (serve, demo)"},
    [SET_NO_WORKER] = {"no_worker", "FULFILL_NO_WORKER", "--no-worker", "false", false, true, NULL,
		       "serve: do not run the background worker in the server process"},
    [SET_WEBHOOK_ALLOW_HOSTS] = {"webhook_allow_hosts", "FULFILL_WEBHOOK_ALLOW_HOSTS",
				 "--webhook-allow-hosts", "", false, false, "H,...",
				 "hosts that webhook and connector URLs may use even though "
				 "they resolve to loopback, private or link-local addresses"},
    [SET_HTTP_MAX_BODY] = {"http_max_body", "FULFILL_HTTP_MAX_BODY", "--http-max-body", "10485760",
			   false, false, "BYTES",
			   "largest HTTP request body accepted (413 beyond)"},
    [SET_SQLITE_CHECKPOINT_PAGES] = {"sqlite_checkpoint_pages", "FULFILL_SQLITE_CHECKPOINT_PAGES",
				     "--sqlite-checkpoint-pages", "25000", false, false, "PAGES",
				     "SQLite, serve: WAL pages (4 KiB) after which the background "
				     "thread checkpoints; the WAL stays under about twice that"},
    [SET_HTTP_THREADS] = {"http_threads", "FULFILL_HTTP_THREADS", "--http-threads", "4", false,
			  false, "N",
			  "HTTP worker threads (each with its own database connection)"},
    [SET_HTTP_RATE] = {"http_rate", "FULFILL_HTTP_RATE", "--http-rate", "1000", false, false, "N",
		       "requests per second per API key (token refill rate; 0 disables "
		       "rate limiting)"},
    [SET_HTTP_BURST] = {"http_burst", "FULFILL_HTTP_BURST", "--http-burst", "2000", false, false,
			"N", "requests an API key may burst above its rate"},
    [SET_HTTP_TIMEOUT] = {"http_timeout", "FULFILL_HTTP_TIMEOUT", "--http-timeout", "30", false,
			  false, "SECONDS", "how long an idle or slow connection may live"},
    [SET_HTTP_REQUEST_TIMEOUT] = {"http_request_timeout", "FULFILL_HTTP_REQUEST_TIMEOUT",
				  "--http-request-timeout", "120", false, false, "SECONDS",
				  "how long a request's body may take to arrive in all (the "
				  "connection is closed beyond: a client that trickles it)"},
    [SET_HTTP_MAX_CONNECTIONS] = {"http_max_connections", "FULFILL_HTTP_MAX_CONNECTIONS",
				  "--http-max-connections", "1000", false, false, "N",
				  "open HTTP connections at most (more are refused)"},
    [SET_HTTP_MAX_CONNECTIONS_PER_IP] = {"http_max_connections_per_ip",
					 "FULFILL_HTTP_MAX_CONNECTIONS_PER_IP",
					 "--http-max-connections-per-ip", "0", false, false, "N",
					 "open HTTP connections from one client address at most "
					 "(0: no limit; behind a proxy every client has its address)"},
    [SET_HTTP_GROUP_COMMIT] = {"http_group_commit", "FULFILL_HTTP_GROUP_COMMIT",
			       "--http-group-commit", "1", false, false, "0|1",
			       "single events commit together (1); 0: one transaction and "
			       "fsync per request, for comparison (bench/)"},
    [SET_WEB_ROOT] = {"web_root", "FULFILL_WEB_ROOT", "--web-root", "web", false, false, "DIR",
		      "directory holding the console/ and portal/ static files (installed: "
		      "PREFIX/share/fulfill/web)"},
    [SET_WORKER_INTERVAL] = {"worker_interval", "FULFILL_WORKER_INTERVAL", "--worker-interval", "1",
			     false, false, "SECONDS",
			     "pause between worker passes (worker, serve)"},
    [SET_LOG_LEVEL] = {"log_level", "FULFILL_LOG_LEVEL", "--log-level", "info", false, false,
		       "LEVEL",
		       "least severe log level written to stderr: debug, info, "
		       "warn, error"},
    [SET_DEMO_DB] = {"demo_db", "FULFILL_DEMO_DB", "--demo-db", "fulfill-demo.db", false, false,
		     "PATH", "SQLite file that `fulfill demo` deletes and re-creates"},
};

int cli_setting_by_flag(const char *flag, size_t len)
{
	for (int i = 0; i < SET__COUNT; i++) {
		const char *f = cli_settings_table[i].flag;
		if (f && strlen(f) == len && memcmp(f, flag, len) == 0)
			return i;
	}
	return -1;
}

int cli_setting_by_name(const char *name)
{
	char norm[64];
	size_t n = strlen(name);
	if (n >= sizeof(norm))
		return -1;
	for (size_t i = 0; i <= n; i++)
		norm[i] =
		    name[i] == '-' ? '_' : (char)(unsigned char)tolower((unsigned char)name[i]);
	for (int i = 0; i < SET__COUNT; i++)
		if (strcmp(cli_settings_table[i].name, norm) == 0)
			return i;
	return -1;
}

const char *cli_source_name(enum cli_source src)
{
	switch (src) {
	case SRC_FLAG:
		return "flag";
	case SRC_ENV:
		return "env";
	case SRC_FILE:
		return "file";
	case SRC_DEFAULT:
		break;
	}
	return "default";
}

static void set_value(struct cli_settings *s, int id, const char *v, enum cli_source src)
{
	free(s->value[id]);
	s->value[id] = v ? ff_strdup(v) : NULL;
	s->source[id] = src;
}

static char *trim(char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	char *end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return p;
}

/* Read `path` and apply each `key = value` line whose setting has no value from a
 * higher source yet (the caller applies the file first, then env and flags on top). */
static int load_file(struct cli_settings *s, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return cli_fail("cannot read config file %s: %s", path, strerror(errno));
	char line[4096];
	int lineno = 0, rc = CLI_OK;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			fprintf(stderr, "fulfill: %s:%d: line too long\n", path, lineno);
			rc = CLI_USAGE;
			break;
		}
		char *p = trim(line);
		if (lineno == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
		    (unsigned char)p[2] == 0xBF)
			p = trim(p + 3);
		if (*p == '\0' || *p == '#')
			continue;
		char *eq = strchr(p, '=');
		if (!eq) {
			fprintf(stderr, "fulfill: %s:%d: expected `key = value`\n", path, lineno);
			rc = CLI_USAGE;
			break;
		}
		*eq = '\0';
		char *key = trim(p), *val = trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && ((val[0] == '"' && val[vl - 1] == '"') ||
				(val[0] == '\'' && val[vl - 1] == '\''))) {
			val[vl - 1] = '\0';
			val++;
		}
		int id = cli_setting_by_name(key);
		if (id < 0) {
			fprintf(stderr, "fulfill: %s:%d: unknown setting '%s'\n", path, lineno,
				key);
			rc = CLI_USAGE;
			break;
		}
		if (id == SET_CONFIG) {
			fprintf(stderr, "fulfill: %s:%d: 'config' cannot be set in a config file\n",
				path, lineno);
			rc = CLI_USAGE;
			break;
		}
		set_value(s, id, val, SRC_FILE);
	}
	if (rc == CLI_OK && ferror(f))
		rc = cli_fail("cannot read config file %s: %s", path, strerror(errno));
	fclose(f);
	return rc;
}

int cli_settings_resolve(struct cli_settings *s)
{
	for (int i = 0; i < SET__COUNT; i++)
		set_value(s, i, cli_settings_table[i].def, SRC_DEFAULT);

	/* The config file's own location: flag, then environment. */
	const char *cfg = s->flag_value[SET_CONFIG];
	enum cli_source cfg_src = SRC_FLAG;
	if (!cfg) {
		cfg = getenv("FULFILL_CONFIG");
		cfg_src = SRC_ENV;
	}
	if (cfg && *cfg) {
		set_value(s, SET_CONFIG, cfg, cfg_src);
		int rc = load_file(s, cfg);
		if (rc != CLI_OK)
			return rc;
	}
	for (int i = 0; i < SET__COUNT; i++) {
		if (i == SET_CONFIG)
			continue;
		const char *v = getenv(cli_settings_table[i].env);
		if (v && *v)
			set_value(s, i, v, SRC_ENV);
		if (s->flag_value[i])
			set_value(s, i, s->flag_value[i], SRC_FLAG);
	}
	/* A boolean is one of the words below: a typo (no_worker = ture) must not quietly
	 * mean false. */
	static const char *const bool_words[] = {"1", "true", "yes", "on", "0", "false", "no", "off", ""};
	for (int i = 0; i < SET__COUNT; i++) {
		const char *v = s->value[i];
		if (!cli_settings_table[i].boolean || !v)
			continue;
		bool known = false;
		for (size_t k = 0; k < sizeof(bool_words) / sizeof(bool_words[0]); k++)
			known = known || !strcasecmp(v, bool_words[k]);
		if (!known) {
			fprintf(stderr,
				"fulfill: %s (from %s) must be true or false (1, yes, on / 0, no, off), "
				"not '%s'\n",
				cli_settings_table[i].name, cli_source_name(s->source[i]), v);
			return CLI_USAGE;
		}
	}
	if (s->value[SET_LOG_LEVEL]) {
		const char *lv = s->value[SET_LOG_LEVEL];
		if (strcmp(lv, "debug") != 0 && strcmp(lv, "info") != 0 &&
		    strcmp(lv, "warn") != 0 && strcmp(lv, "error") != 0) {
			fprintf(stderr,
				"fulfill: log_level must be debug, info, warn or error, not '%s'\n",
				lv);
			return CLI_USAGE;
		}
	}
	return CLI_OK;
}

void cli_settings_release(struct cli_settings *s)
{
	for (int i = 0; i < SET__COUNT; i++) {
		free(s->value[i]);
		s->value[i] = NULL;
	}
}

bool cli_setting_true(const struct cli_settings *s, enum cli_setting_id id)
{
	const char *v = s->value[id];
	return v && (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
		     !strcasecmp(v, "on"));
}

static int parse_size(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return -1;
	*out = v;
	return 0;
}

int cli_engine_config(const struct cli_settings *s, const char *db_override,
		      struct engine_config *out)
{
	engine_config_init(out);
	const char *db = db_override ? db_override : s->value[SET_DB];
	if (!db || !*db)
		return cli_fail("no database: set --db, FULFILL_DB or db in the config file");
	if (strlen(db) >= sizeof(out->db_url))
		return cli_fail("database URL too long");
	snprintf(out->db_url, sizeof(out->db_url), "%s", db);

	const char *hosts = s->value[SET_WEBHOOK_ALLOW_HOSTS];
	if (hosts) {
		if (strlen(hosts) >= sizeof(out->webhook_allow_hosts))
			return cli_fail("webhook_allow_hosts too long");
		snprintf(out->webhook_allow_hosts, sizeof(out->webhook_allow_hosts), "%s", hosts);
	}
	if (s->value[SET_HTTP_MAX_BODY] &&
	    parse_size(s->value[SET_HTTP_MAX_BODY], &out->max_body) != 0) {
		fprintf(stderr,
			"fulfill: http_max_body must be a positive number of bytes, not '%s'\n",
			s->value[SET_HTTP_MAX_BODY]);
		return CLI_USAGE;
	}

	const char *ckpt = s->value[SET_SQLITE_CHECKPOINT_PAGES];
	if (ckpt) {
		char *end;
		errno = 0;
		long v = strtol(ckpt, &end, 10);
		if (errno || end == ckpt || *end || v < 100 || v > 1000000) {
			fprintf(stderr, "fulfill: sqlite_checkpoint_pages must be a number of pages from 100 to "
					"1000000, not '%s'\n",
				ckpt);
			return CLI_USAGE;
		}
		out->checkpoint_pages = (int)v;
	}

	/* The engine reads the previous key (key rotation) from the environment itself. */
	const char *prev = s->value[SET_MASTER_KEY_PREVIOUS];
	if (prev && *prev && s->source[SET_MASTER_KEY_PREVIOUS] == SRC_FILE)
		setenv("FULFILL_MASTER_KEY_PREVIOUS", prev, 1);

	/* The key: whichever of master_key and master_key_file has the higher source. A
	 * key file given on the command line beats FULFILL_MASTER_KEY in the environment,
	 * so hide the variable from engine_config_load_key, which reads it first. */
	const char *key = s->value[SET_MASTER_KEY];
	const char *key_file = s->value[SET_MASTER_KEY_FILE];
	bool use_key = key && *key &&
		       (!key_file || s->source[SET_MASTER_KEY] >= s->source[SET_MASTER_KEY_FILE]);
	if (use_key) {
		if (crypto_master_key_parse(key, out->master_key) != 0) {
			fprintf(stderr, "fulfill: master_key (from %s) must be 64 hex digits\n",
				cli_source_name(s->source[SET_MASTER_KEY]));
			return CLI_FAIL;
		}
		out->has_master_key = true;
		return CLI_OK;
	}
	if (key_file)
		unsetenv("FULFILL_MASTER_KEY");
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_config_load_key(out, key_file, &d);
	if (err)
		return cli_fail_engine(err, &d);
	return CLI_OK;
}

int cli_cmd_config_show(struct cli *c)
{
	struct cli_settings *s = &c->settings;
	json_t *arr = c->json ? json_array() : NULL;
	static const char *const hdr[] = {"SETTING", "VALUE", "SOURCE", "ENV"};
	struct cli_table *t = c->json ? NULL : cli_table_new(4, hdr);
	for (int i = 0; i < SET__COUNT; i++) {
		const struct cli_setting *st = &cli_settings_table[i];
		char shown[1200];
		const char *v = s->value[i];
		if (!v)
			snprintf(shown, sizeof(shown), "%s", c->json ? "" : "(unset)");
		else if (st->secret)
			snprintf(shown, sizeof(shown), "%s", *v ? "********" : "");
		else if (i == SET_DB)
			url_mask_secrets(v, shown, sizeof(shown));
		else
			snprintf(shown, sizeof(shown), "%s", v);
		if (arr) {
			json_array_append_new(
			    arr, json_pack("{s:s, s:o, s:s, s:s, s:o, s:b}", "name", st->name,
					   "value", v ? json_string(shown) : json_null(), "source",
					   cli_source_name(s->source[i]), "env", st->env, "flag",
					   st->flag ? json_string(st->flag) : json_null(), "secret",
					   st->secret));
		} else {
			const char *row[] = {st->name, shown, cli_source_name(s->source[i]),
					     st->env};
			cli_table_add(t, row);
		}
	}
	if (arr) {
		cli_print_json(arr);
		json_decref(arr);
	} else {
		cli_table_print(t, stdout);
	}
	return CLI_OK;
}
