"""Finance through the CLI: code pools, payout batches (export, fulfil, reconcile),
reports (table, --csv, --json), program simulation, tax forms."""
import csv
import io
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_helpers import DEMO_EVENTS, EXAMPLES, load_programs  # noqa: E402
from fulfilltest import FulfillTest  # noqa: E402


class Finance(FulfillTest):
    def setUp(self):
        super().setUp()
        load_programs(self.env)
        self.env.cli("ingest", DEMO_EVENTS, check=True)

    def test_code_pool_feeds_percent_discounts(self):
        self.env.cli("worker", "--once", check=True)
        held = self.env.cli_json("rewards", "list", "--program", "give10get10")["data"]
        self.assertEqual(len(held), 2)
        self.assertTrue(all(r["status"] == "approved" for r in held), held)
        r = self.env.cli("codes", "upload", "give10get10", os.path.join(EXAMPLES, "give10get10-codes.csv"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "pool give10get10: added 50, duplicates 0\n")
        again = self.env.cli_json("codes", "upload", "give10get10", "-", input="code\nNEW-1\nG10-WK3DEGZD\n")
        self.assertEqual((again["added"], again["duplicates"]), (1, 1))
        self.env.cli("worker", "--once", check=True)
        done = self.env.cli_json("rewards", "list", "--program", "give10get10")["data"]
        self.assertEqual({r["status"] for r in done}, {"fulfilled"}, done)
        self.assertTrue(all(r["code"] for r in done))
        pool = self.env.cli_json("codes", "show", "give10get10")
        self.assertEqual((pool["available"], pool["assigned"]), (49, 2))
        listing = self.env.cli("codes", "list")
        self.assertIn("give10get10", listing.stdout)
        self.assertEqual(self.env.cli("codes", "show", "nope").returncode, 1)

    def test_batch_lifecycle(self):
        self.env.cli("worker", "--once", check=True)
        r = self.env.cli("batch", "create")
        self.assertEqual(r.returncode, 2)  # --fulfiller is required
        b = self.env.cli_json("batch", "create", "--fulfiller", "acme-distribution")
        self.assertEqual((b["status"], b["count"], b["fulfiller"]), ("open", 1, "acme-distribution"))
        bid = b["id"]
        reward = b["rewards"][0]
        self.assertEqual(self.env.cli_json("rewards", "show", reward)["reason"], "in_batch")
        self.assertIn(bid, self.env.cli("batch", "list").stdout)
        self.assertIn(bid, self.env.cli("batch", "list", "--status", "open").stdout)
        self.assertNotIn(bid, self.env.cli("batch", "list", "--status", "closed").stdout)
        # a typo is an error, not an empty list (the same check as GET /v1/batches?status=)
        typo = self.env.cli("batch", "list", "--status", "opn")
        self.assertEqual(typo.returncode, 1, typo.stdout)
        self.assertIn("status must be open, closed", typo.stderr)
        typo = self.env.cli("rewards", "list", "--status", "aproved")
        self.assertEqual(typo.returncode, 1, typo.stdout)
        self.assertIn('unknown reward status "aproved"', typo.stderr)
        show = self.env.cli("batch", "show", bid)
        self.assertIn("status:", show.stdout)
        self.assertIn(reward, show.stdout)
        export = self.env.cli("batch", "export", bid)
        self.assertEqual(export.returncode, 0, export.stderr)
        rows = list(csv.reader(io.StringIO(export.stdout)))
        self.assertEqual(rows[0], ["reward_id", "participant", "type", "amount", "currency", "reference"])
        self.assertEqual(rows[1][:3], [reward, "dana-market", "custom"])
        # --json: the same lines as objects (API.md: batch export "with --json"), null
        # where the CSV cell is empty
        doc = self.env.cli_json("batch", "export", bid)
        self.assertEqual((doc["object"], doc["batch"]), ("batch_report", bid))
        self.assertEqual(len(doc["data"]), len(rows) - 1)
        for line, row in zip(doc["data"], rows[1:]):
            self.assertEqual(list(line), rows[0])
            self.assertEqual(["" if v is None else str(v) for v in line.values()], row)
        missing = self.env.cli("batch", "export", "bat_nope", "--json")
        self.assertEqual(missing.returncode, 1, missing.stdout)
        self.assertEqual(missing.stdout, "")
        self.assertIn("bat_nope", missing.stderr)
        self.assertEqual(self.env.cli_json("batch", "close", bid)["status"], "closed")
        self.assertEqual(self.env.cli("batch", "fulfill", bid).returncode, 2)  # --reference required
        f = self.env.cli_json("batch", "fulfill", bid, "--reference", "CM-1001")
        self.assertEqual(f["status"], "fulfilled")
        self.assertEqual(self.env.cli_json("rewards", "show", reward)["status"], "fulfilled")
        # a report with the wrong amount: disputed, exit 1, the line listed
        bad = self.env.write("bad.csv", f"reward_id,amount,currency,reference\n{reward},500,USD,CM-1001\n")
        r = self.env.cli("batch", "reconcile", bid, bad)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("disputed", r.stdout)
        self.assertIn(f"{reward} amount_mismatch", r.stdout)
        self.assertIn("paid 5.00 USD", r.stdout)
        good = self.env.write("good.csv", f"reward_id,amount,currency,reference\n{reward},,,CM-1001\n")
        r = self.env.cli("batch", "reconcile", bid, good)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("reconciled", r.stdout)
        self.assertEqual(self.env.cli_json("rewards", "show", reward)["status"], "reconciled")

    def test_reconcile_unexpected_and_missing_lines(self):
        self.env.cli("worker", "--once", check=True)
        b = self.env.cli_json("batch", "create", "--fulfiller", "acme-distribution")
        self.env.cli("batch", "fulfill", b["id"], "--reference", "CM-7", check=True)
        report = self.env.write("r.csv", "reward_id,amount,currency,reference\nrwd_nope,500,USD,CM-7\n")
        r = self.env.cli("batch", "reconcile", b["id"], report)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # disputed, not a crash
        self.assertIn("rwd_nope unexpected", r.stdout)
        self.assertIn(f"{b['rewards'][0]} missing", r.stdout)

    def test_reports(self):
        self.env.cli("worker", "--once", check=True)
        for args in (["report", "payouts"], ["report", "payouts", "--group", "day"], ["report", "aging"],
                     ["report", "kpis"], ["report", "tax", "--year", "2026"], ["report", "credit-status"],
                     ["report", "participants"]):
            with self.subTest(args=args):
                t = self.env.cli(*args)
                self.assertEqual(t.returncode, 0, t.stderr)
                self.assertTrue(t.stdout.splitlines()[0].isupper() or t.stdout.splitlines()[0].split()[0].isupper(),
                                t.stdout[:200])
                c = self.env.cli(*args, "--csv")
                self.assertEqual(c.returncode, 0, c.stderr)
                header = next(csv.reader(io.StringIO(c.stdout)))
                self.assertTrue(all(h == h.lower() for h in header), header)
                j = self.env.cli_json(*args)
                self.assertTrue(j["object"].startswith("report."), j)
        pay = self.env.cli_json("report", "payouts")
        usd = [r for r in pay["data"] if r["currency"] == "USD"]
        self.assertEqual(sum(r["actual_amount"] for r in usd), 12000)
        self.assertIn("120.00 USD", self.env.cli("report", "payouts").stdout)
        self.assertEqual(self.env.cli("report", "payouts", "--group", "year").returncode, 2)
        self.assertEqual(self.env.cli("report", "tax", "--year", "next").returncode, 2)

    def test_payouts_in_a_reporting_currency(self):
        # the converted_* amounts are in the reporting currency: 120.00 USD at 1.0845 USD
        # per EUR is 110.65 EUR (the table printed "110.65 USD")
        self.env.cli("worker", "--once", check=True)
        srv = self.env.serve("--no-worker")
        st, body, _ = srv.request("PUT", "/v1/fx-rates", {"reporting": "USD", "rates": {"EUR": "1.0845"}},
                                  key=self.env.key("admin"))
        self.assertEqual(st, 200, body)
        j = self.env.cli_json("report", "payouts", "--currency", "EUR")
        usd = [r for r in j["data"] if r["currency"] == "USD"]
        self.assertEqual([(r["reporting_currency"], r["converted_actual_amount"]) for r in usd], [("EUR", 11065)])
        table = self.env.cli("report", "payouts", "--currency", "EUR", check=True).stdout.splitlines()
        head = table[0]
        row = next(line for line in table[1:] if " USD " in line)
        at = head.index("CONVERTED ACTUAL AMOUNT")
        self.assertEqual(row[at:].split("  ")[0], "110.65 EUR", table)
        self.assertEqual(row[head.index("ACTUAL AMOUNT"):].split("  ")[0], "120.00 USD", table)

    def test_simulate(self):
        r = self.env.cli("program", "simulate", "give20get20", "1", "--from", "2026-09-01")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("actual", r.stdout)
        self.assertIn("simulated", r.stdout)
        j = self.env.cli_json("program", "simulate", "give20get20", "1", "--from", "2026-09-01")
        self.assertEqual(j["simulated"]["rewards"], j["actual"]["rewards"])
        self.assertEqual(self.env.cli("program", "simulate", "give20get20", "1").returncode, 2)
        # nothing changed
        self.assertEqual(len(self.env.cli_json("rewards", "list")["data"]), 9)

    def test_simulate_lists_the_changed_conversions_as_a_table(self):
        with open(os.path.join(EXAMPLES, "programs", "give20get20.json")) as f:
            doc = json.load(f)
        doc["rewards"][0]["amount"] = 2500  # the referrer: $25 instead of $20
        self.env.cli("program", "load", self.env.write("v2.json", json.dumps(doc)), check=True)
        r = self.env.cli("program", "simulate", "give20get20", "2", "--from", "2026-09-01", check=True)
        lines = r.stdout.splitlines()
        self.assertIn("  actual     6 rewards, 120.00 USD", lines)
        self.assertIn("  simulated  6 rewards, 135.00 USD", lines)
        table = lines[lines.index("changes:") + 1:]
        self.assertEqual(table[0].split(), ["CONVERSION", "ACTUAL", "SIMULATED"])
        rows = {ln.split()[0]: ln.split(None, 1)[1] for ln in table[1:]}
        self.assertEqual(set(rows), {"ord_tom_1", "ord_ana_1", "ord_raj_1"})
        for row in rows.values():
            self.assertEqual(row.split(), "2 rewards, 40.00 USD 2 rewards, 45.00 USD".split())
        self.assertNotIn("{", r.stdout)  # people get a table, --json gets the objects

    def test_tax_form(self):
        r = self.env.cli("participants", "tax-form", "jessica", "w9")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.env.cli_json("participants", "show", "jessica")["tax_form"], "w9")
        self.assertEqual(self.env.cli("participants", "tax-form", "jessica", "w2").returncode, 2)


if __name__ == "__main__":
    unittest.main()
