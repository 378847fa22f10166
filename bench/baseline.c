/*
 * baseline.c - the write-only floor that `fulfill ingest` and `fulfill worker` are
 * measured against (bench/run).
 *
 * It opens a fresh database with store_open() from build/libfulfill.a, so the schema,
 * the indexes and the pragmas (WAL, synchronous=FULL, cache size) are fulfill's own and
 * cannot drift, and it writes through fulfill's own prepared statements (store_query()
 * with the Q_* ids of src/store/queries.c), 500 events or rewards per transaction. What
 * it leaves out is everything fulfill does besides writing: parsing and validating
 * events, the reads that decide a reward (attribution, stats, eligibility), JSON
 * building, and a savepoint per event. The rows and their sizes follow what fulfill
 * writes for the benchmark's program (bench/program.json); bench/run checks the row
 * counts of both databases against each other.
 *
 * Phase 1, untimed: REFERRERS referrers, N referred participants, N referrals.
 * Phase 2, timed ("ingest"), per conversion event: one events row, one conversions
 *   row, two rewards, two reward_history rows, one referral status update, four audit
 *   records (conversion.created, referral.successful, 2 x reward.created), each with
 *   its SHA-256 chain hash. The ledger is untouched: rewards are not fulfilled at ingest.
 * Phase 3, timed ("worker"), per reward: one ledger lot, two ledger entries, two
 *   balance upserts, one reward update, one reward_history row, one audit record.
 *
 * usage: baseline DBPATH [N [REFERRERS]]   (N = 100000 events, REFERRERS = N / 100)
 * DBPATH may also be a postgres:// URL of an empty database (bench/pg_bench.py).
 * Prints key=value lines on stdout (bench/run parses them) and a summary on stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fulfill/alloc.h"
#include "fulfill/crypto.h"
#include "fulfill/error.h"
#include "fulfill/fftime.h"
#include "store/store.h"

#define BATCH 500
#define ID_LEN 48

struct reward_ref {
	char id[ID_LEN];
	char participant[ID_LEN];
};

struct bench {
	struct store *st;
	int64_t audit_seq;
	char audit_hash[65];
	struct reward_ref *rewards;
	size_t nrewards;
};

/* The statements are fulfill's, bound by position: when src/store/queries.c changes a
 * statement this program writes, the bindings here must follow (a failure says so). */
static void die(struct bench *b, const char *what)
{
	fprintf(stderr,
		"baseline: %s failed: %s\n"
		"baseline: did its statement in src/store/queries.c change? update bench/baseline.c\n",
		what, b->st ? store_errmsg(b->st) : "no database");
	exit(1);
}

static void run(struct bench *b, struct store_stmt *st, const char *what)
{
	if (store_exec(st))
		die(b, what);
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process so far (user + system), seconds. */
static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}


/* One audit record chained like src/core/audit.c: hash = SHA-256 over the fields seq,
 * at, actor, action, target, detail, prev_hash, each preceded by its length. */
static void audit(struct bench *b, const char *action, const char *target, const char *detail, int64_t at)
{
	char hash[65], seqs[24], ats[24];
	int64_t seq = b->audit_seq + 1;
	snprintf(seqs, sizeof(seqs), "%" PRId64, seq);
	snprintf(ats, sizeof(ats), "%" PRId64, at);
	const char *fields[] = {seqs, ats, "cli", action, target, detail, b->audit_hash};
	crypto_sha256_fields_hex(fields, sizeof(fields) / sizeof(fields[0]), hash);
	struct store_stmt *st = store_query(b->st, Q_AUDIT_INSERT);
	store_bind_int(st, 1, seq);
	store_bind_int(st, 2, at);
	store_bind_text(st, 3, "cli");
	store_bind_text(st, 4, action);
	store_bind_text(st, 5, target);
	store_bind_text(st, 6, detail);
	store_bind_text(st, 7, b->audit_hash);
	store_bind_text(st, 8, hash);
	run(b, st, "audit insert");
	b->audit_seq = seq;
	memcpy(b->audit_hash, hash, sizeof(hash));
}

static void history(struct bench *b, const char *reward, const char *from, const char *to, const char *reason,
		    int64_t at)
{
	struct store_stmt *st = store_query(b->st, Q_HISTORY_INSERT);
	store_bind_text(st, 1, reward);
	store_bind_text(st, 2, from);
	store_bind_text(st, 3, to);
	store_bind_text(st, 4, "cli");
	store_bind_text(st, 5, reason);
	store_bind_int(st, 6, at);
	run(b, st, "history insert");
}

