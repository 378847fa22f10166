/*
 * connectors.c - `fulfill connectors set|list|show|delete` and `fulfill webhooks
 * create|list|show|delete|deliveries`: the fulfillment plumbing an operator sets up
 * once (SPEC §5, §12), as the local operator.
 *
 * Connector secrets are the one thing here that must never leak: the engine stores them
 * sealed and returns them masked ("sk_...1234"), and this file never echoes the
 * configuration it was given - not even in an error. A JSON syntax error is reported
 * by line and column only, because jansson's message quotes the text near the error,
 * which may be a key. A webhook endpoint's signing secret is printed once, by
 * `webhooks create`.
 */
#include "cli/cli.h"
#include "fulfill/http_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/buf.h"

/* A configuration is a few hundred bytes; anything near this is not one. */
#define CONFIG_MAX (1 << 20)

/* ---- connectors ---- */

/* Read the whole of `path` ('-': stdin) into `b` (at most CONFIG_MAX bytes). */
static int read_config_file(const char *path, struct ffbuf *b)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return cli_fail("cannot read %s: %s", path, strerror(errno));
	char chunk[8192];
	size_t n;
	int rc = CLI_OK;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (ffbuf_add(b, chunk, n) != 0) {
			rc = cli_fail("%s: larger than %d bytes: not a connector configuration", path,
				      CONFIG_MAX);
			break;
		}
	}
	if (rc == CLI_OK && ferror(f))
		rc = cli_fail("cannot read %s: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	return rc;
}

/* Parse a configuration object. On a syntax error, says where without quoting the text
 * (it may hold a secret). */
static int parse_config(const char *text, size_t len, const char *what, json_t **out)
{
	json_error_t je;
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		char why[sizeof(je.text)];
		snprintf(why, sizeof(why), "%s", je.text);
		char *near = strstr(why, " near ");
		if (near)
			*near = '\0';
		return cli_fail("invalid_request: %s is not valid JSON: line %d, column %d: %s (config)",
				what, je.line, je.column, why);
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return cli_fail("invalid_request: %s must be a JSON object (config)", what);
	}
	*out = v;
	return CLI_OK;
}

/* A config value for a table cell or a `key: value` line. */
static const char *config_value(json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		return json_string_value(v);
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(buf, n, "%s", s ? s : "");
	free(s);
	return buf;
}

static void print_connector(const struct cli *c, const json_t *o)
{
	(void)c;
	char b[256];
	json_t *breaker = json_object_get(o, "breaker");
	cli_print_field("id", cli_str(o, "id", "", b, sizeof(b)));
	cli_print_field("type", cli_str(o, "type", "", b, sizeof(b)));
	char state[160], f[32];
	snprintf(state, sizeof(state), "%s (%s consecutive failures)",
		 cli_str(breaker, "state", "closed", b, sizeof(b)),
		 cli_str(breaker, "failures", "0", f, sizeof(f)));
	cli_print_field("breaker", state);
	if (json_is_string(json_object_get(breaker, "open_until")))
		cli_print_field("open until", cli_str(breaker, "open_until", "", b, sizeof(b)));
	json_t *cfg = json_object_get(o, "config");
	if (!json_object_size(cfg)) {
		cli_print_field("config", "(empty)");
		return;
	}
	puts("config:");
	/* keys in a stable order: the engine's object order is its storage order */
	const char *k;
	json_t *v;
	size_t w = 0;
	json_object_foreach(cfg, k, v) if (strlen(k) > w) w = strlen(k);
	json_t *keys = json_array();
	json_object_foreach(cfg, k, v) json_array_append_new(keys, json_string(k));
	size_t nk = json_array_size(keys);
	for (size_t i = 0; i < nk; i++) { /* insertion sort: a handful of keys */
		for (size_t j = i; j > 0; j--) {
			const char *x = json_string_value(json_array_get(keys, j - 1));
			const char *y = json_string_value(json_array_get(keys, j));
			if (strcmp(x, y) <= 0)
				break;
			json_t *t = json_incref(json_array_get(keys, j - 1));
			json_array_set(keys, j - 1, json_array_get(keys, j));
			json_array_set_new(keys, j, t);
		}
	}
	for (size_t i = 0; i < nk; i++) {
		const char *key = json_string_value(json_array_get(keys, i));
		char val[512], shown[512];
		const char *text = config_value(json_object_get(cfg, key), val, sizeof(val));
		if (!strcmp(key, "url") || !strcmp(key, "base_url")) {
			url_mask_secrets(text, shown, sizeof(shown)); /* a password written into the URL */
			text = shown;
		}
		printf("  %-*s  %s\n", (int)w, key, text);
	}
	json_decref(keys);
}

