"""Shared fixtures for the HTTP API tests (tests/api/test_*.py).

seed() gives a database with one active program and a small referral graph:
alice referred carol (carol bought: rewards for alice and carol), bob referred dave
(dave bought: rewards for bob and dave). Everything goes through the real CLI and
the real HTTP API; nothing is faked.

Every server an API test starts (Env.serve) checks each answer it gives the test
against its own OpenAPI document (ValidatingServer, openapi_check.py): a success body
against the schema of its route, an error body against Error. A mismatch fails the
test that made the request."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import fulfilltest  # noqa: E402
from fulfilltest import Server  # noqa: E402,F401  (re-exported)
from openapi_check import check_answer  # noqa: E402


class ValidatingServer(Server):
    """A Server whose request() checks every answer against the server's OpenAPI document
    (loaded once, when the server is up) and raises AssertionError naming what does not
    match. `doc` may be replaced, e.g. by a test that proves a mismatch is caught."""

    doc = None

    def load_document(self):
        st, payload, hdrs = Server.request(self, "GET", "/v1/openapi.json", raw=True)
        if st != 200:
            raise AssertionError(f"GET /v1/openapi.json: {st} {payload[:200]!r}")
        self.doc = json.loads(payload)
        self.check("GET", "/v1/openapi.json", st, hdrs, payload)

    def check(self, method, path, status, headers, payload):
        problems = check_answer(self.doc, method, path, status, headers, payload)
        if problems:
            more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise AssertionError("the answer does not match GET /v1/openapi.json:\n" +
                                 "\n".join(problems[:20]) + more)

    def request(self, method, path, body=None, key=None, headers=None, ctype=None, raw=False):
        st, payload, hdrs = super().request(method, path, body, key=key, headers=headers, ctype=ctype,
                                            raw=True)
        if self.doc is not None:
            self.check(method, path, st, hdrs, payload)
        return (st, payload, hdrs) if raw else (st, self.decode(payload), hdrs)


class Env(fulfilltest.Env):
    """fulfilltest.Env whose servers are ValidatingServers."""

    server_class = ValidatingServer

    def serve(self, *extra):
        srv = super().serve(*extra)
        srv.load_document()
        return srv


class FulfillTest(fulfilltest.FulfillTest):
    """fulfilltest.FulfillTest with this module's Env."""

    def setUp(self):
        self.env = Env()

PROGRAM = {
    "id": "p1", "name": "P1", "currency": "USD", "trigger": "conversion", "eligibility": True,
    "rewards": [{"to": "referrer", "type": "credit", "amount": 1000},
                {"to": "referred", "type": "credit", "amount": 500}],
    "hold_days": 0, "fulfillment": {"credit": "ledger"},
}

ROLES = ["admin", "operator", "finance", "auditor", "ingest", "fulfiller", "partner"]


def receiver(test, status=None, raw=False):
    """A loopback fulfillment endpoint (a webhook connector's target, or a webhook
    endpoint) for the length of `test`: it answers status[0] (200 by default; a list, so
    the test can change it), {"reference": "R<n>"} on success. Returns (url, got): got
    lists (path, parsed JSON body) of every call, or with `raw` (headers dict with
    lower-case names, body bytes) - what a signature check needs. With test None it
    serves until the process ends."""
    status = status if status is not None else [200]
    got = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            data = self.rfile.read(n)
            got.append(({k.lower(): v for k, v in self.headers.items()}, data) if raw
                       else (self.path, json.loads(data or b"{}")))
            ok = status[0] < 300
            body = json.dumps({"reference": f"R{len(got)}"} if ok else {"error": "no such account"}).encode()
            self.send_response(status[0])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    if test is not None:
        test.addCleanup(srv.server_close)
        test.addCleanup(srv.shutdown)
    return f"http://127.0.0.1:{srv.server_address[1]}", got


def fault_shim(env, name):
    """tests/api/<name>.c compiled into a library to LD_PRELOAD, in env's directory."""
    out = os.path.join(env.dir, name + ".so")
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(["cc", "-shared", "-fPIC", "-o", out, os.path.join(here, name + ".c"), "-ldl"], check=True)
    return out


