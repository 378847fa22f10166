"""Idempotency-Key on the SUCCESS path of every POST, PUT and DELETE route (API.md
"Idempotency"), table-driven over real HTTP.

For each row of ROUTES: the setup makes the request succeed; the request is sent with a
fresh Idempotency-Key (2xx, no Idempotent-Replayed header), then again with the same key
(the same status and byte-identical body, Idempotent-Replayed: true); the effect happened
once (the audit log grew on the first request and not on the replay, plus a per-route
observation where cheap: a balance, a history, a count); and GET /healthz still answers
(an abort in the server shows up as a connection error: the row fails naming the route,
with the tail of the server log, and the server is restarted on the same database so the
rows after it still run). At the end the server is restarted and every stored answer is
replayed again (the records live in the database). A last test fails when the router has
a write route that no row drives (src/http/router.c, and GET /v1/openapi.json, which is
generated from the route table, must agree).

Fixtures are the ones of the other API tests: apiutil's PROGRAM (ledger credit), the
same program with "review": {"always": true}, test_finance's cash-via-manual program
with fulfiller acme (batches), and apiutil's loopback receiver for a webhook
connector that answers 400 (failed rewards, for retry) and for webhook endpoints."""
import json
import os
import re
import sys
import types
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import PROGRAM, Env, conversion, ndjson, participant, receiver  # noqa: E402
from fulfilltest import ROOT  # noqa: E402
from test_finance import GOODS  # noqa: E402
from test_reward_actions import ALLOW  # noqa: E402

REVIEW = dict(PROGRAM, id="rv", name="Always reviewed", review={"always": True})
FAILING = dict(PROGRAM, id="wh", name="Paid by a webhook that answers 400", fulfillment={"credit": "webhook"})
WINDOW = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}


class Row:
    """One request to drive: `setup(t)` prepares the database and returns the request as
    a dict: path, and optionally body, ctype, key (a name: admin, admin2, operator,
    finance, acme), status (the expected success status, default 200), audited (the
    request adds audit records: default True) and observe (a function of no arguments
    whose value must change on the first request and not on the replay)."""

    def __init__(self, method, pattern, setup, name=""):
        self.method, self.pattern, self.setup, self.name = method, pattern, setup, name

    def __str__(self):
        return f"{self.method} {self.pattern}" + (f" ({self.name})" if self.name else "")


# ---- setups: each makes its own objects (unique ids), so rows do not depend on each other ----

def events_single(t):
    pid = t.uid("ev")
    return dict(path="/v1/events", body=participant(pid),
                observe=lambda: t.req("GET", f"/v1/participants/{pid}")[0])


def events_ndjson(t):
    a, b = t.uid("nda"), t.uid("ndb")
    return dict(path="/v1/events", body=ndjson([participant(a), participant(b)]), ctype="application/x-ndjson",
                observe=lambda: t.count("/v1/participants?limit=1000"))


def program_put(t):
    pid = t.uid("prog")
    return dict(path=f"/v1/programs/{pid}", body=dict(PROGRAM, id=pid, name=pid), key="operator", status=201,
                observe=lambda: t.versions(pid))


def program_approve(t):
    pid, v = t.draft()
    return dict(path=f"/v1/programs/{pid}/versions/{v}/approve", body={},
                observe=lambda: t.ok("GET", f"/v1/programs/{pid}/versions/{v}")["status"])


def program_activate(t):
    pid, v = t.draft()
    t.ok("POST", f"/v1/programs/{pid}/versions/{v}/approve", {})
    return dict(path=f"/v1/programs/{pid}/versions/{v}/activate", body={}, key="admin2",
                observe=lambda: t.ok("GET", f"/v1/programs/{pid}").get("active_version"))


