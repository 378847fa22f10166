"""The role matrix of docs/api-roles.md over real HTTP: every route x every role.
Allowed cells must get past authorization (not 401/403), forbidden cells get
403 forbidden. Scoped keys (partner, fulfiller) get 404 for objects outside their
scope, and a revoked key gets 401."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import PROGRAM, ROLES, Env, seed  # noqa: E402

READ = {"admin", "operator", "finance", "auditor"}

# (method, path, body, roles allowed) - the table of docs/api-roles.md
MATRIX = [
    ("POST", "/v1/events", {"id": "m_evt", "type": "participant", "data": {"id": "m1", "country": "US", "currency": "USD", "status": "active"}}, {"admin", "ingest"}),
    ("GET", "/v1/programs", None, READ),
    ("PUT", "/v1/programs/p_matrix", dict(PROGRAM, id="p_matrix"), {"admin", "operator"}),
    ("GET", "/v1/programs/p1", None, READ),
    ("GET", "/v1/programs/p1/versions/1", None, READ),
    ("GET", "/v1/programs/p1/diff?from=1&to=1", None, READ),
    ("POST", "/v1/programs/nope/versions/1/approve", {}, {"admin"}),
    ("POST", "/v1/programs/nope/versions/1/activate", {}, {"admin"}),
    ("POST", "/v1/programs/nope/rollback", {"version": 1}, {"admin"}),
    ("GET", "/v1/participants", None, READ),
    ("GET", "/v1/participants/alice", None, READ | {"partner"}),
    ("GET", "/v1/participants/alice/referrals", None, READ | {"partner"}),
    ("GET", "/v1/participants/alice/rewards", None, READ | {"partner"}),
    ("POST", "/v1/participants/nobody/redeem", {"amount": 1, "currency": "USD"}, {"admin", "operator"}),
    ("POST", "/v1/participants/nobody/tax-form", {"form": "w9"}, {"admin", "operator", "finance"}),
    ("GET", "/v1/referrals/ref_1", None, READ | {"partner"}),
    ("GET", "/v1/conversions/ord_1", None, READ),
    ("GET", "/v1/rewards", None, READ | {"fulfiller"}),
    ("GET", "/v1/rewards/{alice_reward}", None, READ | {"partner", "fulfiller"}),
    ("GET", "/v1/rewards/{alice_reward}/explain", None, READ | {"partner"}),
    ("POST", "/v1/rewards/rwd_nope/approve", {}, {"admin", "operator"}),
    ("POST", "/v1/rewards/rwd_nope/reject", {"reason": "x"}, {"admin", "operator"}),
    ("POST", "/v1/rewards/rwd_nope/retry", {}, {"admin", "operator"}),
    ("POST", "/v1/rewards/rwd_nope/cancel", {"reason": "x"}, {"admin", "operator"}),
    ("POST", "/v1/programs/p1/versions/1/simulate", {"from": "2026-01-01T00:00:00Z"}, {"admin", "operator"}),
    ("GET", "/v1/connectors", None, {"admin", "operator", "auditor"}),
    ("PUT", "/v1/connectors/c_matrix", {"type": "stripe", "config": {"api_key": "sk_test_matrix1234"}}, {"admin"}),
    ("GET", "/v1/connectors/c_nope", None, {"admin", "operator", "auditor"}),
    ("DELETE", "/v1/connectors/c_nope", None, {"admin"}),
    ("POST", "/v1/connectors/c_nope/reconcile", ("reward_id,amount,currency,reference\r\n", "text/csv"),
     {"admin", "finance"}),
    ("POST", "/v1/reconciliations?connector=c_nope", ("reward_id,amount,currency,reference\r\n", "text/csv"),
     {"admin", "finance"}),
    ("GET", "/v1/code-pools", None, READ),
    ("PUT", "/v1/code-pools/pool_m", {"low_stock_threshold": 5}, {"admin", "operator"}),
    ("GET", "/v1/code-pools/pool_m", None, READ),
    ("POST", "/v1/code-pools/pool_m/codes", {"codes": ["M1"]}, {"admin", "operator"}),
    ("POST", "/v1/code-pools/pool_m/codes/NOPE", {"status": "void"}, {"admin", "operator"}),
    ("GET", "/v1/webhook-endpoints", None, {"admin", "operator", "auditor"}),
    ("POST", "/v1/webhook-endpoints", {"url": "https://93.184.216.34/hook"}, {"admin"}),
    ("GET", "/v1/webhook-endpoints/we_nope", None, {"admin", "operator", "auditor"}),
    ("DELETE", "/v1/webhook-endpoints/we_nope", None, {"admin"}),
    ("GET", "/v1/webhook-endpoints/we_nope/deliveries", None, {"admin", "operator", "auditor"}),
    ("GET", "/v1/notifications", None, {"admin", "operator", "auditor"}),
    ("POST", "/v1/rewards/review", {"approve": ["rwd_nope"]}, {"admin", "operator"}),
    ("GET", "/v1/blocklist", None, {"admin", "operator", "auditor"}),
    ("POST", "/v1/blocklist", {"kind": "domain", "value": "spam.example"}, {"admin", "operator"}),
    ("DELETE", "/v1/blocklist?kind=domain&value=spam.example", None, {"admin", "operator"}),
    ("GET", "/v1/settings/tax", None, {"admin", "finance", "auditor"}),
    ("PUT", "/v1/settings/tax/thresholds/US", {"amount": 60000, "currency": "USD"}, {"admin", "finance"}),
    ("PUT", "/v1/settings/tax/reportable-types", {"types": ["cash", "gift_card"]}, {"admin", "finance"}),
    ("GET", "/v1/fx-rates", None, {"admin", "finance", "auditor"}),
    ("PUT", "/v1/fx-rates", {"reporting": "USD", "rates": {"EUR": "1.08"}}, {"admin", "finance"}),
    ("GET", "/v1/fees", None, {"admin", "finance", "auditor"}),
    ("PUT", "/v1/fees/manual", {"currency": "USD", "fixed_amount": 10, "percent_bp": 0}, {"admin", "finance"}),
    ("GET", "/v1/batches", None, {"admin", "finance", "auditor", "fulfiller"}),
    ("POST", "/v1/batches", {"fulfiller": "acme"}, {"admin", "finance", "fulfiller"}),
    ("GET", "/v1/batches/bat_nope", None, {"admin", "finance", "auditor", "fulfiller"}),
    ("GET", "/v1/batches/bat_nope/report.csv", None, {"admin", "finance", "auditor", "fulfiller"}),
    ("POST", "/v1/batches/bat_nope/close", {}, {"admin", "finance", "fulfiller"}),
    ("POST", "/v1/batches/bat_nope/fulfill", {"reference": "CM-1"}, {"admin", "finance", "fulfiller"}),
    ("POST", "/v1/batches/bat_nope/reconcile", ("reward_id,amount,currency,reference\r\n", "text/csv"),
     {"admin", "finance"}),
    ("GET", "/v1/reports/payouts", None, {"admin", "finance", "auditor"}),
    ("GET", "/v1/reports/aging", None, READ),
    ("GET", "/v1/reports/tax?year=2026", None, {"admin", "finance", "auditor"}),
    ("GET", "/v1/reports/kpis", None, READ),
    ("GET", "/v1/reports/credit-status", None, {"admin", "finance", "auditor", "fulfiller"}),
    ("POST", "/v1/jobs/run", {}, {"admin"}),
    ("GET", "/v1/reports/participants", None, READ),
    ("POST", "/v1/api-keys", {"role": "auditor", "name": "matrix"}, {"admin"}),
    ("DELETE", "/v1/api-keys/fk_admin_nothing", None, {"admin"}),
    ("GET", "/v1/me", None, set(ROLES)),
    ("GET", "/v1/audit", None, {"admin", "auditor"}),
    ("GET", "/v1/audit/verify", None, {"admin", "auditor"}),
]

PUBLIC = ["/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/console", "/portal"]


class Roles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.s = seed(cls.env)
        cls.keys = {}
        for role in ROLES:
            extra = ()
            if role == "partner":
                extra = ("--participant", "alice")
            elif role == "fulfiller":
                extra = ("--fulfiller", "acme")
            cls.keys[role] = cls.env.key(role, *extra)

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def path(self, p):
        return p.replace("{alice_reward}", self.s.rewards["alice"][0])

    def call(self, method, path, body, key):
        ctype = None
        if isinstance(body, tuple):
            body, ctype = body
        return self.s.srv.request(method, self.path(path), body, key=key, ctype=ctype)

    def test_matrix(self):
        self.assertTrue(self.s.rewards["alice"], "seed produced no reward for alice")
        for method, path, body, allowed in MATRIX:
            for role in ROLES:
                with self.subTest(route=f"{method} {path}", role=role):
                    st, resp, _ = self.call(method, path, body, self.keys[role])
                    if role in allowed:
                        self.assertNotIn(st, (401, 403), resp)
                    else:
                        self.assertEqual(st, 403, resp)
                        self.assertEqual(resp["error"]["code"], "forbidden")

    def test_matrix_covers_every_route(self):
        _, doc, _ = self.s.srv.request("GET", "/v1/openapi.json")
        documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item
                      if item[m].get("x-roles")}
        tested = set()
        for method, path, _, allowed in MATRIX:
            bare = path.split("?")[0]
            matched = False
            for p, item in doc["paths"].items():
                parts, want = p.split("/"), bare.split("/")
                if len(parts) == len(want) and all(a == b or a.startswith("{") for a, b in zip(parts, want)) \
                        and method.lower() in item:
                    matched = True
                    tested.add((method, p))
                    self.assertEqual(set(item[method.lower()]["x-roles"]), allowed, (method, p))
            # a row that matches nothing tests nothing: a renamed route must fail here
            self.assertTrue(matched, f"matrix row {method} {path} matches no documented route")
        self.assertEqual(documented - tested, set())

    def test_docs_table_matches_server(self):
        """docs/api-roles.md is the same table the server enforces."""
        doc_path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "api-roles.md")
        with open(doc_path) as f:
            rows = [l for l in f.read().splitlines()
                    if l.split("|")[1:2] and l.split("|")[1].strip() in ("GET", "POST", "PUT", "DELETE")]
        table = {}
        for row in rows:
            cells = [c.strip() for c in row.strip("|").split("|")]
            roles = {r for r, c in zip(ROLES, cells[2:]) if c in ("yes", "own")}
            table[(cells[0], cells[1].strip("`"))] = roles
        _, doc, _ = self.s.srv.request("GET", "/v1/openapi.json")
        served = {(m.upper(), p): set(item[m]["x-roles"]) for p, item in doc["paths"].items() for m in item
                  if item[m]["x-roles"]}
        self.assertEqual(table, served)

    def test_public_routes_need_no_key(self):
        for p in PUBLIC:
            self.assertEqual(self.s.srv.request("GET", p)[0], 200, p)

    def test_unknown_key_is_401_on_every_route(self):
        for method, path, body, _ in MATRIX:
            st, resp, _ = self.call(method, path, body, "fk_admin_notarealkey")
            self.assertEqual(st, 401, (method, path, resp))

    def test_partner_sees_only_itself(self):
        k, srv, rw = self.keys["partner"], self.s.srv, self.s.rewards
        self.assertEqual(srv.request("GET", "/v1/participants/alice", key=k)[0], 200)
        self.assertEqual(srv.request("GET", "/v1/participants/alice/rewards", key=k)[0], 200)
        self.assertEqual(srv.request("GET", f"/v1/rewards/{rw['alice'][0]}", key=k)[0], 200)
        self.assertEqual(srv.request("GET", "/v1/referrals/ref_1", key=k)[0], 200)
        for p in ("/v1/participants/bob", "/v1/participants/bob/referrals", "/v1/participants/bob/rewards",
                  f"/v1/rewards/{rw['bob'][0]}", f"/v1/rewards/{rw['bob'][0]}/explain", "/v1/referrals/ref_2",
                  "/v1/participants/nobody"):
            st, body, _ = srv.request("GET", p, key=k)
            self.assertEqual(st, 404, (p, body))
            self.assertEqual(body["error"]["code"], "not_found")

    def test_fulfiller_sees_only_its_own(self):
        k, srv, rw = self.keys["fulfiller"], self.s.srv, self.s.rewards
        # the seeded rewards are fulfilled by "self", not by acme
        st, body, _ = srv.request("GET", f"/v1/rewards/{rw['alice'][0]}", key=k)
        self.assertEqual(st, 404, body)
        st, body, _ = srv.request("GET", "/v1/rewards", key=k)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["data"], [])

    def test_revoked_key_is_401(self):
        st, body, _ = self.s.srv.request("POST", "/v1/api-keys", {"role": "partner", "participant": "alice"},
                                         key=self.s.admin)
        self.assertEqual(st, 201, body)
        key = body["key"]
        self.assertEqual(self.s.srv.request("GET", "/v1/participants/alice", key=key)[0], 200)
        self.assertEqual(self.s.srv.request("DELETE", f"/v1/api-keys/{body['prefix']}", key=self.s.admin)[0], 200)
        st, body, _ = self.s.srv.request("GET", "/v1/participants/alice", key=key)
        self.assertEqual(st, 401, body)

    def test_key_revoked_by_the_cli_is_refused_within_a_second(self):
        """A running server remembers an accepted key for a second (auth.c); a key revoked
        elsewhere - the CLI, another server - is refused once that second is over."""
        j = self.env.cli_json("keys", "create", "--role", "auditor")
        self.assertEqual(self.s.srv.request("GET", "/v1/audit?limit=1", key=j["key"])[0], 200)
        r = self.env.cli("keys", "revoke", j["prefix"])
        self.assertEqual(r.returncode, 0, r.stderr)
        t0 = time.monotonic()
        while True:
            st, body, _ = self.s.srv.request("GET", "/v1/audit?limit=1", key=j["key"])
            if st != 200 or time.monotonic() - t0 > 5:
                break
            time.sleep(0.05)
        self.assertEqual((st, body["error"]["code"]), (401, "unauthorized"), body)
        self.assertLess(time.monotonic() - t0, 2.0)


if __name__ == "__main__":
    unittest.main()
