/*
 * engine_tool.c - a tiny helper for end-to-end tests, built by the test itself against
 * build/libfulfill.a: it reaches engine functions that have no CLI command yet.
 *   engine_tool connector ID JSON   engine_connector_put (prints the connector)
 *   engine_tool verify              ledger invariants + audit chain (exit 1 if broken)
 *   engine_tool counts              rewards by status as JSON
 * Uses FULFILL_DB and FULFILL_MASTER_KEY like the CLI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/engine.h"

int main(int argc, char **argv)
{
	struct engine_config cfg;
	engine_config_init(&cfg);
	const char *db = getenv("FULFILL_DB");
	if (db)
		snprintf(cfg.db_url, sizeof(cfg.db_url), "%s", db);
	const char *allow = getenv("FULFILL_WEBHOOK_ALLOW_HOSTS");
	if (allow)
		snprintf(cfg.webhook_allow_hosts, sizeof(cfg.webhook_allow_hosts), "%s", allow);
	struct ff_diag d;
	struct engine *e;
	if (engine_config_load_key(&cfg, NULL, &d) || engine_open(&cfg, &e, &d)) {
		fprintf(stderr, "engine_tool: %s\n", d.message);
		return 1;
	}
	struct actor a;
	actor_cli(&a);
	json_t *out = NULL;
	int rc = 0;
	if (argc == 4 && !strcmp(argv[1], "connector")) {
		json_t *body = json_loads(argv[3], 0, NULL);
		if (!body || engine_connector_put(e, &a, argv[2], body, &out, &d)) {
			fprintf(stderr, "engine_tool: %s (%s)\n", body ? d.message : "bad JSON", d.param);
			rc = 1;
		}
		json_decref(body);
	} else if (argc == 2 && !strcmp(argv[1], "verify")) {
		if (engine_ledger_verify(e, &d)) {
			fprintf(stderr, "ledger: %s\n", d.message);
			rc = 1;
		} else if (engine_audit_verify(e, &out, &d) || !json_is_true(json_object_get(out, "ok"))) {
			fprintf(stderr, "audit chain broken\n");
			rc = 1;
		}
	} else if (argc == 2 && !strcmp(argv[1], "counts")) {
		if (engine_reward_status_counts(e, &out)) {
			fprintf(stderr, "engine_tool: counts failed\n");
			rc = 1;
		}
	} else {
		fprintf(stderr, "usage: engine_tool connector ID JSON | verify | counts\n");
		rc = 2;
	}
	if (out) {
		char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
		puts(s);
		free(s);
		json_decref(out);
	}
	engine_close(e);
	return rc;
}
