"""Backups taken the way docs/scaling.md ("Backups and restore") says, while `fulfill
serve` is taking events, then restored the way it says: the restored database verifies
its audit chain and holds every event acknowledged before the backup started (sending
one again answers `duplicate`), and takes new events. SQLite: `VACUUM INTO` through the
sqlite3 shell; PostgreSQL: `pg_dump -Fc` and `pg_restore` into an empty database."""
import os
import re
import shutil
import subprocess
import threading
import time
import unittest

from fulfilltest import ROOT, FulfillTest

PG = os.environ.get("FULFILL_TEST_PG_HOST")


def doc_section():
    with open(os.path.join(ROOT, "docs", "scaling.md")) as f:
        text = f.read()
    return text[text.index("## Backups and restore"):text.index("## Read replicas")]


class Backup(FulfillTest):
    def event(self, eid):
        return {"id": eid, "type": "participant", "data": {"id": eid, "email": eid + "@example.com"}}

    def under_load(self, srv, key, backup):
        """Runs backup() while two clients post events; returns the ids acknowledged
        before it started."""
        acked, stop, errors = [], threading.Event(), []

        def client(n):
            i = 0
            while not stop.is_set():
                eid = f"c{n}_{i}"
                i += 1
                st, body, _ = srv.request("POST", "/v1/events", self.event(eid), key=key)
                if st == 200:
                    acked.append((eid, time.time()))
                elif st != 429:
                    errors.append((st, body))
        threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        started = time.time()
        backup()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        before = [e for e, at in acked if at < started]
        self.assertGreater(len(before), 20)
        return before

    def check_restored(self, before, key):
        r = self.env.cli("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        srv = self.env.serve("--no-worker")
        for eid in before:
            st, body, _ = srv.request("POST", "/v1/events", self.event(eid), key=key)
            self.assertEqual((st, body.get("outcome")), (200, "duplicate"), (eid, body))
        st, body, _ = srv.request("POST", "/v1/events", self.event("after_restore"), key=key)
        self.assertEqual((st, body.get("outcome")), (200, "accepted"), body)

    @unittest.skipIf(PG, "SQLite's backup")
    @unittest.skipUnless(shutil.which("sqlite3"), "needs the sqlite3 shell")
    def test_sqlite_online_backup_and_restore_as_documented(self):
        doc = doc_section()
        # the documented online backup is one read transaction (VACUUM INTO); the
        # shell's .backup copies 100 pages at a time and starts over whenever another
        # process writes, so under steady ingest on a large database it never ends
        self.assertIn("sqlite3 /var/lib/fulfill/fulfill.db \"VACUUM INTO '/backup/fulfill.db'\"", doc)
        self.assertNotRegex(doc, r"`sqlite3 [^`]*\.backup")
        path = self.env.db[len("sqlite:"):]
        backup = os.path.join(self.env.dir, "backup.db")
        key = self.env.key("admin")
        srv = self.env.serve("--no-worker")

        def vacuum_into():
            r = subprocess.run(["sqlite3", path, f"VACUUM INTO '{backup}'"], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
        before = self.under_load(srv, key, vacuum_into)
        # restore: stop fulfill, delete the -wal and -shm files, copy the backup over
        srv.proc.terminate()
        srv.proc.wait(30)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        shutil.copy(backup, path)
        self.check_restored(before, key)

    @unittest.skipUnless(PG, "PostgreSQL's backup")
    def test_pg_dump_and_restore_as_documented(self):
        doc = doc_section()
        self.assertIn("pg_dump -Fc fulfill > fulfill.dump", doc)
        self.assertIn("pg_restore -d fulfill fulfill.dump", doc)
        dump = os.path.join(self.env.dir, "fulfill.dump")
        key = self.env.key("admin")
        srv = self.env.serve("--no-worker")

        def pg_dump():
            with open(dump, "wb") as f:
                r = subprocess.run(["pg_dump", "-Fc", self.env.db], stdout=f, stderr=subprocess.PIPE, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
        before = self.under_load(srv, key, pg_dump)
        srv.proc.terminate()
        srv.proc.wait(30)
        # restore into an empty database, then start fulfill on it
        name = re.search(r"/(\w+)\?", self.env.db).group(1) + "_restored"
        admin_db = f"postgresql://postgres@/postgres?host={PG}"
        subprocess.run(["psql", admin_db, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        self.env.db = f"postgresql://postgres@/{name}?host={PG}"
        self.env.env["FULFILL_DB"] = self.env.db
        r = subprocess.run(["pg_restore", "-d", self.env.db, dump], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_restored(before, key)


if __name__ == "__main__":
    unittest.main()
