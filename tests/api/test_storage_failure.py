"""The storage under a running SQLite server fails and comes back (tests/api/
fault_storage.c makes every write to the database's files fail while a flag file
exists): the disk full (ENOSPC), the file system gone read-only (EROFS). Checked: every
write answers in API.md's error shape and nothing is acknowledged that was not stored;
reads go on; /readyz answers 503 saying why once a write has failed (before, it said
ready as long as a SELECT worked, so a load balancer kept sending writes to a server
that could store none), and 200 again by itself once a write goes through - no
restart. PostgreSQL's counterpart, the database server going away, is
tests/e2e/test_pg_restart.py."""
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, fault_shim, participant  # noqa: E402
import fulfilltest  # noqa: E402


@unittest.skipIf(os.environ.get("FULFILL_TEST_PG_HOST"), "SQLite's files")
class StorageFailure(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.shim = fault_shim(self.env, "fault_storage")
        self.flag = os.path.join(self.env.dir, "storage-fails")
        self.admin = self.env.key("admin")

    def tearDown(self):
        self.env.close()

    def serve(self, errno_name):
        self.env.env = dict(self.env.env, LD_PRELOAD=self.shim, FF_FAULT_STORAGE=self.flag,
                            FF_FAULT_PREFIX=self.env.db[len("sqlite:"):], FF_FAULT_ERRNO=errno_name)
        return self.env.serve()

    def storage_goes_and_comes_back(self, errno_name, message):
        srv = self.serve(errno_name)
        st, body, _ = srv.request("POST", "/v1/events", participant("before"), key=self.admin)
        self.assertEqual((st, body["outcome"]), (200, "accepted"), body)
        self.assertEqual(srv.request("GET", "/readyz")[0], 200)

        open(self.flag, "w").close()
        refused = []
        for i in range(5):
            st, body, _ = srv.request("POST", "/v1/events", participant(f"during_{i}"), key=self.admin)
            self.assertEqual(st, 500, body)
            self.assertEqual(body["error"]["code"], "storage_error", body)
            self.assertIn(message, body["error"]["message"])
            refused.append(f"during_{i}")
        st, body, _ = srv.request("POST", "/v1/api-keys", {"role": "auditor"}, key=self.admin)
        self.assertEqual(st, 500, body)
        self.assertEqual(body["error"]["code"], "storage_error", body)
        # reads still work; readiness says the database cannot be written, and why
        self.assertEqual(srv.request("GET", "/v1/participants/before", key=self.admin)[0], 200)
        for _ in range(2):
            st, body, _ = srv.request("GET", "/readyz")
            self.assertEqual(st, 503, body)
            self.assertEqual(body["error"]["code"], "unavailable", body)
            self.assertIn("cannot be written", body["error"]["message"])
            self.assertIn(message, body["error"]["message"])
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)

        os.remove(self.flag)
        # ready again by itself (its own probe write), and writes go through
        st, body, _ = srv.request("GET", "/readyz")
        self.assertEqual(st, 200, body)
        for eid in refused:
            st, body, _ = srv.request("POST", "/v1/events", participant(eid), key=self.admin)
            self.assertEqual((st, body["outcome"]), (200, "accepted"), body)  # never stored before
        self.assertEqual(srv.request("GET", "/readyz")[0], 200)
        self.assertIsNone(srv.proc.poll())
        st, body, _ = srv.request("GET", "/v1/audit/verify", key=self.admin)
        self.assertEqual((st, body["ok"]), (200, True), body)

    def test_disk_full(self):
        self.storage_goes_and_comes_back("ENOSPC", "database or disk is full")

    def test_read_only_file_system(self):
        self.storage_goes_and_comes_back("EROFS", "disk I/O error")

    def test_a_file_this_process_may_only_read_is_refused_by_serve_and_worker(self):
        """SQLite opens a file it may not write read-only, without an error: `serve` then
        started ready and failed every write. Now serve and worker refuse to start with a
        clear message; reading commands still work (verifying a read-only backup copy)."""
        path = self.env.db[len("sqlite:"):]
        self.env.cli("migrate", check=True)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        os.chmod(path, 0o444)
        # the directory stays writable: SQLite can make the -wal and -shm files there, so
        # it opens the file read-only instead of failing (without them it fails to open)
        prefix = []
        if os.getuid() == 0:  # root writes any file: run as someone else
            prefix = ["runuser", "-u", "nobody", "--"]
            os.chmod(self.env.dir, 0o777)

        def run(*args):
            # its own process group: a server that starts after all (a regression) is
            # stopped with runuser and everything under it
            p = subprocess.Popen(prefix + [fulfilltest.BIN, *args], env=self.env.env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)
            try:
                out, err = p.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, err = p.communicate()
            return subprocess.CompletedProcess(p.args, p.returncode, out, err)
        for args in (["serve", "--listen", "127.0.0.1:0"], ["worker", "--once"], ["worker"]):
            r = run(*args)
            self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
            self.assertIn("this process may only read it", r.stdout + r.stderr, args)
        r = run("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_ready_again_when_the_writes_resume_without_a_probe(self):
        """A write that goes through clears the fault too: readiness follows the writes."""
        srv = self.serve("ENOSPC")
        open(self.flag, "w").close()
        st, body, _ = srv.request("POST", "/v1/events", participant("x"), key=self.admin)
        self.assertEqual(st, 500, body)
        os.remove(self.flag)
        st, body, _ = srv.request("POST", "/v1/events", participant("x"), key=self.admin)
        self.assertEqual((st, body["outcome"]), (200, "accepted"), body)
        self.assertEqual(srv.request("GET", "/readyz")[0], 200)


if __name__ == "__main__":
    unittest.main()