static void begin(struct bench *b)
{
	if (store_begin(b->st))
		die(b, "BEGIN");
}

static void commit(struct bench *b)
{
	if (store_commit(b->st))
		die(b, "COMMIT");
}

/* ---- phase 1: the people and referrals the conversions refer to (untimed) ---- */

static void setup(struct bench *b, long n, long referrers)
{
	int64_t now = fftime_now();
	begin(b);
	for (long i = 0; i < referrers + n; i++) {
		char id[ID_LEN], hash[65];
		bool referrer = i < referrers;
		if (referrer)
			snprintf(id, sizeof(id), "r%06ld", i);
		else
			snprintf(id, sizeof(id), "u%07ld", i - referrers);
		crypto_sha256_hex(id, strlen(id), hash);
		struct store_stmt *st = store_query(b->st, Q_PARTICIPANT_UPSERT);
		store_bind_text(st, 1, id);
		store_bind_text(st, 2, referrer ? "v1:bm90IHJlYWxseSBzZWFsZWQsIGp1c3QgdGhlIHNhbWUgc2l6ZQ" : NULL);
		store_bind_text(st, 3, referrer ? hash : NULL);
		store_bind_text(st, 4, NULL);
		store_bind_text(st, 5, referrer ? "US" : NULL);
		store_bind_text(st, 6, referrer ? "USD" : NULL);
		store_bind_text(st, 7, "active");
		store_bind_text(st, 8, "none");
		store_bind_text(st, 9, "{}");
		store_bind_text(st, 10, "[]");
		store_bind_text(st, 11, "[]");
		store_bind_int(st, 12, now);
		store_bind_text(st, 13, "0123456789abcdef"); /* key_id: which master key sealed the row */
		run(b, st, "participant insert");
		if (referrer)
			continue;
		long k = i - referrers;
		char ref[ID_LEN], who[ID_LEN], ev[ID_LEN];
		snprintf(ref, sizeof(ref), "ref_%07ld", k);
		snprintf(who, sizeof(who), "r%06ld", k / (n / referrers));
		snprintf(ev, sizeof(ev), "evt_r_%07ld", k);
		st = store_query(b->st, Q_REFERRAL_INSERT);
		store_bind_text(st, 1, ref);
		store_bind_text(st, 2, "bench");
		store_bind_text(st, 3, who);
		store_bind_text(st, 4, id);
		store_bind_text(st, 5, NULL);
		store_bind_text(st, 6, "email");
		store_bind_text(st, 7, NULL);
		store_bind_text(st, 8, NULL);
		store_bind_text(st, 9, NULL);
		store_bind_int(st, 10, now);
		store_bind_text(st, 11, ev);
		store_bind_int(st, 12, now);
		store_bind_text(st, 13, "pending");
		store_bind_text(st, 14, "[]");
		store_bind_null(st, 15); /* rejection_reason */
		run(b, st, "referral insert");
	}
	commit(b);
}

/* ---- phase 2: the rows of one conversion event ---- */

static void reward_row(struct bench *b, const char *participant, const char *role, const char *referral,
		       const char *conversion, int64_t now)
{
	struct reward_ref *r = &b->rewards[b->nrewards++];
	crypto_random_id("rwd", r->id, sizeof(r->id));
	snprintf(r->participant, sizeof(r->participant), "%s", participant);
	struct store_stmt *st = store_query(b->st, Q_REWARD_INSERT);
	int c = 1;
	store_bind_text(st, c++, r->id);
	store_bind_text(st, c++, "bench");
	store_bind_int(st, c++, 1);
	store_bind_text(st, c++, referral);
	store_bind_text(st, c++, conversion);
	store_bind_text(st, c++, participant);
	store_bind_text(st, c++, role);
	store_bind_text(st, c++, "credit");
	store_bind_int(st, c++, 2000);
	store_bind_text(st, c++, "USD");
	for (int i = 0; i < 4; i++) /* percent_bp, rate_bp, max_amount, months */
		store_bind_null(st, c++);
	for (int i = 0; i < 4; i++) /* pool, sku, quantity, brand */
		store_bind_null(st, c++);
	store_bind_text(st, c++, "approved");
	store_bind_text(st, c++, "awaiting_fulfillment");
	store_bind_null(st, c++); /* hold_until */
	store_bind_int(st, c++, now);
	store_bind_null(st, c++); /* expires_at */
	store_bind_text(st, c++, "ledger");
	store_bind_text(st, c++, "self");
	store_bind_text(st, c++, "[]");
	store_bind_null(st, c++); /* explanation: fulfill keeps it once, on the conversion */
	store_bind_int(st, c++, now);
	run(b, st, "reward insert");
	history(b, r->id, "created", "approved", "awaiting_fulfillment", now);
	char detail[256];
	snprintf(detail, sizeof(detail),
		 "{\"amount\":2000,\"currency\":\"USD\",\"participant\":\"%s\",\"program\":\"bench\","
		 "\"status\":\"approved\",\"type\":\"credit\"}",
		 participant);
	audit(b, "reward.created", r->id, detail, now);
}

