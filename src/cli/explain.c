/*
 * explain.c - `fulfill explain ID`: why a reward (or a conversion that earned nothing)
 * came out as it did, for a person. --json prints engine_explain()'s object as is.
 *
 * The readable form follows the explanation the rules engine stores (src/core/rules.c):
 * program and version, each eligibility clause with the value it saw and its result,
 * the tier, the limits, each reward the decision produced (or why not), fraud signals
 * and the outcome. Members this file does not know are still printed, as compact JSON,
 * so a richer explanation never goes missing here.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static char *compact(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		s = ff_strdup("?");
	return s;
}

static void line(const char *label, const char *value) { printf("  %-14s %s\n", label, value); }

static void line_json(const char *label, const json_t *v)
{
	if (json_is_string(v)) {
		line(label, json_string_value(v));
		return;
	}
	char *s = compact(v);
	line(label, s);
	free(s);
}

/* [pass]/[FAIL] and the clause's sentence ("conversion.amount (3000) >= 5000: false"),
 * or the rule and the value it evaluated to. */
static void print_clause(const json_t *cl)
{
	if (!json_is_object(cl)) {
		char *s = compact(cl);
		printf("    %s\n", s);
		free(s);
		return;
	}
	const json_t *result = json_object_get(cl, "result");
	const char *mark = json_is_true(result) ? "pass" : "FAIL";
	const json_t *text = json_object_get(cl, "text");
	if (json_is_string(text)) {
		printf("    [%s] %s\n", mark, json_string_value(text));
	} else {
		char *r = compact(json_object_get(cl, "rule") ? json_object_get(cl, "rule") : cl);
		printf("    [%s] %s", mark, r);
		free(r);
		const json_t *value = json_object_get(cl, "value");
		if (value) {
			char *v = compact(value);
			printf("  => %s", v);
			free(v);
		}
		putchar('\n');
	}
	const json_t *err = json_object_get(cl, "error");
	if (json_is_string(err))
		printf("           error: %s\n", json_string_value(err));
}

static void print_amount(const json_t *entry, const char *currency)
{
	const json_t *amt = json_object_get(entry, "amount");
	if (!json_is_integer(amt))
		return;
	char b[96];
	if (currency && *currency)
		printf(" %s", cli_money_amount(json_integer_value(amt), currency, b, sizeof(b)));
	else
		printf(" %lld", (long long)json_integer_value(amt));
}

/* One entry of "rewards": what the decision produced for one recipient. */
static void print_reward_entry(const json_t *en, const char *currency, const char *this_reward)
{
	char b1[64], b2[64];
	printf("    %s %s", cli_str(en, "to", "?", b1, sizeof(b1)),
	       cli_str(en, "type", "?", b2, sizeof(b2)));
	print_amount(en, currency);
	const char *computed = json_string_value(json_object_get(en, "computed"));
	if (computed)
		printf(" (%s)", computed);
	const char *rid = json_string_value(json_object_get(en, "reward"));
	const char *status = json_string_value(json_object_get(en, "status"));
	const char *reason = json_string_value(json_object_get(en, "reason"));
	const char *skipped = json_string_value(json_object_get(en, "skipped"));
	if (rid) {
		printf(" -> %s, created %s", rid, status ? status : "");
		if (reason)
			printf(" (%s)", reason);
		if (this_reward && !strcmp(rid, this_reward))
			printf("   <- this reward");
	} else if (json_is_true(json_object_get(en, "capped"))) {
		printf(" -> not created: %s", reason ? reason : "capped by a limit");
	} else if (skipped) {
		printf(" -> not created: %s", skipped);
	}
	putchar('\n');
}

static void print_limits(const json_t *limits)
{
	if (!json_is_array(limits) || json_array_size(limits) == 0) {
		line("limits", "none reached");
		return;
	}
	printf("  limits:\n");
	size_t i;
	json_t *l;
	json_array_foreach(limits, i, l)
	{
		char b1[128], b2[32], b3[32];
		printf("    %s: %s of %s used%s\n", cli_str(l, "limit", "?", b1, sizeof(b1)),
		       cli_str(l, "used", "?", b2, sizeof(b2)),
		       cli_str(l, "value", "?", b3, sizeof(b3)),
		       json_is_true(json_object_get(l, "applied")) ? " (applied)" : "");
	}
}

static void print_signals(const json_t *signals)
{
	if (!json_is_array(signals) || json_array_size(signals) == 0) {
		line("signals", "none");
		return;
	}
	printf("  signals:\n");
	size_t i;
	json_t *s;
	json_array_foreach(signals, i, s)
	{
		if (json_is_string(s)) {
			printf("    %s\n", json_string_value(s));
			continue;
		}
		char *c = compact(s);
		printf("    %s\n", c);
		free(c);
	}
}

static const char *const known[] = {"object",	"program",    "program_version", "trigger",
				    "referral", "conversion", "eligible",	 "clauses",
				    "tier",	"limits",     "rewards",	 "signals",
				    "outcome",	"failed",     "this_reward",	 "message",
				    NULL};

