/*
 * rewards.c - `fulfill rewards list|show|approve|reject|retry|cancel` and
 * `fulfill review list|approve|reject`: looking at rewards and moving them through the
 * lifecycle of SPEC.md section 4 by hand. The engine refuses any transition the state
 * machine does not allow (invalid_transition, exit 1).
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

/* What a reward is worth, for a table cell: "20.00 USD", "10.00% for 3 months",
 * "1 x CASE-24". */
static const char *cli_reward_value(const json_t *r, char *buf, size_t n)
{
	if (cli_money(r, buf, n)[0])
		return buf;
	json_t *bp = json_object_get(r, "percent_bp");
	json_t *months = json_object_get(r, "months");
	if (json_is_integer(bp)) {
		json_int_t v = json_integer_value(bp);
		if (json_is_integer(months))
			snprintf(buf, n, "%lld.%02lld%% for %lld months", (long long)(v / 100),
				 (long long)(v % 100), (long long)json_integer_value(months));
		else
			snprintf(buf, n, "%lld.%02lld%%", (long long)(v / 100),
				 (long long)(v % 100));
		return buf;
	}
	const char *sku = json_string_value(json_object_get(r, "sku"));
	if (sku) {
		json_t *q = json_object_get(r, "quantity");
		snprintf(buf, n, "%lld x %s",
			 json_is_integer(q) ? (long long)json_integer_value(q) : 1LL, sku);
		return buf;
	}
	buf[0] = '\0';
	return buf;
}

static void rewards_table(const struct cli *c, const json_t *list)
{
	(void)c;
	static const char *const hdr[] = {"ID",	    "PARTICIPANT", "ROLE",  "TYPE",
					  "AMOUNT", "STATUS",	   "REASON"};
	struct cli_table *t = cli_table_new(7, hdr);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(list, "data"), i, r)
	{
		char b[7][256];
		const char *amount = cli_reward_value(r, b[4], sizeof(b[4]));
		const char *row[] = {cli_str(r, "id", "", b[0], sizeof(b[0])),
				     cli_str(r, "participant", "", b[1], sizeof(b[1])),
				     cli_str(r, "role", "", b[2], sizeof(b[2])),
				     cli_str(r, "type", "", b[3], sizeof(b[3])),
				     amount,
				     cli_str(r, "status", "", b[5], sizeof(b[5])),
				     cli_str(r, "reason", "", b[6], sizeof(b[6]))};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
	if (json_is_true(json_object_get(list, "has_more")))
		fputs("(more rewards: use --limit / --starting-after)\n", stderr);
}

static int list(struct cli *c, const char *status)
{
	struct page p;
	int rc = cli_page_from_opts(c, &p);
	if (rc != CLI_OK)
		return rc;
	struct reward_filter f = {status, c->opt[OPT_PARTICIPANT], c->opt[OPT_PROGRAM], c->opt[OPT_BATCH],
				  c->opt[OPT_REASON_FILTER]};
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_rewards_list(c->engine, &c->actor, &f, &p, &out, &d);
	return cli_finish(c, err, &d, out, rewards_table);
}

int cli_cmd_rewards_list(struct cli *c) { return list(c, c->opt[OPT_STATUS]); }

int cli_cmd_review_list(struct cli *c) { return list(c, "review"); }