def program_rollback(t):
    pid, v1 = t.draft()
    t.ok("POST", f"/v1/programs/{pid}/versions/{v1}/approve", {})
    t.ok("POST", f"/v1/programs/{pid}/versions/{v1}/activate", {}, key=t.keys["admin2"])
    v2 = t.ok("PUT", f"/v1/programs/{pid}", dict(PROGRAM, id=pid, name=pid + " v2"), status=201,
              key=t.keys["operator"])["version"]
    t.ok("POST", f"/v1/programs/{pid}/versions/{v2}/approve", {})
    t.ok("POST", f"/v1/programs/{pid}/versions/{v2}/activate", {}, key=t.keys["admin2"])
    return dict(path=f"/v1/programs/{pid}/rollback", body={"version": v1},
                observe=lambda: t.ok("GET", f"/v1/programs/{pid}").get("active_version"))


def program_simulate(t):
    # nothing is stored: no audit record, nothing to observe but the answer itself
    return dict(path="/v1/programs/p1/versions/1/simulate", body=WINDOW, audited=False)


def participant_redeem(t):
    _, referred = t.referral("p1")
    t.ok("POST", "/v1/jobs/run", {})  # the ledger credits are fulfilled: a balance to redeem
    return dict(path=f"/v1/participants/{referred}/redeem", body={"amount": 100, "currency": "USD"},
                observe=lambda: t.ok("GET", f"/v1/participants/{referred}")["balances"])


def participant_tax_form(t):
    pid = t.uid("tax")
    t.ok("POST", "/v1/events", participant(pid))
    return dict(path=f"/v1/participants/{pid}/tax-form", body={"form": "w9"}, key="finance",
                observe=lambda: t.ok("GET", f"/v1/participants/{pid}").get("tax_form"))


def reward_action(action, program, body, jobs_first=False):
    def setup(t):
        rewards, _ = t.referral(program)
        if jobs_first:
            t.ok("POST", "/v1/jobs/run", {})  # the receiver answers 400: the reward fails
        rid = rewards[0]
        return dict(path=f"/v1/rewards/{rid}/{action}", body=body, key="operator",
                    observe=lambda: [(h["from"], h["to"]) for h in t.ok("GET", f"/v1/rewards/{rid}")["history"]])
    return setup


def rewards_review(t):
    (r1, _), _ = t.referral("rv")
    (r2, _), _ = t.referral("rv")
    return dict(path="/v1/rewards/review", body={"approve": [r1], "reject": [r2], "reason": "checked"},
                key="operator", observe=lambda: [t.status(r1), t.status(r2)])


def connector_put(t):
    cid = t.uid("conn")
    return dict(path=f"/v1/connectors/{cid}", body={"type": "stripe", "config": {"api_key": "sk_test_idem1234"}},
                observe=lambda: t.req("GET", f"/v1/connectors/{cid}")[0])


def connector_delete(t):
    cid = t.uid("conndel")
    t.ok("PUT", f"/v1/connectors/{cid}", {"type": "stripe", "config": {"api_key": "sk_test_idem5678"}})
    return dict(path=f"/v1/connectors/{cid}", observe=lambda: t.req("GET", f"/v1/connectors/{cid}")[0])


def ledger_csv(t):
    """A newly fulfilled ledger credit, and a provider export that matches every fulfilled
    ledger credit (one left out would be missing: a disputed reconciliation, no reward
    reconciled)."""
    rewards, _ = t.referral("p1")
    t.ok("POST", "/v1/jobs/run", {})
    done = [r for r in t.ok("GET", "/v1/rewards?status=fulfilled&limit=1000")["data"] if r["connector"] == "ledger"]
    csv = "reward_id,amount,currency,reference\r\n" + "".join(
        f"{r['id']},{r['amount']},{r['currency']},{r['external_reference']}\r\n" for r in done)
    return rewards[0], csv


def connector_reconcile(t):
    rid, csv = ledger_csv(t)
    return dict(path="/v1/connectors/ledger/reconcile", body=csv, ctype="text/csv", key="finance",
                observe=lambda: t.status(rid))


