/*
 * recon_bench.c - how fast batches are made and reconciled, and how much memory a big
 * credit memo takes (docs/finance.md, SPEC §6).
 *
 *   recon_bench [N]        (default 1,000,000)
 *
 * Phase 1 (a child process): a fresh SQLite database in a temp dir, N approved rewards
 * of the manual connector for fulfiller "acme" seeded with one INSERT ... SELECT (the
 * ingest path is benchmarked elsewhere), then engine_batch_create over all of them
 * (timed: the goal is < 2 s for 100,000), engine_batch_fulfill, and a CSV memo with one
 * matching line per reward.
 * Phase 2 (this process, so its peak RSS is the reconciliation's alone):
 * engine_batch_reconcile streaming the memo from a FILE*: lines/s (goal >= 200,000)
 * and peak RSS (goal < 200 MB).
 *
 * Prints one line per measurement, "name value unit", for bench/run to collect.
 * The temporary directory goes in $TMPDIR (default /tmp); RECON_BENCH_KEEP=1 keeps it
 * (and says where it is) with a copy of the database as phase 1 left it (fulfilled.db);
 * RECON_BENCH_FROM=DIR skips phase 1 and reconciles a fresh copy of DIR/fulfilled.db
 * (to profile phase 2 alone).
 * Build and run: see bench/README.md.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fulfill/alloc.h"
#include "fulfill/engine.h"
#include "fulfill/fftime.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct ff_diag *d)
{
	fprintf(stderr, "recon_bench: %s: %s\n", what, d ? d->message : "");
	exit(1);
}

static struct engine *open_engine(const char *dir)
{
	struct engine_config cfg;
	engine_config_init(&cfg);
	snprintf(cfg.db_url, sizeof(cfg.db_url), "sqlite:%s/bench.db", dir);
	memset(cfg.master_key, 0x5a, sizeof(cfg.master_key));
	cfg.has_master_key = true;
	struct engine *e;
	struct ff_diag d;
	if (engine_open(&cfg, &e, &d))
		die("engine_open", &d);
	return e;
}

static void finance(struct actor *a)
{
	memset(a, 0, sizeof(*a));
	a->role = ROLE_FINANCE;
	snprintf(a->label, sizeof(a->label), "bench");
}

static void seed(const char *dir, long n)
{
	char path[600], sql[1600];
	snprintf(path, sizeof(path), "%s/bench.db", dir);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("sqlite3_open", NULL);
	snprintf(sql, sizeof(sql),
		 "BEGIN;"
		 "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %ld) "
		 "INSERT INTO rewards (id, program, program_version, participant, role, type, amount, currency, "
		 "status, reason, connector, fulfiller, created_at, updated_at) "
		 "SELECT printf('rwd_%%012d', n), 'cash', 1, 'p' || (n %% 5000), 'referrer', 'cash', 1000 + n %% 9000, "
		 "'USD', 'approved', 'awaiting_batch', 'manual', 'acme', 1790812800000, 1790812800000 FROM s;"
		 "COMMIT;",
		 n);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "recon_bench: seed: %s\n", err);
		exit(1);
	}
	sqlite3_close(db);
}

static void write_memo(const char *dir, long n)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/memo.csv", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		die("memo", NULL);
	fputs("reward_id,amount,currency,reference\n", f);
	for (long i = 1; i <= n; i++)
		fprintf(f, "rwd_%012ld,%ld,USD,CM-1001\n", i, 1000 + i % 9000);
	fclose(f);
}

/* Phase 1, in a child: seed, batch, fulfil, memo. Writes the batch id to DIR/batch. */
static void setup(const char *dir, long n)
{
	struct engine *e = open_engine(dir); /* creates the schema */
	double t = now_s();
	seed(dir, n);
	printf("seed_rewards %ld rewards %.2f s\n", n, now_s() - t);
	struct actor a;
	finance(&a);
	struct batch_params p = {.fulfiller = "acme"};
	json_t *b = NULL;
	struct ff_diag d;
	t = now_s();
	if (engine_batch_create(e, &a, &p, &b, &d))
		die("engine_batch_create", &d);
	double dt = now_s() - t;
	printf("batch_create %.3f s (%ld rewards, %.0f rewards/s)\n", dt, n, (double)n / dt);
	char id[64];
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(b, "id")));
	json_decref(b);
	t = now_s();
	if (engine_batch_fulfill(e, &a, id, "CM-1001", &b, &d))
		die("engine_batch_fulfill", &d);
	printf("batch_fulfill %.3f s\n", now_s() - t);
	json_decref(b);
	engine_close(e);
	write_memo(dir, n);
	char path[600];
	snprintf(path, sizeof(path), "%s/batch", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		die("batch id", NULL);
	fputs(id, f);
	fclose(f);
}

