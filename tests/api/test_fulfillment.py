"""Connectors, code pools, webhook endpoints, notifications, blocklists, bulk review
and finance settings over real HTTP: success and error cases for each route."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import SeededAPITest, audit_all  # noqa: E402


class Fulfillment(SeededAPITest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance = cls.env.key("finance")

    def test_connectors_secrets_are_write_only(self):
        c = self.ok("PUT", "/v1/connectors/stripe_main", {"type": "stripe", "config": {"api_key": "sk_test_abcdef1234"}})
        self.assertEqual(c["config"]["api_key"], "sk_...1234")
        got = self.ok("GET", "/v1/connectors/stripe_main", key=self.operator)
        self.assertNotIn("abcdef", str(got))
        self.assertIn("stripe_main", [x["id"] for x in self.ok("GET", "/v1/connectors")["data"]])
        self.err("PUT", "/v1/connectors/bad", {"config": {}}, 400, "invalid_request", "type")
        self.err("PUT", "/v1/connectors/bad", {"type": "stripe", "config": {}, "x": 1}, 400, "unknown_field", "x")
        self.err("PUT", "/v1/connectors/bad", {"type": "stripe", "config": {"api_key": "sk_1", "colour": 1}}, 400,
                 "unknown_field")
        self.err("GET", "/v1/connectors/nope", None, 404, "not_found")
        self.ok("DELETE", "/v1/connectors/stripe_main")
        self.err("GET", "/v1/connectors/stripe_main", None, 404, "not_found")
        self.err("POST", "/v1/connectors/nope/reconcile", {"a": 1}, 415, "unsupported_media_type")
        self.err("POST", "/v1/connectors/ledger/reconcile?from=never", "x", 400, "invalid_request", "from",
                 ctype="text/csv")

    def test_code_pools(self):
        p = self.ok("PUT", "/v1/code-pools/spring", {"low_stock_threshold": 2, "per_participant_limit": 1},
                    key=self.operator)
        self.assertEqual(p["id"], "spring")
        # no codes yet, a threshold of 2: low
        self.assertTrue(p["low_stock"], p)
        b = self.ok("POST", "/v1/code-pools/spring/codes", {"codes": ["A1", "A2", "A2"]})
        self.assertEqual((b["added"], b["duplicates"]), (2, 1), b)
        self.assertTrue(self.ok("GET", "/v1/code-pools/spring")["low_stock"], "2 codes: at the threshold")
        b = self.ok("POST", "/v1/code-pools/spring/codes", "code\r\nB1\r\nB2\r\nA1\r\n", ctype="text/csv")
        self.assertEqual((b["added"], b["duplicates"]), (2, 1), b)
        p = self.ok("GET", "/v1/code-pools/spring", key=self.finance)
        self.assertEqual((p["available"], p["low_stock"]), (4, False), p)
        self.ok("POST", "/v1/code-pools/spring/codes/B2", {"status": "void"})
        self.assertEqual(self.ok("GET", "/v1/code-pools/spring")["void"], 1)
        # the list and the CLI say the same
        for pool in self.ok("GET", "/v1/code-pools")["data"]:
            self.assertEqual(pool["low_stock"], pool["available"] <= pool["low_stock_threshold"], pool)
        self.ok("POST", "/v1/code-pools/spring/codes/B1", {"status": "void"})
        self.assertTrue(self.ok("GET", "/v1/code-pools/spring")["low_stock"], "voided down to 2")
        self.assertTrue(self.env.cli_json("codes", "show", "spring")["low_stock"])
        row = [ln.split() for ln in self.env.cli("codes", "list", check=True).stdout.splitlines() if ln.startswith("spring ")]
        self.assertEqual(row[0][-1], "yes", row)
        self.assertIn("spring", [x["id"] for x in self.ok("GET", "/v1/code-pools")["data"]])
        self.err("POST", "/v1/code-pools/spring/codes/B1", {"status": "lost"}, 400, "invalid_request", "status")
        self.err("POST", "/v1/code-pools/spring/codes", {"codes": "A9"}, 400, "invalid_request", "codes")
        self.err("POST", "/v1/code-pools/spring/codes", {"codez": []}, 400, "unknown_field", "codez")
        self.err("POST", "/v1/code-pools/spring/codes", "A9", 415, "unsupported_media_type", ctype="text/plain")
        self.err("PUT", "/v1/code-pools/spring", {"size": 1}, 400, "unknown_field", "size")
        self.err("GET", "/v1/code-pools/nope", None, 404, "not_found")

    def walk(self, path, limit):
        """Every id of a list, a page of `limit` at a time with starting_after."""
        ids, after = [], None
        while True:
            page = self.ok("GET", f"{path}?limit={limit}" + (f"&starting_after={after}" if after else ""))
            self.assertEqual(page["object"], "list", page)
            self.assertLessEqual(len(page["data"]), limit, page)
            ids += [x["id"] for x in page["data"]]
            if not page["has_more"]:
                return ids
            self.assertEqual(len(page["data"]), limit, page)
            after = page["data"][-1]["id"]

    def test_pools_and_connectors_are_paged_like_every_list(self):
        # API.md "Lists": ?limit= (1-1000, default 100) and ?starting_after=<id>, has_more,
        # stable order by creation
        pools = [f"page-pool-{c}" for c in "edcba"]
        for p in pools:
            self.ok("PUT", f"/v1/code-pools/{p}", {"low_stock_threshold": 0})
        conns = [f"page_conn_{c}" for c in "edcba"]
        for cid in conns:
            self.ok("PUT", f"/v1/connectors/{cid}", {"type": "stripe", "config": {"api_key": "sk_test_0123456789"}})
        for path, made in (("/v1/code-pools", pools), ("/v1/connectors", conns)):
            with self.subTest(path=path):
                full = [x["id"] for x in self.ok("GET", path + "?limit=1000")["data"]]
                self.assertEqual([i for i in full if i in made], made, "creation order")
                self.assertEqual(self.walk(path, 2), full)
                first = self.ok("GET", path + "?limit=1")
                self.assertEqual((len(first["data"]), first["has_more"]), (1, True), first)
                after = self.ok("GET", f"{path}?limit=2&starting_after={made[2]}")
                self.assertEqual([x["id"] for x in after["data"]][:2], made[3:5], after)
                self.err("GET", path + "?limit=0", None, 400, "invalid_request", "limit")
                self.err("GET", path + "?limit=1001", None, 400, "invalid_request", "limit")
        # the CLI pages the same way
        got = self.env.cli_json("codes", "list", "--limit", "2", "--starting-after", pools[2])
        self.assertEqual([x["id"] for x in got["data"]][:2], pools[3:5], got)
        got = self.env.cli_json("connectors", "list", "--limit", "1", "--starting-after", conns[0])
        self.assertEqual(([x["id"] for x in got["data"]], got["has_more"]), ([conns[1]], True), got)
        for cid in conns:
            self.ok("DELETE", f"/v1/connectors/{cid}")

    def test_webhook_endpoints(self):
        w = self.ok("POST", "/v1/webhook-endpoints", {"url": "https://93.184.216.34/hooks", "events": ["reward.fulfilled"]},
                    status=201)
        self.assertTrue(w["secret"].startswith("whsec_"))
        wid = w["id"]
        got = self.ok("GET", f"/v1/webhook-endpoints/{wid}", key=self.operator)
        self.assertNotIn("secret", got)
        self.assertIn(wid, [x["id"] for x in self.ok("GET", "/v1/webhook-endpoints?limit=10")["data"]])
        self.assertEqual(self.ok("GET", f"/v1/webhook-endpoints/{wid}/deliveries")["object"], "list")
        self.err("POST", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/x"}, 400, "invalid_request", "url")
        self.err("POST", "/v1/webhook-endpoints", {"events": []}, 400, "invalid_request", "url")
        self.err("POST", "/v1/webhook-endpoints", {"url": "https://93.184.216.34/", "events": "all"}, 400,
                 "invalid_request", "events")
        self.err("POST", "/v1/webhook-endpoints", {"url": "https://93.184.216.34/", "secret": "x"}, 400,
                 "unknown_field", "secret")
        self.ok("DELETE", f"/v1/webhook-endpoints/{wid}")
        self.err("DELETE", "/v1/webhook-endpoints/we_nope", None, 404, "not_found")
        self.assertEqual(self.ok("GET", "/v1/notifications?limit=5")["object"], "list")

    def test_webhook_endpoint_url_password_is_masked(self):
        # a password in the URL (basic auth to the receiver) is a secret: answers and the
        # audit log show it masked, as a connector's URL; deliveries use the stored URL
        url = "https://hook:S3cretPass@93.184.216.34/in?password=pw2&x=1"
        shown = "https://hook:****@93.184.216.34/in?password=****&x=1"
        w = self.ok("POST", "/v1/webhook-endpoints", {"url": url}, status=201)
        self.assertEqual(w["url"], shown, w)
        for key in (self.admin, self.operator, self.env.key("auditor")):
            got = self.ok("GET", f"/v1/webhook-endpoints/{w['id']}", key=key)
            self.assertEqual(got["url"], shown, got)
            listed = self.ok("GET", "/v1/webhook-endpoints?limit=1000", key=key)
            self.assertNotIn("S3cret", str(listed))
            self.assertNotIn("pw2", str(listed))
        audit = audit_all(self.srv, self.admin)
        created = [r for r in audit if r["action"] == "webhook_endpoint.created" and r["target"] == w["id"]]
        self.assertEqual([r["detail"]["url"] for r in created], [shown], created)
        self.assertNotIn("S3cret", str(audit))
        self.ok("DELETE", f"/v1/webhook-endpoints/{w['id']}")

    def test_blocklist(self):
        self.ok("POST", "/v1/blocklist", {"kind": "ip", "value": "198.51.100.0/24", "note": "abuse"}, status=201,
                key=self.operator)
        added = self.ok("POST", "/v1/blocklist", {"kind": "domain", "value": "spam.example"}, status=201)
        lst = self.ok("GET", "/v1/blocklist")
        # the answer to POST is the entry as the list shows it
        listed = [x for x in lst["data"] if x["kind"] == "domain" and x["value"] == "spam.example"]
        self.assertEqual(listed, [added], lst)
        self.assertEqual((added["object"], added["note"]), ("blocklist_entry", None), added)
        self.assertIn("198.51.100.0/24", str(lst))
        self.ok("DELETE", "/v1/blocklist?kind=ip&value=198.51.100.0/24")
        self.assertNotIn("198.51.100.0/24", str(self.ok("GET", "/v1/blocklist")))
        self.err("POST", "/v1/blocklist", {"kind": "ip"}, 400, "invalid_request", "value")
        self.err("DELETE", "/v1/blocklist?kind=ip", None, 400, "invalid_request", "value")
        self.err("POST", "/v1/blocklist", {"kind": "planet", "value": "mars"}, 400, "invalid_request")

    def test_bulk_review(self):
        b = self.ok("POST", "/v1/rewards/review", {"approve": ["rwd_nope"], "reason": "checked"}, key=self.operator)
        self.assertEqual(b["failed"], 1, b)
        self.err("POST", "/v1/rewards/review", {}, 400, "invalid_request", "approve")
        self.err("POST", "/v1/rewards/review", {"approve": "rwd_x"}, 400, "invalid_request", "approve")
        self.err("POST", "/v1/rewards/review", {"approve": ["x"], "why": 1}, 400, "unknown_field", "why")

    def test_finance_settings(self):
        t = self.ok("PUT", "/v1/settings/tax/thresholds/US", {"amount": 70000, "currency": "USD"}, key=self.finance)
        self.assertIn("70000", str(t))
        self.ok("PUT", "/v1/settings/tax/reportable-types", {"types": ["cash", "gift_card"]}, key=self.finance)
        self.assertIn("thresholds", self.ok("GET", "/v1/settings/tax"))
        self.err("PUT", "/v1/settings/tax/thresholds/US", {"amount": -1, "currency": "USD"}, 400, "invalid_amount", "amount")
        self.err("PUT", "/v1/settings/tax/reportable-types", {"types": "cash"}, 400, "invalid_request", "types")
        self.ok("PUT", "/v1/fx-rates", {"reporting": "USD", "rates": {"EUR": "1.0845"}}, key=self.finance)
        self.assertIn("EUR", str(self.ok("GET", "/v1/fx-rates")))
        self.err("PUT", "/v1/fx-rates", {"reporting": "USD", "rates": ["EUR"]}, 400, "invalid_request", "rates")
        # an error names the field or query argument the client sent
        self.err("PUT", "/v1/fx-rates", {"reporting": "usd", "rates": {}}, 400, "invalid_currency", "reporting")
        self.err("GET", "/v1/reports/payouts?reporting=XYZ1", None, 400, "invalid_currency", "reporting",
                 key=self.finance)
        self.ok("PUT", "/v1/fees/manual", {"currency": "USD", "fixed_amount": 25, "percent_bp": 100}, key=self.finance)
        self.assertIn("manual", str(self.ok("GET", "/v1/fees")))
        self.err("PUT", "/v1/fees/manual", {"currency": "USD", "fixed_amount": 25}, 400, "invalid_amount", "percent_bp")


if __name__ == "__main__":
    unittest.main()