int cli_cmd_connectors_set(struct cli *c)
{
	const char *type = c->opt[OPT_TYPE];
	const char *inline_cfg = c->opt[OPT_CONFIG_JSON];
	const char *file = c->opt[OPT_CONFIG_FILE];
	if (!type || !*type)
		return cli_usage(c, "--type is required");
	if (inline_cfg && file)
		return cli_usage(c, "give --config or --config-file, not both");
	if (!inline_cfg && !file)
		return cli_usage(c, "--config JSON or --config-file FILE is required");

	json_t *cfg = NULL;
	int rc;
	if (file) {
		struct ffbuf b;
		ffbuf_init(&b, CONFIG_MAX);
		rc = read_config_file(file, &b);
		if (rc == CLI_OK)
			rc = parse_config(b.data ? b.data : "", b.len, file, &cfg);
		ffbuf_release(&b);
	} else {
		rc = parse_config(inline_cfg, strlen(inline_cfg), "--config", &cfg);
	}
	if (rc != CLI_OK)
		return rc;

	json_t *body = json_pack("{s:s, s:o}", "type", type, "config", cfg);
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_connector_put(c->engine, &c->actor, c->args[0], body, &out, &d);
	json_decref(body);
	return cli_finish(c, err, &d, out, print_connector);
}

/* Where a connector's requests go, for the list: its base_url, else the url of a webhook
 * or smtp connector's own, with a password in it masked; "(default)" for the provider's
 * own address. */
static const char *connector_target(const json_t *config, char *buf, size_t n)
{
	const char *url = json_string_value(json_object_get(config, "base_url"));
	if (!url)
		url = json_string_value(json_object_get(config, "url"));
	if (!url)
		return "(default)";
	url_mask_secrets(url, buf, n);
	return buf;
}

