/*
 * serve.c - `fulfill serve` and `fulfill demo`: the long-running HTTP server
 * (src/http, http_serve()) configured from the settings layer.
 *
 * `demo` builds a throwaway SQLite database (never the --db one), loads the example
 * programs and events from examples/, runs one worker pass so that the rewards are
 * fulfilled, prints what happened and an admin key, then serves it.
 */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fulfill/http.h"

static int parse_int_setting(const struct cli *c, enum cli_setting_id id, int lo, int hi, int *out)
{
	const char *v = c->settings.value[id];
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi) {
		fprintf(stderr, "fulfill: %s must be a number from %d to %d, not '%s'\n",
			cli_settings_table[id].name, lo, hi, v);
		return CLI_USAGE;
	}
	*out = (int)x;
	return CLI_OK;
}

/* http_options from the settings. Settings still at their default leave the server's
 * own defaults (and its FULFILL_HTTP_* environment reading) alone. */
static int http_options_from(const struct cli *c, const struct engine_config *cfg,
			     struct http_options *opt)
{
	http_options_init(opt);
	const struct cli_settings *s = &c->settings;
	opt->listen = s->value[SET_LISTEN];
	opt->run_worker = !cli_setting_true(s, SET_NO_WORKER);
	opt->webhook_allow_hosts = cfg->webhook_allow_hosts;
	opt->max_body = cfg->max_body;
	int rc = CLI_OK;
	if (s->source[SET_HTTP_THREADS] != SRC_DEFAULT)
		rc |= parse_int_setting(c, SET_HTTP_THREADS, 1, 1024, &opt->threads);
	if (s->source[SET_HTTP_RATE] != SRC_DEFAULT)
		rc |= parse_int_setting(c, SET_HTTP_RATE, 0, 100000000, &opt->rate_per_sec);
	if (s->source[SET_HTTP_BURST] != SRC_DEFAULT)
		rc |= parse_int_setting(c, SET_HTTP_BURST, 1, 100000000, &opt->rate_burst);
	if (s->source[SET_HTTP_TIMEOUT] != SRC_DEFAULT)
		rc |= parse_int_setting(c, SET_HTTP_TIMEOUT, 1, 86400, &opt->conn_timeout);
	if (s->source[SET_HTTP_REQUEST_TIMEOUT] != SRC_DEFAULT)
		rc |= parse_int_setting(c, SET_HTTP_REQUEST_TIMEOUT, 1, 86400, &opt->request_timeout);
	if (s->source[SET_HTTP_MAX_CONNECTIONS] != SRC_DEFAULT)
		rc |= parse_int_setting(c, SET_HTTP_MAX_CONNECTIONS, 1, 1000000, &opt->max_connections);
	if (s->source[SET_HTTP_MAX_CONNECTIONS_PER_IP] != SRC_DEFAULT)
		rc |= parse_int_setting(c, SET_HTTP_MAX_CONNECTIONS_PER_IP, 0, 1000000,
					&opt->max_connections_per_ip);
	if (s->source[SET_HTTP_GROUP_COMMIT] != SRC_DEFAULT) {
		int on = 1;
		rc |= parse_int_setting(c, SET_HTTP_GROUP_COMMIT, 0, 1, &on);
		opt->group_commit = on;
	}
	if (s->source[SET_WEB_ROOT] != SRC_DEFAULT)
		opt->web_root = s->value[SET_WEB_ROOT];
	char *end;
	errno = 0;
	double secs = strtod(s->value[SET_WORKER_INTERVAL], &end);
	if (errno || *end || !(secs > 0) || secs > 3600) {
		fprintf(stderr, "fulfill: worker_interval must be a number of seconds (0 < s <= "
				"3600)\n");
		return CLI_USAGE;
	}
	opt->worker_interval_ms = (int)(secs * 1000);
	if (opt->worker_interval_ms < 1)
		opt->worker_interval_ms = 1;
	return rc ? CLI_USAGE : CLI_OK;
}

int cli_cmd_serve(struct cli *c)
{
	struct http_options opt;
	int rc = http_options_from(c, &c->cfg, &opt);
	if (rc != CLI_OK)
		return rc;
	return http_serve(&c->cfg, &opt) == 0 ? CLI_OK : CLI_FAIL;
}

/* ---- demo ---- */

/* The examples/ directory: in the current directory, beside the binary, or one level
 * up from it (build/fulfill-san). */