/* The j-th event of conversions.ndjson: gen.py interleaves referrers (referrer 0's
 * first referred person, referrer 1's first, ...), so consecutive events touch distinct
 * index pages; writing them in id order instead would flatter the baseline. */
static void conversion_event(struct bench *b, long j, long n, long referrers)
{
	long per = n / referrers;
	long k = (j % referrers) * per + j / referrers; /* the referred person's number */
	int64_t now = fftime_now();
	char ev[ID_LEN], conv[ID_LEN], ref[ID_LEN], referrer[ID_LEN], referred[ID_LEN];
	snprintf(ev, sizeof(ev), "evt_c_%07ld", k);
	snprintf(conv, sizeof(conv), "ord_%07ld", k);
	snprintf(ref, sizeof(ref), "ref_%07ld", k);
	snprintf(referrer, sizeof(referrer), "r%06ld", k / per);
	snprintf(referred, sizeof(referred), "u%07ld", k);

	size_t first = b->nrewards;
	reward_row(b, referrer, "referrer", ref, conv, now);
	reward_row(b, referred, "referred", ref, conv, now);

	struct store_stmt *st = store_query(b->st, Q_REFERRAL_SET_STATUS);
	store_bind_text(st, 1, "successful");
	store_bind_int(st, 2, now);
	store_bind_text(st, 3, ref);
	run(b, st, "referral update");
	audit(b, "referral.successful", ref, "{}", now);

	/* the eligibility context and the explanation fulfill keeps, same shape and size
	 * (stats stay empty: the benchmark's program reads none) */
	char ctx[1536], expl[1536], detail[512];
	snprintf(ctx, sizeof(ctx),
		 "{\"referral\":{\"id\":\"%s\",\"program\":\"bench\",\"code\":null,\"source\":\"email\","
		 "\"affiliate\":null,\"occurred_at\":%" PRId64 ",\"status\":\"pending\",\"signals\":[]},\"referrer\":{\"id\":\"%s\",\"country\":\"US\","
		 "\"currency\":\"USD\",\"status\":\"active\",\"tax_form\":\"none\",\"has_email\":true,\"created_at\":%" PRId64
		 ",\"attributes\":{}},\"referred\":{\"id\":\"%s\",\"country\":\"\",\"currency\":\"\",\"status\":\"active\","
		 "\"tax_form\":\"none\",\"has_email\":false,\"created_at\":%" PRId64 ",\"attributes\":{}},\"conversion\":{"
		 "\"id\":\"%s\",\"amount\":5000,\"net_amount\":5000,\"refunded_amount\":0,\"currency\":\"USD\","
		 "\"category\":\"shoes\",\"product\":null,\"occurred_at\":%" PRId64 ",\"attributes\":{}},"
		 "\"stats\":{}}",
		 ref, now, referrer, now, referred, now, conv, now);
	snprintf(expl, sizeof(expl),
		 "{\"object\":\"explanation\",\"program\":\"bench\",\"program_version\":1,\"trigger\":\"conversion\","
		 "\"referral\":\"%s\",\"conversion\":\"%s\",\"clauses\":[{\"rule\":{\">=\":[{\"var\":"
		 "\"conversion.amount\"},1000]},\"result\":true,\"value\":true,\"text\":\"conversion.amount (5000) >= "
		 "1000: true\",\"values\":[5000,1000]}],\"rewards\":[{\"to\":\"referrer\",\"type\":\"credit\",\"amount\":"
		 "2000,\"reward\":\"%s\",\"status\":\"approved\",\"reason\":\"awaiting_fulfillment\"},{\"to\":"
		 "\"referred\",\"type\":\"credit\",\"amount\":2000,\"reward\":\"%s\",\"status\":\"approved\",\"reason\":"
		 "\"awaiting_fulfillment\"}],\"signals\":[],\"eligible\":true,\"tier\":{\"successful_referral_number\":"
		 "%ld,\"from\":null},\"limits\":[],\"outcome\":\"rewarded\"}",
		 ref, conv, b->rewards[first].id, b->rewards[first + 1].id, 1L); /* no stats read: always 1 */
	st = store_query(b->st, Q_CONVERSION_INSERT);
	store_bind_text(st, 1, conv);
	store_bind_text(st, 2, referred);
	store_bind_int(st, 3, 5000);
	store_bind_text(st, 4, "USD");
	store_bind_text(st, 5, "shoes");
	store_bind_null(st, 6);
	store_bind_text(st, 7, "{}");
	store_bind_int(st, 8, now);
	store_bind_text(st, 9, ref);
	store_bind_text(st, 10, "bench");
	store_bind_int(st, 11, 1);
	store_bind_text(st, 12, ctx);
	store_bind_text(st, 13, expl);
	store_bind_text(st, 14, ev);
	store_bind_int(st, 15, now);
	run(b, st, "conversion insert");
	snprintf(detail, sizeof(detail),
		 "{\"amount\":5000,\"currency\":\"USD\",\"participant\":\"%s\",\"rewards\":[\"%s\",\"%s\"]}", referred,
		 b->rewards[first].id, b->rewards[first + 1].id);
	audit(b, "conversion.created", conv, detail, now);

	char result[512], body[512];
	snprintf(result, sizeof(result),
		 "{\"id\":\"%s\",\"type\":\"conversion\",\"outcome\":\"accepted\",\"rewards\":[\"%s\",\"%s\"],"
		 "\"conversion\":\"%s\"}",
		 ev, b->rewards[first].id, b->rewards[first + 1].id, conv);
	snprintf(body, sizeof(body),
		 "{\"data\":{\"amount\":5000,\"category\":\"shoes\",\"currency\":\"USD\",\"id\":\"%s\","
		 "\"participant\":\"%s\"},\"id\":\"%s\",\"type\":\"conversion\"}",
		 conv, referred, ev);
	st = store_query(b->st, Q_EVENT_INSERT);
	store_bind_text(st, 1, ev);
	store_bind_text(st, 2, "conversion");
	store_bind_text(st, 3, result);
	store_bind_int(st, 4, now);
	store_bind_int(st, 5, now);
	store_bind_text(st, 6, body);
	run(b, st, "event insert");
}

