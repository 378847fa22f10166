"""The database server restarts under a running `fulfill serve`: /readyz answers 503
while PostgreSQL is down (and writes fail with 503, nothing half-done), then 200 again
once it is back, without restarting fulfill; events are accepted again on the new
connections and the worker (the thread in `serve`) keeps fulfilling.

Needs the PostgreSQL server binaries; runs in the PostgreSQL round of tests/run-all
(FULFILL_TEST_PG_HOST set) on a cluster of its own, because it stops and starts it."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from fulfilltest import Env, FulfillTest

PG = os.environ.get("FULFILL_TEST_PG_HOST")
BINDIR = (sorted(glob.glob("/usr/lib/postgresql/*/bin")) or [""])[-1]


def as_pg(args):
    if os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, capture_output=True, text=True)


class Cluster:
    """A throwaway cluster on a Unix socket in a temp dir (like tests/with-postgres)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fulfill-pgr-")
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        r = as_pg([BINDIR + "/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8"])
        assert r.returncode == 0, r.stdout + r.stderr
        self.start()

    def start(self):
        r = as_pg([BINDIR + "/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-o",
                   f"-k {self.dir} -c listen_addresses='' -c fsync=off", "start"])
        assert r.returncode == 0, r.stdout + r.stderr

    def stop(self, mode="fast"):
        as_pg([BINDIR + "/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])

    def close(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(PG and os.path.exists(BINDIR + "/pg_ctl"), "PostgreSQL only (tests/with-postgres)")
class Restart(FulfillTest):
    def setUp(self):
        self.cluster = Cluster()
        self.addCleanup(self.cluster.close)
        os.environ["FULFILL_TEST_PG_HOST"] = self.cluster.dir
        try:
            self.env = Env()  # a database on this cluster, not the shared one
        finally:
            os.environ["FULFILL_TEST_PG_HOST"] = PG

    def wait_ready(self, srv, want, seconds=20):
        deadline = time.time() + seconds
        while time.time() < deadline:
            st = srv.request("GET", "/readyz")[0]
            if st == want:
                return
            time.sleep(0.2)
        self.fail(f"/readyz did not become {want}")

    def test_readyz_and_writes_follow_the_database(self):
        program = {
            "id": "restart", "name": "Restart", "currency": "USD",
            "eligibility": {">=": [{"var": "conversion.amount"}, 1]},
            "rewards": [{"to": "referrer", "type": "points", "amount": 100}],
            "hold_days": 0, "fulfillment": {"points": "ledger"},
            "fraud": {"velocity": "off", "payout_threshold": "off"},
        }
        self.env.cli("program", "load", self.env.write("p.json", json.dumps(program)), "--activate", check=True)
        self.env.env["FULFILL_WORKER_INTERVAL"] = "0.2"
        key = self.env.key("admin")
        srv = self.env.serve()
        self.assertEqual(srv.request("GET", "/readyz")[0], 200)

        def post(ev):
            return srv.request("POST", "/v1/events", body=ev, key=key)

        def conversion(i):
            for ev in ({"id": f"a{i}", "type": "participant", "data": {"id": f"a{i}", "status": "active"}},
                       {"id": f"b{i}", "type": "participant", "data": {"id": f"b{i}", "status": "active"}},
                       {"id": f"r{i}", "type": "referral", "data": {
                           "id": f"ref{i}", "program": "restart", "referrer": f"a{i}", "referred": f"b{i}"}},
                       {"id": f"c{i}", "type": "conversion", "data": {
                           "id": f"ord{i}", "participant": f"b{i}", "amount": 1000, "currency": "USD"}}):
                st, body, _ = post(ev)
                self.assertEqual(st, 200, body)
            return body["rewards"][0]

        def fulfilled(reward, seconds=20):
            deadline = time.time() + seconds
            while time.time() < deadline:
                st, body, _ = srv.request("GET", f"/v1/rewards/{reward}", key=key)
                if st == 200 and body["status"] == "fulfilled":
                    return
                time.sleep(0.2)
            self.fail(f"reward {reward} was not fulfilled")

        reward = conversion(1)
        fulfilled(reward if isinstance(reward, str) else reward["id"])

        self.cluster.stop()
        self.wait_ready(srv, 503)
        st, body, _ = post({"id": "p_down", "type": "participant", "data": {"id": "down", "status": "active"}})
        self.assertEqual(st, 503, body)
        self.assertEqual(body["error"]["code"], "unavailable", body)

        self.cluster.start()
        self.wait_ready(srv, 200)
        reward = conversion(2)  # every connection of the server was replaced
        fulfilled(reward if isinstance(reward, str) else reward["id"])
        # the event refused while the database was down was not stored
        st, body, _ = post({"id": "p_down", "type": "participant", "data": {"id": "down", "status": "active"}})
        self.assertEqual((st, body["outcome"]), (200, "accepted"), body)
        self.assertIsNone(srv.proc.poll(), "the server kept running")


if __name__ == "__main__":
    unittest.main()
