"""The Jessica scenario end to end through the CLI: load the example programs, ingest
the demo events, look at the rewards, explain the conversion that earned nothing, run
the worker, check balances; and `fulfill demo` itself."""
import http.client
import json
import os
import re
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
        n = sum(1 for ln in open(DEMO_EVENTS) if ln.strip())
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
        doc = json.load(open(program_path("give20get20")))
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

    def test_invalid_document(self):
        bad = self.env.write("bad.json", json.dumps({"id": "x", "name": "x", "currency": "USD",
                                                      "rewards": [], "colour": "red"}))
        r = self.env.cli("program", "load", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown_field", r.stderr)
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
        p.terminate()
        self.assertEqual(p.wait(20), 0)
        self.assertTrue(os.path.exists(dbp))


if __name__ == "__main__":
    unittest.main()
