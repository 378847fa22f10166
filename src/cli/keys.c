/*
 * keys.c - `fulfill keys create|revoke`: API keys from the command line, as the local
 * operator. `keys create` prints the new key alone on stdout so that scripts can do
 * KEY=$(fulfill keys create --role ingest); it is never shown again.
 */
#include "cli/cli.h"

#include <string.h>

int cli_cmd_keys_create(struct cli *c)
{
	const char *role = c->opt[OPT_ROLE];
	if (!role)
		return cli_usage(c, "--role is required");
	if (role_parse(role) < 0)
		return cli_usage(c,
				 "unknown role '%s' (admin, operator, finance, auditor, ingest, "
				 "fulfiller, partner)",
				 role);
	const char *name = c->opt[OPT_NAME];
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_key_create(c->engine, &c->actor, role, name, c->opt[OPT_PARTICIPANT],
			      c->opt[OPT_FULFILLER], &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
	} else {
		const char *key = json_string_value(json_object_get(out, "key"));
		printf("%s\n", key ? key : "");
	}
	json_decref(out);
	return CLI_OK;
}

static void print_revoked(const struct cli *c, const json_t *out)
{
	(void)out;
	printf("revoked %s\n", c->args[0]);
}

int cli_cmd_keys_revoke(struct cli *c)
{
	return cli_run_by_id(c, engine_key_revoke, print_revoked);
}
