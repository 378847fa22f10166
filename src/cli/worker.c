/*
 * worker.c - `fulfill worker [--once] [--now RFC3339]`: the background work loop
 * (release holds, fulfill, webhooks, expiry) as its own process. A pass runs every
 * worker_interval seconds until SIGTERM/SIGINT; the pass in progress always finishes
 * (each pass commits its own transactions), so stopping never leaves half-done work.
 * On PostgreSQL an idle worker also wakes when another process signals new work.
 */
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fulfill/fftime.h"
#include "fulfill/log.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void cli_print_worker_counts(FILE *f, const json_t *counts)
{
	static const char *const keys[] = {"released", "fulfilled", "failed", "expired",
					   "webhooks"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(counts, keys[i]);
		fprintf(f, "%s%s %lld", i ? ", " : "", keys[i],
			(long long)(json_is_integer(v) ? json_integer_value(v) : 0));
	}
	fputc('\n', f);
}

static bool any_work(const json_t *counts)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)counts, k, v)
	{
		if (json_is_integer(v) && json_integer_value(v))
			return true;
	}
	return false;
}

int cli_cmd_worker(struct cli *c)
{
	int64_t now_ms = 0;
	if (c->opt[OPT_NOW] && fftime_parse(c->opt[OPT_NOW], &now_ms) != 0)
		return cli_usage(c,
				 "--now must be an RFC 3339 time such as 2026-11-22T10:00:00Z, "
				 "not '%s'",
				 c->opt[OPT_NOW]);
	struct ff_diag d;
	ff_diag_clear(&d);
	json_t *out = NULL;
	enum ff_err err;
	if (engine_read_only(c->engine))
		return cli_fail("cannot write the database %s: this process may only read it (check the owner "
				"and mode of the file and its directory, and that the file system is writable)",
				c->cfg.db_url);
	if (c->opt[OPT_ONCE]) {
		err = engine_worker_pass(c->engine, &c->actor, now_ms, &out, &d);
		if (err)
			return cli_fail_engine(err, &d);
		if (c->json)
			cli_print_json(out);
		else
			cli_print_worker_counts(stdout, out);
		json_decref(out);
		return CLI_OK;
	}

	char *end;
	errno = 0;
	double interval = strtod(c->settings.value[SET_WORKER_INTERVAL], &end);
	if (errno || *end || !(interval > 0) || interval > 3600)
		return cli_usage(c, "worker_interval must be a number of seconds (0 < s <= 3600)");

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: the sleep below ends at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	log_msg("info", "worker started (a pass every %gs)", interval);
	int rc = CLI_OK;
	unsigned failures = 0;
	while (!stop_requested) {
		/* --now fixes the start; later passes move on with the real clock's pace. */
		err = engine_worker_pass(c->engine, &c->actor, now_ms, &out, &d);
		if (err) {
			failures++;
			log_msg("error", "worker pass failed: %s: %s", ff_err_code(err), d.message);
			ff_diag_clear(&d);
		} else {
			failures = 0;
			if (any_work(out))
				log_json("info", "worker pass", out);
			json_decref(out);
			out = NULL;
		}
		if (now_ms)
			now_ms += (int64_t)(interval * 1000);
		/* Back off (up to 30 s) while the database is unreachable. */
		double pause =
		    interval * (failures ? (failures < 5 ? (double)(1u << failures) : 30) : 1);
		if (pause > 30 && failures)
			pause = 30;
		/* PostgreSQL: new work from another process (LISTEN/NOTIFY) ends the wait early;
		 * with --now the clock is simulated, so passes keep their fixed pace */
		if (!failures && !now_ms && !stop_requested &&
		    engine_wait_work(c->engine, (int)(pause * 1000)) >= 0)
			continue;
		struct timespec ts = {(time_t)pause, (long)((pause - (double)(time_t)pause) * 1e9)};
		while (!stop_requested && nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	log_msg("info", "worker stopped");
	return rc;
}
