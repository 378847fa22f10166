"""No personal data or secret in plain text at rest or in logs: after a full scenario
(participants with e-mails and names, referrals by e-mail, conversions, a worker pass,
an HTTP session with idempotency keys, API key and webhook secret creation, a blocklist
entry), every seeded e-mail, name, API key and webhook secret is searched for in the
database files and in the server's and CLI's logs. Only the database is scanned on
SQLite (PostgreSQL's files belong to the server)."""
import glob
import json
import os
import unittest

from fulfilltest import FulfillTest

EMAILS = ["jessica.jones@example.com", "Tom.Friend+promo@gmail.com", "mei.ling@example.org"]
NAMES = ["Jessica Jones", "Tomasz Przyjaciel", "Mei Ling"]
PROGRAM = {"id": "pii", "name": "PII", "currency": "USD", "eligibility": True,
           "rewards": [{"to": "referrer", "type": "credit", "amount": 1000},
                       {"to": "referred", "type": "credit", "amount": 500}]}


class PII(FulfillTest):
    def test_nothing_personal_in_plain_text(self):
        env = self.env
        env.cli("program", "load", env.write("p.json", json.dumps(PROGRAM)), "--activate", check=True)
        events = [
            {"id": "e1", "type": "participant", "data": {"id": "jessica", "email": EMAILS[0], "name": NAMES[0],
                                                         "country": "US"}},
            {"id": "e2", "type": "referral", "data": {"id": "r1", "program": "pii", "referrer": "jessica",
                                                      "referred_email": EMAILS[1]}},
            {"id": "e3", "type": "participant", "data": {"id": "mei", "email": EMAILS[2], "name": NAMES[2]}},
            {"id": "e4", "type": "participant", "data": {"id": "tomasz", "name": NAMES[1]}},
        ]
        env.cli("ingest", env.write("e.ndjson", "\n".join(json.dumps(e) for e in events) + "\n"), check=True)
        admin = env.key("admin")
        srv = env.serve()
        secrets = [admin]
        hdr = {"Idempotency-Key": "pii-1"}
        st, body, _ = srv.request("POST", "/v1/events", {"id": "e5", "type": "participant", "data": {
            "id": "mei2", "email": EMAILS[2], "name": NAMES[2]}}, key=admin, headers=hdr)
        self.assertEqual(st, 200, body)
        st, body, _ = srv.request("POST", "/v1/api-keys", {"role": "operator", "name": "ops"}, key=admin,
                                  headers={"Idempotency-Key": "pii-2"})
        self.assertEqual(st, 201, body)
        secrets.append(body["key"])
        st, body, _ = srv.request("POST", "/v1/webhook-endpoints", {"url": "https://93.184.216.34/hook"}, key=admin,
                                  headers={"Idempotency-Key": "pii-3"})
        self.assertEqual(st, 201, body)
        secrets.append(body["secret"])
        st, body, _ = srv.request("POST", "/v1/blocklist", {"kind": "email", "value": "blocked.person@example.net"},
                                  key=admin)
        self.assertEqual(st, 201, body)
        # the friend referred by e-mail converts; rewards are paid
        friend = srv.request("GET", "/v1/referrals/r1", key=admin)[1]["referred"]
        st, body, _ = srv.request("POST", "/v1/events", {"id": "e6", "type": "conversion", "data": {
            "id": "o1", "participant": friend, "amount": 100, "currency": "USD"}}, key=admin)
        self.assertEqual((st, len(body["rewards"])), (200, 2), body)
        self.assertEqual(srv.request("POST", "/v1/jobs/run", key=admin)[0], 200)
        # what an authorised reader sees is decrypted
        p = srv.request("GET", "/v1/participants/jessica", key=admin)[1]
        self.assertEqual((p["email"], p["name"]), (EMAILS[0], NAMES[0]))
        srv.proc.terminate()
        srv.proc.wait(10)
        self.assertEqual(env.cli("audit", "verify").returncode, 0)

        needles = EMAILS + [e.lower() for e in EMAILS] + NAMES + ["blocked.person@example.net"] + secrets
        files = glob.glob(os.path.join(env.dir, "*.log"))
        if env.db.startswith("sqlite:"):
            files += glob.glob(env.db[len("sqlite:"):] + "*")
            files = [f for f in files if not f.endswith(".key")]
            self.assertTrue(any(f.endswith(".db") for f in files))
        for path in files:
            data = open(path, "rb").read()
            for n in needles:
                self.assertFalse(n.encode() in data, f"{n!r} in plain text in {os.path.basename(path)}")


if __name__ == "__main__":
    unittest.main()
