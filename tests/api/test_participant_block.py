"""A blocked participant is not paid, over real HTTP (docs/fraud.md, "Blocked
participants"): a `participant` event that blocks someone holds that participant's
undelivered rewards for review at once (reason review:participant_blocked, in the
reward's history and the audit log); a worker pass (POST /v1/jobs/run) does not pay them,
a new batch leaves them out, redeeming credit and approving a held reward are refused
with 409 participant_blocked; bad input changes nothing; unblocking releases nothing by
itself, and an operator's approval then pays the reward exactly once."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import PROGRAM, Env, RequestHelpers, audit_all, ndjson, participant  # noqa: E402

CASH = {"id": "p2", "name": "Cash", "currency": "USD", "trigger": "conversion", "eligibility": True,
        "rewards": [{"to": "referrer", "type": "cash", "amount": 2500}], "hold_days": 0,
        "fulfillment": {"cash": "manual", "fulfiller": "acme"}}


def refer(rid, program, referrer, referred, order):
    return [{"id": "evt_" + rid, "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
             "data": {"id": rid, "program": program, "referrer": referrer, "referred": referred}},
            {"id": "evt_" + order, "type": "conversion", "occurred_at": "2026-10-02T12:00:00Z",
             "data": {"id": order, "participant": referred, "amount": 7500, "currency": "USD"}}]


def status_event(eid, pid, status):
    return {"id": eid, "type": "participant", "data": {"id": pid, "status": status}}


class ParticipantBlock(RequestHelpers, unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.addCleanup(self.env.close)
        for n, doc in (("p1.json", PROGRAM), ("p2.json", CASH)):
            self.env.cli("program", "load", self.env.write(n, json.dumps(doc)), "--activate", check=True)
        self.admin = self.env.key("admin")
        self.operator = self.env.key("operator")
        self.srv = self.env.serve("--no-worker")

    def post(self, event, status=200):
        return self.ok("POST", "/v1/events", event, status=status)

    def reward_of(self, who, referral):
        """`who`'s reward earned through `referral`, with its history."""
        rows = [r for r in self.ok("GET", f"/v1/rewards?participant={who}")["data"] if r["referral"] == referral]
        self.assertEqual(len(rows), 1, rows)
        return self.ok("GET", f"/v1/rewards/{rows[0]['id']}")

    def balance(self, who):
        bal = self.ok("GET", f"/v1/participants/{who}")["balances"]
        return {b["currency"]: b["amount"] for b in bal}.get("USD", 0)

    def test_block_stops_payment_until_unblocked_and_approved(self):
        people = [participant(p) for p in ("alice", "bob", "carol", "dave", "erin", "frank")]
        b = self.ok("POST", "/v1/events", ndjson(people + refer("ref_0", "p1", "alice", "erin", "ord_0")),
                    ctype="application/x-ndjson")
        self.assertEqual(b["rejected"], 0, b)
        self.ok("POST", "/v1/jobs/run", {})
        self.assertEqual(self.balance("alice"), 1000)
        events = (refer("ref_1", "p1", "alice", "carol", "ord_1") + refer("ref_2", "p2", "bob", "dave", "ord_2")
                  + refer("ref_3", "p2", "carol", "frank", "ord_3"))
        b = self.ok("POST", "/v1/events", ndjson(events), ctype="application/x-ndjson")
        self.assertEqual(b["rejected"], 0, b)
        # bad input changes nothing
        self.err("POST", "/v1/events", status_event("evt_bad", "alice", "Blocked"), 400, "invalid_request",
                 param="data.status")
        self.assertEqual(self.reward_of("alice", "ref_1")["status"], "approved")

        credit = self.reward_of("alice", "ref_1")["id"]
        self.post(status_event("evt_block_alice", "alice", "blocked"))
        self.post(status_event("evt_block_bob", "bob", "blocked"))
        for who, ref in (("alice", "ref_1"), ("bob", "ref_2")):
            r = self.reward_of(who, ref)
            self.assertEqual((r["status"], r["reason"]), ("review", "review:participant_blocked"), r)
            last = r["history"][-1]
            self.assertEqual((last["from"], last["to"], last["reason"]),
                             ("approved", "review", "review:participant_blocked"), r["history"])
        audit = audit_all(self.srv, self.admin)
        blocked = [a for a in audit if a["action"] == "participant.updated" and a["target"] == "alice"
                   and a["detail"].get("status") == "blocked"]
        self.assertEqual(len(blocked), 1, audit[-6:])
        self.assertEqual(blocked[0]["detail"]["rewards_held"], 1)
        self.assertTrue(any(a["action"] == "reward.review" and a["target"] == credit
                            and a["detail"].get("reason") == "review:participant_blocked" for a in audit))

        # the worker does not pay it, a new batch does not take it
        self.ok("POST", "/v1/jobs/run", {})
        self.assertEqual(self.reward_of("alice", "ref_1")["status"], "review")
        self.assertEqual(self.balance("alice"), 1000)
        self.assertEqual(self.reward_of("carol", "ref_1")["status"], "fulfilled")
        batch = self.ok("POST", "/v1/batches", {"fulfiller": "acme", "connector": "manual"}, status=201)
        self.assertEqual(batch["rewards"], [self.reward_of("carol", "ref_3")["id"]], batch)

        # redemption and approval are refused; the refusals change nothing
        self.err("POST", "/v1/participants/alice/redeem", {"amount": 500, "currency": "USD"}, 409,
                 "participant_blocked", key=self.operator)
        self.err("POST", "/v1/participants/alice/redeem", {"amount": -5, "currency": "USD"}, 400,
                 "invalid_amount", key=self.operator)
        self.err("POST", f"/v1/rewards/{credit}/approve", None, 409, "participant_blocked", key=self.operator)
        self.assertEqual(self.balance("alice"), 1000)
        self.assertEqual(self.reward_of("alice", "ref_1")["status"], "review")

        # unblocking releases nothing; the operator's approval pays it once
        self.post(status_event("evt_unblock_alice", "alice", "active"))
        self.ok("POST", "/v1/jobs/run", {})
        self.assertEqual(self.reward_of("alice", "ref_1")["status"], "review")
        got = self.ok("POST", f"/v1/rewards/{credit}/approve", None, key=self.operator)
        self.assertEqual(got["status"], "approved", got)
        self.ok("POST", "/v1/jobs/run", {})
        self.ok("POST", "/v1/jobs/run", {})
        self.assertEqual(self.reward_of("alice", "ref_1")["status"], "fulfilled")
        self.assertEqual(self.balance("alice"), 2000)
        self.ok("POST", "/v1/participants/alice/redeem", {"amount": 500, "currency": "USD"}, key=self.operator)
        self.assertEqual(self.balance("alice"), 1500)


if __name__ == "__main__":
    unittest.main()
