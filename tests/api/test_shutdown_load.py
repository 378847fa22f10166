"""SIGTERM while the server is busy, as systemd sends it on a restart: single events
and NDJSON batches on kept-alive connections, worker passes asked for over HTTP and
the background worker all running. The server stops accepting, answers what it
accepted, lets the worker pass finish, closes the database and exits 0; afterwards
every answered event is stored, nothing unanswered is half-stored, the audit chain
verifies and SQLite finds the file intact."""
import http.client
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import PROGRAM, Env, ndjson, participant  # noqa: E402


def conversion(oid, who):
    return {"id": "evt_" + oid, "type": "conversion", "occurred_at": "2026-10-02T12:00:00Z",
            "data": {"id": oid, "participant": who, "amount": 7500, "currency": "USD"}}


class ShutdownUnderLoad(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.addCleanup(self.env.close)

    def test_sigterm_under_load(self):
        if not self.env.db.startswith("sqlite:"):
            self.skipTest("checks the SQLite file")
        self.env.cli("program", "load", self.env.write("p1.json", json.dumps(PROGRAM)), "--activate", check=True)
        admin = self.env.key("admin")
        srv = self.env.serve("--worker-interval", "0.05")
        # referrers with a friend each: every conversion of a friend earns two rewards
        seed = [participant(f"ref{i}") for i in range(6)] + [participant(f"fr{i}") for i in range(6)]
        seed += [{"id": f"evt_r{i}", "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
                  "data": {"id": f"r{i}", "program": "p1", "referrer": f"ref{i}", "referred": f"fr{i}"}}
                 for i in range(6)]
        st, body, _ = srv.request("POST", "/v1/events", ndjson(seed), key=admin, ctype="application/x-ndjson")
        self.assertEqual((st, body["rejected"]), (200, 0), body)

        answered, unanswered, lock = {}, set(), threading.Lock()
        stop, signalled = threading.Event(), threading.Event()

        def single(t):
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)  # kept alive
            n = 0
            while not stop.is_set():
                oid = f"o{t}_{n}"
                n += 1
                try:
                    c.request("POST", "/v1/events", json.dumps(conversion(oid, f"fr{t}")),
                              {"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    with lock:
                        answered[oid] = r.status
                    if r.getheader("Connection", "").lower() == "close":
                        c.close()
                        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
                except (OSError, http.client.HTTPException):
                    with lock:
                        unanswered.add(oid)
                    if signalled.is_set():
                        return
                    c.close()
                    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)

        def batches():
            n = 0
            while not stop.is_set():
                oids = [f"nd{n}_{k}" for k in range(20)]
                n += 1
                try:
                    st, body, _ = srv.request("POST", "/v1/events", ndjson(conversion(o, f"fr{k % 6}")
                                                                           for k, o in enumerate(oids)),
                                              key=admin, ctype="application/x-ndjson")
                    with lock:
                        for o in oids:
                            answered[o] = st if st != 200 or body["rejected"] == 0 else "partial"
                except (OSError, http.client.HTTPException):
                    with lock:
                        unanswered.update(oids)
                    if signalled.is_set():
                        return

        passes = []

        def jobs():
            while not stop.is_set():
                try:
                    st, body, _ = srv.request("POST", "/v1/jobs/run", key=admin)
                    passes.append((st, body))
                except (OSError, http.client.HTTPException):
                    if signalled.is_set():
                        return

        threads = [threading.Thread(target=single, args=(t,)) for t in range(4)]
        threads += [threading.Thread(target=batches), threading.Thread(target=jobs)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        srv.proc.send_signal(signal.SIGTERM)
        signalled.set()
        try:
            code = srv.proc.wait(60)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(code, 0)

        ok = {o for o, st in answered.items() if st == 200}
        self.assertGreater(len(ok), 20, "the load did not get going")
        self.assertEqual({st for st in answered.values()} - {200, 503}, set(), answered)
        self.assertTrue(passes and all(st == 200 for st, _ in passes), passes[-3:])
        with open(os.path.join(self.env.dir, f"serve-{srv.port}.log")) as f:
            log = [json.loads(l) for l in f.read().splitlines()]
        self.assertIn("signal 15: shutting down", [l["msg"] for l in log])
        self.assertEqual([l for l in log if l["level"] == "error"], [])

        # the file: closed cleanly, intact, the audit chain whole
        path = self.env.db[len("sqlite:"):]
        con = sqlite3.connect(path)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        finally:
            con.close()
        r = self.env.cli("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # every answered event is stored with its rewards; a refused one (503) is not
        srv2 = self.env.serve("--no-worker")
        rewards, after = [], ""
        while True:
            st, page, _ = srv2.request("GET", "/v1/rewards?limit=1000" + after, key=admin)
            self.assertEqual(st, 200, page)
            rewards += page["data"]
            if not page["has_more"]:
                break
            after = "&starting_after=" + page["data"][-1]["id"]
        by_conversion = {}
        for r in rewards:
            by_conversion.setdefault(r["conversion"], []).append(r)
            self.assertNotEqual(r["status"], "issuing", r)
        stored = set(by_conversion)
        self.assertLessEqual(ok, stored)
        refused = {o for o, st in answered.items() if st == 503}
        self.assertEqual(refused & stored, set())
        for oid in stored:
            self.assertEqual(sorted(r["role"] for r in by_conversion[oid]), ["referred", "referrer"], oid)
        # an event whose answer never came either committed whole or not at all
        for oid in unanswered:
            st, body, _ = srv2.request("GET", f"/v1/conversions/{oid}", key=admin)
            self.assertIn(st, (200, 404), body)
            self.assertEqual(st == 200, oid in stored, oid)


if __name__ == "__main__":
    unittest.main()
