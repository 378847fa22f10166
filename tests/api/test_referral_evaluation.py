"""A referral's `last_evaluation` (docs/api.md): its referrer sees why a referred
friend's purchase did or did not earn - the program's conditions that failed, in words -
and nothing of the friend's own data (the order amount, category, country, e-mail, IP,
device); null until something evaluated the referral; another participant's referral
stays 404; staff keys see the same field. Runs on SQLite and, with --pg, PostgreSQL."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, ndjson, participant  # noqa: E402


def program(pid, **extra):
    p = {"id": pid, "name": pid, "currency": "USD", "trigger": "conversion", "eligibility": True,
         "rewards": [{"to": "referrer", "type": "credit", "amount": 1000},
                     {"to": "referred", "type": "credit", "amount": 500}],
         "hold_days": 0, "fulfillment": {"credit": "ledger"}}
    p.update(extra)
    return p


PROGRAMS = [
    # a minimum order, two categories, one reward per referrer and year
    program("shop", eligibility={"and": [{">=": [{"var": "conversion.amount"}, 5000]},
                                         {"in": [{"var": "conversion.category"}, ["shoes", "bags"]]}]},
            limits={"referrer_rewards_per_year": 1}),
    program("anything"),  # every purchase earns
    program("signup", trigger="referral", eligibility={"==": [{"var": "referred.country"}, "US"]}),
]


def referral(rid, prog, referrer, referred, **data):
    return {"id": "evt_" + rid, "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
            "data": dict({"id": rid, "program": prog, "referrer": referrer, "referred": referred}, **data)}


def purchase(oid, who, amount, category):
    return {"id": "evt_" + oid, "type": "conversion", "occurred_at": "2026-10-02T12:00:00Z",
            "data": {"id": oid, "participant": who, "amount": amount, "currency": "USD", "category": category,
                     "attributes": {"coupon": "SECRET-COUPON"}}}


class LastEvaluation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        for p in PROGRAMS:
            cls.env.cli("program", "load", cls.env.write(p["id"] + ".json", json.dumps(p)), "--activate", check=True)
        cls.admin = cls.env.key("admin")
        cls.auditor = cls.env.key("auditor")
        cls.srv = cls.env.serve("--no-worker")
        fred = participant("fred", country="DE")
        evs = [participant(p) for p in ("alice", "amy", "ann", "abe", "bob", "bea", "cat")] + [fred]
        evs += [referral("ref_amy", "shop", "alice", "amy", ip="203.0.113.7", device_id="dev_amy"),
                referral("ref_ann", "shop", "alice", "ann"),
                referral("ref_abe", "shop", "alice", "abe"),
                referral("ref_fred", "signup", "alice", "fred"),
                referral("ref_self", "shop", "alice", "alma", referred_email="alice+promo@example.com"),
                referral("ref_bea", "shop", "bob", "bea"),
                # cat is referred by alice in "shop" and by bob in "anything": one purchase,
                # evaluated under both programs, is attributed to bob's referral that earned
                referral("ref_cat", "shop", "alice", "cat"),
                referral("ref_cat_bob", "anything", "bob", "cat")]
        cls.post(evs)
        cls.partner = cls.env.key("partner", "--participant", "alice")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    @classmethod
    def post(cls, events):
        st, body, _ = cls.srv.request("POST", "/v1/events", ndjson(events), key=cls.admin,
                                      ctype="application/x-ndjson")
        assert st == 200 and body["rejected"] == 0, body

    def get(self, path, key):
        st, body, _ = self.srv.request("GET", path, key=key)
        self.assertEqual(st, 200, body)
        return body

    def listed(self, key):
        return {r["id"]: r for r in self.get("/v1/participants/alice/referrals", key)["data"]}

    def seen(self, rid, key=None):
        """The referral's last_evaluation as the key sees it, the same in the list and alone."""
        key = key or self.partner
        one = self.get(f"/v1/referrals/{rid}", key)["last_evaluation"]
        self.assertEqual(self.listed(key)[rid]["last_evaluation"], one)
        return one

    def test_1_nothing_evaluated_before_a_purchase(self):
        self.assertIsNone(self.seen("ref_amy"))
        self.assertIsNone(self.seen("ref_amy", self.admin))

    def test_2_a_purchase_below_the_minimum(self):
        self.post([purchase("ord_amy_1", "amy", 4321, "shoes")])
        ev = self.seen("ref_amy")
        self.assertEqual(ev["trigger"], "conversion")
        self.assertEqual((ev["outcome"], ev["eligible"]), ("not_eligible", False))
        self.assertEqual(ev["reasons"], ["The purchase amount must be at least 50.00 USD."])
        # nothing of amy's: not her order's amount, category or attributes, nor her
        # e-mail, IP address or device, anywhere in what the partner reads
        for text in (json.dumps(self.get("/v1/referrals/ref_amy", self.partner)),
                     json.dumps(self.get("/v1/participants/alice/referrals", self.partner))):
            for secret in ("4321", "43.21", "SECRET-COUPON", "amy@example.com", "203.0.113.7", "dev_amy",
                           "ord_amy_1"):
                self.assertNotIn(secret, text)
        # staff see the same summary (and the conversion's full explanation where they did)
        self.assertEqual(self.seen("ref_amy", self.admin), ev)
        self.assertEqual(self.seen("ref_amy", self.auditor), ev)
        conv = self.get("/v1/conversions/ord_amy_1", self.admin)
        self.assertEqual(conv["explanation"]["outcome"], "not_eligible")

    def test_3_the_latest_purchase_counts(self):
        self.post([purchase("ord_ann_1", "ann", 4000, "shoes"), purchase("ord_ann_2", "ann", 9900, "food")])
        ev = self.seen("ref_ann")
        self.assertEqual(ev["reasons"], ['The purchase category must be one of "shoes" or "bags".'])
        self.assertNotIn("food", json.dumps(ev))
        self.assertNotIn("99.00", json.dumps(ev))

    def test_4_earned_then_capped(self):
        self.post([purchase("ord_abe_1", "abe", 6000, "bags")])
        ev = self.seen("ref_abe")
        self.assertEqual((ev["outcome"], ev["eligible"], ev["reasons"]), ("rewarded", True, []))
        # the friend's second purchase qualifies too, but alice's one reward a year is used
        self.post([purchase("ord_abe_2", "abe", 7000, "bags")])
        ev = self.seen("ref_abe")
        self.assertEqual((ev["outcome"], ev["eligible"]), ("rewarded", True))  # abe's own reward was made
        self.assertEqual(ev["reasons"], ["The program's limit of 1 reward per year for each referrer was reached."])
        # abe's own key reads the referral too, but alice's limits are hers (docs/api-roles.md:
        # the referred person reads no tier or limits of the referrer)
        abe = self.env.key("partner", "--participant", "abe")
        mine = self.get("/v1/referrals/ref_abe", abe)["last_evaluation"]
        self.assertEqual((mine["outcome"], mine["eligible"], mine["reasons"]), ("rewarded", True, []))

    def test_5_one_purchase_under_two_programs(self):
        self.post([purchase("ord_cat_1", "cat", 1000, "shoes")])
        self.assertEqual(self.get("/v1/conversions/ord_cat_1", self.admin)["referral"], "ref_cat_bob")
        ev = self.seen("ref_cat")
        self.assertEqual(ev["reasons"], ["The purchase amount must be at least 50.00 USD."])
        bob = self.get("/v1/referrals/ref_cat_bob", self.admin)["last_evaluation"]
        self.assertEqual((bob["outcome"], bob["reasons"]), ("rewarded", []))

    def test_6_a_program_triggered_by_referrals(self):
        ev = self.seen("ref_fred")
        self.assertEqual((ev["trigger"], ev["outcome"]), ("referral", "not_eligible"))
        self.assertEqual(ev["reasons"], ['The referred person\'s country must be "US".'])
        self.assertNotIn("DE", json.dumps(ev))

    def test_7_a_rejected_referral_names_no_fraud_signal(self):
        ev = self.seen("ref_self")
        self.assertEqual((ev["outcome"], ev["eligible"]), ("rejected", False))
        self.assertEqual(ev["reasons"], ["The referral did not pass the program's checks."])

    def test_8_another_participants_referral_stays_out_of_reach(self):
        self.post([purchase("ord_bea_1", "bea", 100, "shoes")])
        for path in ("/v1/referrals/ref_bea", "/v1/referrals/ref_cat_bob", "/v1/participants/bob/referrals"):
            st, body, _ = self.srv.request("GET", path, key=self.partner)
            self.assertEqual((st, body["error"]["code"]), (404, "not_found"), path)
        self.assertNotIn("ref_bea", self.listed(self.partner))
        self.assertEqual(self.get("/v1/referrals/ref_bea", self.admin)["last_evaluation"]["outcome"], "not_eligible")

    def test_9_pages_carry_it_too(self):
        everything = self.get("/v1/participants/alice/referrals", self.partner)["data"]
        paged, after = [], None
        while True:
            page = self.get("/v1/participants/alice/referrals?limit=2" + (f"&starting_after={after}" if after else ""),
                            self.partner)
            paged += page["data"]
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        self.assertEqual(paged, everything)
        self.assertEqual(len(everything), 6)


if __name__ == "__main__":
    unittest.main()
