#!/usr/bin/env python3
"""bench/http_bench.py - the HTTP API benchmarks (`make bench`, after bench/run).

On a fresh SQLite database in a temporary directory (bench/program.json loaded and
activated, the participants and referrals of bench/gen.py ingested, not timed), with
`fulfill serve --no-worker` and the per-key rate limit off (FULFILL_HTTP_RATE=0),
bench/loadgen measures:
  a. NDJSON bulk ingest: POST /v1/events with 1,000 conversion events per request
     from BULK_CLIENTS clients, events/s, against bench/baseline's ingest events/s for
     the same number of events, measured in the same run (goal: >= 50%);
  b. single conversion events (application/json) from 64 keep-alive clients with group
     commit, events/s and latency;
  c. the same with one transaction per request (FULFILL_HTTP_GROUP_COMMIT=0), for the
     ratio b / c (goal: >= 5x, and p99 of b under 50 ms);
  d. GET /v1/rewards/{id} over 10,000 rewards of (a) from 64 clients, on b's server
     after b (goal: >= 20,000 requests/s on the 2-core machine).
Everything runs in BENCH_HTTP_ROUNDS rounds, in pairs that take turns (the baseline
and a; b and c; the order alternates from round to round), each server run on a fresh
copy of the database (a: as the setup left it; b, c: as the first run of a left it),
with the same events, so that a slow phase of the shared machine (it varies by up to
30% within minutes) weighs on both sides of a round's ratio; the table reports the
median run and the median ratio, and lists every run.
Every event is a distinct conversion that earns two rewards, as in bench/run; loadgen
checks each answer (-e) and the run fails when any request failed.

It prints a Markdown table and writes it into bench/README.md between the http markers
(only for the default sizes).

Environment:
  BENCH_HTTP_EVENTS=N    events of the bulk measurement and the baseline (default 20000)
  BENCH_HTTP_SECONDS=S   length of each run of b, c and d (default 10)
  BENCH_HTTP_ROUNDS=K    rounds of b, c and d (default 3)
  BENCH_README=0|1       write bench/README.md (default: only with the defaults)
  BENCH_KEEP=1           keep the temporary directory (the server logs are there)
  TMPDIR                 where the temporary directory goes (a real disk: fsync counts)
Exit status: 0 when every measurement ran with the expected answers (goals met or not).
"""
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
FULFILL = os.path.join(ROOT, "fulfill")
LOADGEN = os.path.join(BENCH, "loadgen")
MASTER_KEY = "5eed" * 16
DEFAULT_EVENTS = 20000
DEFAULT_SECONDS = 10
CLIENTS = 64
BULK_CLIENTS = 2
PER_REQUEST = 1000
# conversions for the single-event measurements, the same for every run (each on a fresh
# copy of the database; a run stops early when they run out): group commit reaches
# about 7,000 events/s here
SINGLE_EVENTS = 80000
DEFAULT_ROUNDS = 3
REWARD_IDS = 10000
WARN = ["-Wall", "-Wextra", "-Wshadow", "-Wformat=2", "-Wstrict-prototypes", "-Werror"]
PKGS = ["sqlite3", "libpq", "libmicrohttpd", "jansson", "libcurl", "libsodium", "libcrypto"]