def reconciliation_create(t):
    rid, csv = ledger_csv(t)
    return dict(path="/v1/reconciliations?connector=ledger", body=csv, ctype="text/csv", key="finance",
                observe=lambda: t.status(rid))


def code_pool_put(t):
    pool = t.uid("pool")
    return dict(path=f"/v1/code-pools/{pool}", body={"low_stock_threshold": 2, "per_participant_limit": 1},
                key="operator", observe=lambda: t.req("GET", f"/v1/code-pools/{pool}")[0])


def code_upload(csv):
    def setup(t):
        pool = t.uid("upl")
        t.ok("PUT", f"/v1/code-pools/{pool}", {"low_stock_threshold": 1})
        if csv:
            body, ctype = f"code\r\n{pool}-C1\r\n{pool}-C2\r\n", "text/csv"
        else:
            body, ctype = {"codes": [f"{pool}-J1", f"{pool}-J2", f"{pool}-J3"]}, None
        return dict(path=f"/v1/code-pools/{pool}/codes", body=body, ctype=ctype,
                    observe=lambda: t.ok("GET", f"/v1/code-pools/{pool}")["available"])
    return setup


def code_set_status(t):
    pool = t.uid("cst")
    t.ok("PUT", f"/v1/code-pools/{pool}", {"low_stock_threshold": 1})
    t.ok("POST", f"/v1/code-pools/{pool}/codes", {"codes": ["K1", "K2"]})
    return dict(path=f"/v1/code-pools/{pool}/codes/K1", body={"status": "void"},
                observe=lambda: t.ok("GET", f"/v1/code-pools/{pool}")["void"])


def webhook_create(t):
    return dict(path="/v1/webhook-endpoints", body={"url": t.hook_url + "/hooks/" + t.uid("we"),
                                                     "events": ["reward.fulfilled"]},
                status=201, observe=lambda: t.count("/v1/webhook-endpoints?limit=1000"))


def webhook_delete(t):
    wid = t.ok("POST", "/v1/webhook-endpoints", {"url": t.hook_url + "/hooks/del", "events": ["reward.fulfilled"]},
               status=201)["id"]
    return dict(path=f"/v1/webhook-endpoints/{wid}", observe=lambda: t.req("GET", f"/v1/webhook-endpoints/{wid}")[0])


def blocklist_add(t):
    value = t.uid("blk") + ".example"
    return dict(path="/v1/blocklist", body={"kind": "domain", "value": value, "note": "idem"}, status=201,
                key="operator", observe=lambda: json.dumps(t.ok("GET", "/v1/blocklist")).count(value))


def blocklist_delete(t):
    value = t.uid("unblk") + ".example"
    t.ok("POST", "/v1/blocklist", {"kind": "domain", "value": value}, status=201)
    return dict(path=f"/v1/blocklist?kind=domain&value={value}",
                observe=lambda: json.dumps(t.ok("GET", "/v1/blocklist")).count(value))


def tax_threshold_put(t):
    return dict(path="/v1/settings/tax/thresholds/DE", body={"amount": 50000, "currency": "EUR"}, key="finance",
                observe=lambda: json.dumps(t.ok("GET", "/v1/settings/tax")))


def tax_types_put(t):
    return dict(path="/v1/settings/tax/reportable-types", body={"types": ["cash"]}, key="finance",
                observe=lambda: json.dumps(t.ok("GET", "/v1/settings/tax")))


def fx_put(t):
    return dict(path="/v1/fx-rates", body={"reporting": "USD", "rates": {"EUR": "1.0845", "GBP": "1.27"}},
                key="finance", observe=lambda: json.dumps(t.ok("GET", "/v1/fx-rates")))


def fee_put(t):
    return dict(path="/v1/fees/manual", body={"currency": "USD", "fixed_amount": 25, "percent_bp": 100},
                key="finance", observe=lambda: json.dumps(t.ok("GET", "/v1/fees")))


