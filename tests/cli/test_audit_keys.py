"""`fulfill audit verify|list` (including tampering with the SQLite file) and
`fulfill keys create|revoke`."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_helpers import load_programs  # noqa: E402
from fulfilltest import BIN, MASTER_KEY, FulfillTest, free_port  # noqa: E402


def sqlite_path(env):
    if not env.db.startswith("sqlite:"):
        return None
    return env.db[len("sqlite:"):]


class Audit(FulfillTest):
    def test_verify_ok(self):
        load_programs(self.env)
        self.env.cli("keys", "create", "--role", "admin", check=True)
        r = self.env.cli("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.fullmatch(r"ok (\d+) records\n", r.stdout)
        self.assertTrue(m, r.stdout)
        self.assertGreater(int(m.group(1)), 0)
        j = self.env.cli_json("audit", "verify")
        self.assertEqual(j["ok"], True)
        self.assertEqual(j["records"], int(m.group(1)))

    def test_verify_empty(self):
        r = self.env.cli("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^ok \d+ records\n$")

    def test_tampering_is_found(self):
        path = sqlite_path(self.env)
        if not path:
            self.skipTest("tampering test needs SQLite")
        load_programs(self.env)
        ok = self.env.cli("audit", "verify")
        n = int(ok.stdout.split()[1])
        self.assertGreaterEqual(n, 3)
        db = sqlite3.connect(path)
        seqs = [row[0] for row in db.execute("SELECT seq FROM audit ORDER BY seq")]
        target = seqs[1]
        db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = ?", (target,))
        db.commit()
        db.close()
        r = self.env.cli("audit", "verify")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("ok", r.stdout.split()[:1])
        self.assertIn(f"record {target} ", r.stdout)
        j = self.env.cli("audit", "verify", "--json")
        self.assertEqual(j.returncode, 1)
        self.assertEqual(str(json.loads(j.stdout)["first_bad"]), str(target))

    def test_list(self):
        load_programs(self.env, "give20get20")
        r = self.env.cli("audit", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("SEQ"), r.stdout)
        self.assertIn("cli", r.stdout)
        j = self.env.cli_json("audit", "list", "--limit", "2")
        self.assertEqual(j["object"], "list")
        self.assertLessEqual(len(j["data"]), 2)


class Keys(FulfillTest):
    def test_create_prints_only_the_key(self):
        r = self.env.cli("keys", "create", "--role", "admin", "--name", "ops")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^fk_admin_[A-Za-z0-9]+\n$")

    def test_create_json(self):
        j = self.env.cli_json("keys", "create", "--role", "ingest", "--name", "pipeline")
        self.assertTrue(j["key"].startswith("fk_ingest_"))
        self.assertTrue(j["key"].startswith(j["prefix"]))
        self.assertEqual(j["role"], "ingest")

    def test_scoped_keys(self):
        self.env.cli("ingest", "-", input='{"id":"e1","type":"participant","data":{"id":"jo","country":"US","currency":"USD"}}\n',
                     check=True)
        r = self.env.cli("keys", "create", "--role", "partner", "--participant", "jo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("fk_partner_"))
        r = self.env.cli("keys", "create", "--role", "fulfiller", "--fulfiller", "acme-distribution")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_revoke(self):
        j = self.env.cli_json("keys", "create", "--role", "admin")
        r = self.env.cli("keys", "revoke", j["prefix"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(j["prefix"], r.stdout)
        r = self.env.cli("keys", "revoke", "fk_admin_nosuchkey")
        self.assertEqual(r.returncode, 1)

    def test_bad_role(self):
        r = self.env.cli("keys", "create", "--role", "root")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")


class Blocklist(FulfillTest):
    def test_add_list_remove(self):
        r = self.env.cli("blocklist", "add", "email", "Mallory@Example.com", "--note", "chargebacks")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.env.cli("blocklist", "add", "ip", "198.51.100.0/24", check=True)
        listed = self.env.cli_json("blocklist", "list")["data"]
        self.assertEqual(sorted(e["kind"] for e in listed), ["email", "ip"])
        self.assertIn("chargebacks", self.env.cli("blocklist", "list").stdout)
        self.assertEqual(self.env.cli("blocklist", "add", "planet", "mars").returncode, 2)
        self.env.cli("blocklist", "remove", "ip", "198.51.100.0/24", check=True)
        self.assertEqual([e["kind"] for e in self.env.cli_json("blocklist", "list")["data"]], ["email"])

    def test_blocked_referrer_earns_nothing(self):
        load_programs(self.env, "give20get20")
        self.env.cli("blocklist", "add", "domain", "bad.example", check=True)
        events = [
            {"id": "p1", "type": "participant", "data": {"id": "eve", "email": "eve@bad.example", "country": "US", "currency": "USD"}},
            {"id": "r1", "type": "referral", "data": {"id": "ref1", "program": "give20get20", "referrer": "eve", "referred": "zed"}},
            {"id": "c1", "type": "conversion", "data": {"id": "o1", "participant": "zed", "amount": 9000, "currency": "USD"}},
        ]
        self.env.cli("ingest", "-", input="".join(json.dumps(e) + "\n" for e in events), check=True)
        self.assertEqual(self.env.cli_json("rewards", "list")["data"], [])


class RotateMasterKey(FulfillTest):
    def test_rotation(self):
        self.env.cli("ingest", "-", input=json.dumps({"id": "p1", "type": "participant", "data": {
            "id": "jo", "email": "jo@example.com", "name": "Jo", "country": "US", "currency": "USD"}}) + "\n",
            check=True)
        new_key = "ef" * 32
        path = self.env.write("new.key", new_key + "\n")
        self.assertEqual(self.env.cli("keys", "rotate-master").returncode, 2)
        r = self.env.cli("keys", "rotate-master", "--new-key-file", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("re-encrypted 1 participants", r.stdout)
        # the participant event's body too (sealed: it carries the e-mail)
        self.assertIn("re-encrypted 1 event bodies, 0 queued e-mails", r.stdout)
        # the new key reads the e-mail; --master-key-file beats FULFILL_MASTER_KEY
        jo = self.env.cli_json("participants", "show", "jo", "--master-key-file", path)
        self.assertEqual(jo["email"], "jo@example.com")
        # the same key again is refused
        self.assertEqual(self.env.cli("keys", "rotate-master", "--new-key-file", path,
                                      "--master-key-file", path).returncode, 1)

    def test_catch_up_run_after_the_rollout(self):
        # docs/configuration.md, "The PII key": a process still on the old key seals rows
        # after the rotation; once every process has restarted, the rotation is run once
        # more with the new key current and the old one previous, as they run
        def person(i):
            return json.dumps({"id": f"p{i}", "type": "participant", "data": {
                "id": f"jo{i}", "email": f"jo{i}@example.com", "name": f"Jo {i}"}}) + "\n"
        old_key, new_key = MASTER_KEY, "ef" * 32
        path = self.env.write("new.key", new_key + "\n")
        self.env.cli("ingest", "-", input=person(1), check=True)
        self.env.cli("keys", "rotate-master", "--new-key-file", path, check=True)
        straggler = dict(self.env.env, FULFILL_MASTER_KEY=old_key, FULFILL_MASTER_KEY_PREVIOUS=new_key)
        r = subprocess.run([BIN, "ingest", "-"], input=person(2), env=straggler, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        rolled_out = dict(self.env.env, FULFILL_MASTER_KEY=new_key, FULFILL_MASTER_KEY_PREVIOUS=old_key)
        for moved in ("1", "0"):  # the straggler's participant, then nothing is left
            r = subprocess.run([BIN, "keys", "rotate-master", "--new-key-file", path, "--json"], env=rolled_out,
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(str(json.loads(r.stdout)["participants"]), moved, r.stdout)
        # the previous key can go: the new key alone reads every e-mail
        alone = dict(self.env.env, FULFILL_MASTER_KEY=new_key)
        r = subprocess.run([BIN, "participants", "list", "--json"], env=alone, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(p["email"] for p in json.loads(r.stdout)["data"]),
                         ["jo1@example.com", "jo2@example.com"])


def run_sql(env, sql):
    """Run `sql` on the test database behind fulfill's back, on either backend."""
    path = sqlite_path(env)
    if path is None:
        subprocess.run(["psql", env.db, "-qc", sql], check=True, capture_output=True)
        return
    with sqlite3.connect(path) as db:
        db.execute(sql)