def log(msg):
    print(f"http-bench: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def sh(cmd, env=None):
    r = subprocess.run(cmd, env=env, cwd=ROOT, text=True, capture_output=True)
    if r.returncode != 0:
        die(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr[-4000:]}")
    return r.stdout


def build(tmp):
    sh(["make", "-s", "fulfill", "build/libfulfill.a"])
    sh(["cc", "-std=c17", "-D_GNU_SOURCE", "-O2", "-g"] + WARN +
       ["-pthread", "-o", LOADGEN, "bench/loadgen.c"])
    # our own copy of the baseline: bench/run builds (and owns) bench/baseline
    libs = subprocess.run(["pkg-config", "--libs"] + PKGS, text=True,
                          capture_output=True).stdout.split()
    baseline = os.path.join(tmp, "baseline")
    sh(["cc", "-std=c17", "-D_GNU_SOURCE", "-O2", "-g"] + WARN[:-1] +
       ["-Iinclude", "-Isrc", "-o", baseline, "bench/baseline.c", "build/libfulfill.a"] +
       libs + ["-lpthread", "-lm"])
    return baseline


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """`fulfill serve --no-worker` on a free port; stderr (request logs) to a file."""

    def __init__(self, env, tmp, name):
        self.port = free_port()
        self.log = open(os.path.join(tmp, f"serve-{name}.log"), "w")
        self.proc = subprocess.Popen(
            [FULFILL, "serve", "--no-worker", "--listen", f"127.0.0.1:{self.port}"],
            env=env, cwd=ROOT, stdout=self.log, stderr=self.log)
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",
                                            timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                if self.proc.poll() is not None:
                    die(f"the server exited ({self.proc.returncode}); see {self.log.name}")
                time.sleep(0.05)
        die("the server did not come up")

    def cpu(self):
        """CPU seconds (user + system) the server has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metric(self, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            m = re.search(rf"^{name} (\S+)$", r.read().decode(), re.M)
        return float(m.group(1)) if m else 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def loadgen(srv, what, args, expect_status=200):
    """Run bench/loadgen against srv; its key=value results as a dict, plus the CPU
    seconds per request of the server and of loadgen. Any failed request or unexpected
    answer ends the benchmark."""
    cmd = [LOADGEN, "-p", str(srv.port)] + args
    cpu0, own0 = srv.cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True)
    cpu1, own1 = srv.cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    res = {}
    for line in r.stdout.split():
        k, _, v = line.partition("=")
        res[k] = float(v)
    n = max(1.0, res.get("requests", 0))
    res["server_cpu"] = (cpu1 - cpu0) / n
    res["loadgen_cpu"] = (own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime) / n
    log(f"{what}: {r.stderr.strip()}")
    n = res.get("requests", 0)
    if r.returncode != 0 or not n or res.get(f"status_{expect_status}", 0) != n \
            or res.get("mismatches", 0):
        die(f"{what}: requests failed or answered unexpectedly: {r.stdout}{r.stderr}")
    return res


def split_lines(src, parts):
    """Cut src into consecutive files of the given line counts; returns their paths."""
    out = []
    with open(src) as f:
        lines = f.readlines()
    at = 0
    for path, n in parts:
        if at + n > len(lines):
            die(f"{src} holds {len(lines)} lines, {at + n} needed")
        with open(path, "w") as g:
            g.writelines(lines[at:at + n])
        at += n
        out.append(path)
    return out


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, SQLite "
            f"{sqlite3.sqlite_version}, load average at start {os.getloadavg()[0]:.2f}")


def run_all(tmp, n_bulk, seconds, rounds):
    baseline = build(tmp)
    host = machine()
    total = n_bulk + SINGLE_EVENTS
    referrers = -(-total // 100)
    log(f"generating {referrers * 100} conversions for {referrers} referrers")
    sh([sys.executable, os.path.join(BENCH, "gen.py"), tmp, str(referrers), "100"])
    bulk, single = split_lines(os.path.join(tmp, "conversions.ndjson"), [
        (os.path.join(tmp, "bulk.ndjson"), n_bulk),
        (os.path.join(tmp, "single.ndjson"), SINGLE_EVENTS)])

    db = os.path.join(tmp, "http.db")
    env = dict(os.environ, FULFILL_DB=f"sqlite:{db}", FULFILL_MASTER_KEY=MASTER_KEY,
               FULFILL_HTTP_RATE="0")
    env.pop("LD_PRELOAD", None)
    log("program and setup events (not timed)")
    out = sh([FULFILL, "program", "load", "bench/program.json", "--activate"], env=env)
    if "active" not in out:
        die(f"program load: {out}")
    out = sh([FULFILL, "ingest", os.path.join(tmp, "setup.ndjson")], env=env)
    if f"accepted {referrers * 101}, duplicate 0, rejected 0" not in out:
        die(f"setup ingest: {out}")
    ingest_key = sh([FULFILL, "keys", "create", "--role", "ingest"], env=env).split()[-1]
    read_key = sh([FULFILL, "keys", "create", "--role", "operator"], env=env).split()[-1]
    checkpoint(db)
    post = ["-m", "POST", "-u", "/v1/events", "-H", f"Authorization: Bearer {ingest_key}"]

    # The baseline and the bulk ingest take turns too (base, bulk; then bulk, base; ...),
    # each bulk run on a fresh copy of the database as the setup left it; the first
    # bulk run's database is the one the later measurements start from.
    res = {"base": [], "bulk": [], "host": host, "gc": [], "tx": [], "get": []}
    setup_db = os.path.join(tmp, "setup.db")
    shutil.copyfile(db, setup_db)
    base_db = os.path.join(tmp, "baseline.db")
    for r in range(rounds):
        for side in (("base", "bulk") if r % 2 == 0 else ("bulk", "base")):
            if side == "base":
                log(f"round {r + 1}, baseline: the rows of {n_bulk} conversion events (write-only floor)")
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(base_db + suffix):
                        os.remove(base_db + suffix)
                out = sh([baseline, base_db, str(n_bulk), str(max(1, n_bulk // 100))])
                res["base"].append({k: float(v) for k, v in (line.split("=", 1) for line in out.split())})
                continue
            run = db if r == 0 else os.path.join(tmp, "bulk-run.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(run + suffix):
                    os.remove(run + suffix)
            shutil.copyfile(setup_db, run)
            srv = Server(dict(env, FULFILL_DB=f"sqlite:{run}"), tmp, f"bulk-{r + 1}")
            try:
                one = loadgen(srv, f"round {r + 1}, NDJSON bulk, {n_bulk} events", post + [
                    "-H", "Content-Type: application/x-ndjson", "-c", str(BULK_CLIENTS),
                    "-f", bulk, "-k", str(PER_REQUEST), "-b", "{rec}",
                    "-n", str(n_bulk // PER_REQUEST), "-e", f'"accepted":{PER_REQUEST},'])
            finally:
                srv.stop()
            one["events_per_s"] = one["requests"] * PER_REQUEST / one["seconds"]
            res["bulk"].append(one)
    checkpoint(db)
    with sqlite3.connect(db) as con:
        ids = [r[0] for r in con.execute(
            "SELECT id FROM rewards ORDER BY random() LIMIT ?", (REWARD_IDS,))]
    ids_file = os.path.join(tmp, "reward-ids.txt")
    with open(ids_file, "w") as f:
        f.write("\n".join(ids) + "\n")

    # Group commit and one transaction per request take turns (gc, tx; then tx, gc; ...),
    # each on a fresh copy of the same database with the same events, so that a slow
    # phase of the shared machine falls on both sides of a round's ratio.
    run_db = os.path.join(tmp, "run.db")
    for r in range(rounds):
        for mode in (("gc", "tx") if r % 2 == 0 else ("tx", "gc")):
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(run_db + suffix):
                    os.remove(run_db + suffix)
            shutil.copyfile(db, run_db)
            env_run = dict(env, FULFILL_DB=f"sqlite:{run_db}")
            if mode == "tx":
                env_run["FULFILL_HTTP_GROUP_COMMIT"] = "0"
            what = "group commit" if mode == "gc" else "one transaction each"
            srv = Server(env_run, tmp, f"{mode}-{r + 1}")
            try:
                c0, r0 = srv.metric("fulfill_ingest_commits_total"), \
                    srv.metric("fulfill_ingest_requests_total")
                one = loadgen(srv, f"round {r + 1}, single events, {what}", post + [
                    "-H", "Content-Type: application/json", "-c", str(CLIENTS),
                    "-f", single, "-b", "{rec}", "-n", str(SINGLE_EVENTS),
                    "-d", str(seconds), "-e", '"outcome":"accepted"'])
                c1, r1 = srv.metric("fulfill_ingest_commits_total"), \
                    srv.metric("fulfill_ingest_requests_total")
                one["per_commit"] = (r1 - r0) / max(1.0, c1 - c0)
                res[mode].append(one)
                if mode == "gc":
                    get = loadgen(srv, f"round {r + 1}, GET /v1/rewards/{{id}}", [
                        "-u", "/v1/rewards/{rec}", "-H", f"Authorization: Bearer {read_key}",
                        "-c", str(CLIENTS), "-f", ids_file, "-d", str(seconds),
                        "-e", '"status"'])
                    get["ids"] = len(ids)
                    res["get"].append(get)
            finally:
                srv.stop()
    res["rounds"] = rounds
    return res


def checkpoint(db):
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def middle(runs, key):
    """The run whose `key` is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda x: x[key])
    return ordered[(len(ordered) - 1) // 2]


def fmt(x):
    return f"{x:,.0f}"


def render(n_bulk, seconds, r, elapsed):
    ok = lambda cond: "met" if cond else "**missed**"
    bulk = middle(r["bulk"], "events_per_s")
    bulk_rate = bulk["events_per_s"]
    base_rate = median([b["ingest_events_per_s"] for b in r["base"]])
    bulk_ratios = [u["events_per_s"] / b["ingest_events_per_s"] for u, b in zip(r["bulk"], r["base"])]
    bulk_ratio = median(bulk_ratios)
    ratios = [g["rps"] / t["rps"] for g, t in zip(r["gc"], r["tx"])]
    ratio = median(ratios)
    gc, tx, get = middle(r["gc"], "rps"), middle(r["tx"], "rps"), middle(r["get"], "rps")
    lat = lambda x: f"{x['p50_ms']:.1f} / {x['p99_ms']:.1f} ms"
    each = lambda runs: ", ".join(fmt(x["rps"]) for x in runs)
    each_rate = lambda runs: ", ".join(fmt(x["events_per_s"]) for x in runs)
    p99 = max(x["p99_ms"] for x in r["gc"])
    lines = [
        f"{r['host']}; {time.strftime('%Y-%m-%d')}; whole run {elapsed / 60:.1f} min. "
        f"{r['rounds']} rounds: in each, the baseline and the bulk ingest run in turn, and "
        "so do group commit and one transaction per request (the order alternates), each "
        "server run on a fresh copy of the same database with the same events; the table "
        "gives the median run of each (every run in brackets, in round order) and the "
        "median of the rounds' ratios. Events are conversions that earn two rewards each, as in "
        f"bench/run; `fulfill serve --no-worker`, {CLIENTS} keep-alive clients "
        f"(bench/loadgen) unless said otherwise, {seconds} s each (or until the events "
        "run out), rate limit off. Latency is per request, first byte sent to last byte "
        "received; the load generator shares the 2 cores with the server.",
        "",
        "| measure | fulfill | compared with | ratio | goal |",
        "|---|---:|---:|---:|---|",
        f"| NDJSON bulk ingest, events/s ({n_bulk:,} events, {PER_REQUEST:,} per request, "
        f"{BULK_CLIENTS} clients) | {fmt(bulk_rate)} ({each_rate(r['bulk'])}) | baseline "
        f"{fmt(base_rate)} ({', '.join(fmt(b['ingest_events_per_s']) for b in r['base'])}) "
        f"| {bulk_ratio:.0%} ({', '.join(f'{x:.0%}' for x in bulk_ratios)}) "
        f"| >= 50%: {ok(bulk_ratio >= 0.5)} |",
        f"| single events, group commit, events/s | {fmt(gc['rps'])} ({each(r['gc'])}) "
        f"| one transaction per event {fmt(tx['rps'])} ({each(r['tx'])}) | {ratio:.1f}x "
        f"({', '.join(f'{x:.1f}x' for x in ratios)}) | >= 5x: {ok(ratio >= 5)} |",
        f"| single events, group commit, latency p50 / p99 (median run) | {lat(gc)} "
        f"| one transaction per event {lat(tx)} | | p99 < 50 ms in every run "
        f"(worst {p99:.1f} ms): {ok(p99 < 50)} |",
        f"| single events, group commit, events per transaction | {gc['per_commit']:.1f} "
        f"| {tx['per_commit']:.1f} | | |",
        f"| GET /v1/rewards/{{id}}, requests/s ({get['ids']:,} rewards) | {fmt(get['rps'])} "
        f"({each(r['get'])}) | | | >= 20,000: {ok(get['rps'] >= 20000)} |",
        f"| GET /v1/rewards/{{id}}, latency p50 / p99 | {lat(get)} | | | |",
        "",
        "CPU time per request (user + system, of the median runs; less sensitive to other "
        f"load than rates): server {bulk['server_cpu'] / PER_REQUEST * 1e6:,.0f} us per bulk "
        f"event, {gc['server_cpu'] * 1e6:,.0f} us per single event with group commit and "
        f"{tx['server_cpu'] * 1e6:,.0f} us without, {get['server_cpu'] * 1e6:,.0f} us per GET "
        f"(loadgen {get['loadgen_cpu'] * 1e6:,.0f} us): the 2 cores to themselves would "
        f"serve at most about {fmt(2 / (get['server_cpu'] + get['loadgen_cpu']))} GET/s.",
    ]
    return "\n".join(lines)


def update_readme(table):
    path = os.path.join(BENCH, "README.md")
    begin, end = "<!-- http:begin -->", "<!-- http:end -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        die("bench/README.md has no http markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{table}\n{end}{tail}")


def main():
    n_bulk = int(os.environ.get("BENCH_HTTP_EVENTS", DEFAULT_EVENTS))
    seconds = int(os.environ.get("BENCH_HTTP_SECONDS", DEFAULT_SECONDS))
    rounds = int(os.environ.get("BENCH_HTTP_ROUNDS", DEFAULT_ROUNDS))
    if rounds < 1:
        die("BENCH_HTTP_ROUNDS must be at least 1")
    if n_bulk < PER_REQUEST or n_bulk % PER_REQUEST:
        die(f"BENCH_HTTP_EVENTS must be a positive multiple of {PER_REQUEST}")
    defaults = n_bulk == DEFAULT_EVENTS and seconds == DEFAULT_SECONDS and rounds == DEFAULT_ROUNDS
    write_readme = os.environ.get("BENCH_README", "1" if defaults else "0") == "1"
    tmp = tempfile.mkdtemp(prefix="fulfill-http-bench-")
    started = time.monotonic()
    try:
        result = run_all(tmp, n_bulk, seconds, rounds)
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    table = render(n_bulk, seconds, result, time.monotonic() - started)
    print(table)
    if write_readme:
        update_readme(table)
        log("results written to bench/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