static void print_explanation(const json_t *x, const json_t *outer_signals, const char *currency)
{
	char b[256], b2[32];
	const char *program = cli_str(x, "program", NULL, b, sizeof(b));
	if (program) {
		printf("  %-14s %s version %s", "program", program,
		       cli_str(x, "program_version", "?", b2, sizeof(b2)));
		const char *trig = json_string_value(json_object_get(x, "trigger"));
		if (trig)
			printf(" (rewards on %s)", trig);
		putchar('\n');
	}
	const json_t *v;
	if ((v = json_object_get(x, "referral")) && !json_is_null(v))
		line_json("referral", v);
	if ((v = json_object_get(x, "conversion")) && !json_is_null(v))
		line_json("conversion", v);
	const json_t *msg = json_object_get(x, "message");
	if (json_is_string(msg))
		line("note", json_string_value(msg));
	const json_t *clauses = json_object_get(x, "clauses");
	if (json_is_array(clauses)) {
		printf("  eligibility:\n");
		size_t i;
		json_t *cl;
		json_array_foreach(clauses, i, cl) { print_clause(cl); }
		if (json_array_size(clauses) == 0)
			printf("    (no eligibility rule: everyone qualifies)\n");
	}
	if ((v = json_object_get(x, "eligible")))
		line("eligible", json_is_true(v) ? "yes" : "no");
	const json_t *tier = json_object_get(x, "tier");
	if (json_is_object(tier)) {
		const json_t *n = json_object_get(tier, "successful_referral_number");
		const json_t *from = json_object_get(tier, "from");
		char t[160];
		if (json_is_integer(from))
			snprintf(t, sizeof(t), "successful referral #%lld: tier from %lld",
				 (long long)json_integer_value(n),
				 (long long)json_integer_value(from));
		else
			snprintf(t, sizeof(t), "successful referral #%lld: base rewards (no tier)",
				 (long long)json_integer_value(n));
		line("tier", t);
	}
	if (json_object_get(x, "limits"))
		print_limits(json_object_get(x, "limits"));
	const json_t *rewards = json_object_get(x, "rewards");
	if (json_is_array(rewards) && json_array_size(rewards)) {
		printf("  rewards:\n");
		const char *this_reward = json_string_value(json_object_get(x, "this_reward"));
		size_t i;
		json_t *en;
		json_array_foreach(rewards, i, en)
		{
			print_reward_entry(en, currency, this_reward);
		}
	}
	const json_t *signals = json_object_get(x, "signals");
	if (!signals || (json_is_array(signals) && !json_array_size(signals)))
		signals = outer_signals;
	print_signals(signals);
	if ((v = json_object_get(x, "outcome")))
		line_json("outcome", v);
	const json_t *failed = json_object_get(x, "failed");
	if (json_is_array(failed) && json_array_size(failed)) {
		printf("  why not:\n");
		size_t i;
		json_t *f;
		json_array_foreach(failed, i, f)
		{
			if (json_is_string(f)) {
				printf("    %s\n", json_string_value(f));
			} else {
				char *s = compact(f);
				printf("    %s\n", s);
				free(s);
			}
		}
	}
	/* Anything else the engine added. */
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)x, key, val)
	{
		bool is_known = false;
		for (const char *const *k = known; *k && !is_known; k++)
			is_known = !strcmp(*k, key);
		if (!is_known)
			line_json(key, val);
	}
}

int cli_cmd_explain(struct cli *c)
{
	json_t *out = NULL;
	struct ff_diag d;
	ff_diag_clear(&d);
	enum ff_err err = engine_explain(c->engine, &c->actor, c->args[0], &out, &d);
	if (err)
		return cli_fail_engine(err, &d);
	if (c->json) {
		cli_print_json(out);
		json_decref(out);
		return CLI_OK;
	}
	char b1[160], b2[160], b3[64], cur[16] = "";
	const char *reward = cli_str(out, "reward", NULL, b1, sizeof(b1));
	const char *who = cli_str(out, "participant", "?", b2, sizeof(b2));
	json_t *x = json_object_get(out, "explanation");
	if (reward) {
		printf("reward %s for %s: %s\n", reward, who,
		       cli_str(out, "status", "?", b3, sizeof(b3)));
		/* The amounts in the explanation are minor units of the reward's currency. */
		json_t *r = NULL;
		if (engine_reward_get(c->engine, &c->actor, reward, &r, &d) == FF_OK) {
			const char *cs = json_string_value(json_object_get(r, "currency"));
			if (cs)
				snprintf(cur, sizeof(cur), "%s", cs);
			json_decref(r);
		}
	} else {
		const char *conv = cli_str(out, "conversion", c->args[0], b1, sizeof(b1));
		json_t *rw = json_object_get(x, "rewards");
		bool earned = false;
		size_t i;
		json_t *en;
		json_array_foreach(rw, i, en) { earned |= json_object_get(en, "reward") != NULL; }
		printf("conversion %s by %s: %s\n", conv, who,
		       earned ? "earned rewards" : "earned nothing");
		json_t *cv = NULL;
		if (engine_conversion_get(c->engine, &c->actor, conv, &cv, &d) == FF_OK) {
			const char *cs = json_string_value(json_object_get(cv, "currency"));
			if (cs)
				snprintf(cur, sizeof(cur), "%s", cs);
			json_decref(cv);
		}
	}
	if (json_is_object(x) && json_object_size(x))
		print_explanation(x, json_object_get(out, "signals"), cur[0] ? cur : NULL);
	else
		printf("  no explanation stored (the conversion was not evaluated against a "
		       "program)\n");
	json_decref(out);
	return CLI_OK;
}
