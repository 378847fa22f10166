#!/usr/bin/env python3
"""Fixture generator for tests/cli/test_upgrade.py: fills a database with an OLD fulfill
binary (built from git history), so that the current one can be shown to migrate it.

    git worktree add /tmp/old <rev> && make -C /tmp/old fulfill
    FULFILL_BIN=/tmp/old/fulfill python3 tests/cli/upgrade_fixture.py sqlite:/tmp/v5.db OUT.json
    sqlite3 /tmp/v5.db .dump > tests/cli/fixtures/schema_v5.sqlite.sql
    # PostgreSQL: the same with a postgres:// URL, then
    # pg_dump --no-owner --no-privileges URL > tests/cli/fixtures/schema_v5.pg.sql

It drives the old binary through the contract (API.md) only: two ledger programs (one
with review, one with a hold), a cash program paid in batches, participants, referrals,
conversions, a refund, rewards left in every status a live database has (pending,
review, approved, fulfilled, reconciled, cancelled, reversed), ledger credit and a
redemption, a batch reconciled and one left open, and their audit records. OUT.json
records what the old binary answered (rewards, balances, batches, audit count): the
test expects the same answers from the current binary after migrating."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import fulfilltest  # noqa: E402

PARTICIPANTS = ["ref1", "ref2", "ref3"] + [f"f{i}" for i in range(1, 10)]


def programs():
    ledger = {"id": "credit20", "name": "credit20", "currency": "USD", "trigger": "conversion",
              "eligibility": True, "rewards": [{"to": "referrer", "type": "credit", "amount": 2000},
                                               {"to": "referred", "type": "credit", "amount": 1000}],
              "hold_days": 0, "review": {"amount_at_least": 100000}, "fulfillment": {"credit": "ledger"}}
    big = dict(ledger, id="big", name="big", rewards=[{"to": "referrer", "type": "credit", "amount": 15000}],
               review={"amount_at_least": 10000})
    held = dict(ledger, id="held", name="held", rewards=[{"to": "referrer", "type": "credit", "amount": 500}],
                hold_days=3650)
    cash = {"id": "cash25", "name": "cash25", "currency": "USD", "trigger": "conversion", "eligibility": True,
            "rewards": [{"to": "referrer", "type": "cash", "amount": 2500}],
            "hold_days": 0, "fulfillment": {"cash": "manual", "fulfiller": "acme"}}
    return [ledger, big, held, cash]


def events():
    ev = [{"id": "evt_p_" + p, "type": "participant", "occurred_at": "2026-10-01T08:00:00Z",
           "data": {"id": p, "email": p + "@example.com", "name": "Name " + p, "country": "US",
                    "currency": "USD", "status": "active"}} for p in PARTICIPANTS]
    plan = [("credit20", "ref1", "f1"), ("credit20", "ref1", "f2"), ("big", "ref2", "f3"),
            ("big", "ref2", "f4"), ("held", "ref3", "f5"), ("held", "ref3", "f6"),
            ("cash25", "ref1", "f7"), ("cash25", "ref2", "f8"), ("cash25", "ref3", "f9")]
    for i, (prog, referrer, friend) in enumerate(plan):
        ev.append({"id": f"evt_r{i}", "type": "referral", "occurred_at": "2026-10-02T09:00:00Z",
                   "data": {"id": f"ref_{i}", "program": prog, "referrer": referrer, "referred": friend}})
        ev.append({"id": f"evt_c{i}", "type": "conversion", "occurred_at": "2026-10-03T12:00:00Z",
                   "data": {"id": f"ord_{i}", "participant": friend, "amount": 7500, "currency": "USD"}})
    return ev


def snapshot(srv, key):
    """What the test compares: every reward's status and amount, balances, batches,
    the number of audit records."""
    def get(path):
        st, body, _ = srv.request("GET", path, key=key)
        assert st == 200, (path, st, body)
        return body

    rewards = {}
    after = ""
    while True:
        page = get("/v1/rewards?limit=1000" + after)
        for r in page["data"]:
            rewards[r["id"]] = {k: r.get(k) for k in ("status", "amount", "currency", "participant", "program",
                                                      "batch", "conversion")}
        if not page["has_more"]:
            break
        after = "&starting_after=" + page["data"][-1]["id"]
    balances = {p: get("/v1/participants/" + p)["balances"] for p in PARTICIPANTS}
    batches = {b: {"status": get("/v1/batches/" + b)["status"]} for b in
               sorted({r["batch"] for r in rewards.values() if r["batch"]})}
    audit = get("/v1/audit/verify")
    return {"rewards": rewards, "balances": balances, "batches": batches, "audit_records": audit["records"]}


def main(db, out):
    env = fulfilltest.Env()
    env.env["FULFILL_DB"] = env.db = db
    try:
        for p in programs():
            env.cli("program", "load", env.write(p["id"] + ".json", json.dumps(p)), "--activate", check=True)
        admin = env.key("admin")
        srv = env.serve("--no-worker")

        def call(method, path, body=None, ok=(200, 201), **kw):
            st, b, _ = srv.request(method, path, body, key=admin, **kw)
            assert st in ok, (method, path, st, b)
            return b

        nd = "".join(json.dumps(e) + "\n" for e in events())
        res = call("POST", "/v1/events", nd, ctype="application/x-ndjson")
        assert res["rejected"] == 0, res
        by_conv = {}
        for r in call("GET", "/v1/rewards?limit=1000")["data"]:
            by_conv.setdefault(r["conversion"], []).append(r)
        # big: one approved from review, one rejected
        call("POST", f"/v1/rewards/{by_conv['ord_2'][0]['id']}/approve")
        call("POST", f"/v1/rewards/{by_conv['ord_3'][0]['id']}/reject", {"reason": "fraud"})
        # held: one cancelled, one left pending
        call("POST", f"/v1/rewards/{by_conv['ord_4'][0]['id']}/cancel", {"reason": "duplicate account"})
        call("POST", "/v1/jobs/run")  # ledger credit: fulfilled
        # a refund of a paid conversion: its ledger rewards reversed
        call("POST", "/v1/events", {"id": "evt_rf_1", "type": "refund",
                                    "data": {"conversion": "ord_1", "amount": 7500, "reason": "chargeback"}})
        call("POST", "/v1/participants/ref1/redeem", {"amount": 700, "currency": "USD"})
        # cash: a batch of two paid and reconciled, a batch left open
        cash = {c: by_conv[c][0]["id"] for c in ("ord_6", "ord_7", "ord_8")}
        b1 = call("POST", "/v1/batches", {"fulfiller": "acme", "currency": "USD"})
        assert sorted(b1["rewards"]) == sorted(cash.values()), b1
        # take ord_8's reward out again by cancelling it, then batch it alone later
        call("POST", f"/v1/rewards/{cash['ord_8']}/cancel", {"reason": "moved"})
        call("POST", f"/v1/batches/{b1['id']}/fulfill", {"reference": "CM-1"})
        report = "reward_id,amount,currency,reference\n" + "".join(
            f"{cash[c]},25.00,USD,CM-1\n" for c in ("ord_6", "ord_7"))
        rec = call("POST", f"/v1/batches/{b1['id']}/reconcile", report, ctype="text/csv")
        assert rec["status"] == "reconciled", rec
        # one more cash reward, batched and left open
        more = [{"id": "evt_r_x", "type": "referral", "occurred_at": "2026-10-04T09:00:00Z",
                 "data": {"id": "ref_x", "program": "cash25", "referrer": "ref3", "referred": "fx"}},
                {"id": "evt_c_x", "type": "conversion", "occurred_at": "2026-10-04T12:00:00Z",
                 "data": {"id": "ord_x", "participant": "fx", "amount": 7500, "currency": "USD"}}]
        call("POST", "/v1/events", "".join(json.dumps(e) + "\n" for e in more), ctype="application/x-ndjson")
        call("POST", "/v1/batches", {"fulfiller": "acme", "currency": "USD"})
        snap = snapshot(srv, admin)
        statuses = sorted({r["status"] for r in snap["rewards"].values()})
        for want in ("approved", "cancelled", "fulfilled", "pending", "reconciled", "reversed"):
            assert want in statuses, (want, statuses)
        with open(out, "w") as f:
            json.dump(snap, f, indent=1, sort_keys=True)
            f.write("\n")
    finally:
        env.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