def batch_create(t):
    t.referral("goods")
    t.ok("POST", "/v1/jobs/run", {})  # released: approved, waiting for acme's batch
    return dict(path="/v1/batches", body={"fulfiller": "acme", "connector": "manual"}, key="acme", status=201,
                observe=lambda: t.count("/v1/batches?limit=1000"))


def batch_step(step):
    """A batch of acme's brought to just before `step` (close, fulfill, reconcile)."""
    def setup(t):
        batch_create(t)
        batch = t.ok("POST", "/v1/batches", {"fulfiller": "acme", "connector": "manual"}, status=201,
                     key=t.keys["acme"])
        bid = batch["id"]
        observe = lambda: t.ok("GET", f"/v1/batches/{bid}")["status"]  # noqa: E731
        if step == "close":
            return dict(path=f"/v1/batches/{bid}/close", body={}, key="acme", observe=observe)
        t.ok("POST", f"/v1/batches/{bid}/close", {}, key=t.keys["acme"])
        if step == "fulfill":
            return dict(path=f"/v1/batches/{bid}/fulfill", body={"reference": bid}, key="acme", observe=observe)
        t.ok("POST", f"/v1/batches/{bid}/fulfill", {"reference": bid}, key=t.keys["acme"])
        csv = "reward_id,amount,currency,reference\r\n" + "".join(f"{r},2500,USD,{bid}\r\n" for r in batch["rewards"])
        return dict(path=f"/v1/batches/{bid}/reconcile", body=csv, ctype="text/csv", key="finance", observe=observe)
    return setup


def jobs_run(t):
    rewards, _ = t.referral("p1")  # something due: two pending ledger credits
    return dict(path="/v1/jobs/run", body={}, observe=lambda: [t.status(r) for r in rewards])


def key_create(t):
    return dict(path="/v1/api-keys", body={"role": "auditor", "name": t.uid("key")}, status=201)


def key_revoke(t):
    made = t.ok("POST", "/v1/api-keys", {"role": "auditor", "name": "to revoke"}, status=201)
    return dict(path=f"/v1/api-keys/{made['prefix']}",
                observe=lambda: t.srv.request("GET", "/v1/audit?limit=1", key=made["key"])[0])


ROUTES = [
    Row("POST", "/v1/events", events_single, "one event"),
    Row("POST", "/v1/events", events_ndjson, "NDJSON"),
    Row("PUT", "/v1/programs/{id}", program_put),
    Row("POST", "/v1/programs/{id}/versions/{version}/approve", program_approve),
    Row("POST", "/v1/programs/{id}/versions/{version}/activate", program_activate),
    Row("POST", "/v1/programs/{id}/rollback", program_rollback),
    Row("POST", "/v1/programs/{id}/versions/{version}/simulate", program_simulate),
    Row("POST", "/v1/participants/{id}/redeem", participant_redeem),
    Row("POST", "/v1/participants/{id}/tax-form", participant_tax_form),
    Row("POST", "/v1/rewards/{id}/approve", reward_action("approve", "rv", {})),
    Row("POST", "/v1/rewards/{id}/reject", reward_action("reject", "rv", {"reason": "self-referral"})),
    Row("POST", "/v1/rewards/{id}/retry", reward_action("retry", "wh", {}, jobs_first=True)),
    Row("POST", "/v1/rewards/{id}/cancel", reward_action("cancel", "rv", {"reason": "order disputed"})),
    Row("POST", "/v1/rewards/review", rewards_review),
    Row("PUT", "/v1/connectors/{id}", connector_put),
    Row("DELETE", "/v1/connectors/{id}", connector_delete),
    Row("POST", "/v1/connectors/{id}/reconcile", connector_reconcile),
    Row("POST", "/v1/reconciliations", reconciliation_create),
    Row("PUT", "/v1/code-pools/{id}", code_pool_put),
    Row("POST", "/v1/code-pools/{id}/codes", code_upload(csv=False), "JSON"),
    Row("POST", "/v1/code-pools/{id}/codes", code_upload(csv=True), "CSV"),
    Row("POST", "/v1/code-pools/{id}/codes/{code}", code_set_status),
    Row("POST", "/v1/webhook-endpoints", webhook_create),
    Row("DELETE", "/v1/webhook-endpoints/{id}", webhook_delete),
    Row("POST", "/v1/blocklist", blocklist_add),
    Row("DELETE", "/v1/blocklist", blocklist_delete),
    Row("PUT", "/v1/settings/tax/thresholds/{country}", tax_threshold_put),
    Row("PUT", "/v1/settings/tax/reportable-types", tax_types_put),
    Row("PUT", "/v1/fx-rates", fx_put),
    Row("PUT", "/v1/fees/{connector}", fee_put),
    Row("POST", "/v1/batches", batch_create),
    Row("POST", "/v1/batches/{id}/close", batch_step("close")),
    Row("POST", "/v1/batches/{id}/fulfill", batch_step("fulfill")),
    Row("POST", "/v1/batches/{id}/reconcile", batch_step("reconcile")),
    Row("POST", "/v1/jobs/run", jobs_run),
    Row("POST", "/v1/api-keys", key_create),
    Row("DELETE", "/v1/api-keys/{prefix}", key_revoke),
]

