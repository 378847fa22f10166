"""Exactly-once fulfillment under crashes: `fulfill worker` is killed with SIGKILL at
random moments while it pays 2,000 rewards through the Stripe connector (against the
local fake, which loses some answers after doing the work and drops some connections),
then restarted; ten times. Afterwards every reward is fulfilled exactly once at the
provider (one balance transaction per reward id: distinct idempotency keys), none is
lost, and the ledger and audit invariants hold (the referred friends' points go
through the ledger at the same time: 2,000 more rewards).

FULFILL_SOAK=1 makes it the long version (FULFILL_SOAK_REWARDS rewards, default
100,000; FULFILL_SOAK_KILLS kills, default 50): `make soak`."""
import json
import os
import random
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

from fulfilltest import BIN, ROOT, FulfillTest

SOAK = os.environ.get("FULFILL_SOAK") == "1"
N = int(os.environ.get("FULFILL_SOAK_REWARDS", "100000")) if SOAK else 2000
KILLS = int(os.environ.get("FULFILL_SOAK_KILLS", "50")) if SOAK else 10
TOOL = os.path.join(ROOT, "build", "engine_tool")


def build_tool():
    src = os.path.join(ROOT, "tests", "e2e", "engine_tool.c")
    lib = os.path.join(ROOT, "build", "libfulfill.a")
    if os.path.exists(TOOL) and os.path.getmtime(TOOL) > max(os.path.getmtime(src), os.path.getmtime(lib)):
        return
    libs = subprocess.run(["pkg-config", "--libs", "sqlite3", "libpq", "libmicrohttpd", "jansson", "libcurl",
                           "libsodium", "libcrypto"], capture_output=True, text=True, check=True).stdout.split()
    cflags = subprocess.run(["pkg-config", "--cflags", "jansson", "libsodium"], capture_output=True, text=True,
                            check=True).stdout.split()
    subprocess.run(["cc", "-std=c17", "-D_GNU_SOURCE", "-O1", "-I" + os.path.join(ROOT, "include"),
                    "-I" + os.path.join(ROOT, "src"), *cflags, "-o", TOOL + ".tmp", src, lib, *libs,
                    "-lpthread", "-lm"], check=True)
    os.replace(TOOL + ".tmp", TOOL)