/* ---- phase 3: fulfilling one reward through the ledger ---- */

static void posting(struct bench *b, const char *journal, const char *account, int64_t amount, const char *reward,
		    int64_t now)
{
	struct store_stmt *st = store_query(b->st, Q_LEDGER_ENTRY_INSERT);
	store_bind_text(st, 1, journal);
	store_bind_text(st, 2, account);
	store_bind_text(st, 3, "USD");
	store_bind_int(st, 4, amount);
	store_bind_text(st, 5, "credit");
	store_bind_text(st, 6, reward);
	store_bind_int(st, 7, now);
	run(b, st, "ledger entry");
	st = store_query(b->st, Q_LEDGER_BALANCE_ADD);
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, "USD");
	store_bind_int(st, 3, amount);
	run(b, st, "ledger balance");
}

static void fulfil_reward(struct bench *b, const struct reward_ref *r)
{
	int64_t now = fftime_now();
	char journal[ID_LEN], account[ID_LEN + 16], ext[ID_LEN + 16];
	crypto_random_id("jrn", journal, sizeof(journal));
	snprintf(account, sizeof(account), "participant:%s", r->participant);
	posting(b, journal, "program:bench", -2000, r->id, now);
	posting(b, journal, account, 2000, r->id, now);
	struct store_stmt *st = store_query(b->st, Q_LOT_INSERT);
	store_bind_text(st, 1, r->id);
	store_bind_text(st, 2, r->participant);
	store_bind_text(st, 3, "USD");
	store_bind_int(st, 4, 2000);
	store_bind_int(st, 5, 2000);
	store_bind_null(st, 6);
	store_bind_int(st, 7, now);
	run(b, st, "ledger lot");

	snprintf(ext, sizeof(ext), "ledger:%s", r->id);
	st = store_query(b->st, Q_REWARD_UPDATE);
	int c = 1;
	store_bind_text(st, c++, "fulfilled");
	store_bind_text(st, c++, "delivered");
	store_bind_int(st, c++, 2000);
	store_bind_null(st, c++); /* code */
	store_bind_int(st, c++, now);
	store_bind_text(st, c++, ext);
	store_bind_null(st, c++); /* batch */
	store_bind_int(st, c++, 1);
	store_bind_null(st, c++); /* next_attempt_at */
	store_bind_null(st, c++); /* last_error */
	store_bind_int(st, c++, now);
	store_bind_int(st, c++, now);
	store_bind_text(st, c++, "[]");
	store_bind_text(st, c++, r->id);
	store_bind_text(st, c++, "approved"); /* the status the update expects */
	run(b, st, "reward update");
	history(b, r->id, "approved", "fulfilled", "delivered", now);
	audit(b, "reward.fulfilled", r->id, "{\"from\":\"approved\",\"reason\":\"delivered\",\"to\":\"fulfilled\"}",
	      now);
}

