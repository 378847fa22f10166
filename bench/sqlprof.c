/*
 * sqlprof.c - an LD_PRELOAD shim that times every SQLite statement a process runs, by
 * SQL text, without touching the program: it interposes sqlite3_step() and
 * sqlite3_exec() (found in libsqlite3 with dlsym(RTLD_NEXT)) and, at exit, prints to
 * stderr the statements that took the most wall time (CPU plus any wait for the disk),
 * with their call counts. bench/run uses it for the "where does ingest time go" table
 * (BENCH_PROFILE=1). Not thread-safe: meant for the single-threaded CLI.
 *
 * Build: cc -O2 -shared -fPIC -o sqlprof.so sqlprof.c -ldl
 * Use:   LD_PRELOAD=./sqlprof.so SQLPROF_TOP=20 ./fulfill ingest FILE
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 512

struct entry {
	const char *sql; /* owned copy */
	uint64_t calls;  /* sqlite3_exec() calls, or statement runs (first step after a reset) */
	uint64_t steps;
	uint64_t ns;
};

static struct entry table[SLOTS];
static uint64_t total_ns;
static int in_exec; /* sqlite3_exec() steps through sqlite3_step(): count those once */
static int (*real_step)(sqlite3_stmt *);
static int (*real_exec)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **);

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct entry *lookup(const char *sql)
{
	uint64_t h = 1469598103934665603u;
	for (const char *p = sql; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211u;
	for (unsigned i = 0; i < SLOTS; i++) {
		struct entry *e = &table[(h + i) % SLOTS];
		if (!e->sql) {
			e->sql = strdup(sql);
			return e->sql ? e : NULL;
		}
		if (!strcmp(e->sql, sql))
			return e;
	}
	return NULL; /* table full: not counted */
}

int sqlite3_step(sqlite3_stmt *st)
{
	if (!real_step)
		real_step = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_step");
	if (in_exec)
		return real_step(st);
	/* a statement that has not been stepped since its reset starts a new run */
	int fresh = !sqlite3_stmt_busy(st);
	uint64_t t0 = now_ns();
	int rc = real_step(st);
	uint64_t dt = now_ns() - t0;
	const char *sql = sqlite3_sql(st);
	struct entry *e = sql ? lookup(sql) : NULL;
	if (e) {
		e->calls += (uint64_t)fresh;
		e->steps++;
		e->ns += dt;
	}
	total_ns += dt;
	return rc;
}

int sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *arg, char **err)
{
	if (!real_exec)
		real_exec = (int (*)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *,
				     char **))dlsym(RTLD_NEXT, "sqlite3_exec");
	uint64_t t0 = now_ns();
	in_exec++;
	int rc = real_exec(db, sql, cb, arg, err);
	in_exec--;
	uint64_t dt = now_ns() - t0;
	/* savepoint names differ by depth only: fold "SAVEPOINT sp3" into "SAVEPOINT spN" */
	char key[96];
	snprintf(key, sizeof(key), "%s", sql);
	for (char *p = key; *p; p++)
		if (p[0] == 's' && p[1] == 'p' && p[2] >= '0' && p[2] <= '9') {
			p[2] = 'N';
			char *q = p + 3;
			while (*q >= '0' && *q <= '9')
				memmove(q, q + 1, strlen(q));
		}
	struct entry *e = lookup(key);
	if (e) {
		e->calls++;
		e->steps++;
		e->ns += dt;
	}
	total_ns += dt;
	return rc;
}

static int by_time(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

__attribute__((destructor)) static void report(void)
{
	const char *topv = getenv("SQLPROF_TOP");
	int top = topv ? atoi(topv) : 15;
	qsort(table, SLOTS, sizeof(table[0]), by_time);
	fprintf(stderr, "sqlprof: %.2f s inside SQLite\n", (double)total_ns / 1e9);
	fprintf(stderr, "sqlprof: %8s %6s %10s %10s  %s\n", "seconds", "share", "runs", "steps", "statement");
	for (int i = 0; i < top && i < SLOTS && table[i].sql; i++) {
		const struct entry *e = &table[i];
		fprintf(stderr, "sqlprof: %8.2f %5.1f%% %10llu %10llu  %.160s\n", (double)e->ns / 1e9,
			total_ns ? 100.0 * (double)e->ns / (double)total_ns : 0.0, (unsigned long long)e->calls,
			(unsigned long long)e->steps, e->sql);
	}
}
