#!/usr/bin/env python3
"""Seeds a database for the browser tests (tests/web/*.test.mjs) and serves it.

It starts the real ./fulfill server on a loopback port with a fresh database (SQLite,
or PostgreSQL under tests/with-postgres: tests/lib/fulfilltest.py's Env), seeds it
through the CLI and the HTTP API, prints one JSON line on stdout (the base URL, the API keys, the ids the tests look for) and keeps
the server up until its standard input closes; then it stops the server and removes the
database. Nothing of fulfill is faked; the only shortcut is that a few rewards' creation
and fulfilment times are moved back by whole days in the database (history for the
payout and aging charts, which a test cannot wait days for).

What it makes (programs, participants, rewards):
- p1 "Give $10, get $5" (USD credit, ledger, no hold): alice->carol, bob->dave and
  gina->hank bought; their rewards are fulfilled by a worker pass. A draft version 2
  (the referrer's amount 1000 -> 1500) is saved by the admin key `admin`, so that key's
  own approval is refused (403 same_author).
- rev (USD credit, every reward goes to review): ivan referred four friends: four
  rewards for ivan in review (amounts 1100..1400).
- cash (USD cash, manual, fulfiller acme): jack referred two: two approved rewards
  waiting for a batch (2500 each).
- yen (JPY credit 500, ledger): alice->kate: a fulfilled JPY reward for alice.
- held (USD credit 700, 30 days hold, monthly schedule): alice->lena: a pending reward
  for alice with hold_until and release_at.
- hook (USD credit 900 through a webhook connector whose endpoint refuses with 400):
  bob->mona: a failed reward (the exception queue).
- coupons (a coupon from the code pool "spring", which has no code yet): olive->pam:
  an approved reward held with reason pool_empty (the exception queue; uploading codes
  releases it).
Keys: one per console role, a second admin, two partners (alice, bob) and a fulfiller
key for acme.
"""
import json
import os
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
from fulfilltest import Env  # noqa: E402
from apiutil import receiver  # noqa: E402

DAY_MS = 86400000


def run_sql(env, statements):
    """Run (sql, params) pairs in one transaction behind the server's back, on the
    Env's SQLite file or its PostgreSQL database (psql; the values are integers and
    ids, written as literals)."""
    if env.db.startswith("sqlite:"):
        con = sqlite3.connect(env.db.removeprefix("sqlite:"), timeout=30)
        with con:
            for sql, params in statements:
                con.execute(sql, params)
        con.close()
        return
    def literal(v):
        return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"
    script = ["BEGIN;"]
    for sql, params in statements:
        parts = sql.split("?")
        script.append(parts[0] + "".join(literal(v) + rest for v, rest in zip(params, parts[1:])) + ";")
    script.append("COMMIT;")
    subprocess.run(["psql", env.db, "-qv", "ON_ERROR_STOP=1"], input="\n".join(script), text=True,
                   check=True, capture_output=True)


def program(pid, name, currency, rewards, **extra):
    p = {"id": pid, "name": name, "currency": currency, "trigger": "conversion", "eligibility": True,
         "rewards": rewards, "hold_days": 0, "fulfillment": {"credit": "ledger"}}
    p.update(extra)
    return p


PROGRAMS = [
    program("p1", "Give $10, get $5", "USD", [{"to": "referrer", "type": "credit", "amount": 1000},
                                               {"to": "referred", "type": "credit", "amount": 500}],
            eligibility={">=": [{"var": "conversion.amount"}, 5000]}),
    program("rev", "Reviewed referrals", "USD", [{"to": "referrer", "type": "credit", "amount": 1100}],
            review={"always": True}),
    program("cash", "Cash via acme", "USD", [{"to": "referrer", "type": "cash", "amount": 2500}],
            fulfillment={"cash": "manual", "fulfiller": "acme"}),
    program("yen", "Yen credit", "JPY", [{"to": "referrer", "type": "credit", "amount": 500}]),
    program("held", "Held a month", "USD", [{"to": "referrer", "type": "credit", "amount": 700}],
            hold_days=30, schedule="monthly"),
    program("hook", "Paid by our own endpoint", "USD", [{"to": "referrer", "type": "credit", "amount": 900}],
            fulfillment={"credit": "webhook"}),
    program("coupons", "A coupon per referral", "USD", [{"to": "referrer", "type": "coupon", "pool": "spring"}]),
]

PEOPLE = ["alice", "bob", "carol", "dave", "gina", "hank", "ivan", "jack", "kate", "lena", "mona", "nina",
          "rev1", "rev2", "rev3", "rev4", "cash1", "cash2",
          "olive", "pam"]


def must(resp, what, status=200):
    st, body, _ = resp
    if st != status:
        raise SystemExit(f"seed: {what}: {st} {body}")
    return body


def main():
    env = Env()
    try:
        seed(env)
    finally:
        env.close()