int main(int argc, char **argv)
{
	ff_alloc_install(); /* SQLite on the allocator fulfill's main() gives it */
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: baseline DBPATH [N [REFERRERS]]\n");
		return 2;
	}
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
	long referrers = argc > 3 ? strtol(argv[3], NULL, 10) : n / 100;
	if (n <= 0 || referrers <= 0 || referrers > n || n % referrers) {
		fprintf(stderr, "baseline: N must be a positive multiple of REFERRERS\n");
		return 2;
	}
	if (crypto_init() != 0) {
		fprintf(stderr, "baseline: cannot initialise libsodium\n");
		return 1;
	}
	struct bench b = {0};
	memset(b.audit_hash, '0', 64);
	b.rewards = calloc((size_t)n * 2, sizeof(*b.rewards));
	if (!b.rewards)
		ff_oom();
	char url[4200];
	/* a postgres:// URL as DBPATH: the PostgreSQL baseline (bench/pg_bench.py) */
	bool pg = !strncmp(argv[1], "postgres://", 11) || !strncmp(argv[1], "postgresql://", 13);
	snprintf(url, sizeof(url), pg ? "%s" : "sqlite:%s", argv[1]);
	struct ff_diag d;
	ff_diag_clear(&d);
	if (store_open(url, &b.st, &d)) {
		fprintf(stderr, "baseline: cannot open %s: %s\n", argv[1], d.message);
		return 1;
	}

	setup(&b, n, referrers);

	double t0 = seconds(), c0 = cpu_seconds();
	for (long k = 0; k < n; k += BATCH) {
		begin(&b);
		for (long j = k; j < k + BATCH && j < n; j++)
			conversion_event(&b, j, n, referrers);
		commit(&b);
	}
	double ingest_s = seconds() - t0, ingest_cpu = cpu_seconds() - c0;

	t0 = seconds();
	c0 = cpu_seconds();
	for (size_t k = 0; k < b.nrewards; k += BATCH) {
		begin(&b);
		for (size_t j = k; j < k + BATCH && j < b.nrewards; j++)
			fulfil_reward(&b, &b.rewards[j]);
		commit(&b);
	}
	double worker_s = seconds() - t0, worker_cpu = cpu_seconds() - c0;

	printf("ingest_events=%ld\ningest_seconds=%.3f\ningest_cpu_seconds=%.3f\ningest_events_per_s=%.1f\n", n,
	       ingest_s, ingest_cpu, (double)n / ingest_s);
	printf("worker_rewards=%zu\nworker_seconds=%.3f\nworker_cpu_seconds=%.3f\nworker_rewards_per_s=%.1f\n",
	       b.nrewards, worker_s, worker_cpu, (double)b.nrewards / worker_s);
	fprintf(stderr, "baseline: ingest %ld events in %.1f s (%.0f events/s); worker %zu rewards in %.1f s (%.0f/s)\n",
		n, ingest_s, (double)n / ingest_s, b.nrewards, worker_s, (double)b.nrewards / worker_s);
	store_close(b.st);
	free(b.rewards);
	return 0;
}