/* The reward as `label: value` lines, then its history. */
static void print_reward(const json_t *r)
{
	static const char *const fields[] = {"id",
					     "status",
					     "reason",
					     "participant",
					     "role",
					     "program",
					     "program_version",
					     "referral",
					     "conversion",
					     "type",
					     "code",
					     "hold_until",
					     "expires_at",
					     "connector",
					     "fulfiller",
					     "external_reference",
					     "batch",
					     "attempts",
					     "last_error",
					     "fulfilled_at",
					     "created_at",
					     "updated_at"};
	char b[512];
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(fields[i], "type") == 0) {
			cli_print_field("type", cli_str(r, "type", "", b, sizeof(b)));
			const char *value = cli_reward_value(r, b, sizeof(b));
			if (value[0])
				cli_print_field("value", value);
			continue;
		}
		const char *v = cli_str(r, fields[i], NULL, b, sizeof(b));
		if (v)
			cli_print_field(fields[i], v);
	}
	json_t *signals = json_object_get(r, "signals");
	if (json_is_array(signals) && json_array_size(signals)) {
		char *s = json_dumps(signals, JSON_COMPACT);
		cli_print_field("signals", s);
		free(s);
	}
	json_t *hist = json_object_get(r, "history");
	if (json_is_array(hist) && json_array_size(hist)) {
		static const char *const hdr[] = {"AT", "FROM", "TO", "ACTOR", "REASON"};
		struct cli_table *t = cli_table_new(5, hdr);
		size_t i;
		json_t *h;
		json_array_foreach(hist, i, h)
		{
			char hb[5][256];
			const char *row[] = {cli_str(h, "at", "", hb[0], sizeof(hb[0])),
					     cli_str(h, "from", "-", hb[1], sizeof(hb[1])),
					     cli_str(h, "to", "", hb[2], sizeof(hb[2])),
					     cli_str(h, "actor", "", hb[3], sizeof(hb[3])),
					     cli_str(h, "reason", "", hb[4], sizeof(hb[4]))};
			cli_table_add(t, row);
		}
		printf("\nhistory:\n");
		cli_table_print(t, stdout);
	}
}

static void render_reward(const struct cli *c, const json_t *out)
{
	(void)c;
	print_reward(out);
}

int cli_cmd_rewards_show(struct cli *c)
{
	return cli_run_by_id(c, engine_reward_get, render_reward);
}

static int action(struct cli *c, enum reward_action act)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_reward_action(c->engine, &c->actor, c->args[0], act,
					       c->opt[OPT_REASON], &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
	} else {
		char b1[160], b2[64], b3[160];
		const char *reason = cli_str(out, "reason", NULL, b3, sizeof(b3));
		printf("%s: %s%s%s\n", cli_str(out, "id", c->args[0], b1, sizeof(b1)),
		       cli_str(out, "status", "?", b2, sizeof(b2)), reason ? " " : "",
		       reason ? reason : "");
	}
	json_decref(out);
	return CLI_OK;
}

int cli_cmd_rewards_approve(struct cli *c) { return action(c, REWARD_APPROVE); }

int cli_cmd_rewards_reject(struct cli *c) { return action(c, REWARD_REJECT); }

int cli_cmd_rewards_retry(struct cli *c) { return action(c, REWARD_RETRY); }

int cli_cmd_rewards_cancel(struct cli *c) { return action(c, REWARD_CANCEL); }

/* `review approve|reject ID...`: one ID is the plain action (prints the reward); several
 * are decided in one transaction by engine_rewards_review, one result line each. */
static int review(struct cli *c, bool approve)
{
	if (c->nargs == 1)
		return action(c, approve ? REWARD_APPROVE : REWARD_REJECT);
	json_t *ids = json_array();
	for (int i = 0; i < c->nargs; i++)
		json_array_append_new(ids, json_string(c->args[i]));
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_rewards_review(c->engine, &c->actor, approve ? ids : NULL,
						approve ? NULL : ids, c->opt[OPT_REASON], &out, &d);
	json_decref(ids);
	if (err)
		return cli_fail_engine(err, &d);
	json_int_t failed = json_integer_value(json_object_get(out, "failed"));
	if (c->json) {
		cli_print_json(out);
	} else {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(out, "results"), i, r)
		{
			char b1[160], b2[64];
			const char *id = cli_str(r, "id", "?", b1, sizeof(b1));
			if (json_is_true(json_object_get(r, "ok"))) {
				printf("%s: %s\n", id, cli_str(r, "status", "?", b2, sizeof(b2)));
			} else {
				json_t *e = json_object_get(r, "error");
				char b3[512];
				const char *code = cli_str(e, "code", "error", b2, sizeof(b2));
				const char *msg = cli_str(e, "message", "", b3, sizeof(b3));
				fprintf(stderr, "fulfill: %s: %s: %s\n", id, code, msg);
			}
		}
	}
	json_decref(out);
	return failed ? CLI_FAIL : CLI_OK;
}

int cli_cmd_review_approve(struct cli *c) { return review(c, true); }

int cli_cmd_review_reject(struct cli *c) { return review(c, false); }
