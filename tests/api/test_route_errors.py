"""An error path of its own for each route that had only success tests (found by
tests/api/route_coverage.py): mostly reads whose query is checked like a body - an
unknown parameter is 400 unknown_field naming it, a bad value 400 invalid_request
naming it - and the public routes, which check their query too. Each answer has the
error shape of API.md and a read changes nothing."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import SeededAPITest  # noqa: E402

# (path, status, code, param) - all GET
CASES = [
    ("/v1/programs?limit=0", 400, "invalid_request", "limit"),
    ("/v1/connectors?limit=0", 400, "invalid_request", "limit"),
    ("/v1/connectors?type=stripe", 400, "unknown_field", "type"),
    ("/v1/code-pools?status=void", 400, "unknown_field", "status"),
    ("/v1/webhook-endpoints?limit=abc", 400, "invalid_request", "limit"),
    ("/v1/notifications?limit=1001", 400, "invalid_request", "limit"),
    ("/v1/blocklist?kind=email", 400, "unknown_field", "kind"),
    ("/v1/settings/tax?country=US", 400, "unknown_field", "country"),
    ("/v1/fx-rates?reporting=USD", 400, "unknown_field", "reporting"),
    ("/v1/fees?connector=stripe", 400, "unknown_field", "connector"),
    ("/v1/batches?status=lost", 400, "invalid_request", "status"),
    ("/v1/reports/aging?format=xml", 400, "invalid_request", "format"),
    ("/v1/reports/credit-status?format=pdf", 400, "invalid_request", "format"),
    ("/v1/audit/verify?from=1", 400, "unknown_field", "from"),
    ("/healthz?verbose=1", 400, "unknown_field", "verbose"),
    ("/readyz?verbose=1", 400, "unknown_field", "verbose"),
    ("/metrics?name=fulfill_rewards", 400, "unknown_field", "name"),
    ("/v1/openapi.json?format=yaml", 400, "unknown_field", "format"),
    ("/portal/nope.js", 404, "not_found", None),
    ("/portal/..%2Findex.html", 404, "not_found", None),
]


class RouteErrors(SeededAPITest):
    def test_error_path_of_each_route(self):
        st, before, _ = self.req("GET", "/v1/audit?limit=1000")
        self.assertEqual(st, 200)
        for path, status, code, param in CASES:
            with self.subTest(path=path):
                public = path.startswith(("/healthz", "/readyz", "/metrics", "/v1/openapi", "/portal"))
                st, body, h = self.srv.request("GET", path, key=None if public else self.admin)
                self.assertEqual(st, status, body)
                self.assertIsInstance(body, dict, body)
                self.assertEqual(body["error"]["code"], code, body)
                self.assertTrue(body["error"]["message"], body)
                self.assertEqual(body["error"].get("param"), param, body)
                self.assertTrue(h.get("x-request-id"))
        self.assertEqual(self.req("GET", "/v1/audit?limit=1000")[1], before)
        self.assertEqual(self.srv.request("GET", "/healthz")[:2], (200, {"ok": True}))


if __name__ == "__main__":
    unittest.main()