class MasterKeyCheck(FulfillTest):
    OTHER = "cd" * 32

    def setUp(self):
        super().setUp()
        self.env.cli("ingest", "-", input=json.dumps({"id": "p1", "type": "participant", "data": {
            "id": "jo", "email": "jo@example.com", "name": "Jo", "country": "US", "currency": "USD"}}) + "\n",
            check=True)

    def with_key(self, *args, key, previous=None):
        env = dict(self.env.env, FULFILL_MASTER_KEY=key)
        env.pop("FULFILL_MASTER_KEY_PREVIOUS", None)
        if previous:
            env["FULFILL_MASTER_KEY_PREVIOUS"] = previous
        return subprocess.run([BIN, *args], env=env, capture_output=True,
                              text=True, timeout=60)

    def assertRefused(self, r):
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("wrong master key", r.stderr)
        self.assertIn("FULFILL_MASTER_KEY", r.stderr)
        self.assertIn("--master-key-file", r.stderr)

    def test_wrong_key_is_refused(self):
        r = self.with_key("participants", "show", "jo", key=self.OTHER)
        self.assertRefused(r)
        self.assertIn("invalid_request", r.stderr)
        self.assertNotIn(self.OTHER, r.stderr)
        self.assertNotIn(MASTER_KEY, r.stderr)
        # a wrong key writes nothing either: jo is not made again under it
        event = {"id": "p2", "type": "participant", "data": {"id": "jo2", "email": "jo@example.com"}}
        r = subprocess.run([BIN, "ingest", "-"], env=dict(self.env.env, FULFILL_MASTER_KEY=self.OTHER),
                           input=json.dumps(event) + "\n", capture_output=True, text=True, timeout=60)
        self.assertRefused(r)
        self.assertEqual([p["id"] for p in self.env.cli_json("participants", "list")["data"]], ["jo"])
        # and the server does not start
        port = free_port()
        r = self.with_key("serve", "--listen", f"127.0.0.1:{port}", key=self.OTHER)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("wrong master key", r.stderr)

    def test_right_key_works(self):
        jo = self.env.cli_json("participants", "show", "jo")
        self.assertEqual((jo["email"], jo["name"]), ("jo@example.com", "Jo"))

    def test_rotation_moves_the_check_to_the_new_key(self):
        path = self.env.write("new.key", self.OTHER + "\n")
        self.env.cli("keys", "rotate-master", "--new-key-file", path, check=True)
        # only the new key opens it now, alone or with the old one as the previous key
        self.assertRefused(self.env.cli("participants", "show", "jo"))
        for previous in (None, MASTER_KEY):
            r = self.with_key("participants", "show", "jo", "--json", key=self.OTHER, previous=previous)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["email"], "jo@example.com")
        jo = self.env.cli_json("participants", "show", "jo", "--master-key-file", path)
        self.assertEqual(jo["name"], "Jo")

    def test_database_without_a_check_adopts_the_right_key(self):
        run_sql(self.env, "DELETE FROM meta WHERE key = 'master_key_id'")
        self.assertRefused(self.with_key("participants", "list", key=self.OTHER))
        self.assertEqual(self.env.cli_json("participants", "show", "jo")["email"], "jo@example.com")
        # adopted: the wrong key stays refused
        self.assertRefused(self.with_key("participants", "list", key=self.OTHER))

    def test_server_on_the_old_key_keeps_answering_after_a_rotation(self):
        """A server started with the old key passed the check when it started; its HTTP
        threads open their connections on their first request, and a rotation that
        completes meanwhile must not make those requests fail."""
        import threading
        admin = self.env.key()
        srv = self.env.serve("--http-threads", "8", "--no-worker")
        path = self.env.write("new.key", self.OTHER + "\n")
        self.env.cli("keys", "rotate-master", "--new-key-file", path, check=True)
        statuses = []

        def get():
            statuses.append(srv.request("GET", "/v1/participants/jo", key=admin)[0])

        for _ in range(4):
            ts = [threading.Thread(target=get) for _ in range(16)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        self.assertEqual(set(statuses), {200}, statuses)


if __name__ == "__main__":
    unittest.main()