def seed(env):
    hook, _ = receiver(None, status=[400])  # refuses every reward: a permanent error
    env.cli("connectors", "set", "hook", "--type", "webhook", "--config",
            json.dumps({"url": f"{hook}/fulfil",
                        "secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"}), "--webhook-allow-hosts", "127.0.0.1", check=True)
    for p in PROGRAMS:
        env.cli("program", "load", env.write(p["id"] + ".json", json.dumps(p)), "--activate", check=True)
    keys = {role: env.key(role) for role in ("admin", "operator", "finance", "auditor")}
    keys["admin2"] = env.key("admin", "--name", "second admin")
    keys["fulfiller"] = env.key("fulfiller", "--name", "acme portal", "--fulfiller", "acme")
    srv = env.serve("--no-worker", "--webhook-allow-hosts", "127.0.0.1", "--web-root", os.path.join(ROOT, "web"))
    admin = keys["admin"]

    def api(method, path, body=None, status=200, **kw):
        return must(srv.request(method, path, body, key=admin, **kw), f"{method} {path}", status)

    events = []
    for who in PEOPLE:
        events.append({"id": "evt_p_" + who, "type": "participant",
                       "data": {"id": who, "email": who + "@example.com", "name": who.title(),
                                "country": "US", "currency": "USD", "status": "active"}})

    def earn(ref, prog, referrer, referred, order, amount=7500, currency="USD"):
        events.append({"id": "evt_" + ref, "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
                       "data": {"id": ref, "program": prog, "referrer": referrer, "referred": referred}})
        events.append({"id": "evt_" + order, "type": "conversion", "occurred_at": "2026-10-02T12:00:00Z",
                       "data": {"id": order, "participant": referred, "amount": amount, "currency": currency}})

    earn("ref_1", "p1", "alice", "carol", "ord_1")
    earn("ref_2", "p1", "bob", "dave", "ord_2")
    earn("ref_3", "p1", "gina", "hank", "ord_3")
    for i in range(1, 5):
        earn(f"ref_rev{i}", "rev", "ivan", f"rev{i}", f"ord_rev{i}")
    earn("ref_cash1", "cash", "jack", "cash1", "ord_cash1")
    earn("ref_cash2", "cash", "jack", "cash2", "ord_cash2")
    earn("ref_yen", "yen", "alice", "kate", "ord_yen", amount=9000, currency="JPY")
    earn("ref_held", "held", "alice", "lena", "ord_held")
    earn("ref_hook", "hook", "bob", "mona", "ord_hook")
    earn("ref_coupon", "coupons", "olive", "pam", "ord_coupon")
    earn("ref_small", "p1", "alice", "nina", "ord_small", amount=1000)  # below p1's minimum: no reward
    # alice "refers" herself under another address: a self-referral, rejected
    events.append({"id": "evt_ref_self", "type": "referral", "occurred_at": "2026-10-03T09:00:00Z",
                   "data": {"id": "ref_self", "program": "p1", "referrer": "alice", "referred": "olga",
                            "referred_email": "alice+promo@example.com"}})
    # and one friend has not bought anything yet
    events.append({"id": "evt_ref_wait", "type": "referral", "occurred_at": "2026-10-04T09:00:00Z",
                   "data": {"id": "ref_wait", "program": "p1", "referrer": "alice", "referred": "pete"}})
    body = api("POST", "/v1/events", "".join(json.dumps(e) + "\n" for e in events), ctype="application/x-ndjson")
    if body["rejected"]:
        raise SystemExit(f"seed: events rejected: {body}")
    api("POST", "/v1/jobs/run")
    for name, who in (("partner", "alice"), ("partner_bob", "bob")):
        keys[name] = api("POST", "/v1/api-keys", {"role": "partner", "name": who + " portal", "participant": who},
                         status=201)["key"]

    rewards = api("GET", "/v1/rewards?limit=1000")["data"]
    by = {}
    for r in rewards:
        by.setdefault(r["program"], []).append(r)
    review = sorted(r["id"] for r in by["rev"])
    # the review rewards differ in amount (1100, 1200, ...) so a test can tell them apart
    # in the table; the amounts come from the program, so move them in the database
    moves = []
    for i, rid in enumerate(review):
        moves.append(("UPDATE rewards SET amount = ? WHERE id = ?", (1100 + 100 * i, rid)))
    # history for the charts: p1's rewards were earned and paid over three days
    # (alice's two today, bob's two yesterday, gina's two the day before), and the
    # held reward has been pending for ten days (aging bucket 8-30)
    for r in by["p1"]:
        back = {"alice": 0, "carol": 0, "bob": 1, "dave": 1, "gina": 2, "hank": 2}[r["participant"]]
        if back:
            moves.append(("UPDATE rewards SET created_at = created_at - ?, fulfilled_at = fulfilled_at - ? "
                          "WHERE id = ?", (back * DAY_MS, back * DAY_MS, r["id"])))
    for r in by["held"]:
        moves.append(("UPDATE rewards SET created_at = created_at - ? WHERE id = ?", (10 * DAY_MS, r["id"])))
    run_sql(env, moves)

    # a draft version 2 of p1 by the admin key (its own approval is refused)
    v2 = dict(PROGRAMS[0], rewards=[{"to": "referrer", "type": "credit", "amount": 1500},
                                    {"to": "referred", "type": "credit", "amount": 500}])
    api("PUT", "/v1/programs/p1", v2, status=201)

    def ids(prog, who=None):
        return sorted(r["id"] for r in by[prog] if who is None or r["participant"] == who)

    out = {
        "base": f"http://127.0.0.1:{srv.port}",
        "keys": keys,
        "review": review,
        "cash": ids("cash"),
        "failed": ids("hook"),
        "alice": {"p1": ids("p1", "alice"), "yen": ids("yen"), "held": ids("held")},
        "bob": {"p1": ids("p1", "bob")},
        "held": by["held"][0],
        "pool_empty": ids("coupons"),
    }
    print(json.dumps(out), flush=True)
    sys.stdin.read()  # until the test closes our standard input


if __name__ == "__main__":
    main()