# Write routes no row can drive to success: {(method, pattern): "why"}. None at present:
# every route has a row above. A route listed here counts as covered by the last test, so
# the reason must be a real one (say so in the commit too).
NOT_DRIVEN = {}


def router_write_routes():
    """(method, pattern) of every POST/PUT/DELETE row of the route table in src/http/router.c."""
    with open(os.path.join(ROOT, "src", "http", "router.c")) as f:
        text = f.read()
    return set(re.findall(r'\{\s*"(POST|PUT|DELETE)",\s*"([^"]+)"', text))


class IdempotentWriteRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        cleanups = types.SimpleNamespace(addCleanup=cls.addClassCleanup)  # receiver() registers its cleanups
        # a permanent error: the webhook connector's rewards fail (for retry)
        cls.fail_url, _ = receiver(cleanups, [400])
        cls.hook_url, _ = receiver(cleanups, [200])  # webhook endpoints deliver here
        env.cli("connectors", "set", "payout_hook", "--type", "webhook", "--config",
                json.dumps({"url": cls.fail_url + "/issue", "secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"}), *ALLOW,
                check=True)
        for doc in (PROGRAM, REVIEW, FAILING, GOODS):
            env.cli("program", "load", env.write(doc["id"] + ".json", json.dumps(doc)), "--activate", check=True)
        cls.keys = {"admin": env.key("admin"), "admin2": env.key("admin"), "operator": env.key("operator"),
                    "finance": env.key("finance"), "acme": env.key("fulfiller", "--fulfiller", "acme")}
        cls.admin = cls.keys["admin"]
        cls.srv = env.serve("--no-worker", *ALLOW)
        cls.seq = 0

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    # ---- helpers for the setups ----

    def uid(self, tag):
        type(self).seq += 1
        return f"idem_{tag}_{self.seq}"

    def req(self, method, path, body=None, key=None, **kw):
        return self.srv.request(method, path, body, key=key or self.admin, **kw)

    def ok(self, method, path, body=None, status=200, key=None, **kw):
        st, resp, _ = self.req(method, path, body, key=key, **kw)
        self.assertEqual(st, status, f"setup: {method} {path}: {resp}")
        return resp

    def count(self, path):
        return len(self.ok("GET", path)["data"])

    def status(self, rid):
        return self.ok("GET", f"/v1/rewards/{rid}")["status"]

    def versions(self, pid):
        st, body, _ = self.req("GET", f"/v1/programs/{pid}")
        return len(body["versions"]) if st == 200 else 0

    def draft(self):
        pid = self.uid("prog")
        v = self.ok("PUT", f"/v1/programs/{pid}", dict(PROGRAM, id=pid, name=pid), status=201,
                    key=self.keys["operator"])["version"]
        return pid, v

    def referral(self, program):
        """A new referrer and referred person who bought, under `program`: returns (the
        ids of the new rewards, referrer first, the referred participant's id)."""
        a, b = self.uid("a"), self.uid("b")
        evs = [participant(a), participant(b),
               {"id": "evt_" + self.uid("ref"), "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
                "data": {"id": self.uid("ref"), "program": program, "referrer": a, "referred": b}},
               conversion(self.uid("ord"), b)]
        got = self.ok("POST", "/v1/events", ndjson(evs), ctype="application/x-ndjson")
        self.assertEqual(got["rejected"], 0, f"setup: {got}")
        ids = [r["id"] for who in (a, b) for r in self.ok("GET", f"/v1/participants/{who}/rewards")["data"]]
        self.assertTrue(ids, f"setup: no reward under {program}")
        return ids, b

    def audit_records(self):
        v = self.ok("GET", "/v1/audit/verify")
        self.assertIs(v["ok"], True, f"the audit chain is broken: {v}")
        return v["records"]

    def server_log(self):
        try:
            with open(os.path.join(self.env.dir, f"serve-{self.srv.port}.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError as e:
            return f"(no log: {e})"

    # ---- the table ----

    def send(self, row, call, idem):
        key = self.keys[call.get("key", "admin")]
        return self.srv.request(row.method, call["path"], call.get("body"), key=key, ctype=call.get("ctype"),
                                headers={"Idempotency-Key": idem}, raw=True)

    def drive(self, row, idem):
        call = row.setup(self)
        observe = call.get("observe")
        want = call.get("status", 200)
        audited = call.get("audited", True)
        what = f"{row} as {call['path']}"

        records0, seen0 = self.audit_records(), observe() if observe else None
        st1, b1, h1 = self.send(row, call, idem)
        self.assertEqual(st1, want, f"{what}: the first request with Idempotency-Key failed: {b1[:500]!r}")
        self.assertNotIn("idempotent-replayed", h1, f"{what}: the first request says it is a replay")
        records1, seen1 = self.audit_records(), observe() if observe else None
        if audited:
            self.assertGreater(records1, records0, f"{what}: the first request left no audit record")
        if observe:
            self.assertNotEqual(seen1, seen0, f"{what}: the first request had no visible effect")

        st2, b2, h2 = self.send(row, call, idem)
        self.assertEqual(h2.get("idempotent-replayed"), "true",
                         f"{what}: the replay lacks Idempotent-Replayed: true ({st2} {b2[:500]!r})")
        self.assertEqual(st2, st1, f"{what}: the replay has another status ({b2[:500]!r})")
        self.assertEqual(b2, b1, f"{what}: the replay is not byte-identical")
        self.assertEqual(h2.get("content-type"), h1.get("content-type"), f"{what}: the replay's Content-Type")
        self.assertEqual(self.audit_records(), records1, f"{what}: the replay added audit records (a second effect)")
        if observe:
            self.assertEqual(observe(), seen1, f"{what}: the replay had an effect again")
        self.stored.append((row, call, idem, st1, b1))

    def died(self, row, e, when):
        """The server stopped answering: fail naming the route, with its exit status and
        the tail of its log, after starting a fresh server on the same database for the
        rows after this one."""
        proc = self.srv.proc
        try:
            code = proc.wait(5)
        except Exception:  # noqa: BLE001  (still running: it stopped answering only)
            code = None
        log = self.server_log()
        type(self).srv = self.env.serve("--no-worker", *ALLOW)
        self.fail(f"{row}: the server stopped answering {when} ({e!r}); its exit status {code} "
                  f"(-6 is SIGABRT); the tail of its log:\n{log}")

    def test_every_write_route_replays_its_success(self):
        self.stored = []
        for i, row in enumerate(ROUTES):
            with self.subTest(route=str(row)):
                try:
                    self.drive(row, f"routes-{i}-{row.method}-{row.pattern}")
                except OSError as e:
                    self.died(row, e, "during the request")
                try:
                    st = self.srv.request("GET", "/healthz")[0]
                except OSError as e:
                    self.died(row, e, "after it (GET /healthz)")
                self.assertEqual(st, 200, f"{row}: GET /healthz after the route answered {st}")

        # the records are in the database, not in the process: a new server replays them
        self.srv.proc.terminate()
        self.assertEqual(self.srv.proc.wait(20), 0, "the server did not stop cleanly")
        type(self).srv = self.env.serve("--no-worker", *ALLOW)
        for row, call, idem, st1, b1 in self.stored:
            with self.subTest(route=str(row), after="restart"):
                st, b, h = self.send(row, call, idem)
                self.assertEqual((st, h.get("idempotent-replayed")), (st1, "true"),
                                 f"{row}: no replay after a restart ({st} {b[:500]!r})")
                self.assertEqual(b, b1, f"{row}: the replay after a restart is not byte-identical")

    def test_a_refusal_by_the_state_is_stored_like_a_success(self):
        """A 409 that is the request's outcome (insufficient_balance here) is the key's
        answer: a retry gets it again even after the state changed; a failed validation
        stores nothing and the key can be used again with a corrected body."""
        _, referred = self.referral("p1")
        path = f"/v1/participants/{referred}/redeem"
        body = {"amount": 100, "currency": "USD"}

        def redeem(idem, b=body):
            return self.srv.request("POST", path, b, key=self.admin, headers={"Idempotency-Key": idem}, raw=True)

        before = self.audit_records()
        st1, b1, h1 = redeem("refused-1")  # the credit is not fulfilled yet: no balance
        self.assertEqual(st1, 409, b1)
        self.assertEqual(json.loads(b1)["error"]["code"], "insufficient_balance")
        self.assertNotIn("idempotent-replayed", h1)
        self.ok("POST", "/v1/jobs/run", {})  # now there is a balance
        balances = self.ok("GET", f"/v1/participants/{referred}")["balances"]
        self.assertTrue(balances, "setup: no balance after the worker pass")
        after_pass = self.audit_records()
        st2, b2, h2 = redeem("refused-1")
        self.assertEqual((st2, b2), (st1, b1), "the stored refusal, byte for byte")
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertEqual(self.ok("GET", f"/v1/participants/{referred}")["balances"], balances, "nothing redeemed")
        self.assertEqual(self.audit_records(), after_pass)
        self.assertGreater(after_pass, before)
        st3, b3, _ = redeem("refused-1-bis")  # another key: the request runs, and succeeds
        self.assertEqual(st3, 200, b3)
        # a failed validation stores nothing: the same key with a corrected body runs
        st4, b4, _ = redeem("refused-2", {"amount": -5, "currency": "USD"})
        self.assertEqual(st4, 400, b4)
        st5, b5, h5 = redeem("refused-2")
        self.assertEqual(st5, 200, b5)
        self.assertNotIn("idempotent-replayed", h5)

    def test_table_covers_every_write_route(self):
        covered = {(r.method, r.pattern) for r in ROUTES} | set(NOT_DRIVEN)
        in_router = router_write_routes()
        self.assertGreaterEqual(len(in_router), 30, "could not read the route table from src/http/router.c")
        self.assertEqual(sorted(in_router - covered), [],
                         "write routes in src/http/router.c without a row in ROUTES (add one)")
        self.assertEqual(sorted(covered - in_router), [], "rows in ROUTES for routes the router does not have")
        doc = self.ok("GET", "/v1/openapi.json")
        in_openapi = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops
                      if m.upper() in ("POST", "PUT", "DELETE")}
        self.assertEqual(in_openapi, in_router, "GET /v1/openapi.json and src/http/router.c disagree")


if __name__ == "__main__":
    unittest.main()
