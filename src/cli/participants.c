/*
 * participants.c - `fulfill participants list|show`, `fulfill redeem` and
 * `fulfill report participants`.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "fulfill/money.h"

static void print_participant_table(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const hdr[] = {"ID", "NAME", "EMAIL", "COUNTRY", "CURRENCY", "STATUS"};
	struct cli_table *t = cli_table_new(6, hdr);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(out, "data"), i, r)
	{
		char b[6][256];
		const char *row[] = {cli_str(r, "id", "", b[0], sizeof(b[0])),
				     cli_str(r, "name", "", b[1], sizeof(b[1])),
				     cli_str(r, "email", "", b[2], sizeof(b[2])),
				     cli_str(r, "country", "", b[3], sizeof(b[3])),
				     cli_str(r, "currency", "", b[4], sizeof(b[4])),
				     cli_str(r, "status", "", b[5], sizeof(b[5]))};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
}

int cli_cmd_participants_list(struct cli *c)
{
	struct page p;
	int rc = cli_page_from_opts(c, &p);
	if (rc != CLI_OK)
		return rc;
	struct participant_filter f = {c->opt[OPT_STATUS], c->opt[OPT_COUNTRY]};
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_participants_list(c->engine, &c->actor, &f, &p, &out, &d);
	return cli_finish_list(c, err, &d, out, print_participant_table, "(more participants: use --limit / --starting-after)");
}

/* "1500.00 USD, 30 POINT" from [{"currency","amount"}]; "0" when empty. */
static const char *money_list(const json_t *arr, char *buf, size_t n)
{
	size_t i, used = 0;
	json_t *m;
	buf[0] = '\0';
	json_array_foreach(arr, i, m)
	{
		char one[96];
		cli_money(m, one, sizeof(one));
		int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", one);
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
	if (!used)
		snprintf(buf, n, "0");
	return buf;
}

static void print_participant(const struct cli *c, const json_t *out)
{
	(void)c;
	static const char *const fields[] = {"id",	 "name",       "email",
					     "country",	 "currency",   "status",
					     "tax_form", "created_at", "updated_at"};
	char b[1024];
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = cli_str(out, fields[i], NULL, b, sizeof(b));
		if (v)
			cli_print_field(fields[i], v);
	}
	json_t *attrs = json_object_get(out, "attributes");
	if (json_is_object(attrs) && json_object_size(attrs)) {
		char *s = json_dumps(attrs, JSON_COMPACT);
		cli_print_field("attributes", s);
		free(s);
	}
	json_t *stats = json_object_get(out, "stats");
	if (json_is_object(stats)) {
		cli_print_field("referrals", cli_str(stats, "referrals", "0", b, sizeof(b)));
		cli_print_field("successful",
				cli_str(stats, "successful_referrals", "0", b, sizeof(b)));
		json_t *rw = json_object_get(stats, "rewards");
		if (json_is_object(rw)) {
			size_t used = 0;
			const char *k;
			json_t *v;
			b[0] = '\0';
			json_object_foreach(rw, k, v)
			{
				int w =
				    snprintf(b + used, sizeof(b) - used, "%s%s %lld",
					     used ? ", " : "", k, (long long)json_integer_value(v));
				if (w < 0 || (size_t)w >= sizeof(b) - used)
					break;
				used += (size_t)w;
			}
			cli_print_field("rewards", used ? b : "none");
		}
	}
	cli_print_field("balance", money_list(json_object_get(out, "balances"), b, sizeof(b)));
}

int cli_cmd_participants_show(struct cli *c)
{
	return cli_run_by_id(c, engine_participant_get, print_participant);
}

int cli_cmd_redeem(struct cli *c)
{
	const char *who = c->args[0], *amount_s = c->args[1], *currency = c->args[2];
	if (!money_currency_valid(currency))
		return cli_usage(c, "unknown currency '%s' (ISO 4217 code such as USD, or POINT)",
				 currency);
	int64_t amount;
	if (money_parse(amount_s, currency, &amount) != 0 || amount <= 0)
		return cli_usage(c, "AMOUNT must be a positive decimal amount of %s, not '%s'",
				 currency, amount_s);
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err =
	    engine_participant_redeem(c->engine, &c->actor, who, amount, currency, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
	} else {
		char m1[96], m2[96];
		json_t *bal = json_object_get(out, "balance");
		printf("redeemed %s from %s; balance %s\n",
		       cli_money_amount(amount, currency, m1, sizeof(m1)), who,
		       json_is_integer(bal)
			   ? cli_money_amount(json_integer_value(bal), currency, m2, sizeof(m2))
			   : "?");
	}
	json_decref(out);
	return CLI_OK;
}

int cli_cmd_report_participants(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_report_participants(c->engine, &c->actor, &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->opt[OPT_CSV])
		return cli_print_report(c, out);
	if (c->json) {
		cli_print_json(out);
		json_decref(out);
		return CLI_OK;
	}
	static const char *const hdr[] = {"PARTICIPANT", "REFERRALS", "SUCCESSFUL", "REWARDS",
					  "FULFILLED",	 "EARNED",    "PAID OUT"};
	struct cli_table *t = cli_table_new(7, hdr);
	json_t *rows = json_is_array(out) ? out : json_object_get(out, "data");
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r)
	{
		char b[7][512];
		const char *who = cli_str(r, "participant", NULL, b[0], sizeof(b[0]));
		if (!who)
			who = cli_str(r, "id", "", b[0], sizeof(b[0]));
		/* amounts: [{"currency", "earned", "fulfilled"}] -> "60.00 USD, 10 POINT" */
		size_t used[2] = {0, 0};
		b[5][0] = b[6][0] = '\0';
		size_t k;
		json_t *m;
		json_array_foreach(json_object_get(r, "amounts"), k, m)
		{
			const char *cur = json_string_value(json_object_get(m, "currency"));
			static const char *const which[2] = {"earned", "fulfilled"};
			for (int w = 0; w < 2; w++) {
				char one[96];
				json_t *v = json_object_get(m, which[w]);
				cli_money_amount(json_is_integer(v) ? json_integer_value(v) : 0,
						 cur, one, sizeof(one));
				char *dst = b[5 + w];
				int n = snprintf(dst + used[w], sizeof(b[0]) - used[w], "%s%s",
						 used[w] ? ", " : "", one);
				if (n > 0 && (size_t)n < sizeof(b[0]) - used[w])
					used[w] += (size_t)n;
			}
		}
		const char *row[] = {who,
				     cli_str(r, "referrals", "0", b[1], sizeof(b[1])),
				     cli_str(r, "successful_referrals", "0", b[2], sizeof(b[2])),
				     cli_str(r, "rewards_earned", "0", b[3], sizeof(b[3])),
				     cli_str(r, "rewards_fulfilled", "0", b[4], sizeof(b[4])),
				     used[0] ? b[5] : "-",
				     used[1] ? b[6] : "-"};
		cli_table_add(t, row);
	}
	cli_table_print(t, stdout);
	json_decref(out);
	return CLI_OK;
}
