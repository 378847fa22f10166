"""GET /v1/audit/verify over real HTTP after the audit table is changed behind the
server's back (API.md: {"ok": true, "records": N} or {"ok": false, "first_bad": id}).
The server keeps running; the rows are edited straight in its database (Python's
sqlite3 on the SQLite file, psql on PostgreSQL), as someone with disk access would."""
import os
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, audit_all, seed  # noqa: E402


class AuditTamper(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.addCleanup(self.env.close)
        self.s = seed(self.env)

    def ok(self, method, path, key=None):
        st, body, _ = self.s.srv.request(method, path, key=key or self.s.admin)
        self.assertEqual(st, 200, f"{method} {path}: {body}")
        return body

    def audit(self):
        return audit_all(self.s.srv, self.s.admin)

    def detail(self, seq):
        """The stored detail text of audit record `seq`."""
        if self.env.db.startswith("sqlite:"):
            with sqlite3.connect(self.env.db[len("sqlite:"):], timeout=30) as db:
                return db.execute("SELECT detail FROM audit WHERE seq = ?", (seq,)).fetchone()[0]
        r = subprocess.run(["psql", self.env.db, "-AtXc", f"SELECT detail FROM audit WHERE seq = {int(seq)}"],
                           check=True, capture_output=True, text=True)
        return r.stdout.rstrip("\n")

    def set_detail(self, seq, text):
        if self.env.db.startswith("sqlite:"):
            db = sqlite3.connect(self.env.db[len("sqlite:"):], timeout=30)
            n = db.execute("UPDATE audit SET detail = ? WHERE seq = ?", (text, seq)).rowcount
            db.commit()
            db.close()
        else:
            r = subprocess.run(["psql", self.env.db, "-AtXqc",
                                f"UPDATE audit SET detail = $tamper${text}$tamper$ WHERE seq = {int(seq)} "
                                "RETURNING seq"], check=True, capture_output=True, text=True)
            n = len(r.stdout.split())
        self.assertEqual(n, 1, f"audit record {seq} not found")

    def test_verify_names_the_first_changed_record(self):
        records = self.audit()
        self.assertGreaterEqual(len(records), 6, records)  # keys, events, rewards of seed()
        self.assertEqual(self.ok("GET", "/v1/audit/verify"), {"ok": True, "records": len(records)})
        auditor = self.env.key("auditor")
        records = self.audit()  # + api_key.created
        self.assertEqual(self.ok("GET", "/v1/audit/verify", key=auditor), {"ok": True, "records": len(records)})

        # a reward.created record in the middle of the chain, and one later on
        mid = next(r for r in records[1:] if r["action"] == "reward.created")
        late = records[-1]
        self.assertLess(int(mid["id"]), int(late["id"]))
        originals = {r["id"]: self.detail(int(r["id"])) for r in (mid, late)}
        self.assertIn('"amount":', originals[mid["id"]])

        # the later one first: verify names it
        self.set_detail(int(late["id"]), '{"tampered":true}')
        v = self.ok("GET", "/v1/audit/verify", key=auditor)
        self.assertIs(v["ok"], False, v)
        self.assertEqual(v["first_bad"], late["id"], v)

        # then one before it (a reward's amount raised): verify names the earlier, first one
        self.set_detail(int(mid["id"]), originals[mid["id"]].replace('"amount":', '"amount":9', 1))
        v = self.ok("GET", "/v1/audit/verify")
        self.assertIs(v["ok"], False, v)
        self.assertEqual(v["first_bad"], mid["id"], v)
        # the server reads what is stored: the list shows the edited detail
        shown = next(r for r in self.audit() if r["id"] == mid["id"])
        self.assertNotEqual(shown["detail"], mid["detail"])
        self.assertEqual(shown["hash"], mid["hash"])
        self.assertEqual(self.s.srv.request("GET", "/healthz")[0], 200)

        # put both back byte for byte: the chain holds again (no sticky flag, a real check)
        for rid, text in originals.items():
            self.set_detail(int(rid), text)
        self.assertEqual(self.ok("GET", "/v1/audit/verify"), {"ok": True, "records": len(records)})


if __name__ == "__main__":
    unittest.main()
