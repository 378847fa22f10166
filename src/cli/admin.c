/*
 * admin.c - `fulfill blocklist add|remove|list` (fraud blocklist, docs/fraud.md) and
 * `fulfill keys rotate-master --new-key-file F` (re-encrypt PII under a new master key).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = {"email", "domain", "ip", "device", NULL};

static int check_kind(const struct cli *c, const char *kind)
{
	for (const char *const *k = kinds; *k; k++)
		if (!strcmp(*k, kind))
			return CLI_OK;
	return cli_usage(c, "KIND must be email, domain, ip or device, not '%s'", kind);
}

static void print_blocked(const struct cli *c, const json_t *out)
{
	(void)out;
	printf("blocked %s %s\n", c->args[0], c->args[1]);
}

int cli_cmd_blocklist_add(struct cli *c)
{
	int rc = check_kind(c, c->args[0]);
	if (rc != CLI_OK)
		return rc;
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_blocklist_put(c->engine, &c->actor, c->args[0], c->args[1],
					       c->opt[OPT_NOTE], &out, &d);
	return cli_finish(c, err, &d, out, print_blocked);
}

static void print_unblocked(const struct cli *c, const json_t *out)
{
	(void)out;
	printf("unblocked %s %s\n", c->args[0], c->args[1]);
}

int cli_cmd_blocklist_remove(struct cli *c)
{
	int rc = check_kind(c, c->args[0]);
	if (rc != CLI_OK)
		return rc;
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_blocklist_delete(c->engine, &c->actor, c->args[0], c->args[1], &out, &d);
	return cli_finish(c, err, &d, out, print_unblocked);
}

static void print_blocklist_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"KIND", "VALUE", "NOTE", "CREATED"};
	struct cli_table *t = cli_table_new(4, hdr);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(out, "data"), i, r)
	{
		char b[4][320];
		const char *row[] = {cli_str(r, "kind", "", b[0], sizeof(b[0])),
				     cli_str(r, "value", "", b[1], sizeof(b[1])),
				     cli_str(r, "note", "", b[2], sizeof(b[2])),
				     cli_str(r, "created_at", "", b[3], sizeof(b[3]))};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_blocklist_list(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_blocklist_list(c->engine, &c->actor, &out, &d);
	return cli_finish(c, err, &d, out, print_blocklist_table);
}

/* Read a key file: 64 hex digits, surrounding whitespace allowed. */
static int read_key_file(const char *path, uint8_t out[FF_MASTER_KEY_BYTES])
{
	FILE *f = fopen(path, "r");
	if (!f)
		return cli_fail("cannot read %s: %s", path, strerror(errno));
	char buf[256];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = buf;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	char *end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	int rc = crypto_master_key_parse(p, out);
	/* The key was on the stack: do not leave it there. */
	memset(buf, 0, sizeof(buf));
	if (rc != 0)
		return cli_fail("%s does not hold a key of 64 hex digits", path);
	return CLI_OK;
}

int cli_cmd_keys_rotate_master(struct cli *c)
{
	const char *path = c->opt[OPT_NEW_KEY_FILE];
	if (!path)
		return cli_usage(c, "--new-key-file is required");
	uint8_t key[FF_MASTER_KEY_BYTES];
	int rc = read_key_file(path, key);
	if (rc != CLI_OK)
		return rc;
	/* The new key as the current one is the catch-up run after a rollout, which needs
	 * the old key as the previous one (docs/configuration.md); without it there is
	 * nothing the run could open that is not under the new key already. */
	const char *prev = getenv("FULFILL_MASTER_KEY_PREVIOUS");
	if (!memcmp(key, c->cfg.master_key, sizeof(key)) && !(prev && *prev)) {
		memset(key, 0, sizeof(key));
		return cli_fail("the new key is the key in use (to re-encrypt what processes still on the old "
				"key sealed after the rotation, give the old key as master_key_previous, "
				"FULFILL_MASTER_KEY_PREVIOUS)");
	}
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_rotate_master_key(c->engine, &c->actor, key, &out, &d);
	memset(key, 0, sizeof(key));
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
	} else {
		char b1[32], b2[32], b3[64], b4[32], b5[32], b6[32], b7[32], b8[32];
		printf("re-encrypted %s participants and %s blocklist entries under key %s\n",
		       cli_str(out, "participants", "0", b1, sizeof(b1)),
		       cli_str(out, "blocklist", "0", b2, sizeof(b2)),
		       cli_str(out, "key_id", "?", b3, sizeof(b3)));
		printf("re-encrypted %s event bodies, %s queued e-mails, %s idempotent responses, %s connector "
		       "secrets and %s webhook secrets\n",
		       cli_str(out, "events", "0", b4, sizeof(b4)), cli_str(out, "notifications", "0", b5, sizeof(b5)),
		       cli_str(out, "idempotency", "0", b6, sizeof(b6)), cli_str(out, "connectors", "0", b7, sizeof(b7)),
		       cli_str(out, "webhook_endpoints", "0", b8, sizeof(b8)));
		fprintf(stderr,
			"fulfill: now point every process at the new key (--master-key-file %s "
			"or FULFILL_MASTER_KEY); keep the old key as FULFILL_MASTER_KEY_PREVIOUS "
			"until they have all restarted\n",
			path);
	}
	json_decref(out);
	return CLI_OK;
}
