"""Scale-out on PostgreSQL: 2 `fulfill serve` processes and 4 `fulfill worker` processes
on one database. Conversions are posted through both servers at once, one event per
request (group commit), and half of them are posted twice, to both servers at the same
moment. While the workers pay the rewards through the Stripe connector (against the
local fake, which loses some answers after doing the work), one worker is killed with
SIGKILL and restarted. Afterwards: every conversion was applied once (one "accepted"
and one "duplicate" answer for the events sent twice, the same rewards in both), every
reward is fulfilled, exactly once at the provider (distinct idempotency keys), the
ledger invariants hold and the audit chain verifies.

Runs only against PostgreSQL (FULFILL_TEST_PG_HOST, set by tests/with-postgres; the
second round of tests/run-all). Sizes: FULFILL_SCALEOUT_CONVERSIONS, default 2,000 in
`make check` and 20,000 with FULFILL_SOAK=1 (`make soak`); numbers in docs/scaling.md.
"""
import concurrent.futures
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import unittest

from fulfilltest import BIN, FulfillTest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_exactly_once import ProviderTest  # noqa: E402

PG = os.environ.get("FULFILL_TEST_PG_HOST")
SOAK = os.environ.get("FULFILL_SOAK") == "1"
N = int(os.environ.get("FULFILL_SCALEOUT_CONVERSIONS", "20000" if SOAK else "2000"))
SERVERS, WORKERS = 2, 4


def post_events(port, key, bodies):
    """POST each body on one keep-alive connection; returns [(status, json)]."""
    out = []
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for body in bodies:
        for attempt in range(20):
            try:
                c.request("POST", "/v1/events", body=body, headers={
                    "Authorization": "Bearer " + key, "Content-Type": "application/json"})
                r = c.getresponse()
                payload = r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                time.sleep(0.05)
                continue
            if status in (429, 503) and attempt < 19:  # transient: the client retries
                time.sleep(0.05 * (attempt + 1))
                continue
            break
        out.append((status, json.loads(payload)))
    c.close()
    return out