class ProviderTest(FulfillTest):
    """A fresh database, the fake provider on loopback, and the engine tool (shared with
    test_scaleout.py)."""

    def setUp(self):
        super().setUp()
        build_tool()
        self.fake = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "fakes", "fake_provider.py")],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.fake.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"
        self.env.env["FULFILL_WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"

    def tearDown(self):
        self.fake.kill()
        self.fake.wait()
        self.fake.stdout.close()
        super().tearDown()

    def control(self, path, body=None):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode() if body is not None else None,
                                     method="POST" if body is not None else "GET")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def tool(self, *args):
        r = subprocess.run([TOOL, *args], env=self.env.env, capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def load_program(self, program_id, name):
        """Activate a program: referrers get credit through Stripe, the referred points in
        the ledger, every conversion earns."""
        program = {
            "id": program_id, "name": name, "currency": "USD",
            "eligibility": {">=": [{"var": "conversion.amount"}, 1]},
            "rewards": [{"to": "referrer", "type": "credit", "amount": 500},
                        {"to": "referred", "type": "points", "amount": 100}],
            "hold_days": 0, "expires_days": 365,
            "fulfillment": {"credit": "stripe", "points": "ledger"},
            "fraud": {"velocity": "off", "payout_threshold": "off"},
        }
        self.env.cli("program", "load", self.env.write("p.json", json.dumps(program)), "--activate", check=True)

    def configure_stripe(self, api_key):
        """The stripe connector against the fake provider, patient enough to outlast its faults."""
        self.tool("connector", "stripe", json.dumps({"type": "stripe", "config": {
            "api_key": api_key, "base_url": self.url, "timeout_ms": 2000,
            "max_attempts": 100, "backoff_base_ms": 20, "backoff_cap_ms": 200, "breaker_threshold": 100000}}))


class ExactlyOnce(ProviderTest):
    def setUp(self):
        super().setUp()
        self.env.env["FULFILL_WORKER_INTERVAL"] = "0.05"

    def counts(self):
        return self.tool("counts")

    def prepare(self, n):
        # referrers get credit through Stripe, the referred friends points in the ledger
        self.load_program("stripe_credit", "Credit through Stripe")
        # one referrer per 100 rewards keeps each participant's history short
        lines = []
        for k in range((n + 99) // 100):
            lines.append({"id": f"p{k}", "type": "participant", "data": {
                "id": f"ref{k}", "email": f"ref{k}@example.com", "status": "active",
                "attributes": {"stripe_customer_id": f"cus_{k}"}}})
        for i in range(n):
            k = i // 100
            lines.append({"id": f"f{i}", "type": "participant", "data": {
                "id": f"fr{i}", "status": "active", "attributes": {"stripe_customer_id": f"cus_f{i}"}}})
            lines.append({"id": f"r{i}", "type": "referral", "data": {
                "id": f"ref_{i}", "program": "stripe_credit", "referrer": f"ref{k}", "referred": f"fr{i}"}})
            lines.append({"id": f"c{i}", "type": "conversion", "data": {
                "id": f"ord_{i}", "participant": f"fr{i}", "amount": 5000, "currency": "USD"}})
        path = self.env.write("events.ndjson", "\n".join(json.dumps(x) for x in lines) + "\n")
        r = self.env.cli("ingest", path, check=True, timeout=1800)
        self.assertIn("rejected 0", r.stdout, r.stderr[-2000:])
        self.configure_stripe("sk_test_exactlyonce1234")
        # the provider does the work but the answer is lost now and then
        self.control("/_mode", {"fail_after_rate": 0.03, "drop_rate": 0.02, "fail_rate": 0.02})

    def finish(self, n, log, deadline_s):
        w = subprocess.Popen([BIN, "worker"], env=self.env.env, stdout=log, stderr=log)
        deadline = time.time() + deadline_s
        try:
            while time.time() < deadline:
                c = self.counts()
                if c.get("fulfilled", 0) == 2 * n or not (c.get("approved", 0) or c.get("issuing", 0)):
                    break
                time.sleep(0.5)
        finally:
            w.send_signal(signal.SIGTERM)
            w.wait(30)
        c = self.counts()
        self.assertEqual(c.get("fulfilled", 0), 2 * n, c)
        stats = self.control("/_stats")
        self.assertEqual(stats["distinct_keys"], n, "one balance transaction per reward")
        self.assertEqual(stats["duplicates"], 0, "no reward paid twice")
        self.assertEqual(stats["effects"].get("balance_transaction"), n)
        self.tool("verify")  # ledger invariants and the audit chain
        r = self.env.cli("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_kill_dash_nine_while_fulfilling(self):
        self.prepare(N)
        rng = random.Random(int(os.environ.get("FULFILL_SEED", "0")) or None)
        log = open(os.path.join(self.env.dir, "worker.log"), "w")
        self.addCleanup(log.close)
        for kill in range(KILLS):
            w = subprocess.Popen([BIN, "worker"], env=self.env.env, stdout=log, stderr=log)
            time.sleep(rng.uniform(0.1, 1.5 if not SOAK else 3.0))
            w.send_signal(signal.SIGKILL)
            w.wait()
        # then let one worker finish the job
        self.finish(N, log, 3600 if SOAK else 300)

    def test_several_workers_at_once(self):
        n = 1000
        self.prepare(n)
        log = open(os.path.join(self.env.dir, "workers.log"), "w")
        self.addCleanup(log.close)
        ws = [subprocess.Popen([BIN, "worker"], env=self.env.env, stdout=log, stderr=log) for _ in range(3)]
        time.sleep(2)
        for w in ws:
            w.send_signal(signal.SIGTERM)
            w.wait(30)
        self.finish(n, log, 300)


class LongPass(ProviderTest):
    """A pass that claims batch after batch for longer than one batch's lease: each
    lease runs from its batch's claim, not from the start of the pass, so another
    worker never re-drives a call still in flight (the webhook connector's receiver,
    and Braintree, would see it twice)."""

    def setUp(self):
        super().setUp()
        self.env.env["FULFILL_WORKER_INTERVAL"] = "0.05"

    def test_other_workers_leave_a_long_pass_alone(self):
        n = 1600
        program = {
            "id": "hook", "name": "Cash through a webhook", "currency": "USD",
            "eligibility": {">=": [{"var": "conversion.amount"}, 1]},
            "rewards": [{"to": "referrer", "type": "cash", "amount": 500}],
            "hold_days": 0, "expires_days": 365, "fulfillment": {"cash": "webhook"},
            "fraud": {"velocity": "off", "payout_threshold": "off"},
        }
        self.env.cli("program", "load", self.env.write("p.json", json.dumps(program)), "--activate", check=True)
        lines = []
        for k in range((n + 99) // 100):
            lines.append({"id": f"p{k}", "type": "participant", "data": {"id": f"ref{k}", "status": "active"}})
        for i in range(n):
            lines.append({"id": f"f{i}", "type": "participant", "data": {"id": f"fr{i}", "status": "active"}})
            lines.append({"id": f"r{i}", "type": "referral", "data": {
                "id": f"ref_{i}", "program": "hook", "referrer": f"ref{i // 100}", "referred": f"fr{i}"}})
            lines.append({"id": f"c{i}", "type": "conversion", "data": {
                "id": f"ord_{i}", "participant": f"fr{i}", "amount": 5000, "currency": "USD"}})
        path = self.env.write("events.ndjson", "\n".join(json.dumps(x) for x in lines) + "\n")
        r = self.env.cli("ingest", path, check=True, timeout=1800)
        self.assertIn("rejected 0", r.stdout, r.stderr[-2000:])
        # a call takes 400 ms: a batch of 128 (64 in flight) about 1 s, and its lease is
        # 1.5 s x 2 rounds + 2 s = 5 s; each worker's pass takes several batches
        self.control("/_mode", {"delay_ms": 400})
        log = open(os.path.join(self.env.dir, "workers.log"), "w")
        self.addCleanup(log.close)
        # both workers are past their first (recovery) pass before there is any work
        ws = [subprocess.Popen([BIN, "worker"], env=self.env.env, stdout=log, stderr=log) for _ in range(2)]
        try:
            time.sleep(1.5)
            self.tool("connector", "webhook", json.dumps({"type": "webhook", "config": {
                "url": self.url + "/hooks/fulfil", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "timeout_ms": 1500, "concurrency": 64, "max_attempts": 100, "breaker_threshold": 100000}}))
            deadline = time.time() + 240
            while time.time() < deadline and self.tool("counts").get("fulfilled", 0) < n:
                time.sleep(0.5)
        finally:
            for w in ws:
                w.send_signal(signal.SIGTERM)
                w.wait(60)
        self.assertEqual(self.tool("counts").get("fulfilled", 0), n)
        stats = self.control("/_stats")
        self.assertEqual(len(stats["hook_ids"]), n)
        # no timeouts, no failures: one POST per reward (the fake answers a repeated
        # Idempotency-Key from its memory, so count requests, not effects)
        self.assertEqual(stats["requests"], n, "rewards POSTed more than once")


if __name__ == "__main__":
    unittest.main()
