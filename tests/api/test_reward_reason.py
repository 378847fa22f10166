"""GET /v1/rewards?reason= (and `fulfill rewards list --reason`): the exception queue
finds held rewards by their reason instead of reading every approved reward. A coupon
program whose code pool is empty holds its reward (approved, reason pool_empty); the
filter finds exactly that one, combines with the other filters and paging, and an
unknown reason is 400 invalid_request naming "reason", like an unknown status."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import SeededAPITest, conversion, ndjson, participant  # noqa: E402

COUPONS = {"id": "cp", "name": "Coupons", "currency": "USD", "trigger": "conversion", "eligibility": True,
           "rewards": [{"to": "referrer", "type": "coupon", "pool": "empty"}], "hold_days": 0}


class RewardReason(SeededAPITest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.cli("program", "load", cls.env.write("cp.json", json.dumps(COUPONS)), "--activate", check=True)
        events = [participant("erin"), participant("finn"),
                  {"id": "evt_ref_cp", "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
                   "data": {"id": "ref_cp", "program": "cp", "referrer": "erin", "referred": "finn"}},
                  conversion("ord_cp", "finn")]
        st, body, _ = cls.srv.request("POST", "/v1/events", ndjson(events), key=cls.admin,
                                      ctype="application/x-ndjson")
        assert st == 200 and body["rejected"] == 0, body
        st, body, _ = cls.srv.request("POST", "/v1/jobs/run", key=cls.admin)
        assert st == 200, body

    def test_filter_finds_the_held_reward(self):
        everything = self.ok("GET", "/v1/rewards?limit=1000")["data"]
        held = [r["id"] for r in everything if r["reason"] == "pool_empty"]
        self.assertEqual(len(held), 1, everything)
        got = self.ok("GET", "/v1/rewards?reason=pool_empty", key=self.operator)
        self.assertEqual([r["id"] for r in got["data"]], held)
        self.assertEqual((got["data"][0]["status"], got["has_more"]), ("approved", False))
        # with the other filters
        self.assertEqual([r["id"] for r in self.ok("GET", "/v1/rewards?status=approved&reason=pool_empty")["data"]],
                         held)
        self.assertEqual(self.ok("GET", "/v1/rewards?status=failed&reason=pool_empty")["data"], [])
        self.assertEqual(self.ok("GET", "/v1/rewards?participant=alice&reason=pool_empty")["data"], [])
        self.assertEqual(self.ok("GET", "/v1/rewards?reason=outcome_unknown")["data"], [])
        self.assertEqual(self.ok("GET", "/v1/rewards?reason=review:velocity")["data"], [])
        # a common reason (not the held ones' index): the same as filtering every reward
        delivered = [r["id"] for r in everything if r["reason"] == "delivered"]
        self.assertTrue(delivered)
        self.assertEqual([r["id"] for r in self.ok("GET", "/v1/rewards?reason=delivered&limit=1000")["data"]],
                         delivered)
        # paging by starting_after within the filter
        page = self.ok("GET", f"/v1/rewards?reason=delivered&limit=1&starting_after={delivered[0]}")
        self.assertEqual([r["id"] for r in page["data"]], delivered[1:2])

    def test_unknown_reason_is_refused(self):
        for bad in ("pool-empty", "nothing", "review:", "review:BAD SIGNAL", "x" * 300):
            with self.subTest(reason=bad):
                self.err("GET", "/v1/rewards?reason=" + bad.replace(" ", "%20"), None, 400, "invalid_request",
                         "reason")

    def test_cli_reason_filter(self):
        out = self.env.cli_json("rewards", "list", "--reason", "pool_empty")
        self.assertEqual([r["reason"] for r in out["data"]], ["pool_empty"])
        r = self.env.cli("rewards", "list", "--reason", "nope")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("reason", r.stderr)


if __name__ == "__main__":
    unittest.main()
