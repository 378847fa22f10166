"""The reward actions' success paths over real HTTP (API.md "Rewards", SPEC.md section 4):
approve and reject a reward in review (a program with "review": {"always": true}), retry a
failed one (fulfilled through a webhook connector whose endpoint answers 400, a permanent
error, until it is mended), cancel from review, approved and failed. Each answers 200
with the reward in its new status, adds one transition to the reward's history
(GET /v1/rewards/{id}) and one record to the audit log (GET /v1/audit)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import PROGRAM, Env, audit_all, conversion, ndjson, participant, receiver, referral  # noqa: E402

ALLOW = ("--webhook-allow-hosts", "127.0.0.1")


class RewardActions(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.addCleanup(self.env.close)

    def start(self, program, *serve_args):
        """Load `program` as p1, start a server (no worker), post alice->carol and
        bob->dave with a purchase each: four rewards. Returns {participant: reward id}."""
        self.env.cli("program", "load", self.env.write("p1.json", json.dumps(program)), "--activate", check=True)
        self.admin = self.env.key("admin")
        self.operator = self.env.key("operator")
        self.srv = self.env.serve("--no-worker", *serve_args)
        events = [participant(p) for p in ("alice", "bob", "carol", "dave")]
        events += [referral("ref_1", "alice", "carol"), conversion("ord_1", "carol"),
                   referral("ref_2", "bob", "dave"), conversion("ord_2", "dave")]
        b = self.ok("POST", "/v1/events", ndjson(events), ctype="application/x-ndjson")
        self.assertEqual((b["accepted"], b["rejected"]), (8, 0), b)
        rewards = {r["participant"]: r["id"] for r in self.ok("GET", "/v1/rewards?limit=1000")["data"]}
        self.assertEqual(sorted(rewards), ["alice", "bob", "carol", "dave"])
        return rewards

    def ok(self, method, path, body=None, status=200, key=None, **kw):
        st, resp, _ = self.srv.request(method, path, body, key=key or self.admin, **kw)
        self.assertEqual(st, status, f"{method} {path}: {resp}")
        return resp

    def audit(self):
        return audit_all(self.srv, self.admin)

    def state(self, rid):
        """(the reward with its history, the audit log) before an action."""
        return self.ok("GET", f"/v1/rewards/{rid}"), self.audit()

    def act(self, rid, action, body, before, frm, to, reason=None, key=None):
        """POST /v1/rewards/{rid}/{action} with `key`, then check the answer, the one new
        history entry and the one new audit record."""
        key = key or self.operator
        prev, prev_audit = before
        self.assertEqual(prev["status"], frm, prev)
        got = self.ok("POST", f"/v1/rewards/{rid}/{action}", body, key=key)
        self.assertEqual((got["id"], got["status"]), (rid, to), got)
        now = self.ok("GET", f"/v1/rewards/{rid}")
        self.assertEqual(now["status"], to, now)
        for field in ("participant", "amount", "currency", "program_version", "conversion"):
            self.assertEqual(now[field], prev[field], field)
        # history: the old entries unchanged, one more at the end
        hist = now["history"]
        self.assertEqual(hist[:-1], prev["history"])
        last = hist[-1]
        self.assertEqual((last["from"], last["to"]), (frm, to), hist)
        self.assertTrue(key.startswith(last["actor"].removeprefix("key:")), (last["actor"], key))
        self.assertTrue(last["actor"].startswith("key:fk_"), last)
        self.assertGreaterEqual(last["at"], prev["history"][-1]["at"])
        if reason:
            self.assertIn(reason, last["reason"])
        # audit: exactly one new record, for this reward and this transition
        records = self.audit()
        self.assertEqual(records[:len(prev_audit)], prev_audit)
        new = records[len(prev_audit):]
        self.assertEqual(len(new), 1, new)
        rec = new[0]
        self.assertEqual((rec["action"], rec["target"], rec["actor"]), (f"reward.{to}", rid, last["actor"]), rec)
        self.assertEqual((rec["detail"]["from"], rec["detail"]["to"]), (frm, to), rec)
        self.assertEqual(rec["detail"].get("reason"), last["reason"], rec)
        self.assertEqual(rec["prev_hash"], prev_audit[-1]["hash"], "the record extends the chain")
        self.assertEqual(self.ok("GET", "/v1/audit/verify"), {"ok": True, "records": len(records)})
        return got

    def statuses(self):
        return {r["participant"]: r["status"] for r in self.ok("GET", "/v1/rewards?limit=1000")["data"]}

    def test_approve_reject_cancel_from_review(self):
        r = self.start(dict(PROGRAM, review={"always": True}))
        self.assertEqual(self.statuses(), dict.fromkeys(r, "review"))
        for who in r:
            self.assertEqual(self.ok("GET", f"/v1/rewards/{r[who]}")["reason"], "review:always")

        # approve (no body, as `curl -X POST` sends it): hold_days 0, so straight to approved
        got = self.act(r["alice"], "approve", None, self.state(r["alice"]), "review", "approved")
        self.assertEqual(got["reason"], "awaiting_fulfillment", got)

        # reject with a reason: cancelled, and the reason is kept
        self.act(r["carol"], "reject", {"reason": "self-referral confirmed"}, self.state(r["carol"]),
                 "review", "cancelled", reason="self-referral confirmed")

        # cancel from review (admin this time), and cancel the approved one
        self.act(r["bob"], "cancel", {"reason": "order disputed"}, self.state(r["bob"]), "review", "cancelled",
                 reason="order disputed", key=self.admin)
        self.act(r["alice"], "cancel", {"reason": "chargeback"}, self.state(r["alice"]), "approved", "cancelled",
                 reason="chargeback")

        # the untouched reward is still waiting for a person, with its one history entry
        dave = self.ok("GET", f"/v1/rewards/{r['dave']}")
        self.assertEqual((dave["status"], len(dave["history"])), ("review", 1), dave)
        self.assertEqual(self.statuses(), {"alice": "cancelled", "bob": "cancelled", "carol": "cancelled",
                                           "dave": "review"})
        self.assertEqual([x["id"] for x in self.ok("GET", "/v1/rewards?status=review")["data"]], [r["dave"]])
        # a pass fulfils nothing: nothing is approved any more
        self.assertEqual(self.ok("POST", "/v1/jobs/run")["fulfilled"], 0)

    def test_retry_and_cancel_failed(self):
        status = [400]  # a 4xx other than 408/409/425/429 is a permanent error
        url, got = receiver(self, status)
        self.env.cli("connectors", "set", "payout_hook", "--type", "webhook", "--config",
                     json.dumps({"url": url + "/issue", "secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"}), *ALLOW,
                     check=True)
        r = self.start(dict(PROGRAM, fulfillment={"credit": "webhook"}), *ALLOW)
        counts = self.ok("POST", "/v1/jobs/run")
        self.assertEqual((counts["fulfilled"], counts["failed"]), (0, 4), counts)
        self.assertEqual(len(got), 4)
        self.assertEqual(self.statuses(), dict.fromkeys(r, "failed"))
        failed = self.ok("GET", f"/v1/rewards/{r['alice']}")
        self.assertEqual(failed["reason"], "permanent_error", failed)
        self.assertIn("400", failed["last_error"])

        # retry: back to approved, attempts and the last error cleared
        before = self.state(r["alice"])
        back = self.act(r["alice"], "retry", None, before, "failed", "approved", reason="retry")
        self.assertEqual((back["attempts"], back["last_error"]), (0, None), back)
        # cancel a failed reward
        self.act(r["carol"], "cancel", {"reason": "paid by hand"}, self.state(r["carol"]), "failed", "cancelled",
                 reason="paid by hand")

        # the endpoint is mended: the next pass fulfils the retried reward, and only it
        status[0] = 200
        counts = self.ok("POST", "/v1/jobs/run")
        self.assertEqual((counts["fulfilled"], counts["failed"]), (1, 0), counts)
        self.assertEqual(len(got), 5)
        self.assertEqual(self.statuses(), {"alice": "fulfilled", "carol": "cancelled", "bob": "failed",
                                           "dave": "failed"})
        done = self.ok("GET", f"/v1/rewards/{r['alice']}")
        self.assertEqual(done["external_reference"], "R5", done)
        self.assertEqual([(h["from"], h["to"]) for h in done["history"]],
                         [("created", "approved"), ("approved", "issuing"), ("issuing", "failed"),
                          ("failed", "approved"), ("approved", "issuing"), ("issuing", "fulfilled")])


if __name__ == "__main__":
    unittest.main()
