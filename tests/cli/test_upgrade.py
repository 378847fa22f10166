"""Upgrades: a database written by an old fulfill, opened by this one (SPEC §11: numbered
migrations applied at start and by `fulfill migrate`).

tests/cli/fixtures/schema_v5.*.sql is a database at schema version 5 (the release
before migrations 6-11) filled through the API by that release's binary
(tests/cli/upgrade_fixture.py, which says how to make one from any git revision), one
dump per backend; schema_v5.*.json is what that binary answered about it. Checked:
three processes starting at once migrate it once; every reward, balance and batch reads
as the old binary had it, the audit chain verifies; the server and the worker carry on
with it (new rewards, a refund, a batch paid and reconciled). A file not in WAL mode yet
(a loaded dump, a `VACUUM INTO` copy) opens while another process writes it. A process that
opens the database while another one migrates it waits for that migration (saying so once)
instead of failing after the busy timeout. And a database whose schema is NEWER than this
binary is refused with a clear error and left untouched."""
import concurrent.futures
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import fulfilltest
from fulfilltest import FulfillTest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from upgrade_fixture import snapshot  # noqa: E402

PG = bool(os.environ.get("FULFILL_TEST_PG_HOST"))
KIND = "pg" if PG else "sqlite"


def latest_version():
    """The schema version this binary migrates to (a fresh database's)."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, FULFILL_DB="sqlite:" + os.path.join(d, "v.db"), FULFILL_MASTER_KEY="ab" * 32)
        r = subprocess.run([fulfilltest.BIN, "migrate", "--json"], env=env, capture_output=True, text=True,
                           check=True)
        return json.loads(r.stdout)["schema_version"]


LATEST = latest_version()


class Upgrade(FulfillTest):
    def sql(self, query):
        """One value from the test's database, read past fulfill."""
        if PG:
            r = subprocess.run(["psql", self.env.db, "-Atqc", query], capture_output=True, text=True, check=True)
            return r.stdout.strip()
        con = sqlite3.connect(self.env.db[len("sqlite:"):])
        try:
            row = con.execute(query).fetchone()
            con.commit()
            return row and str(row[0])
        finally:
            con.close()

    def load(self, version):
        with open(os.path.join(HERE, "fixtures", f"schema_v{version}.{KIND}.sql")) as f:
            dump = f.read()
        if PG:
            subprocess.run(["psql", self.env.db, "-q", "-v", "ON_ERROR_STOP=1"], input=dump, text=True,
                           capture_output=True, check=True)
        else:
            con = sqlite3.connect(self.env.db[len("sqlite:"):])
            con.executescript(dump)
            con.close()
        with open(os.path.join(HERE, "fixtures", f"schema_v{version}.{KIND}.json")) as f:
            return json.load(f)

    def migrate_at_once(self, n):
        def one(_):
            return self.env.cli("migrate", "--json")
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            return list(ex.map(one, range(n)))

    def test_v5_database_migrates_once_and_keeps_working(self):
        want = self.load(5)
        self.assertEqual(self.sql("SELECT value FROM meta WHERE key = 'schema_version'"), "5")

        for r in self.migrate_at_once(3):
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["schema_version"], LATEST)
        self.assertEqual(self.sql("SELECT value FROM meta WHERE key = 'schema_version'"), str(LATEST))
        # the new columns were filled for the old rows (migration 10: earned_at)
        self.assertEqual(self.sql("SELECT count(*) FROM rewards WHERE earned_at IS NULL"), "0")

        r = self.env.cli("audit", "verify")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, f"ok {want['audit_records']} records"), r.stderr)

        admin = self.env.key("admin")
        srv = self.env.serve("--no-worker")
        got = snapshot(srv, admin)
        self.assertEqual(got["rewards"], want["rewards"])
        self.assertEqual(got["balances"], want["balances"])
        self.assertEqual(got["batches"], want["batches"])
        self.assertGreater(got["audit_records"], want["audit_records"])  # + the key created above

        def call(method, path, body=None, ok=(200, 201), **kw):
            st, b, _ = srv.request(method, path, body, key=admin, **kw)
            self.assertIn(st, ok, (method, path, b))
            return b

        # new business on the migrated database: a referral earning ledger credit ...
        nd = "".join(json.dumps(e) + "\n" for e in [
            {"id": "evt_new_r", "type": "referral", "data": {"id": "ref_new", "program": "credit20",
                                                             "referrer": "ref3", "referred": "fnew"}},
            {"id": "evt_new_c", "type": "conversion", "data": {"id": "ord_new", "participant": "fnew",
                                                               "amount": 9000, "currency": "USD"}}])
        res = call("POST", "/v1/events", nd, ctype="application/x-ndjson")
        self.assertEqual(res["accepted"], 2, res)
        ran = call("POST", "/v1/jobs/run")
        self.assertEqual(ran["fulfilled"], 2, ran)
        self.assertEqual(call("GET", "/v1/participants/ref3")["balances"], [{"amount": 2000, "currency": "USD"}])
        # ... an old paid reward's conversion refunded (migration 8's refund reason) ...
        old = [rid for rid, r in want["rewards"].items() if r["conversion"] == "ord_0"]
        call("POST", "/v1/events", {"id": "evt_rf_0", "type": "refund",
                                    "data": {"conversion": "ord_0", "amount": 7500, "reason": "chargeback"}})
        for rid in old:
            rw = call("GET", "/v1/rewards/" + rid)
            self.assertEqual(rw["status"], "reversed", rw)
            self.assertEqual(rw["history"][-1]["reason"], "chargeback", rw)
        # ... the batch the old binary left open, paid and reconciled
        (open_batch,) = [b for b, v in want["batches"].items() if v["status"] == "open"]
        call("POST", f"/v1/batches/{open_batch}/fulfill", {"reference": "CM-2"})
        report = "reward_id,amount,currency,reference\n" + "".join(
            f"{rid},25.00,USD,CM-2\n" for rid, r in want["rewards"].items() if r["batch"] == open_batch)
        self.assertEqual(call("POST", f"/v1/batches/{open_batch}/reconcile", report, ctype="text/csv")["status"],
                         "reconciled")
        # the stand-alone worker works on it too
        r = self.env.cli("worker", "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        st, body, _ = srv.request("GET", "/v1/audit/verify", key=admin)
        self.assertEqual((st, body["ok"]), (200, True), body)

        # opening it again migrates nothing
        again = self.env.cli("migrate", "--json")
        self.assertEqual((again.returncode, json.loads(again.stdout)["schema_version"]), (0, LATEST), again.stderr)
        r = self.env.cli("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    @unittest.skipIf(PG, "SQLite's journal modes")
    def test_rollback_journal_file_opened_while_another_process_writes(self):
        """A database file not yet in WAL mode - the fixture's dump loaded, like a restore
        from `VACUUM INTO` - opened while another process holds its write lock: fulfill
        waits for it (busy timeout) instead of failing at once with "database is
        locked", which SQLite answers without waiting to a reader that wants to write."""
        self.load(5)
        path = self.env.db[len("sqlite:"):]
        con = sqlite3.connect(path, isolation_level=None)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "delete")
        con.execute("BEGIN IMMEDIATE")
        proc = subprocess.Popen([fulfilltest.BIN, "migrate"], env=self.env.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        con.execute("COMMIT")
        con.close()
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(f"schema version {LATEST}", out)
        self.assertEqual(self.sql("PRAGMA journal_mode"), "wal")

    def test_second_process_waits_for_another_process_migration(self):
        """Another process is in the middle of a migration (the test holds the lock a
        migration takes: SQLite's write lock, PostgreSQL's advisory lock, while the schema
        is still at version 5): `fulfill migrate` says once that it waits for it, keeps
        waiting (SQLite's busy timeout of 30 s no longer ends it with "database is
        locked"), and migrates normally when the lock is let go. Synchronized on its
        output and on the lock, not on time."""
        self.load(5)
        if PG:
            holder = subprocess.Popen(["psql", self.env.db, "-qAt"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True)
            holder.stdin.write("SELECT pg_advisory_lock(7302001), 'held';\n")
            holder.stdin.flush()
            self.assertIn("held", holder.stdout.readline())

            def release():
                holder.stdin.write("SELECT pg_advisory_unlock(7302001);\n")
                holder.stdin.close()
                holder.wait(timeout=60)
        else:
            path = self.env.db[len("sqlite:"):]
            con = sqlite3.connect(path, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("BEGIN IMMEDIATE")

            def release():
                con.execute("COMMIT")
                con.close()
        proc = subprocess.Popen([fulfilltest.BIN, "migrate"], env=self.env.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines, waiting = [], threading.Event()

        def read():
            for line in proc.stderr:
                lines.append(line)
                if "waiting for another process's migration" in line:
                    waiting.set()
            waiting.set()  # EOF: the process ended
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            waiting.wait(120)  # a guard against a hang, not a measure
            self.assertTrue(any("waiting for another process's migration" in l for l in lines), lines)
            self.assertIsNone(proc.poll(), "it waits while the lock is held")
        finally:
            release()
        self.assertEqual(proc.wait(timeout=300), 0, lines)
        reader.join(timeout=60)
        self.assertIn(f"schema version {LATEST}", proc.stdout.read())
        self.assertEqual(sum("waiting for another process's migration" in l for l in lines), 1, lines)
        self.assertEqual(self.sql("SELECT value FROM meta WHERE key = 'schema_version'"), str(LATEST))

    def fingerprint(self):
        """What a refused open must not change: the SQLite files' bytes, or on PostgreSQL
        the meta table and the list of columns."""
        if PG:
            return (self.sql("SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM meta"),
                    self.sql("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'"))
        path = self.env.db[len("sqlite:"):]
        return {p: hashlib.sha256(open(p, "rb").read()).hexdigest()
                for p in (path, path + "-wal") if os.path.exists(p)}

    def test_newer_schema_is_refused_and_left_untouched(self):
        self.env.cli("migrate", check=True)
        self.sql(f"UPDATE meta SET value = '{LATEST + 1}' WHERE key = 'schema_version'")
        before = self.fingerprint()
        for args in (["migrate"], ["audit", "verify"], ["serve", "--listen", "127.0.0.1:0"], ["worker", "--once"]):
            r = self.env.cli(*args, timeout=30)
            self.assertNotEqual(r.returncode, 0, (args, r.stdout))
            self.assertIn(f"schema is version {LATEST + 1}, newer than this fulfill's ({LATEST})", r.stderr, args)
        self.assertEqual(self.fingerprint(), before)
        self.assertEqual(self.sql("SELECT value FROM meta WHERE key = 'schema_version'"), str(LATEST + 1))


if __name__ == "__main__":
    unittest.main()