static void print_connector_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"ID", "TYPE", "BREAKER", "FAILURES", "BASE URL"};
	struct cli_table *t = cli_table_new(5, hdr);
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(out, "data"), i, o)
	{
		char s[5][256];
		json_t *breaker = json_object_get(o, "breaker");
		const char *row[] = {
		    cli_str(o, "id", "", s[0], sizeof(s[0])),
		    cli_str(o, "type", "", s[1], sizeof(s[1])),
		    cli_str(breaker, "state", "closed", s[2], sizeof(s[2])),
		    cli_str(breaker, "failures", "0", s[3], sizeof(s[3])),
		    connector_target(json_object_get(o, "config"), s[4], sizeof(s[4]))};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_connectors_list(struct cli *c)
{
	return cli_run_list(c, engine_connectors_list, print_connector_table,
			    "(more connectors: use --limit / --starting-after)");
}

int cli_cmd_connectors_show(struct cli *c)
{
	return cli_run_by_id(c, engine_connector_get, print_connector);
}

static void print_connector_deleted(const struct cli *c, const json_t *out)
{
	(void)out;
	printf("deleted connector %s\n", c->args[0]);
}

int cli_cmd_connectors_delete(struct cli *c)
{
	return cli_run_by_id(c, engine_connector_delete, print_connector_deleted);
}

/* ---- webhooks ---- */

/* "a,b" -> ["a","b"]; empty items are usage errors. */
static int parse_events(const struct cli *c, const char *s, json_t **out)
{
	json_t *a = json_array();
	const char *p = s;
	for (;;) {
		size_t n = strcspn(p, ",");
		while (n && p[0] == ' ')
			p++, n--;
		while (n && p[n - 1] == ' ')
			n--;
		if (!n) {
			json_decref(a);
			return cli_usage(c, "--events: an empty event type in '%s'", s);
		}
		json_array_append_new(a, json_stringn(p, n));
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	*out = a;
	return CLI_OK;
}

/* "reward.fulfilled, reward.failed" or "all" for []. */
static const char *events_text(const json_t *events, char *buf, size_t n)
{
	if (!json_array_size(events))
		return "all";
	buf[0] = '\0';
	size_t used = 0, i;
	json_t *v;
	json_array_foreach(events, i, v)
	{
		int w = snprintf(buf + used, n - used, "%s%s", i ? "," : "",
				 json_is_string(v) ? json_string_value(v) : "?");
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
	return buf;
}

static void print_endpoint(const struct cli *c, const json_t *o)
{
	(void)c;
	char b[512];
	cli_print_field("id", cli_str(o, "id", "", b, sizeof(b)));
	cli_print_field("url", cli_str(o, "url", "", b, sizeof(b)));
	cli_print_field("events", events_text(json_object_get(o, "events"), b, sizeof(b)));
	cli_print_field("description", cli_str(o, "description", "", b, sizeof(b)));
	cli_print_field("status", cli_str(o, "status", "", b, sizeof(b)));
	if (json_is_string(json_object_get(o, "disabled_reason")))
		cli_print_field("disabled reason", cli_str(o, "disabled_reason", "", b, sizeof(b)));
	cli_print_field("created", cli_str(o, "created_at", "", b, sizeof(b)));
	json_t *counts = json_object_get(o, "deliveries");
	if (json_is_object(counts)) {
		static const char *const statuses[] = {"pending", "succeeded", "failed"};
		char line[256] = "";
		size_t used = 0;
		for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
			json_t *v = json_object_get(counts, statuses[i]);
			int w = snprintf(line + used, sizeof(line) - used, "%s%s %lld", i ? ", " : "",
					 statuses[i], json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
			if (w > 0 && (size_t)w < sizeof(line) - used)
				used += (size_t)w;
		}
		cli_print_field("deliveries", line);
	}
}

int cli_cmd_webhooks_create(struct cli *c)
{
	json_t *body = json_pack("{s:s}", "url", c->args[0]);
	if (c->opt[OPT_EVENTS]) {
		json_t *events = NULL;
		int rc = parse_events(c, c->opt[OPT_EVENTS], &events);
		if (rc != CLI_OK) {
			json_decref(body);
			return rc;
		}
		json_object_set_new(body, "events", events);
	}
	if (c->opt[OPT_DESCRIPTION])
		json_object_set_new(body, "description", json_string(c->opt[OPT_DESCRIPTION]));
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_webhook_endpoint_create(c->engine, &c->actor, body, &out, &d);
	json_decref(body);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
	} else {
		char b[128];
		print_endpoint(c, out);
		cli_print_field("secret", cli_str(out, "secret", "", b, sizeof(b)));
		fputs("fulfill: the signing secret is shown only this once; store it now\n", stderr);
	}
	json_decref(out);
	return CLI_OK;
}

static void print_endpoint_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"ID", "STATUS", "URL", "EVENTS", "DESCRIPTION"};
	struct cli_table *t = cli_table_new(5, hdr);
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(out, "data"), i, o)
	{
		char s[5][512];
		const char *row[] = {cli_str(o, "id", "", s[0], sizeof(s[0])),
				     cli_str(o, "status", "", s[1], sizeof(s[1])),
				     cli_str(o, "url", "", s[2], sizeof(s[2])),
				     events_text(json_object_get(o, "events"), s[3], sizeof(s[3])),
				     cli_str(o, "description", "", s[4], sizeof(s[4]))};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_webhooks_list(struct cli *c)
{
	return cli_run_list(c, engine_webhook_endpoints_list, print_endpoint_table,
			    "(more: --starting-after the last ID)");
}

int cli_cmd_webhooks_show(struct cli *c)
{
	return cli_run_by_id(c, engine_webhook_endpoint_get, print_endpoint);
}

static void print_endpoint_deleted(const struct cli *c, const json_t *out)
{
	(void)out;
	printf("deleted webhook endpoint %s\n", c->args[0]);
}

int cli_cmd_webhooks_delete(struct cli *c)
{
	return cli_run_by_id(c, engine_webhook_endpoint_delete, print_endpoint_deleted);
}

static void print_delivery_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"SEQ",    "AT",	  "TYPE",    "WEBHOOK ID",
					  "ATTEMPT", "STATUS", "DURATION", "ERROR"};
	struct cli_table *t = cli_table_new(8, hdr);
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(out, "data"), i, o)
	{
		char s[8][320];
		snprintf(s[6], sizeof(s[6]), "%s ms", cli_str(o, "duration_ms", "0", s[7], sizeof(s[7])));
		const char *row[] = {cli_str(o, "id", "", s[0], sizeof(s[0])),
				     cli_str(o, "at", "", s[1], sizeof(s[1])),
				     cli_str(o, "type", "", s[2], sizeof(s[2])),
				     cli_str(o, "webhook_id", "", s[3], sizeof(s[3])),
				     cli_str(o, "attempt", "", s[4], sizeof(s[4])),
				     cli_str(o, "status_code", "-", s[5], sizeof(s[5])),
				     s[6],
				     cli_str(o, "error", "", s[7], sizeof(s[7]))};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_webhooks_deliveries(struct cli *c)
{
	struct page p;
	int rc = cli_page_from_opts(c, &p);
	if (rc != CLI_OK)
		return rc;
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_webhook_deliveries(c->engine, &c->actor, c->args[0], &p, &out, &d);
	return cli_finish_list(c, err, &d, out, print_delivery_table,
			       "(more: --starting-after the last SEQ)");
}
