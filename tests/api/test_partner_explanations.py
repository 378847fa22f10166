"""What a partner key reads of an explanation (docs/api-roles.md): the program's rule,
each clause's result and the outcome, with its own values but none of the other
party's. A referrer reads its reward's explanation (GET /v1/rewards/{id}/explain) and a
referral's (GET /v1/referrals/{id}, programs triggered by referrals) without the
referred friend's values: the order amount, its attributes, the friend's attributes;
the friend's reward says only what the program gives them; a fraud rejection does not
name the check. A referred person's key reads its own purchase's values and not the
referrer's. Staff keys read every value. Runs on SQLite and, with --pg, PostgreSQL."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, RequestHelpers, ndjson  # noqa: E402

AMOUNT = 98765  # the friend's order: 987.65 USD
COUPON = "FRIEND-COUPON-5150"  # an attribute of the friend's order
PLAN = "friendplan-4242"  # an attribute of the friend (the referred participant)
REFERRER_TIER = "gold-7777"  # an attribute of the referrer: its own

SHOP = {"id": "shop", "name": "shop", "currency": "USD", "trigger": "conversion", "hold_days": 0,
        "eligibility": {"and": [{">=": [{"var": "conversion.amount"}, 5000]},
                                {"!=": [{"var": "conversion.attributes.coupon"}, "BANNED"]},
                                {"!=": [{"var": "referrer.attributes.tier"}, "banned"]},
                                {"!=": [{"var": "referred.attributes.plan"}, "none"]}]},
        "rewards": [{"to": "referrer", "type": "credit", "percent_bp": 1000, "max_amount": 50000},
                    {"to": "referred", "type": "credit", "amount": 500}],
        "limits": {"referrer_rewards_per_year": 5},
        "fulfillment": {"credit": "ledger"}}
# the same purchase is evaluated under bob's referral too
ANYTHING = {"id": "anything", "name": "anything", "currency": "USD", "trigger": "conversion", "hold_days": 0,
            "eligibility": {">": [{"var": "conversion.amount"}, 0]},
            "rewards": [{"to": "referrer", "type": "credit", "amount": 100}],
            "fulfillment": {"credit": "ledger"}}
SIGNUP = {"id": "signup", "name": "signup", "currency": "USD", "trigger": "referral", "hold_days": 0,
          "eligibility": {"and": [{"!=": [{"var": "referred.attributes.plan"}, "none"]},
                                  {"==": [{"var": "referred.attributes.plan"}, "pro"]}]},
          "rewards": [{"to": "referrer", "type": "credit", "amount": 300}],
          "fulfillment": {"credit": "ledger"}}
STAFF_CLAUSES = [f"conversion.amount ({AMOUNT}) >= 5000: true",
                 f'conversion.attributes.coupon ("{COUPON}") != "BANNED": true',
                 f'referrer.attributes.tier ("{REFERRER_TIER}") != "banned": true',
                 f'referred.attributes.plan ("{PLAN}") != "none": true']


def participant(pid, **attributes):
    return {"id": "evt_p_" + pid, "type": "participant",
            "data": {"id": pid, "email": pid + "@example.com", "name": pid.title(), "country": "US",
                     "currency": "USD", "status": "active", "attributes": attributes}}


def referral(rid, prog, referrer, referred, **data):
    return {"id": "evt_" + rid, "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
            "data": dict({"id": rid, "program": prog, "referrer": referrer, "referred": referred}, **data)}


class PartnerExplanations(RequestHelpers, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        for p in (SHOP, ANYTHING, SIGNUP):
            cls.env.cli("program", "load", cls.env.write(p["id"] + ".json", json.dumps(p)), "--activate", check=True)
        cls.admin = cls.env.key("admin")
        cls.auditor = cls.env.key("auditor")
        cls.srv = cls.env.serve("--no-worker")
        evs = [participant("alice", tier=REFERRER_TIER), participant("bob"), participant("amy", plan=PLAN),
               participant("fred", plan=PLAN),
               referral("ref_amy", "shop", "alice", "amy"),
               referral("ref_amy_bob", "anything", "bob", "amy"),
               referral("ref_fred", "signup", "alice", "fred"),
               referral("ref_self", "shop", "alice", "alma", referred_email="alice+promo@example.com"),
               {"id": "evt_ord_amy", "type": "conversion", "occurred_at": "2026-10-02T12:00:00Z",
                "data": {"id": "ord_amy", "participant": "amy", "amount": AMOUNT, "currency": "USD",
                         "attributes": {"coupon": COUPON}}}]
        st, body, _ = cls.srv.request("POST", "/v1/events", ndjson(evs), key=cls.admin, ctype="application/x-ndjson")
        assert st == 200 and body["rejected"] == 0, body
        cls.alice = cls.env.key("partner", "--participant", "alice")
        cls.bob = cls.env.key("partner", "--participant", "bob")
        cls.amy = cls.env.key("partner", "--participant", "amy")
        cls.reward = {}
        for who in ("alice", "bob", "amy"):
            st, body, _ = cls.srv.request("GET", f"/v1/participants/{who}/rewards", key=cls.admin)
            assert st == 200 and len(body["data"]) == 1, body
            cls.reward[who] = body["data"][0]["id"]

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def explain(self, who, key):
        return self.ok("GET", f"/v1/rewards/{self.reward[who]}/explain", key=key)["explanation"]

    def assertNoneIn(self, secrets, answer):
        text = json.dumps(answer)
        for secret in secrets:
            self.assertNotIn(secret, text)

    def test_a_referrer_reads_its_rewards_why_without_the_friends_values(self):
        ex = self.explain("alice", self.alice)
        self.assertNoneIn((str(AMOUNT), "987.65", COUPON, PLAN), ex)
        self.assertEqual([c["rule"] for c in ex["clauses"]], SHOP["eligibility"]["and"])
        self.assertEqual([c["result"] for c in ex["clauses"]], [True] * 4)
        self.assertEqual([c["text"] for c in ex["clauses"]],
                         ["conversion.amount >= 5000: true", 'conversion.attributes.coupon != "BANNED": true',
                          f'referrer.attributes.tier ("{REFERRER_TIER}") != "banned": true',
                          'referred.attributes.plan != "none": true'])
        self.assertEqual([c.get("values") for c in ex["clauses"]], [None, None, [REFERRER_TIER, "banned"], None])
        self.assertEqual((ex["outcome"], ex["eligible"], ex["this_reward"]), ("rewarded", True, self.reward["alice"]))
        mine, friends = ex["rewards"]
        self.assertEqual((mine["to"], mine["amount"], mine["computed"], mine["reward"]),
                         ("referrer", 9876, "1000 bp of the purchase amount, at most 50000", self.reward["alice"]))
        self.assertEqual(friends, {"to": "referred", "type": "credit"})
        self.assertEqual(ex["tier"]["successful_referral_number"], 1)
        # staff read the friend's values
        for key in (self.admin, self.auditor):
            staff = self.explain("alice", key)
            self.assertEqual([c["text"] for c in staff["clauses"]], STAFF_CLAUSES)
            self.assertEqual(staff["rewards"][0]["computed"], f"1000 bp of {AMOUNT}, at most 50000")
            self.assertEqual(staff["rewards"][1]["reward"], self.reward["amy"])

    def test_a_purchase_under_two_programs(self):
        ex = self.explain("bob", self.bob)
        self.assertNotIn("programs", ex)
        self.assertEqual((ex["program"], ex["outcome"]), ("anything", "rewarded"))
        self.assertEqual([c["text"] for c in ex["clauses"]], ["conversion.amount > 0: true"])
        self.assertNoneIn((str(AMOUNT), COUPON, PLAN, "ref_amy\"", REFERRER_TIER), ex)
        staff = self.explain("bob", self.admin)
        self.assertEqual(staff["clauses"][0]["text"], f"conversion.amount ({AMOUNT}) > 0: true")
        # the buyer's own purchase, under both: the referrers' values and rewards are theirs
        body = self.ok("GET", "/v1/rewards/ord_amy/explain", key=self.amy)
        programs = body["explanation"]["programs"]
        self.assertEqual(sorted(p["program"] for p in programs), ["anything", "shop"])
        self.assertNoneIn((REFERRER_TIER, self.reward["alice"], self.reward["bob"]), body)
        self.assertEqual([(p.get("tier"), p.get("limits")) for p in programs], [(None, None)] * 2)
        self.assertIn(str(AMOUNT), json.dumps(body))
        for key in (self.alice, self.bob):
            self.err("GET", "/v1/rewards/ord_amy/explain", None, 404, "not_found", key=key)

    def test_the_referred_person_reads_its_own_values_and_not_the_referrers(self):
        ex = self.explain("amy", self.amy)
        self.assertEqual([c["text"] for c in ex["clauses"]],
                         STAFF_CLAUSES[:2] + ['referrer.attributes.tier != "banned": true', STAFF_CLAUSES[3]])
        self.assertNoneIn((REFERRER_TIER, self.reward["alice"]), ex)
        self.assertEqual(ex["rewards"][0], {"to": "referrer", "type": "credit"})
        self.assertEqual(ex["rewards"][1]["amount"], 500)
        self.assertNotIn("tier", ex)
        self.assertNotIn("limits", ex)

    def test_a_referrals_explanation(self):
        """A program triggered by referrals: the referral's own explanation."""
        body = self.ok("GET", "/v1/referrals/ref_fred", key=self.alice)
        self.assertNoneIn((PLAN,), body)
        ex = body["explanation"]
        self.assertEqual((ex["outcome"], [c["result"] for c in ex["clauses"]]), ("not_eligible", [True, False]))
        self.assertEqual([c["text"] for c in ex["clauses"]],
                         ['referred.attributes.plan != "none": true', 'referred.attributes.plan == "pro": false'])
        self.assertEqual(ex["failed"], ['referred.attributes.plan == "pro": false'])
        self.assertEqual(body["last_evaluation"]["reasons"], ["The referred person's plan must be \"pro\"."])
        staff = self.ok("GET", "/v1/referrals/ref_fred", key=self.admin)["explanation"]
        self.assertEqual(staff["failed"], [f'referred.attributes.plan ("{PLAN}") == "pro": false'])
        self.assertEqual(staff["clauses"][1]["values"], [PLAN, "pro"])

    def test_a_rejection_does_not_name_the_check(self):
        ex = self.ok("GET", "/v1/referrals/ref_self", key=self.alice)["explanation"]
        self.assertEqual((ex["outcome"], ex["failed"], ex["signals"]),
                         ("rejected", ["the referral did not pass the program's checks"], []))
        staff = self.ok("GET", "/v1/referrals/ref_self", key=self.admin)["explanation"]
        self.assertTrue(staff["failed"][0].startswith("self_referral: "), staff)


if __name__ == "__main__":
    unittest.main()