static double read_done;
static long read_rss; /* KiB */

static void progress(void *ctx, uint64_t lines)
{
	(void)ctx;
	(void)lines;
	read_done = now_s(); /* the last call comes when the memo has been read */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	read_rss = ru.ru_maxrss;
}

int main(int argc, char **argv)
{
	ff_alloc_install(); /* SQLite on the allocator fulfill's main() gives it */
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	if (n <= 0)
		n = 1000000;
	char tmpl[600];
	const char *tmpdir = getenv("TMPDIR");
	snprintf(tmpl, sizeof(tmpl), "%s/recon-bench-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	const char *from = getenv("RECON_BENCH_FROM");
	char *dir = from && *from ? (char *)from : mkdtemp(tmpl);
	if (!dir)
		die("mkdtemp", NULL);
	char cmd[1400];
	if (from && *from) {
		snprintf(cmd, sizeof(cmd), "cp '%s/fulfilled.db' '%s/bench.db' && rm -f '%s/bench.db-wal' '%s/bench.db-shm'",
			 dir, dir, dir, dir);
		if (system(cmd) != 0)
			die("no fulfilled.db to start from", NULL);
	} else {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			setup(dir, n);
			fflush(stdout);
			exit(0);
		}
		int status;
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("setup failed", NULL);
		snprintf(cmd, sizeof(cmd), "cp '%s/bench.db' '%s/fulfilled.db'", dir, dir);
		if (getenv("RECON_BENCH_KEEP") && system(cmd) != 0)
			die("copy of the database", NULL);
	}

	/* the setup's (or the copy's) dirty pages reach the disk now, not during the timing */
	sync();
	char path[600], id[64] = "";
	snprintf(path, sizeof(path), "%s/batch", dir);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(id, sizeof(id), f))
		die("batch id", NULL);
	fclose(f);
	struct engine *e = open_engine(dir);
	struct actor a;
	finance(&a);
	snprintf(path, sizeof(path), "%s/memo.csv", dir);
	f = fopen(path, "r");
	if (!f)
		die("memo", NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long rss_before = ru.ru_maxrss;
	struct recon_input in = {.file = f, .progress = progress};
	json_t *out = NULL;
	struct ff_diag d;
	double t = now_s();
	if (engine_batch_reconcile(e, &a, id, &in, &out, &d))
		die("engine_batch_reconcile", &d);
	double dt = now_s() - t;
	getrusage(RUSAGE_SELF, &ru);
	printf("reconcile_status %s (matched %lld of %ld)\n", json_string_value(json_object_get(out, "status")),
	       (long long)json_integer_value(json_object_get(out, "matched")), n);
	printf("reconcile_lines_per_s %.0f lines/s (%ld lines in %.3f s; read and match %.3f s, apply %.3f s)\n",
	       (double)n / dt, n, dt, read_done - t, dt - (read_done - t));
	printf("reconcile_peak_rss %.1f MB (%.1f MB before, %.1f MB once the memo was read and matched)\n",
	       (double)ru.ru_maxrss / 1024.0, (double)rss_before / 1024.0, (double)read_rss / 1024.0);
	json_decref(out);
	fclose(f);
	engine_close(e);
	if (getenv("RECON_BENCH_KEEP") || (from && *from)) {
		fprintf(stderr, "recon_bench: kept %s\n", dir);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "recon_bench: could not remove %s\n", dir);
	return 0;
}