def eventually(check, timeout=5.0):
    """Run check() until it stops raising AssertionError (or the time is up, when its last
    failure is raised). For /metrics: the server counts a request when the connection
    reports it complete, which can be just after the client has read the answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def audit_all(srv, key):
    """Every audit record (GET /v1/audit, paging with starting_after), oldest first."""
    out, after = [], None
    while True:
        st, page, _ = srv.request("GET", "/v1/audit?limit=1000" + (f"&starting_after={after}" if after else ""),
                                  key=key)
        assert st == 200, page
        out += page["data"]
        if not page["has_more"]:
            return out
        after = page["data"][-1]["id"]


def participant(pid, country="US"):
    return {"id": "evt_p_" + pid, "type": "participant",
            "data": {"id": pid, "email": pid + "@example.com", "name": pid.title(), "country": country,
                     "currency": "USD", "status": "active"}}


def referral(rid, referrer, referred):
    return {"id": "evt_" + rid, "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
            "data": {"id": rid, "program": "p1", "referrer": referrer, "referred": referred}}


def conversion(oid, who, amount=7500):
    return {"id": "evt_" + oid, "type": "conversion", "occurred_at": "2026-10-02T12:00:00Z",
            "data": {"id": oid, "participant": who, "amount": amount, "currency": "USD"}}


def ndjson(events):
    return "".join(json.dumps(e) + "\n" for e in events)


class Seeded:
    """What seed() made: keys, server, reward ids per participant."""


class RequestHelpers:
    """req/ok/err against self.srv with the key default_key() names (self.admin)."""

    def default_key(self):
        return self.admin

    def req(self, method, path, body=None, key=None, **kw):
        return self.srv.request(method, path, body, key=key or self.default_key(), **kw)

    def ok(self, method, path, body=None, status=200, key=None, **kw):
        st, resp, _ = self.req(method, path, body, key=key, **kw)
        self.assertEqual(st, status, f"{method} {path}: {resp}")
        return resp

    def err(self, method, path, body, status, code, param=None, key=None, **kw):
        st, resp, _ = self.req(method, path, body, key=key, **kw)
        self.assertEqual(st, status, f"{method} {path}: {resp}")
        self.assertEqual(resp["error"]["code"], code, resp)
        self.assertTrue(resp["error"]["message"])
        if param:
            self.assertEqual(resp["error"].get("param"), param, resp)
        return resp


class SeededAPITest(RequestHelpers, unittest.TestCase):
    """A seeded database and server shared by a test class (seed()), an operator key, and
    request helpers that default to the admin key."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.s = seed(cls.env)
        cls.srv, cls.admin = cls.s.srv, cls.s.admin
        cls.operator = cls.env.key("operator")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()


def openapi_document():
    """GET /v1/openapi.json from a fresh server (started for it, then stopped)."""
    env = Env()
    try:
        _, doc, _ = env.serve("--no-worker").request("GET", "/v1/openapi.json")
        return doc
    finally:
        env.close()


def _expect(cond, what):
    if not cond:
        raise AssertionError(what)


def seed(env, *serve_args, env_extra=None):
    """Load the program, start a server (no worker) and post the referral graph."""
    if env_extra:
        env.env.update(env_extra)
    path = env.write("p1.json", json.dumps(PROGRAM))
    env.cli("program", "load", path, "--activate", check=True)
    s = Seeded()
    s.admin = env.key("admin")
    s.srv = env.serve("--no-worker", *serve_args)
    events = [participant(p) for p in ("alice", "bob", "carol", "dave")]
    events += [referral("ref_1", "alice", "carol"), conversion("ord_1", "carol"),
               referral("ref_2", "bob", "dave"), conversion("ord_2", "dave")]
    st, body, _ = s.srv.request("POST", "/v1/events", ndjson(events), key=s.admin, ctype="application/x-ndjson")
    _expect(st == 200 and body.get("rejected") == 0, f"seed events: {st} {body}")
    s.rewards = {}
    for who in ("alice", "bob", "carol", "dave"):
        st, body, _ = s.srv.request("GET", f"/v1/participants/{who}/rewards", key=s.admin)
        _expect(st == 200, f"seed rewards of {who}: {st} {body}")
        s.rewards[who] = [r["id"] for r in body["data"]]
    return s