static int find_examples(char *out, size_t n)
{
	if (access("examples/demo-events.ndjson", R_OK) == 0) {
		snprintf(out, n, "examples");
		return 0;
	}
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return -1;
	exe[len] = '\0';
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			return -1;
		*slash = '\0';
		char probe[PATH_MAX + 64];
		snprintf(probe, sizeof(probe), "%s/examples/demo-events.ndjson", exe);
		if (access(probe, R_OK) == 0 && strlen(exe) + sizeof("/examples") <= n) {
			snprintf(probe, sizeof(probe), "%s/examples", exe);
			memcpy(out, probe, strlen(probe) + 1);
			return 0;
		}
	}
	return -1;
}

static void remove_db_files(const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".key"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			fprintf(stderr, "fulfill: cannot remove %s: %s\n", p, strerror(errno));
	}
}

/* Whether the demo file is the file of the db setting's SQLite database, however it is
 * named (a relative path, a link): the demo deletes it and the PATH.key beside it. */
static bool demo_is_the_db(const struct cli *c, const char *demo)
{
	const char *db = c->settings.value[SET_DB];
	if (!db || !strncmp(db, "postgres://", 11) || !strncmp(db, "postgresql://", 13))
		return false;
	if (!strncmp(db, "sqlite:", 7))
		db += 7;
	struct stat a, b;
	if (stat(db, &a) == 0 && stat(demo, &b) == 0)
		return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return strcmp(db, demo) == 0;
}

static const char *const demo_programs[] = {"give20get20.json", "give10get10.json",
					    "free-goods.json"};

/* Rewards per status, and Jessica's balance, on stdout. */
static void demo_summary(struct engine *e, const struct actor *a)
{
	struct page p = {1000, NULL};
	struct reward_filter f = {NULL, NULL, NULL, NULL, NULL};
	json_t *list = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	if (engine_rewards_list(e, a, &f, &p, &list, &d) == FF_OK) {
		json_t *by_status = json_object();
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(list, "data"), i, r)
		{
			const char *st = json_string_value(json_object_get(r, "status"));
			if (!st)
				continue;
			json_t *n = json_object_get(by_status, st);
			json_object_set_new(by_status, st,
					    json_integer(n ? json_integer_value(n) + 1 : 1));
		}
		printf("rewards:  %zu", json_array_size(json_object_get(list, "data")));
		const char *k;
		json_t *n;
		const char *sep = " (";
		json_object_foreach(by_status, k, n)
		{
			printf("%s%lld %s", sep, (long long)json_integer_value(n), k);
			sep = ", ";
		}
		printf("%s\n", json_object_size(by_status) ? ")" : "");
		json_decref(by_status);
		json_decref(list);
	}
	json_t *jess = NULL;
	if (engine_participant_get(e, a, "jessica", &jess, &d) == FF_OK) {
		json_t *stats = json_object_get(jess, "stats");
		char b1[32], b2[32];
		printf("jessica:  %s referrals, %s successful, balance",
		       cli_str(stats, "referrals", "0", b1, sizeof(b1)),
		       cli_str(stats, "successful_referrals", "0", b2, sizeof(b2)));
		size_t i;
		json_t *m;
		json_t *bal = json_object_get(jess, "balances");
		if (json_array_size(bal) == 0)
			printf(" 0");
		json_array_foreach(bal, i, m)
		{
			char mb[96];
			printf("%s %s", i ? "," : "", cli_money(m, mb, sizeof(mb)));
		}
		putchar('\n');
		json_decref(jess);
	}
}

