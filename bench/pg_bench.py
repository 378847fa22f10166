#!/usr/bin/env python3
"""bench/pg_bench.py - fulfill's throughput on PostgreSQL (the end of `make bench`).

On a throwaway cluster (tests/with-postgres: this script re-runs itself under it when
FULFILL_TEST_PG_HOST is not set), with the same events as bench/run (bench/gen.py,
bench/program.json):
  1. baseline: bench/baseline pointed at a postgres:// URL - the same rows, written
     through fulfill's own prepared statements, 500 per transaction, and nothing else
     (the pgbench-style floor);
  2. `fulfill ingest` of N conversion events (participants and referrals first, not
     timed), each earning two rewards;
  3. fulfillment throughput of those 2N rewards (ledger connector) with 1, 2 and 4
     `fulfill worker` processes on the same database, each started on a fresh copy
     (CREATE DATABASE ... TEMPLATE) of the ingested database; after each run, every
     reward must have exactly one ledger lot and one fulfilled history row, the postings
     must balance and `fulfill audit verify` must pass (the run fails otherwise).
Prints a Markdown table and writes it into bench/README.md between
<!-- pg:begin --> and <!-- pg:end --> (appended at the end the first time).

The cluster runs with fsync=off and synchronous_commit=off (tests/with-postgres), for
fulfill and the baseline alike: the numbers compare CPU and round trips, not disks.

Environment: BENCH_PG_EVENTS=N (default 20000, a multiple of 100), BENCH_RUNS=K
(default 2, best run reported), BENCH_README=0 to leave bench/README.md alone.
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
FULFILL = os.path.join(ROOT, "fulfill")
MASTER_KEY = "5eed" * 16
PKGS = ["sqlite3", "libpq", "libmicrohttpd", "jansson", "libcurl", "libsodium", "libcrypto"]
WORKERS = (1, 2, 4)


def log(msg):
    print(f"pg_bench: {msg}", file=sys.stderr, flush=True)


def sh(cmd, env=None):
    r = subprocess.run(cmd, env=env, cwd=ROOT, text=True, capture_output=True)
    if r.returncode != 0:
        log(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
        sys.exit(1)
    return r.stdout


class Cluster:
    def __init__(self, host):
        self.host = host

    def url(self, db):
        return f"postgresql://postgres@/{db}?host={self.host}"

    def sql(self, query, db="postgres"):
        return sh(["psql", self.url(db), "-Atqc", query]).strip()

    def create(self, db, template=None):
        self.sql(f"DROP DATABASE IF EXISTS {db}")
        self.sql(f"CREATE DATABASE {db}" + (f" TEMPLATE {template}" if template else ""))

    def drop(self, db):
        self.sql(f"DROP DATABASE IF EXISTS {db}")


def build():
    sh(["make", "-s", "fulfill", "build/libfulfill.a"])
    out = os.path.join(BENCH, "baseline")
    libs = sh(["pkg-config", "--libs"] + PKGS).split()
    sh(["cc", "-std=c17", "-D_GNU_SOURCE", "-O2", "-g", "-Iinclude", "-Isrc", "-o", out, "bench/baseline.c",
        "build/libfulfill.a"] + libs + ["-lpthread", "-lm"])
    return out


def fulfilled(pg, db):
    return int(pg.sql("SELECT count(*) FROM rewards WHERE status = 'fulfilled'", db))


def workers_run(pg, db, k, total, env):
    """Start k workers on db; seconds until every reward is fulfilled."""
    wenv = dict(env, FULFILL_DB=pg.url(db), FULFILL_WORKER_INTERVAL="0.2")
    t0 = time.monotonic()
    procs = [subprocess.Popen([FULFILL, "worker"], env=wenv, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(k)]
    try:
        deadline = t0 + 3600
        while time.monotonic() < deadline:
            if fulfilled(pg, db) >= total:
                break
            # each poll starts a psql: polling faster takes CPU from the workers
            time.sleep(0.2)
        secs = time.monotonic() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
    got = fulfilled(pg, db)
    if got != total:
        log(f"{k} workers fulfilled {got} of {total} rewards")
        sys.exit(1)
    check_fulfilment(pg, db, k, total, wenv)
    return secs


def check_fulfilment(pg, db, k, total, env):
    """After k workers: every reward credited exactly once, the ledger balanced, the
    audit chain intact (the workers append to it concurrently)."""
    checks = {
        "one lot per reward": ("SELECT count(*), count(DISTINCT reward) FROM ledger_lots", f"{total}|{total}"),
        "one fulfilled history row per reward": (
            "SELECT count(*), count(DISTINCT reward) FROM reward_history WHERE to_status = 'fulfilled'",
            f"{total}|{total}"),
        "postings sum to zero": ("SELECT COALESCE(sum(amount), 0) FROM ledger_entries", "0"),
        "balances match postings": (
            "SELECT count(*) FROM ledger_balances b LEFT JOIN (SELECT account, currency, sum(amount) AS s "
            "FROM ledger_entries GROUP BY 1, 2) e USING (account, currency) WHERE b.balance <> COALESCE(e.s, 0)",
            "0"),
    }
    for what, (query, want) in checks.items():
        got = pg.sql(query, db)
        if got != want:
            log(f"{k} workers: {what}: got {got}, want {want}")
            sys.exit(1)
    out = sh([FULFILL, "audit", "verify"], env)
    if not out.startswith("ok "):
        log(f"{k} workers: audit verify: {out.strip()}")
        sys.exit(1)


def run(pg, n, runs):
    baseline = build()
    tmp = tempfile.mkdtemp(prefix="fulfill-pgbench-")
    try:
        referrers = n // 100
        sh([sys.executable, os.path.join(BENCH, "gen.py"), tmp, str(referrers), "100"])
        env = dict(os.environ, FULFILL_MASTER_KEY=MASTER_KEY)
        log("setup database: program, participants and referrals (not timed)")
        pg.create("bsetup")
        env["FULFILL_DB"] = pg.url("bsetup")
        sh([FULFILL, "program", "load", "bench/program.json", "--activate"], env)
        out = sh([FULFILL, "ingest", os.path.join(tmp, "setup.ndjson")], env)
        if f"accepted {n + referrers}," not in out:
            log(f"setup ingest: {out.strip()}")
            sys.exit(1)
        base, ingest = [], []
        for i in range(runs):
            log(f"run {i + 1} of {runs}: baseline")
            pg.create("bbase")
            out = sh([baseline, pg.url("bbase"), str(n), str(referrers)])
            base.append({k: float(v) for k, v in (line.split("=", 1) for line in out.split())})
            pg.drop("bbase")
            log(f"run {i + 1} of {runs}: fulfill ingest of {n} conversion events")
            pg.create("bingest", "bsetup")
            env["FULFILL_DB"] = pg.url("bingest")
            t0 = time.monotonic()
            out = sh([FULFILL, "ingest", os.path.join(tmp, "conversions.ndjson")], env)
            secs = time.monotonic() - t0
            if f"accepted {n}, duplicate 0, rejected 0" not in out:
                log(f"ingest: {out.strip()}")
                sys.exit(1)
            ingest.append(secs)
        scaling = {}
        for k in WORKERS:
            best_s = None
            for i in range(runs):
                log(f"run {i + 1} of {runs}: {k} worker(s) over {2 * n} rewards")
                pg.create("bwork", "bingest")
                secs = workers_run(pg, "bwork", k, 2 * n, env)
                best_s = secs if best_s is None else min(best_s, secs)
                pg.drop("bwork")
            scaling[k] = best_s
        for db in ("bingest", "bsetup"):
            pg.drop(db)
        return base, ingest, scaling
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def render(pg, n, base, ingest, scaling, elapsed):
    bi = max(x["ingest_events_per_s"] for x in base)
    bw = max(x["worker_rewards_per_s"] for x in base)
    fi = n / min(ingest)
    ratio = fi / bi
    version = pg.sql("SHOW server_version")
    lines = [
        f"{n:,} conversion events (two rewards each) on PostgreSQL {version} (throwaway cluster on a Unix "
        f"socket, fsync=off, synchronous_commit=off: both sides alike), {os.cpu_count()} cores; "
        f"{time.strftime('%Y-%m-%d')}; whole run {elapsed / 60:.1f} min; best of {len(ingest)} runs "
        f"(fulfill ingest {' / '.join(f'{n / s:,.0f}' for s in ingest)} events/s). `bench/pg_bench.py`.",
        "",
        "| measure | fulfill | baseline | fulfill / baseline | goal |",
        "|---|---:|---:|---:|---|",
        f"| ingest, conversion events/s | {fi:,.0f} | {bi:,.0f} | {ratio:.0%} | >= 50%: "
        f"{'met' if ratio >= 0.5 else '**missed**'} |",
        f"| fulfillment (ledger), rewards/s, 1 worker | {2 * n / scaling[1]:,.0f} | {bw:,.0f} "
        f"| {2 * n / scaling[1] / bw:.0%} | |",
        "",
        "Fulfillment scaling (the same 2N rewards, k `fulfill worker` processes on one database):",
        "",
        "| workers | seconds | rewards/s | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for k in WORKERS:
        lines.append(f"| {k} | {scaling[k]:.1f} | {2 * n / scaling[k]:,.0f} | {scaling[1] / scaling[k]:.2f}x |")
    return "\n".join(lines)


def update_readme(table):
    path = os.path.join(BENCH, "README.md")
    text = open(path).read() if os.path.exists(path) else ""
    block = f"<!-- pg:begin -->\n{table}\n<!-- pg:end -->"
    if "<!-- pg:begin -->" in text and "<!-- pg:end -->" in text:
        text = re.sub(r"<!-- pg:begin -->.*?<!-- pg:end -->", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## PostgreSQL\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    host = os.environ.get("FULFILL_TEST_PG_HOST")
    if not host:
        os.execv(os.path.join(ROOT, "tests", "with-postgres"),
                 [os.path.join(ROOT, "tests", "with-postgres"), sys.executable, os.path.abspath(__file__)])
    n = int(os.environ.get("BENCH_PG_EVENTS", "20000"))
    if n < 100 or n % 100:
        log("BENCH_PG_EVENTS must be a positive multiple of 100")
        return 1
    runs = max(1, int(os.environ.get("BENCH_RUNS", "2")))
    pg = Cluster(host)
    t0 = time.monotonic()
    base, ingest, scaling = run(pg, n, runs)
    table = render(pg, n, base, ingest, scaling, time.monotonic() - t0)
    print(table)
    if os.environ.get("BENCH_README", "1") == "1":
        update_readme(table)
        log("results written to bench/README.md (<!-- pg:begin --> ... <!-- pg:end -->)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
