"""The Jessica scenario end to end through the CLI: load the example programs, ingest
the demo events, look at the rewards, explain the conversion that earned nothing, run
the worker, check balances; and `fulfill demo` itself."""
import http.client
import json
import os
import re
import shlex
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_helpers import DEMO_EVENTS, load_programs, program_path  # noqa: E402
from fulfilltest import BIN, FulfillTest, free_port  # noqa: E402


class Jessica(FulfillTest):
    def setUp(self):
        super().setUp()
        load_programs(self.env)
        r = self.env.cli("ingest", DEMO_EVENTS)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.ingest = r

    def test_all_demo_events_accepted(self):
        self.assertEqual(self.ingest.stderr, "")
        with open(DEMO_EVENTS) as f:
            n = sum(1 for ln in f if ln.strip())
        self.assertEqual(self.ingest.stdout, f"accepted {n}, duplicate 0, rejected 0\n")

    def test_rewards(self):
        data = self.env.cli_json("rewards", "list", "--program", "give20get20")["data"]
        referrer = [r for r in data if r["role"] == "referrer"]
        referred = [r for r in data if r["role"] == "referred"]
        self.assertEqual(len(referrer), 3, data)
        self.assertEqual(len(referred), 3, data)
        self.assertEqual({r["participant"] for r in referrer}, {"jessica"})
        self.assertEqual({r["participant"] for r in referred}, {"tom", "ana", "raj"})
        for r in data:
            self.assertEqual((r["type"], r["amount"], r["currency"]), ("credit", 2000, "USD"))
            self.assertEqual(r["program_version"], 1)
        self.assertNotIn("mei", {r["participant"] for r in data})
        # human table
        t = self.env.cli("rewards", "list", "--participant", "jessica")
        self.assertEqual(t.returncode, 0, t.stderr)
        lines = t.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "PARTICIPANT", "ROLE", "TYPE", "AMOUNT", "STATUS", "REASON"])
        self.assertEqual(len(lines), 4)
        for ln in lines[1:]:
            self.assertIn("20.00 USD", ln)
            self.assertIn("jessica", ln)

    def test_explain_below_minimum(self):
        r = self.env.cli("explain", "ord_mei_1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("conversion ord_mei_1", r.stdout)
        self.assertIn("conversion.amount", r.stdout)
        self.assertIn("FAIL", r.stdout)
        self.assertIn("3000", r.stdout)
        j = self.env.cli_json("explain", "ord_mei_1")
        self.assertEqual(j["conversion"], "ord_mei_1")
        self.assertTrue(j["explanation"])

    def test_explain_reward(self):
        rid = self.env.cli_json("rewards", "list", "--participant", "tom")["data"][0]["id"]
        r = self.env.cli("explain", rid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"reward {rid} for tom", r.stdout)
        self.assertIn("give20get20", r.stdout)
        self.assertIn("pass", r.stdout)
        self.assertNotIn("FAIL", r.stdout)

    def test_worker_fulfils_and_balances(self):
        r = self.env.cli("worker", "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.match(r"^released (\d+), fulfilled (\d+), failed (\d+), expired (\d+), webhooks (\d+)$",
                     r.stdout.strip())
        self.assertTrue(m, r.stdout)
        self.assertGreaterEqual(int(m.group(2)), 6)
        data = self.env.cli_json("rewards", "list", "--program", "give20get20")["data"]
        self.assertEqual({x["status"] for x in data}, {"fulfilled"}, data)
        jess = self.env.cli_json("participants", "show", "jessica")
        self.assertEqual(jess["balances"], [{"currency": "USD", "amount": 6000}])
        self.assertEqual(jess["stats"]["referrals"], 5)
        self.assertEqual(jess["stats"]["successful_referrals"], 3)
        tom = self.env.cli_json("participants", "show", "tom")
        self.assertEqual(tom["balances"], [{"currency": "USD", "amount": 2000}])
        human = self.env.cli("participants", "show", "jessica").stdout
        self.assertRegex(human, r"balance:\s+60\.00 USD")
        # redeem in main units
        r = self.env.cli("redeem", "jessica", "15", "USD")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("45.00 USD", r.stdout)
        r = self.env.cli("redeem", "jessica", "100.00", "USD")
        self.assertEqual(r.returncode, 1)
        self.assertIn("insufficient_balance", r.stderr)
        # a second pass finds nothing more to do for these rewards
        again = self.env.cli_json("worker", "--once")
        self.assertEqual(again["fulfilled"], 0)

    def test_reward_show_and_actions(self):
        self.env.cli("worker", "--once", check=True)
        rid = self.env.cli_json("rewards", "list", "--participant", "ana")["data"][0]["id"]
        r = self.env.cli("rewards", "show", rid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("status:", r.stdout)
        self.assertIn("history:", r.stdout)
        # a fulfilled reward cannot be approved again
        r = self.env.cli("rewards", "approve", rid)
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_transition", r.stderr)

    def test_report_and_lists(self):
        rep = self.env.cli("report", "participants")
        self.assertEqual(rep.returncode, 0, rep.stderr)
        self.assertIn("jessica", rep.stdout)
        plist = self.env.cli("participants", "list")
        self.assertEqual(plist.returncode, 0, plist.stderr)
        self.assertIn("jessica", plist.stdout)
        progs = self.env.cli("program", "list")
        self.assertEqual(progs.returncode, 0, progs.stderr)
        for p in ("give20get20", "give10get10", "free-goods"):
            self.assertIn(p, progs.stdout)

    def test_reingest_changes_nothing(self):
        before = self.env.cli_json("rewards", "list")["data"]
        r = self.env.cli("ingest", DEMO_EVENTS)
        self.assertRegex(r.stdout, r"^accepted 0, duplicate \d+, rejected 0\n$")
        self.assertEqual(self.env.cli_json("rewards", "list")["data"], before)


def demo_events_now():
    """The demo events without occurred_at: they happen now."""
    out = []
    with open(DEMO_EVENTS) as f:
        for ln in f:
            e = json.loads(ln)
            e.pop("occurred_at", None)
            out.append(json.dumps(e))
    return "\n".join(out) + "\n"


class Lifecycle(FulfillTest):
    def load_variant(self, **changes):
        with open(program_path("give20get20")) as f:
            doc = json.load(f)
        doc.update(changes)
        self.env.cli("program", "load", self.env.write("p.json", json.dumps(doc)), "--activate", check=True)

    def test_hold_period_and_now(self):
        self.load_variant(hold_days=30)
        self.env.cli("ingest", "-", input=demo_events_now(), check=True)
        self.assertEqual(self.env.cli_json("worker", "--once")["fulfilled"], 0)
        data = self.env.cli_json("rewards", "list", "--participant", "jessica")["data"]
        self.assertEqual({(r["status"], r["reason"]) for r in data}, {("pending", "hold_period")})
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 31 * 86400))
        counts = self.env.cli_json("worker", "--once", "--now", later)
        self.assertEqual((counts["released"], counts["fulfilled"]), (6, 6))

    def test_review_queue(self):
        self.load_variant(review={"always": True})
        self.env.cli("ingest", "-", input=demo_events_now(), check=True)
        queue = self.env.cli_json("review", "list")["data"]
        self.assertEqual(len(queue), 6)
        self.assertTrue(all(r["status"] == "review" for r in queue))
        human = self.env.cli("review", "list")
        self.assertIn("review:always", human.stdout)
        ok = self.env.cli("review", "approve", queue[0]["id"], "--reason", "checked the order")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertTrue(ok.stdout.startswith(queue[0]["id"] + ": "), ok.stdout)
        no = self.env.cli_json("review", "reject", queue[1]["id"], "--reason", "fraud")
        self.assertEqual(no["status"], "cancelled")
        hist = self.env.cli_json("rewards", "show", queue[1]["id"])["history"]
        self.assertIn("fraud", hist[-1]["reason"])
        self.assertEqual(hist[-1]["actor"], "cli")
        again = self.env.cli("review", "reject", queue[1]["id"])
        self.assertEqual(again.returncode, 1)
        self.assertIn("invalid_transition", again.stderr)
        self.assertEqual(len(self.env.cli_json("review", "list")["data"]), 4)
        cancel = self.env.cli_json("rewards", "cancel", queue[2]["id"], "--reason", "duplicate order")
        self.assertEqual(cancel["status"], "cancelled")
        # several at once: one transaction, one line each, exit 1 when one of them fails
        rest = [r["id"] for r in queue[3:]]
        bulk = self.env.cli("review", "approve", *rest, queue[1]["id"], "--reason", "batch check")
        self.assertEqual(bulk.returncode, 1, bulk.stdout + bulk.stderr)
        self.assertEqual(len(bulk.stdout.splitlines()), len(rest))
        self.assertIn(queue[1]["id"], bulk.stderr)
        self.assertEqual(self.env.cli_json("review", "list")["data"], [])


