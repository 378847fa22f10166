#!/usr/bin/env python3
"""Fulfillment throughput (docs/reliability.md): one `fulfill worker --once` pass over
N approved rewards, timed, for the ledger, code_pool and stripe (fake at a given
latency, 16 calls in flight) connectors. Not a test: run it by hand or from make bench.
  python3 tests/e2e/bench_fulfill.py [--n 100000] [--stripe-n 20000] [--latency-ms 5]
Prints one line per case: connector, rewards, seconds, rewards/s."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fulfilltest import BIN, ROOT, Env  # noqa: E402
from test_exactly_once import TOOL, build_tool  # noqa: E402


def arg(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def events(n, program):
    out = []
    for k in range((n + 99) // 100):
        out.append({"id": f"p{k}", "type": "participant", "data": {
            "id": f"ref{k}", "status": "active", "attributes": {"stripe_customer_id": f"cus_{k}"}}})
    for i in range(n):
        out.append({"id": f"r{i}", "type": "referral", "data": {
            "id": f"ref_{i}", "program": program, "referrer": f"ref{i // 100}", "referred": f"fr{i}"}})
        out.append({"id": f"c{i}", "type": "conversion", "data": {
            "id": f"ord_{i}", "participant": f"fr{i}", "amount": 5000, "currency": "USD"}})
    return "\n".join(json.dumps(x) for x in out) + "\n"


def case(name, n, reward, fulfillment, setup=None):
    env = Env()
    try:
        env.env["FULFILL_WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"
        prog = {"id": "b", "name": "bench", "currency": "USD",
                "eligibility": {">=": [{"var": "conversion.amount"}, 1]},
                "rewards": [dict(reward, to="referrer")], "hold_days": 0, "expires_days": 365,
                "fulfillment": fulfillment, "fraud": {"velocity": "off", "payout_threshold": "off"}}
        env.cli("program", "load", env.write("p.json", json.dumps(prog)), "--activate", check=True)
        env.cli("ingest", env.write("e.ndjson", events(n, "b")), check=True, timeout=7200)
        if setup:
            setup(env)
        t = time.time()
        r = env.cli("worker", "--once", "--json", check=True, timeout=7200)
        dt = time.time() - t
        done = json.loads(r.stdout)["fulfilled"]
        print(f"{name:10s} {done:8d} rewards {dt:8.2f} s {done / dt:10.0f} rewards/s", flush=True)
    finally:
        env.close()


def main():
    build_tool()
    n = arg("--n", 100000)
    sn = arg("--stripe-n", 20000)
    lat = arg("--latency-ms", 5)
    case("ledger", n, {"type": "credit", "amount": 500}, {"credit": "ledger"})

    def codes(env):
        path = env.write("codes.csv", "code\n" + "\n".join(f"C{i:07d}" for i in range(n)) + "\n")
        env.cli("codes", "upload", "pool1", path, check=True, timeout=3600)
    case("code_pool", n, {"type": "coupon", "pool": "pool1"}, {"coupon": "code_pool"}, codes)

    fake = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "fakes", "fake_provider.py")],
                            stdout=subprocess.PIPE, text=True)
    port = int(fake.stdout.readline())
    try:
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/_mode",
                                                      data=json.dumps({"delay_ms": lat}).encode(), method="POST"))

        def stripe(env):
            subprocess.run([TOOL, "connector", "stripe", json.dumps({"type": "stripe", "config": {
                "api_key": "sk_test_bench12345678", "base_url": f"http://127.0.0.1:{port}", "concurrency": 16}})],
                env=env.env, check=True, capture_output=True)
        case(f"stripe@{lat}ms", sn, {"type": "credit", "amount": 500}, {"credit": "stripe"}, stripe)
    finally:
        fake.kill()
        fake.wait()


if __name__ == "__main__":
    main()