static int demo_upload_codes(struct cli *c, const char *pool, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return cli_fail("cannot read %s: %s", path, strerror(errno));
	char text[65536];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	bool too_big = !feof(f);
	fclose(f);
	if (too_big)
		return cli_fail("%s: the demo code file is larger than 64 KiB", path);
	text[len] = '\0';
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_code_pool_upload_csv(c->engine, &c->actor, pool, text, len, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	char b[32];
	printf("codes:    %s added to pool %s\n", cli_str(out, "added", "0", b, sizeof(b)), pool);
	json_decref(out);
	return CLI_OK;
}

int cli_cmd_demo(struct cli *c)
{
	char examples[PATH_MAX];
	if (find_examples(examples, sizeof(examples)) != 0)
		return cli_fail("cannot find examples/demo-events.ndjson: run the demo from the "
				"repository root (make demo)");
	const char *path = c->settings.value[SET_DEMO_DB];
	if (!path || !*path)
		return cli_usage(c, "demo_db must name a file");
	if (demo_is_the_db(c, path))
		return cli_usage(c, "demo_db (%s) is the database of the db setting: the demo deletes and "
				 "re-creates its file, so give it a file of its own", path);
	remove_db_files(path);
	char url[PATH_MAX + 16];
	snprintf(url, sizeof(url), "sqlite:%s", path);
	int rc = cli_engine_config(&c->settings, url, &c->cfg);
	if (rc != CLI_OK)
		return rc;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_open(&c->cfg, &c->engine, &d);
	if (err)
		return cli_fail_engine(err, &d);
	actor_cli(&c->actor);

	printf("demo database: %s\n", path);
	for (size_t i = 0; i < sizeof(demo_programs) / sizeof(demo_programs[0]); i++) {
		char file[PATH_MAX + 64];
		snprintf(file, sizeof(file), "%s/programs/%s", examples, demo_programs[i]);
		json_t *out = NULL;
		rc = cli_program_load_file(c->engine, &c->actor, file, true, &out);
		if (rc != CLI_OK)
			return rc;
		char b1[160], b2[32];
		printf("program:  %s version %s active\n",
		       cli_str(out, "program", "?", b1, sizeof(b1)),
		       cli_str(out, "version", "?", b2, sizeof(b2)));
		json_decref(out);
	}

	/* Discount codes for the give10get10 pool, so its rewards can be fulfilled. */
	char codes[PATH_MAX + 64];
	snprintf(codes, sizeof(codes), "%s/give10get10-codes.csv", examples);
	rc = demo_upload_codes(c, "give10get10", codes);
	if (rc != CLI_OK)
		return rc;

	char events[PATH_MAX + 64];
	snprintf(events, sizeof(events), "%s/demo-events.ndjson", examples);
	FILE *f = fopen(events, "rb");
	if (!f)
		return cli_fail("cannot read %s: %s", events, strerror(errno));
	long long counts[3];
	rc = cli_ingest_stream(c->engine, &c->actor, f, events, CLI_FORMAT_NDJSON, false, counts);
	fclose(f);
	if (rc != CLI_OK)
		return rc;
	printf("events:   accepted %lld, duplicate %lld, rejected %lld\n", counts[0], counts[1],
	       counts[2]);

	json_t *pass = NULL;
	err = engine_worker_pass(c->engine, &c->actor, 0, &pass, &d);
	if (err)
		return cli_fail_engine(err, &d);
	printf("worker:   ");
	cli_print_worker_counts(stdout, pass);
	json_decref(pass);
	demo_summary(c->engine, &c->actor);

	json_t *key = NULL;
	err = engine_key_create(c->engine, &c->actor, "admin", "demo", NULL, NULL, &key, &d);
	if (err)
		return cli_fail_engine(err, &d);
	char keybuf[128];
	snprintf(keybuf, sizeof(keybuf), "%s", json_string_value(json_object_get(key, "key")));
	json_decref(key);
	/* The server opens its own engines; this one is done. */
	engine_close(c->engine);
	c->engine = NULL;

	struct http_options opt;
	rc = http_options_from(c, &c->cfg, &opt);
	if (rc != CLI_OK)
		return rc;
	const char *listen = opt.listen && *opt.listen ? opt.listen : "127.0.0.1:8080";
	const char *host = listen[0] == ':' ? "127.0.0.1" : "";
	printf("\nadmin key: %s\n\nTry:\n", keybuf);
	printf("  curl -s -H 'Authorization: Bearer %s' http://%s%s/v1/participants/jessica\n",
	       keybuf, host, listen);
	printf("  curl -s -H 'Authorization: Bearer %s' "
	       "'http://%s%s/v1/rewards?participant=jessica'\n",
	       keybuf, host, listen);
	printf("  curl -s -H 'Authorization: Bearer %s' http://%s%s/v1/conversions/ord_mei_1\n",
	       keybuf, host, listen);
	printf("\nconsole: http://%s%s/console (sign in with the admin key); Ctrl-C stops.\n", host,
	       listen);
	fflush(stdout);
	return http_serve(&c->cfg, &opt) == 0 ? CLI_OK : CLI_FAIL;
}