class WorkerLoop(FulfillTest):
    def test_loop_fulfils_and_stops_on_sigterm(self):
        load_programs(self.env, "give20get20")
        self.env.cli("ingest", DEMO_EVENTS, check=True)
        p = subprocess.Popen([BIN, "worker", "--worker-interval", "0.2"], env=self.env.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.env.procs.append(p)
        deadline = time.time() + 20
        while time.time() < deadline:
            data = self.env.cli_json("rewards", "list", "--program", "give20get20")["data"]
            if data and all(r["status"] == "fulfilled" for r in data):
                break
            time.sleep(0.2)
        p.terminate()
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, "")  # the loop logs on stderr only
        self.assertEqual({r["status"] for r in data}, {"fulfilled"})
        self.assertIn("worker pass", err)


class Programs(FulfillTest):
    def test_versions_diff_and_governance(self):
        r = self.env.cli("program", "load", program_path("give20get20"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "program give20get20 version 1: draft\n")
        with open(program_path("give20get20")) as f:
            doc = json.load(f)
        doc["rewards"][0]["amount"] = 2500
        p2 = self.env.write("v2.json", json.dumps(doc))
        self.assertEqual(self.env.cli("program", "load", p2).stdout, "program give20get20 version 2: draft\n")
        d = self.env.cli("program", "diff", "give20get20", "1", "2")
        self.assertEqual(d.returncode, 0, d.stderr)
        self.assertIn("~ /rewards/0/amount: 2000 -> 2500", d.stdout)
        # activation needs approval first
        r = self.env.cli("program", "activate", "give20get20", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("version_not_approved", r.stderr)
        show = self.env.cli_json("program", "show", "give20get20")
        self.assertEqual(len(show["versions"]), 2)
        v1 = self.env.cli_json("program", "show", "give20get20", "--version", "1")
        self.assertEqual(v1["document"]["rewards"][0]["amount"], 2000)

    def test_approve_activate_rollback_print_the_version(self):
        self.env.cli("program", "load", program_path("give20get20"), "--activate", check=True)
        with open(program_path("give20get20")) as f:
            doc = json.load(f)
        doc["name"] = "Give $20, get $20 (renamed)"  # not economics: the CLI may approve it
        self.env.cli("program", "load", self.env.write("v2.json", json.dumps(doc)), check=True)
        r = self.env.cli("program", "approve", "give20get20", "2", check=True)
        self.assertEqual(r.stdout, "program give20get20 version 2: approved\n")
        r = self.env.cli("program", "activate", "give20get20", "2", check=True)
        self.assertEqual(r.stdout, "program give20get20 version 2: active\n")
        r = self.env.cli("program", "rollback", "give20get20", "1", check=True)
        self.assertEqual(r.stdout, "program give20get20 version 1: active\n")
        self.assertEqual(self.env.cli_json("program", "show", "give20get20")["active_version"], 1)
        # a change of economics needs a second admin: the error says how to get one
        doc["rewards"][0]["amount"] = 2500
        self.env.cli("program", "load", self.env.write("v3.json", json.dumps(doc)), check=True)
        r = self.env.cli("program", "approve", "give20get20", "3")
        self.assertEqual(r.returncode, 1)
        first, hint = r.stderr.splitlines()
        self.assertTrue(first.startswith("fulfill: same_author: "), first)
        self.assertIn("approves as 'cli'", hint)
        self.assertIn("POST /v1/programs/give20get20/versions/3/approve", hint)

    def test_invalid_document(self):
        bad = self.env.write("bad.json", json.dumps({"id": "x", "name": "x", "currency": "USD",
                                                      "rewards": [], "colour": "red"}))
        r = self.env.cli("program", "load", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown_field", r.stderr)
        # one prefix, then the file, then the engine's CODE: MESSAGE (PARAM)
        self.assertEqual(r.stderr, f"fulfill: {bad}: unknown_field: unknown field \"colour\" (colour)\n")
        r = self.env.cli("program", "load", self.env.write("m.json", "{nope"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("malformed_json", r.stderr)

    def test_examples_are_valid(self):
        for n in ("give20get20", "give10get10", "free-goods"):
            r = self.env.cli("program", "load", program_path(n), "--activate")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("active", r.stdout)


class Demo(FulfillTest):
    def test_demo_serves(self):
        port = free_port()
        dbp = os.path.join(self.env.dir, "demo.db")
        log = open(os.path.join(self.env.dir, "demo.out"), "w+")
        self.addCleanup(log.close)
        env = {k: v for k, v in self.env.env.items() if k != "FULFILL_DB"}
        p = subprocess.Popen([BIN, "demo", "--listen", f"127.0.0.1:{port}", "--demo-db", dbp],
                             env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.env.dir)
        self.env.procs.append(p)
        up = False
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                up = c.getresponse().status == 200
                c.close()
                if up:
                    break
            except OSError:
                time.sleep(0.1)
        log.seek(0)
        out = log.read()
        self.assertTrue(up, out)
        m = re.search(r"admin key: (fk_admin_\S+)", out)
        self.assertTrue(m, out)
        self.assertIn("curl", out)
        self.assertRegex(out, r"jessica: +5 referrals, 3 successful, balance 60\.00 USD")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/v1/participants/jessica", headers={"Authorization": "Bearer " + m.group(1)})
        resp = c.getresponse()
        body = json.loads(resp.read())
        self.assertEqual(resp.status, 200, body)
        self.assertEqual(body["balances"], [{"currency": "USD", "amount": 6000}])
        # the three commands it suggests work as printed
        tries = re.findall(r"^  (curl .*)$", out, re.M)
        self.assertEqual(len(tries), 3, out)
        for cmd in tries:
            with self.subTest(cmd=cmd):
                words = shlex.split(cmd)
                self.assertEqual(words[words.index("-H") + 1], "Authorization: Bearer " + m.group(1))
                url = next(w for w in words if w.startswith("http://"))
                self.assertTrue(url.startswith(f"http://127.0.0.1:{port}/v1/"), url)
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", url[len(f"http://127.0.0.1:{port}"):],
                          headers={"Authorization": "Bearer " + m.group(1)})
                resp = c.getresponse()
                got = resp.read()
                self.assertEqual(resp.status, 200, got)
                self.assertTrue(json.loads(got))
                c.close()
        p.terminate()
        self.assertEqual(p.wait(20), 0)
        self.assertTrue(os.path.exists(dbp))

    def test_demo_never_touches_the_db_database(self):
        # docs/configuration.md: demo_db is "the SQLite file `fulfill demo` deletes and
        # re-creates - never the `db` database"; it used to delete the db's file and its
        # PATH.key when both named the same file
        path = os.path.join(self.env.dir, "real.db")
        env = {k: v for k, v in self.env.env.items() if k != "FULFILL_MASTER_KEY"}
        env["FULFILL_DB"] = "sqlite:" + path
        r = subprocess.run([BIN, "ingest", "-"], env=env, capture_output=True, text=True, input=json.dumps(
            {"id": "p1", "type": "participant", "data": {"id": "kept", "email": "kept@example.com"}}) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path + ".key") as f:
            key = f.read()
        os.symlink(path, os.path.join(self.env.dir, "link.db"))
        for demo_db in (path, "./real.db", "link.db"):
            with self.subTest(demo_db=demo_db):
                r = subprocess.run([BIN, "demo", "--demo-db", demo_db, "--listen", f"127.0.0.1:{free_port()}"],
                                   env=env, cwd=self.env.dir, capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn("is the database of the db setting", r.stderr)
                with open(path + ".key") as f:
                    self.assertEqual(f.read(), key)
                r = subprocess.run([BIN, "participants", "show", "kept", "--json"], env=env, capture_output=True,
                                   text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout)["email"], "kept@example.com")


if __name__ == "__main__":
    unittest.main()
