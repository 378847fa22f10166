"""Batches, reconciliation, finance reports and program simulation over real HTTP:
a fulfiller key batches, closes and fulfils its own rewards (another fulfiller's key
gets 404), finance reconciles the provider's CSV (disputed, then reconciled), and every
report answers JSON and CSV."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, conversion, ndjson, participant  # noqa: E402

GOODS = {
    "id": "goods", "name": "Cash via Acme", "currency": "USD", "trigger": "conversion", "eligibility": True,
    "rewards": [{"to": "referrer", "type": "cash", "amount": 2500}],
    "hold_days": 0, "fulfillment": {"cash": "manual", "fulfiller": "acme"},
}


def goods_referral(rid, referrer, referred):
    return {"id": "evt_" + rid, "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
            "data": {"id": rid, "program": "goods", "referrer": referrer, "referred": referred}}


class Finance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.env.cli("program", "load", cls.env.write("goods.json", json.dumps(GOODS)), "--activate", check=True)
        cls.admin = cls.env.key("admin")
        cls.finance = cls.env.key("finance")
        cls.acme = cls.env.key("fulfiller", "--fulfiller", "acme")
        cls.other = cls.env.key("fulfiller", "--fulfiller", "other")
        cls.srv = cls.env.serve("--no-worker")
        evs = [participant("r1"), participant("r2"), goods_referral("gref_1", "r1", "r2"), conversion("gord_1", "r2")]
        st, body, _ = cls.srv.request("POST", "/v1/events", ndjson(evs), key=cls.admin, ctype="application/x-ndjson")
        assert st == 200 and body["rejected"] == 0, body
        st, body, _ = cls.srv.request("POST", "/v1/jobs/run", key=cls.admin)
        assert st == 200, body

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def req(self, method, path, body=None, key=None, **kw):
        return self.srv.request(method, path, body, key=key or self.finance, **kw)

    def err(self, resp, status, code, param=None):
        st, body, _ = resp
        self.assertEqual(st, status, body)
        self.assertEqual(body["error"]["code"], code, body)
        if param:
            self.assertEqual(body["error"].get("param"), param, body)

    def test_batch_lifecycle(self):
        st, rewards, _ = self.req("GET", "/v1/rewards?participant=r1", key=self.admin)
        self.assertEqual(st, 200, rewards)
        self.assertEqual(len(rewards["data"]), 1, rewards)
        rid = rewards["data"][0]["id"]
        self.assertEqual(rewards["data"][0]["status"], "approved", rewards)

        # a fulfiller key may batch only for itself
        st, body, _ = self.req("POST", "/v1/batches", {"fulfiller": "other"}, key=self.acme)
        self.assertIn(st, (400, 403, 404), body)
        # a key of no fulfiller must name one; a fulfiller's key need not (its own)
        self.err(self.req("POST", "/v1/batches", {}, key=self.admin), 400, "invalid_request", "fulfiller")
        self.err(self.req("POST", "/v1/batches", {"fulfiller": 5}, key=self.acme), 400, "invalid_request", "fulfiller")
        self.err(self.req("POST", "/v1/batches", {"fulfiller": "acme", "until": "soon"}), 400, "invalid_request", "until")
        self.err(self.req("POST", "/v1/batches", {"fulfiller": "acme", "x": 1}), 400, "unknown_field", "x")
        st, batch, _ = self.req("POST", "/v1/batches", {"connector": "manual"}, key=self.acme)
        self.assertEqual(st, 201, batch)
        self.assertEqual(batch["fulfiller"], "acme")
        self.assertEqual(batch["status"], "open")
        self.assertEqual(batch["rewards"], [rid])
        bid = batch["id"]

        # the other fulfiller never learns it exists
        self.err(self.req("GET", f"/v1/batches/{bid}", key=self.other), 404, "not_found")
        self.err(self.req("GET", f"/v1/batches/{bid}/report.csv", key=self.other), 404, "not_found")
        self.err(self.req("POST", f"/v1/batches/{bid}/fulfill", {"reference": "X"}, key=self.other), 404, "not_found")
        st, lst, _ = self.req("GET", "/v1/batches", key=self.other)
        self.assertEqual((st, lst["data"]), (200, []))
        st, lst, _ = self.req("GET", "/v1/batches?status=open", key=self.acme)
        self.assertEqual([b["id"] for b in lst["data"]], [bid])
        self.assertEqual(self.req("GET", f"/v1/batches/{bid}", key=self.acme)[1]["id"], bid)

        st, csv, h = self.req("GET", f"/v1/batches/{bid}/report.csv", key=self.acme)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/csv"))
        self.assertTrue(csv.startswith("reward_id,participant,type,amount,currency,reference"), csv)
        self.assertIn(rid, csv)

        # reconcile before fulfilment: refused; with JSON: 415
        report = f"reward_id,amount,currency,reference\r\n{rid},2500,USD,CM-1\r\n"
        self.err(self.req("POST", f"/v1/batches/{bid}/reconcile", report, ctype="text/csv"), 409, "invalid_transition")
        self.err(self.req("POST", f"/v1/batches/{bid}/reconcile", {"a": 1}), 415, "unsupported_media_type")
        self.err(self.req("POST", f"/v1/batches/{bid}/reconcile", report, key=self.acme, ctype="text/csv"), 403, "forbidden")

        st, b, _ = self.req("POST", f"/v1/batches/{bid}/close", key=self.acme)
        self.assertEqual((st, b["status"]), (200, "closed"), b)
        self.err(self.req("POST", f"/v1/batches/{bid}/close", key=self.acme), 409, "invalid_transition")
        self.err(self.req("POST", f"/v1/batches/{bid}/fulfill", {}, key=self.acme), 400, "invalid_request", "reference")
        st, b, _ = self.req("POST", f"/v1/batches/{bid}/fulfill", {"reference": "CM-1"}, key=self.acme)
        self.assertEqual((st, b["status"]), (200, "fulfilled"), b)

        wrong = f"reward_id,amount,currency,reference\r\n{rid},2400,USD,CM-1\r\n"
        st, r, _ = self.req("POST", f"/v1/batches/{bid}/reconcile", wrong, ctype="text/csv")
        self.assertEqual((st, r["status"], r["amount_mismatch"]), (200, "disputed", 1), r)
        st, r, _ = self.req("POST", f"/v1/batches/{bid}/reconcile", report, ctype="text/csv; charset=utf-8")
        self.assertEqual((st, r["status"], r["matched"]), (200, "reconciled", 1), r)
        self.assertEqual(self.req("GET", f"/v1/rewards/{rid}", key=self.admin)[1]["status"], "reconciled")

    def test_reconciliation_by_connector(self):
        credit = {"id": "cred", "name": "Credit", "currency": "USD", "eligibility": True,
                  "rewards": [{"to": "referrer", "type": "credit", "amount": 700}], "hold_days": 0}
        self.env.cli("program", "load", self.env.write("cred.json", json.dumps(credit)), "--activate", check=True)
        # referred before the purchase (conversion() is dated 2026-10-02): a referral
        # after it would not be credited with it
        evs = [participant("c1"), {"id": "evt_cref", "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
                                   "data": {"id": "cref_1", "program": "cred", "referrer": "c1", "referred": "c2"}},
               conversion("cord_1", "c2")]
        st, body, _ = self.srv.request("POST", "/v1/events", ndjson(evs), key=self.admin, ctype="application/x-ndjson")
        self.assertEqual((st, body["rejected"]), (200, 0), body)
        self.assertEqual(self.req("POST", "/v1/jobs/run", key=self.admin)[0], 200)
        rid = self.req("GET", "/v1/rewards?participant=c1", key=self.admin)[1]["data"][0]["id"]
        self.err(self.req("POST", "/v1/reconciliations", "x", ctype="text/csv"), 400, "invalid_request", "connector")
        short = f"reward_id,amount,currency,reference\r\n{rid},600,USD,ledger:{rid}\r\n"
        st, r, _ = self.req("POST", "/v1/reconciliations?connector=ledger", short, ctype="text/csv")
        self.assertEqual((st, r["status"], r["amount_mismatch"]), (200, "disputed", 1), r)
        good = f"reward_id,amount,currency,reference\r\n{rid},700,USD,ledger:{rid}\r\n"
        st, r, _ = self.req("POST", "/v1/reconciliations?connector=ledger", good, ctype="text/csv")
        self.assertEqual((st, r["status"], r["matched"]), (200, "reconciled", 1), r)
        self.assertEqual(self.req("GET", f"/v1/rewards/{rid}", key=self.admin)[1]["status"], "reconciled")

    def test_reports_json_and_csv(self):
        for path in ("/v1/reports/payouts?from=2026-01-01&to=2027-01-01&group=month", "/v1/reports/aging",
                     "/v1/reports/tax?year=2026", "/v1/reports/kpis", "/v1/reports/credit-status",
                     "/v1/reports/participants"):
            st, body, _ = self.req("GET", path)
            self.assertEqual(st, 200, (path, body))
            self.assertIsInstance(body, dict)
            sep = "&" if "?" in path else "?"
            st, text, h = self.req("GET", path + sep + "format=csv")
            self.assertEqual(st, 200, (path, text))
            self.assertTrue(h["content-type"].startswith("text/csv"), h)
            self.assertIn(",", text.splitlines()[0])
        self.err(self.req("GET", "/v1/reports/payouts?from=yesterday"), 400, "invalid_request", "from")
        self.err(self.req("GET", "/v1/reports/payouts?group=year"), 400, "invalid_request", "group")
        self.err(self.req("GET", "/v1/reports/tax?year=20x6"), 400, "invalid_request", "year")
        self.err(self.req("GET", "/v1/reports/kpis?format=pdf"), 400, "invalid_request", "format")
        st, body, _ = self.req("GET", "/v1/reports/credit-status", key=self.other)
        self.assertEqual(st, 200, body)
        self.assertNotIn("acme", json.dumps(body))

    def test_simulate(self):
        st, body, _ = self.req("POST", "/v1/programs/goods/versions/1/simulate",
                               {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}, key=self.admin)
        self.assertEqual(st, 200, body)
        self.assertIn("simulated", body)
        self.assertIn("actual", body)
        self.err(self.req("POST", "/v1/programs/goods/versions/1/simulate", {}, key=self.admin), 400, "invalid_request", "from")
        self.err(self.req("POST", "/v1/programs/goods/versions/1/simulate", {"from": "2026-01-01", "to": "2025-01-01"},
                          key=self.admin), 400, "invalid_request", "to")
        self.err(self.req("POST", "/v1/programs/goods/versions/1/simulate", {"from": "2026-01-01", "x": 1},
                          key=self.admin), 400, "unknown_field", "x")
        self.err(self.req("POST", "/v1/programs/goods/versions/9/simulate", {"from": "2026-01-01"}, key=self.admin),
                 404, "not_found")
        self.err(self.req("POST", "/v1/programs/goods/versions/1/simulate", {"from": "2026-01-01"}), 403, "forbidden")


if __name__ == "__main__":
    unittest.main()
