"""Every route's success and error cases over real HTTP, on a seeded database
(apiutil.seed: program p1 active; alice->carol and bob->dave referrals that converted)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import PROGRAM, SeededAPITest, conversion, ndjson, participant, referral  # noqa: E402


class Resources(SeededAPITest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin2 = cls.env.key("admin")

    def assertList(self, body):
        self.assertEqual(body["object"], "list", body)
        self.assertIsInstance(body["data"], list)
        self.assertIsInstance(body["has_more"], bool)

    # ---- events ----

    def test_events_single(self):
        b = self.ok("POST", "/v1/events", participant("erin"))
        self.assertEqual((b["id"], b["outcome"]), ("evt_p_erin", "accepted"))
        b = self.ok("POST", "/v1/events", participant("erin"))
        self.assertEqual(b["outcome"], "duplicate")
        self.err("POST", "/v1/events", conversion("ord_x", "ghost"), 422, "not_found")
        self.err("POST", "/v1/events", referral("ref_x", "alice", "frank") | {"data": {"id": "ref_x", "program": "nope",
                 "referrer": "alice", "referred": "frank"}}, 422, "not_found")
        self.err("POST", "/v1/events", "", 400, "invalid_request")
        self.err("POST", "/v1/events", "{oops", 400, "malformed_json")

    def test_refund_amount_errors_say_what_is_wrong(self):
        # API.md: a refund larger than what is left of its conversion is invalid_amount;
        # the message must say which of the three cases it is, and nothing is stored
        self.ok("POST", "/v1/events", participant("rhea"))
        self.ok("POST", "/v1/events", conversion("ord_rhea", "rhea", amount=3000))

        def refund(eid, **data):
            return {"id": eid, "type": "refund", "data": {"conversion": "ord_rhea", **data}}

        e = self.err("POST", "/v1/events", refund("evt_rf0", amount=0), 400, "invalid_amount", "data.amount")
        self.assertIn("positive", e["error"]["message"])
        self.assertNotIn("more than", e["error"]["message"])
        e = self.err("POST", "/v1/events", refund("evt_rf1", amount=3001), 400, "invalid_amount", "data.amount")
        self.assertIn("more than the 3000 left", e["error"]["message"])
        self.assertEqual(self.ok("GET", "/v1/conversions/ord_rhea")["refunded_amount"], 0)
        self.ok("POST", "/v1/events", refund("evt_rf2"))  # the rest: all of it
        self.assertEqual(self.ok("GET", "/v1/conversions/ord_rhea")["refunded_amount"], 3000)
        for ev in (refund("evt_rf3"), refund("evt_rf4", amount=1)):
            e = self.err("POST", "/v1/events", ev, 400, "invalid_amount", "data.amount")
            self.assertIn("fully refunded", e["error"]["message"])
        self.assertEqual(self.ok("GET", "/v1/conversions/ord_rhea")["refunded_amount"], 3000)

    def test_events_ndjson(self):
        lines = ndjson([participant("gina"), participant("gina")]) + "\n{bad json\n" + \
            json.dumps(conversion("ord_y", "ghost")) + "\n"
        b = self.ok("POST", "/v1/events", lines, ctype="application/x-ndjson")
        self.assertEqual((b["accepted"], b["duplicate"], b["rejected"]), (1, 1, 2), b)
        self.assertEqual([r["line"] for r in b["results"]], [1, 2, 4, 5])
        self.assertEqual(b["results"][0]["outcome"], "accepted")
        self.assertEqual(b["results"][0]["id"], "evt_p_gina")
        self.assertEqual(b["results"][1]["outcome"], "duplicate")
        self.assertEqual(b["results"][2]["outcome"], "rejected")
        self.assertEqual(b["results"][2]["error"]["code"], "malformed_json")
        self.assertEqual(b["results"][3]["error"]["code"], "not_found")
        self.ok("GET", "/v1/participants/gina")
        # bad UTF-8 on one line fails that line only
        raw = json.dumps(participant("hank")).encode() + b"\n" + b'{"id":"\xff"}\n'
        b = self.ok("POST", "/v1/events", raw, ctype="application/x-ndjson")
        self.assertEqual((b["accepted"], b["rejected"]), (1, 1))
        self.assertEqual(b["results"][1]["error"]["code"], "invalid_utf8")
        self.err("POST", "/v1/events", "\n\n", 400, "invalid_request", ctype="application/x-ndjson")
        many = "".join(json.dumps(participant(f"m{i}")) + "\n" for i in range(10001))
        self.err("POST", "/v1/events", many, 413, "too_large", ctype="application/x-ndjson")

    def test_events_byte_order_mark(self):
        # a UTF-8 byte-order mark before the body is not part of the first event, as
        # for `fulfill ingest` (docs/ingest.md)
        bom = b"\xef\xbb\xbf"
        raw = bom + ndjson([participant("bom1"), participant("bom2")]).encode()
        b = self.ok("POST", "/v1/events", raw, ctype="application/x-ndjson")
        self.assertEqual((b["accepted"], b["rejected"]), (2, 0), b)
        self.assertEqual([r["line"] for r in b["results"]], [1, 2])
        b = self.ok("POST", "/v1/events", bom + json.dumps(participant("bom3")).encode())
        self.assertEqual(b["outcome"], "accepted", b)
        self.err("POST", "/v1/events", bom, 400, "invalid_request")

    # ---- programs ----

    def test_program_lifecycle(self):
        doc = dict(PROGRAM, id="p2", name="P2")
        b = self.ok("PUT", "/v1/programs/p2", doc, status=201, key=self.operator)
        self.assertEqual(b["status"], "draft")
        v = b["version"]
        self.assertList(self.ok("GET", "/v1/programs"))
        self.assertIn("p2", [p["id"] for p in self.ok("GET", "/v1/programs")["data"]])
        p = self.ok("GET", "/v1/programs/p2")
        self.assertIn("versions", p)
        self.ok("GET", f"/v1/programs/p2/versions/{v}")
        self.err("GET", "/v1/programs/p2/versions/99", None, 404, "not_found")
        self.err("GET", "/v1/programs/p2/versions/abc", None, 404, "not_found")
        self.err("GET", "/v1/programs/nope", None, 404, "not_found")
        # activate before approval
        self.err("POST", f"/v1/programs/p2/versions/{v}/activate", {}, 409, "version_not_approved")
        # the author (operator) is not an admin; an admin approves, another admin activates
        self.ok("POST", f"/v1/programs/p2/versions/{v}/approve", {})
        self.ok("POST", f"/v1/programs/p2/versions/{v}/activate", None, key=self.admin2)
        # a change of payout economics needs a second admin (two-person rule)
        doc2 = dict(doc, rewards=[{"to": "referrer", "type": "credit", "amount": 1500}])
        b = self.ok("PUT", "/v1/programs/p2", doc2, status=201)
        v2 = b["version"]
        self.err("POST", f"/v1/programs/p2/versions/{v2}/approve", {}, 403, "same_author")
        self.ok("POST", f"/v1/programs/p2/versions/{v2}/approve", {}, key=self.admin2)
        self.ok("POST", f"/v1/programs/p2/versions/{v2}/activate", {})
        d = self.ok("GET", f"/v1/programs/p2/diff?from={v}&to={v2}")
        self.assertIsInstance(d, dict)
        self.ok("POST", "/v1/programs/p2/rollback", {"version": v})
        self.assertEqual(self.ok("GET", "/v1/programs/p2").get("active_version"), v)
        self.err("POST", "/v1/programs/p2/rollback", {"version": "one"}, 400, "invalid_request", param="version")
        self.err("POST", "/v1/programs/p2/rollback", {"version": 1, "why": "x"}, 400, "unknown_field", param="why")
        self.err("POST", "/v1/programs/p2/versions/1/approve", {"x": 1}, 400, "unknown_field", param="x")
        self.err("PUT", "/v1/programs/p3", {}, 400, "invalid_request")
        self.err("PUT", "/v1/programs/p3", dict(PROGRAM, id="p3", bogus=1), 400, "unknown_field")

    def test_rollback_to_never_approved_version(self):
        # API.md: 409 version_not_approved for a version nobody approved (rollback is an
        # activation); nothing changes: active version, versions, audit log
        doc = dict(PROGRAM, id="p6", name="P6")
        v1 = self.ok("PUT", "/v1/programs/p6", doc, status=201, key=self.operator)["version"]  # stays a draft
        v2 = self.ok("PUT", "/v1/programs/p6", dict(doc, name="P6 second"), status=201, key=self.operator)["version"]
        self.ok("POST", f"/v1/programs/p6/versions/{v2}/approve", {})
        self.ok("POST", f"/v1/programs/p6/versions/{v2}/activate", {})
        before = self.ok("GET", "/v1/programs/p6")
        self.assertEqual(before["active_version"], v2)
        audit = self.ok("GET", "/v1/audit/verify")
        self.assertIs(audit["ok"], True)

        self.err("POST", "/v1/programs/p6/rollback", {"version": v1}, 409, "version_not_approved")
        self.err("POST", "/v1/programs/p6/rollback", {"version": 99}, 404, "not_found")

        after = self.ok("GET", "/v1/programs/p6")
        self.assertEqual(after["active_version"], v2)
        self.assertEqual(after, before)
        self.assertEqual(self.ok("GET", f"/v1/programs/p6/versions/{v1}")["status"], "draft")
        self.assertEqual(self.ok("GET", "/v1/audit/verify"), audit)  # no record added
        self.assertNotIn("p6@", str([a["target"] for a in self.ok("GET", "/v1/audit?limit=1000")["data"]
                                     if a["action"] == "program.rolled_back"]))

    # ---- participants ----

    def test_participants(self):
        b = self.ok("GET", "/v1/participants?status=active&country=US&limit=2")
        self.assertList(b)
        self.assertLessEqual(len(b["data"]), 2)
        self.assertTrue(b["has_more"])
        after = b["data"][-1]["id"]
        b2 = self.ok("GET", f"/v1/participants?limit=2&starting_after={after}")
        self.assertNotIn(after, [p["id"] for p in b2["data"]])
        self.assertEqual(self.ok("GET", "/v1/participants?country=DE")["data"], [])
        p = self.ok("GET", "/v1/participants/alice")
        self.assertEqual(p["id"], "alice")
        self.assertIn("stats", p)
        self.assertIn("balances", p)
        self.err("GET", "/v1/participants/ghost", None, 404, "not_found")
        refs = self.ok("GET", "/v1/participants/alice/referrals")
        self.assertList(refs)
        self.assertEqual([r["id"] for r in refs["data"]], ["ref_1"])
        self.assertList(self.ok("GET", "/v1/participants/alice/rewards"))
        self.err("GET", "/v1/participants/ghost/rewards", None, 404, "not_found")
        self.assertEqual(self.ok("GET", "/v1/referrals/ref_1")["id"], "ref_1")
        self.err("GET", "/v1/referrals/nope", None, 404, "not_found")
        self.assertEqual(self.ok("GET", "/v1/conversions/ord_1")["id"], "ord_1")
        self.err("GET", "/v1/conversions/nope", None, 404, "not_found")

    def test_redeem_and_tax_form(self):
        self.ok("POST", "/v1/jobs/run", {})  # fulfil the ledger credits
        self.err("POST", "/v1/participants/carol/redeem", {"amount": 10**9, "currency": "USD"}, 409,
                 "insufficient_balance")
        b = self.ok("POST", "/v1/participants/carol/redeem", {"amount": 100, "currency": "USD"})
        self.assertEqual(b.get("amount"), 100)
        self.err("POST", "/v1/participants/carol/redeem", {"amount": -5, "currency": "USD"}, 400, "invalid_amount",
                 param="amount")
        self.err("POST", "/v1/participants/carol/redeem", {"amount": 5, "currency": "dollars"}, 400,
                 "invalid_currency", param="currency")
        self.err("POST", "/v1/participants/carol/redeem", {"amount": 5, "currency": "USD", "memo": "x"}, 400,
                 "unknown_field", param="memo")
        self.err("POST", "/v1/participants/ghost/redeem", {"amount": 5, "currency": "USD"}, 404, "not_found")
        self.ok("POST", "/v1/participants/carol/tax-form", {"form": "w9"})
        self.err("POST", "/v1/participants/carol/tax-form", {"form": "w2"}, 400, "invalid_request", param="form")
        self.err("POST", "/v1/participants/carol/tax-form", {"form": "w9", "x": 1}, 400, "unknown_field")
        self.err("POST", "/v1/participants/ghost/tax-form", {"form": "w9"}, 404, "not_found")

    # ---- rewards ----

    def test_rewards(self):
        b = self.ok("GET", "/v1/rewards?participant=alice")
        self.assertList(b)
        self.assertEqual({r["participant"] for r in b["data"]}, {"alice"})
        self.assertList(self.ok("GET", "/v1/rewards?program=p1&status=pending&limit=5"))
        self.assertEqual(self.ok("GET", "/v1/rewards?batch=none_such")["data"], [])
        # a fresh reward that no worker pass has touched yet
        evs = [participant("ivy"), participant("jon"), referral("ref_9", "ivy", "jon"), conversion("ord_9", "jon")]
        self.assertEqual(self.ok("POST", "/v1/events", ndjson(evs), ctype="application/x-ndjson")["rejected"], 0)
        rid = self.ok("GET", "/v1/participants/jon/rewards")["data"][0]["id"]
        r = self.ok("GET", f"/v1/rewards/{rid}")
        self.assertEqual(r["id"], rid)
        self.assertIn("history", r)
        self.assertIsInstance(self.ok("GET", f"/v1/rewards/{rid}/explain"), dict)
        self.err("GET", "/v1/rewards/rwd_nope", None, 404, "not_found")
        self.err("GET", "/v1/rewards/rwd_nope/explain", None, 404, "not_found")
        # approve a pending (not in review) reward: refused by the state machine
        self.err("POST", f"/v1/rewards/{rid}/approve", {}, 409, "invalid_transition", key=self.operator)
        self.err("POST", f"/v1/rewards/{rid}/retry", {}, 409, "invalid_transition")
        self.err("POST", f"/v1/rewards/{rid}/cancel", {"reason": "x", "extra": 1}, 400, "unknown_field")
        self.err("POST", f"/v1/rewards/{rid}/cancel", {"reason": 5}, 400, "invalid_request", param="reason")
        c = self.ok("POST", f"/v1/rewards/{rid}/cancel", {"reason": "test"}, key=self.operator)
        self.assertEqual(c["status"], "cancelled")
        self.err("POST", f"/v1/rewards/{rid}/reject", {"reason": "x"}, 409, "invalid_transition")
        self.err("POST", "/v1/rewards/rwd_nope/cancel", {}, 404, "not_found")

    # ---- work, reports, keys, audit ----

    def test_jobs_run(self):
        b = self.ok("POST", "/v1/jobs/run")
        for k in ("released", "fulfilled", "failed", "expired", "webhooks"):
            self.assertIsInstance(b[k], int, b)
        self.err("POST", "/v1/jobs/run", {"now": "x"}, 400, "unknown_field")

    def test_reports(self):
        b = self.ok("GET", "/v1/reports/participants")
        self.assertIsInstance(b, dict)
        st, text, h = self.req("GET", "/v1/reports/participants?format=csv")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/csv"))
        self.assertIn("alice", text)
        self.err("GET", "/v1/reports/participants?format=xml", None, 400, "invalid_request", param="format")

    def test_api_keys(self):
        b = self.ok("POST", "/v1/api-keys", {"role": "partner", "name": "p", "participant": "alice"}, status=201)
        self.assertTrue(b["key"].startswith("fk_partner_"))
        self.assertTrue(b["prefix"])
        self.assertNotEqual(b["key"], b["prefix"])
        self.assertEqual(self.srv.request("GET", "/v1/participants/alice", key=b["key"])[0], 200)
        self.err("POST", "/v1/api-keys", {"role": "emperor"}, 400, "invalid_request", param="role")
        self.err("POST", "/v1/api-keys", {"name": "x"}, 400, "invalid_request", param="role")
        self.err("POST", "/v1/api-keys", {"role": "admin", "name": 7}, 400, "invalid_request", param="name")
        self.ok("DELETE", f"/v1/api-keys/{b['prefix']}")
        self.assertEqual(self.srv.request("GET", "/v1/participants/alice", key=b["key"])[0], 401)
        self.err("DELETE", "/v1/api-keys/fk_admin_nothere", None, 404, "not_found")

    def test_audit(self):
        b = self.ok("GET", "/v1/audit?limit=2")
        self.assertList(b)
        self.assertLessEqual(len(b["data"]), 2)
        v = self.ok("GET", "/v1/audit/verify")
        self.assertIs(v["ok"], True)
        self.assertGreater(v["records"], 0)
        self.err("GET", "/v1/audit?limit=5000", None, 400, "invalid_request", param="limit")


if __name__ == "__main__":
    unittest.main()