@unittest.skipUnless(PG, "PostgreSQL only (tests/with-postgres)")
class ScaleOut(ProviderTest):
    def setUp(self):
        super().setUp()
        self.env.env["FULFILL_WORKER_INTERVAL"] = "2"  # idle workers wake on NOTIFY
        self.env.env["FULFILL_HTTP_RATE"] = "0"
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        super().tearDown()

    def sql(self, query):
        r = subprocess.run(["psql", self.env.db, "-Atqc", query], capture_output=True, text=True, check=True)
        return r.stdout.strip()

    def prepare(self):
        self.load_program("scale", "Scale-out")
        lines = []
        for k in range((N + 99) // 100):
            lines.append({"id": f"p{k}", "type": "participant", "data": {
                "id": f"ref{k}", "status": "active", "attributes": {"stripe_customer_id": f"cus_{k}"}}})
        for i in range(N):
            lines.append({"id": f"f{i}", "type": "participant", "data": {"id": f"fr{i}", "status": "active"}})
            lines.append({"id": f"r{i}", "type": "referral", "data": {
                "id": f"ref_{i}", "program": "scale", "referrer": f"ref{i // 100}", "referred": f"fr{i}"}})
        path = self.env.write("setup.ndjson", "\n".join(json.dumps(x) for x in lines) + "\n")
        r = self.env.cli("ingest", path, check=True, timeout=1800)
        self.assertIn("rejected 0", r.stdout, r.stderr[-2000:])
        self.configure_stripe("sk_test_scaleout12345678")
        self.control("/_mode", {"fail_after_rate": 0.02, "drop_rate": 0.01})

    def start_worker(self, log):
        w = subprocess.Popen([BIN, "worker"], env=self.env.env, stdout=log, stderr=log)
        self.workers.append(w)
        return w

    def test_two_servers_four_workers_one_killed(self):
        self.prepare()
        key = self.env.key("ingest")
        servers = [self.env.serve("--no-worker") for _ in range(SERVERS)]
        log = open(os.path.join(self.env.dir, "workers.log"), "w")
        self.addCleanup(log.close)
        workers = [self.start_worker(log) for _ in range(WORKERS)]

        # one request list per (client, server); conversion i goes to server i % 2, and
        # when i is even also to the other one, in the same position of a parallel list
        def body(i):
            return json.dumps({"id": f"c{i}", "type": "conversion", "data": {
                "id": f"ord_{i}", "participant": f"fr{i}", "amount": 5000, "currency": "USD"}})
        clients = 8
        lanes = {}
        for i in range(N):
            home = i % SERVERS
            lanes.setdefault((i % clients, home), []).append(i)
            if i % 2 == 0:
                lanes.setdefault((i % clients, 1 - home), []).append(i)
        t0 = time.time()
        answers = {}
        killed = False
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(lanes)) as ex:
            futs = {ex.submit(post_events, servers[s].port, key, [body(i) for i in ids]): ids
                    for (_, s), ids in lanes.items()}
            for f in concurrent.futures.as_completed(futs):
                for i, (status, resp) in zip(futs[f], f.result()):
                    self.assertEqual(status, 200, resp)
                    answers.setdefault(i, []).append(resp)
                if not killed:  # kill -9 a worker while it fulfils, restart it
                    workers[0].send_signal(signal.SIGKILL)
                    workers[0].wait()
                    workers[0] = self.start_worker(log)
                    killed = True
        ingest_s = time.time() - t0

        # every conversion applied once: one "accepted"; a second delivery answers
        # "duplicate" with the same rewards
        for i in range(N):
            got = answers[i]
            self.assertEqual(len(got), 2 if i % 2 == 0 else 1)
            outcomes = sorted(a["outcome"] for a in got)
            self.assertEqual(outcomes, ["accepted", "duplicate"][:len(got)], got)
            self.assertEqual(len(got[0]["rewards"]), 2, got)
            if len(got) == 2:
                self.assertEqual(got[0]["rewards"], got[1]["rewards"], got)

        # kill -9 one worker mid-flight, restart it, let them all finish
        time.sleep(1.0)
        workers[1].send_signal(signal.SIGKILL)
        workers[1].wait()
        workers[1] = self.start_worker(log)
        deadline = time.time() + (3600 if SOAK else 240)
        while time.time() < deadline:
            c = self.tool("counts")
            if c.get("fulfilled", 0) == 2 * N:
                break
            time.sleep(0.5)
        total_s = time.time() - t0
        for w in workers:
            w.send_signal(signal.SIGTERM)
            w.wait(60)
        c = self.tool("counts")
        self.assertEqual(c.get("fulfilled", 0), 2 * N, c)
        self.assertEqual(self.sql("SELECT count(*) FROM events WHERE type = 'conversion'"), str(N))
        self.assertEqual(self.sql("SELECT count(*) FROM rewards"), str(2 * N))
        self.assertEqual(self.sql("SELECT count(*) FROM (SELECT conversion FROM rewards GROUP BY conversion "
                                  "HAVING count(*) <> 2) x"), "0")
        stats = self.control("/_stats")
        self.assertEqual(stats["distinct_keys"], N, "one balance transaction per reward")
        self.assertEqual(stats["duplicates"], 0, "no reward paid twice")
        self.assertEqual(stats["effects"].get("balance_transaction"), N)
        self.tool("verify")  # ledger invariants and the audit chain
        r = self.env.cli("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        print(f"\nscale-out: {N} conversions ({N + N // 2} requests) through {SERVERS} servers in "
              f"{ingest_s:.1f}s ({(N + N // 2) / ingest_s:.0f} req/s); {2 * N} rewards fulfilled by "
              f"{WORKERS} workers after {total_s:.1f}s", file=sys.stderr)


@unittest.skipUnless(PG, "PostgreSQL only (tests/with-postgres)")
class Races(FulfillTest):
    """Two processes writing the same thing at once, made to interleave the bad way by a
    psql session that holds a lock the first one needs while the second one starts;
    SQLite's single writer never lets them overlap."""

    def sql(self, query):
        r = subprocess.run(["psql", self.env.db, "-Atqc", query], capture_output=True, text=True, check=True)
        return r.stdout.strip()

    def session(self, sql):
        """A psql session that ran `sql` (a BEGIN and locks) and stays in it; end() it."""
        p = subprocess.Popen(["psql", self.env.db, "-Aqt", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        idle = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'")
        before = int(self.sql(idle))  # sessions opened earlier count already
        p.stdin.write(sql + "\n")
        p.stdin.flush()
        for _ in range(200):  # the locks are held once its transaction is open
            if int(self.sql(idle)) > before:
                return p
            time.sleep(0.05)
        raise AssertionError("psql session did not start")

    @staticmethod
    def end(p):
        p.stdin.write("COMMIT;\n")
        p.stdin.close()
        p.wait(30)

    def wait_blocked(self, n):
        """Until n sessions of the database wait for a lock (row or advisory)."""
        for _ in range(400):
            if int(self.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock'")) >= n:
                return
            time.sleep(0.05)
        raise AssertionError(f"{n} sessions never waited for a lock")

    def ingest(self, *events):
        return self.env.write(f"e{time.monotonic_ns()}.ndjson", "".join(json.dumps(e) + "\n" for e in events))

    def test_tax_form_does_not_undo_a_concurrent_participant_event(self):
        # the participant's row is read, merged and written back whole: a tax form read
        # before an event's change and written after it put the old attributes back
        self.env.cli("ingest", self.ingest({"id": "p1", "type": "participant", "data": {
            "id": "pat", "status": "active", "attributes": {"plan": "free"}}}), check=True)
        admin = self.env.key("admin")
        srv = self.env.serve("--no-worker")
        hold = self.session("BEGIN; SELECT 1 FROM participants WHERE id = 'pat' FOR UPDATE;")
        event = subprocess.Popen([BIN, "ingest", self.ingest({"id": "p2", "type": "participant", "data": {
            "id": "pat", "attributes": {"plan": "gold"}}})], env=self.env.env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.wait_blocked(1)  # the event read the row and waits to write it
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            form = ex.submit(srv.request, "POST", "/v1/participants/pat/tax-form", {"form": "w9"}, admin)
            self.wait_blocked(2)
            self.end(hold)
            out, err = event.communicate(timeout=60)
            self.assertEqual(event.returncode, 0, err)
            self.assertIn("accepted 1", out)
            self.assertEqual(form.result(60)[0], 200)
        self.assertEqual(self.sql("SELECT tax_form || ' ' || attributes FROM participants WHERE id = 'pat'"),
                         'w9 {"plan":"gold"}')

    def test_two_workers_keep_a_code_pools_per_participant_limit(self):
        # a referrer earns two codes from a pool that allows one per participant; two
        # workers take one reward each while neither has committed
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.env.cli("program", "load", os.path.join(root, "examples", "programs", "give10get10.json"),
                     "--activate", check=True)
        self.env.cli("codes", "upload", "give10get10", os.path.join(root, "examples", "give10get10-codes.csv"),
                     check=True)
        self.sql("UPDATE code_pools SET per_participant_limit = 1 WHERE id = 'give10get10'")
        events = [{"id": "p0", "type": "participant", "data": {"id": "ref", "status": "active"}}]
        for i in (1, 2):
            events += [
                {"id": f"p{i}", "type": "participant", "data": {"id": f"fr{i}", "status": "active"}},
                {"id": f"r{i}", "type": "referral", "data": {"id": f"rf{i}", "program": "give10get10",
                                                             "referrer": "ref", "referred": f"fr{i}"}},
                {"id": f"c{i}", "type": "conversion", "data": {"id": f"o{i}", "participant": f"fr{i}",
                                                               "amount": 5000, "currency": "USD"}}]
        self.env.cli("ingest", self.ingest(*events), check=True)
        self.assertEqual(self.sql("SELECT count(*) FROM rewards WHERE participant = 'ref' AND status = 'approved'"),
                         "2")
        # the first worker's chunk stays open (the chain lock, taken at its end, is held)
        # and cannot claim the referrer's second reward (locked); the second worker gets it
        chain = self.session("BEGIN; SELECT pg_advisory_xact_lock(7302002);")
        second = self.session("BEGIN; SELECT 1 FROM rewards WHERE participant = 'ref' AND conversion = 'o2' "
                              "FOR UPDATE;")
        run = {"env": self.env.env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        a = subprocess.Popen([BIN, "worker", "--once"], **run)
        self.wait_blocked(1)
        self.end(second)
        b = subprocess.Popen([BIN, "worker", "--once"], **run)
        self.wait_blocked(2)
        self.end(chain)
        for w in (a, b):
            out, err = w.communicate(timeout=60)
            self.assertEqual(w.returncode, 0, err)
        self.assertEqual(self.sql("SELECT count(*) FROM codes WHERE participant = 'ref'"), "1")
        self.assertEqual(self.sql("SELECT status || ' ' || reason FROM rewards WHERE participant = 'ref' "
                                  "ORDER BY seq"), "fulfilled delivered\nfailed permanent_error")

    def test_a_reward_does_not_expire_out_of_a_batch_being_closed(self):
        # the batch is closed (and its count sent) while a worker expires one of its
        # rewards, having seen the batch open: the reward stays in the closed batch
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        for name in ("give20get20", "give10get10", "free-goods"):
            self.env.cli("program", "load", os.path.join(root, "examples", "programs", name + ".json"),
                         "--activate", check=True)
        self.env.cli("ingest", os.path.join(root, "examples", "demo-events.ndjson"), check=True)
        self.env.cli("worker", "--once", check=True)
        batch = self.env.cli_json("batch", "create", "--fulfiller", "acme-distribution")
        reward = batch["rewards"][0]
        self.sql(f"UPDATE rewards SET expires_at = 1000 WHERE id = '{reward}'")
        # the close waits for the chain lock with the batch's row changed, uncommitted
        chain = self.session("BEGIN; SELECT pg_advisory_xact_lock(7302002);")
        run = {"env": self.env.env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        close = subprocess.Popen([BIN, "batch", "close", batch["id"]], **run)
        self.wait_blocked(1)
        worker = subprocess.Popen([BIN, "worker", "--once"], **run)
        self.wait_blocked(2)
        self.end(chain)
        for p in (close, worker):
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        self.assertEqual(self.sql(f"SELECT status || ' ' || reward_count FROM batches WHERE id = '{batch['id']}'"),
                         "closed 1")
        self.assertEqual(self.sql(f"SELECT status || ' ' || batch FROM rewards WHERE id = '{reward}'"),
                         f"approved {batch['id']}")

    def test_two_workers_send_each_email_once(self):
        # a worker sends its leased e-mails one after another through a slow relay; the
        # later ones' leases run out before their turn and a second worker leases them:
        # the first must not send them as well
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out = os.path.join(self.env.dir, "mail.jsonl")
        sink = subprocess.Popen([sys.executable, os.path.join(root, "tests", "fakes", "smtp_sink.py"), "--out", out,
                                 "--delay", "0.4"], stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (sink.kill(), sink.wait(), sink.stdout.close()))
        port = int(sink.stdout.readline())
        self.env.cli("connectors", "set", "smtp", "--type", "smtp", "--config", json.dumps(
            {"url": f"smtp://127.0.0.1:{port}", "from": "r@acme.test", "timeout_ms": 1000}), check=True)
        program = {"id": "mail", "name": "Mail", "currency": "USD",
                   "eligibility": {">=": [{"var": "conversion.amount"}, 1]},
                   "rewards": [{"to": "referrer", "type": "credit", "amount": 100}], "hold_days": 0,
                   "notifications": {"from": "R <r@acme.test>", "milestones": ["earned"], "to": ["referrer"]}}
        self.env.cli("program", "load", self.env.write("mail.json", json.dumps(program)), "--activate", check=True)
        n, events = 30, []
        for i in range(n):
            events += [
                {"id": f"pr{i}", "type": "participant", "data": {"id": f"r{i}", "email": f"r{i}@example.com",
                                                                 "status": "active"}},
                {"id": f"pf{i}", "type": "participant", "data": {"id": f"f{i}", "status": "active"}},
                {"id": f"rf{i}", "type": "referral", "data": {"id": f"rf{i}", "program": "mail",
                                                              "referrer": f"r{i}", "referred": f"f{i}"}},
                {"id": f"c{i}", "type": "conversion", "data": {"id": f"o{i}", "participant": f"f{i}",
                                                               "amount": 500, "currency": "USD"}}]
        self.env.cli("ingest", self.ingest(*events), check=True)
        self.assertEqual(self.sql("SELECT count(*) FROM notifications WHERE status = 'pending'"), str(n))
        run = {"env": self.env.env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        first = subprocess.Popen([BIN, "worker", "--once"], **run)
        # 0.4 s a message, leases of 2 x 1 s + 5 s: after 20 messages the last ten are due again
        for _ in range(600):
            if os.path.exists(out) and sum(1 for _ in open(out)) >= 20:
                break
            time.sleep(0.05)
        second = subprocess.Popen([BIN, "worker", "--once"], **run)
        for w in (first, second):
            _, err = w.communicate(timeout=120)
            self.assertEqual(w.returncode, 0, err)
        sent = [json.loads(line)["to"][0] for line in open(out)]
        self.assertEqual(len(sent), n, sorted(sent))
        self.assertEqual(len(set(sent)), n)
        self.assertEqual(self.sql("SELECT status || ' ' || count(*) FROM notifications GROUP BY status"), f"sent {n}")

    def test_a_redemption_meeting_a_clawback_is_not_refused(self):
        # a redemption holds the balance row and waits for the audit chain, a refund's
        # clawback holds the chain and waits for the balance row: the deadlock's victim
        # runs again instead of failing (here the redemption: it waited last)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.env.cli("program", "load", os.path.join(root, "examples", "programs", "give20get20.json"),
                     "--activate", check=True)
        events = [{"id": "pa", "type": "participant", "data": {"id": "ra", "status": "active"}}]
        for i in (1, 2):
            events += [
                {"id": f"pf{i}", "type": "participant", "data": {"id": f"f{i}", "status": "active"}},
                {"id": f"rf{i}", "type": "referral", "data": {"id": f"rf{i}", "program": "give20get20",
                                                              "referrer": "ra", "referred": f"f{i}"}},
                {"id": f"c{i}", "type": "conversion", "data": {"id": f"o{i}", "participant": f"f{i}",
                                                               "amount": 5000, "currency": "USD"}}]
        self.env.cli("ingest", self.ingest(*events), check=True)
        self.env.cli("worker", "--once", check=True)
        self.env.cli("redeem", "ra", "1", "USD", check=True)  # the "redemptions" balance row
        self.assertEqual(self.sql("SELECT balance FROM ledger_balances WHERE account = 'participant:ra'"), "3900")
        # the redemption locks ra's balance, then waits for the "redemptions" row
        hold = self.session("BEGIN; SELECT 1 FROM ledger_balances WHERE account = 'redemptions' FOR UPDATE;")
        run = {"env": self.env.env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        redeem = subprocess.Popen([BIN, "redeem", "ra", "5", "USD"], **run)
        self.wait_blocked(1)
        refund = subprocess.Popen([BIN, "ingest", self.ingest({"id": "x1", "type": "refund",
                                                               "data": {"conversion": "o1"}})], **run)
        self.wait_blocked(2)
        time.sleep(1.5)  # past deadlock_timeout: the refund checked for a deadlock and found none
        self.end(hold)
        out, err = redeem.communicate(timeout=60)
        self.assertEqual(redeem.returncode, 0, err)
        self.assertIn("redeemed 5.00 USD", out)
        out, err = refund.communicate(timeout=60)
        self.assertEqual(refund.returncode, 0, err)
        self.assertIn("accepted 1", out)
        self.assertEqual(self.sql("SELECT balance FROM ledger_balances WHERE account = 'participant:ra'"), "1400")
        self.assertEqual(self.env.cli("audit", "verify").returncode, 0)


if __name__ == "__main__":
    unittest.main()
