"""Idempotency-Key (API.md) and group commit of single events, over real HTTP:
a replay is byte-identical and says Idempotent-Replayed: true; another body under the
same key is 422; 50 concurrent identical requests have exactly one effect and every
answer is the stored one or 409 idempotency_key_in_use; 64 concurrent single-event
posts are all accepted and durable (they survive a restart)."""
import concurrent.futures
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, audit_all, participant  # noqa: E402


class Idempotency(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.admin = cls.env.key("admin")
        cls.other = cls.env.key("admin")
        cls.srv = cls.env.serve("--no-worker")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def post(self, path, body, key=None, idem=None, **kw):
        h = {"Idempotency-Key": idem} if idem else {}
        return self.srv.request("POST", path, body, key=key or self.admin, headers=h, raw=True, **kw)

    def test_event_replay_is_byte_identical(self):
        ev = participant("idem_a")
        st1, b1, h1 = self.post("/v1/events", ev, idem="ev-1")
        st2, b2, h2 = self.post("/v1/events", ev, idem="ev-1")
        self.assertEqual(st1, 200, b1)
        self.assertEqual(json.loads(b1)["outcome"], "accepted")
        self.assertNotIn("idempotent-replayed", h1)
        self.assertEqual((st2, b2), (st1, b1))
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertTrue(h2.get("x-request-id"))
        # without the key the same event is a duplicate, not a replay
        st3, b3, h3 = self.post("/v1/events", ev)
        self.assertEqual(json.loads(b3)["outcome"], "duplicate")

    def test_different_body_same_key_is_422(self):
        st, _, _ = self.post("/v1/events", participant("idem_b"), idem="ev-2")
        self.assertEqual(st, 200)
        st, b, _ = self.post("/v1/events", participant("idem_c"), idem="ev-2")
        self.assertEqual(st, 422)
        self.assertEqual(json.loads(b)["error"]["code"], "idempotency_key_reused")
        st, _, _ = self.srv.request("GET", "/v1/participants/idem_c", key=self.admin)
        self.assertEqual(st, 404)  # nothing happened
        # the same key under another API key is another scope
        st, b, _ = self.post("/v1/events", participant("idem_c"), key=self.other, idem="ev-2")
        self.assertEqual(st, 200, b)

    def test_same_key_other_path_is_422(self):
        st, _, _ = self.post("/v1/api-keys", {"role": "auditor"}, idem="path-1")
        self.assertEqual(st, 201)
        st, b, _ = self.post("/v1/participants/nobody/tax-form", {"role": "auditor"}, idem="path-1")
        self.assertEqual(st, 422, b)

    def test_non_event_replay(self):
        st1, b1, h1 = self.post("/v1/api-keys", {"role": "auditor", "name": "idem"}, idem="key-1")
        st2, b2, h2 = self.post("/v1/api-keys", {"role": "auditor", "name": "idem"}, idem="key-1")
        self.assertEqual(st1, 201, b1)
        self.assertEqual((st2, b2), (st1, b1))  # the same key string: created once
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        new_key = json.loads(b1)["key"]
        self.assertEqual(self.srv.request("GET", "/v1/audit", key=new_key)[0], 200)

    def test_query_string_is_part_of_the_request(self):
        for v in ("a.idem.example", "b.idem.example"):
            st, b, _ = self.post("/v1/blocklist", {"kind": "domain", "value": v})
            self.assertEqual(st, 201, b)

        def delete(value, idem):
            return self.srv.request("DELETE", f"/v1/blocklist?kind=domain&value={value}", key=self.admin,
                                    headers={"Idempotency-Key": idem}, raw=True)
        st1, b1, _ = delete("a.idem.example", "q-1")
        self.assertEqual(st1, 200, b1)
        st2, b2, h2 = delete("a.idem.example", "q-1")
        self.assertEqual((st2, b2, h2.get("idempotent-replayed")), (st1, b1, "true"))
        # the same key, another query: not a replay of the first delete
        st, b, h = delete("b.idem.example", "q-1")
        self.assertEqual(st, 422, b)
        self.assertEqual(json.loads(b)["error"]["code"], "idempotency_key_reused")
        self.assertNotIn("idempotent-replayed", h)
        listed = self.srv.request("GET", "/v1/blocklist", key=self.admin, raw=True)[1].decode()
        self.assertIn("b.idem.example", listed)  # nothing happened
        self.assertNotIn("a.idem.example", listed)
        # arguments in another order are another request too (the key says "the same")
        st, b, _ = self.srv.request("DELETE", "/v1/blocklist?value=b.idem.example&kind=domain", key=self.admin,
                                    headers={"Idempotency-Key": "q-1"}, raw=True)
        self.assertEqual(st, 422, b)

    def test_worker_pass_with_a_key(self):
        # a worker pass commits chunk by chunk: its record follows it, and a replay
        # does not run it again
        st1, b1, h1 = self.post("/v1/jobs/run", {}, idem="pass-1")
        self.assertEqual(st1, 200, b1)
        self.assertNotIn("idempotent-replayed", h1)
        self.assertIn("fulfilled", json.loads(b1))
        st2, b2, h2 = self.post("/v1/jobs/run", {}, idem="pass-1")
        self.assertEqual((st2, b2, h2.get("idempotent-replayed")), (st1, b1, "true"))
        st, b, _ = self.post("/v1/jobs/run", {"now": 1}, idem="pass-1")
        self.assertEqual(st, 422, b)
        st, b, _ = self.post("/v1/jobs/run", {"now": 1}, idem="pass-2")
        self.assertEqual(st, 400, b)  # unknown_field: nothing stored
        st, b, h = self.post("/v1/jobs/run", {}, idem="pass-2")
        self.assertEqual(st, 200, b)
        self.assertNotIn("idempotent-replayed", h)
        self.assertEqual(self.srv.request("GET", "/healthz")[0], 200)

    def test_failed_request_stores_nothing(self):
        st, b, _ = self.post("/v1/api-keys", {"role": "wizard"}, idem="fail-1")
        self.assertEqual(st, 400, b)
        st, b, h = self.post("/v1/api-keys", {"role": "auditor"}, idem="fail-1")
        self.assertEqual(st, 201, b)
        self.assertNotIn("idempotent-replayed", h)
        st, b, _ = self.post("/v1/events", {"id": "bad", "type": "nonsense"}, idem="fail-2")
        self.assertIn(st, (400, 422))
        st, b, h = self.post("/v1/events", participant("idem_f"), idem="fail-2")
        self.assertEqual(st, 200, b)

    def test_ndjson_replay(self):
        body = "".join(json.dumps(participant(f"nd_{i}")) + "\n" for i in range(3))
        st1, b1, _ = self.post("/v1/events", body, idem="nd-1", ctype="application/x-ndjson")
        st2, b2, h2 = self.post("/v1/events", body, idem="nd-1", ctype="application/x-ndjson")
        self.assertEqual(st1, 200)
        self.assertEqual(json.loads(b1)["accepted"], 3)
        self.assertEqual((st2, b2), (st1, b1))
        self.assertEqual(h2.get("idempotent-replayed"), "true")

    def concurrent(self, n, fn):
        with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
            return list(ex.map(fn, range(n)))

    def test_50_concurrent_identical_events(self):
        ev = participant("conc_ev")
        answers = self.concurrent(50, lambda _: self.post("/v1/events", ev, idem="conc-ev"))
        ok = [a for a in answers if a[0] == 200]
        busy = [a for a in answers if a[0] == 409]
        self.assertEqual(len(ok) + len(busy), 50, [a[:2] for a in answers])
        for st, b, _ in busy:
            self.assertEqual(json.loads(b)["error"]["code"], "idempotency_key_in_use")
        self.assertEqual(len({b for _, b, _ in ok}), 1, "different answers for one key")
        self.assertEqual(json.loads(ok[0][1])["outcome"], "accepted")
        self.assertEqual(sum(1 for _, _, h in ok if "idempotent-replayed" not in h), 1)
        # one effect: as many audit records as one plain post of another participant makes
        st, _, _ = self.post("/v1/events", participant("conc_ref"))
        self.assertEqual(st, 200)
        records = audit_all(self.srv, self.admin)
        once = [r["action"] for r in records if r["target"] == "conc_ref"]
        self.assertTrue(once)
        self.assertEqual([r["action"] for r in records if r["target"] == "conc_ev"], once)

    def test_50_concurrent_identical_key_creations(self):
        answers = self.concurrent(50, lambda _: self.post("/v1/api-keys", {"role": "auditor", "name": "c50"},
                                                          idem="conc-key"))
        ok = [a for a in answers if a[0] == 201]
        busy = [a for a in answers if a[0] == 409]
        self.assertEqual(len(ok) + len(busy), 50, [a[:2] for a in answers])
        self.assertEqual(len({b for _, b, _ in ok}), 1)  # one answer ...
        self.assertEqual(sum(1 for _, _, h in ok if "idempotent-replayed" not in h), 1)
        created = [r for r in audit_all(self.srv, self.admin)
                   if r["action"] == "api_key.created" and (r.get("detail") or {}).get("name") == "c50"]
        self.assertEqual(len(created), 1, created)  # ... and exactly one key in the database
        self.assertEqual(created[0]["target"], json.loads(ok[0][1])["prefix"])


class GroupCommit(unittest.TestCase):
    def setUp(self):
        self.env = Env()

    def tearDown(self):
        self.env.close()

    def test_64_concurrent_events_accepted_and_durable(self):
        admin = self.env.key("admin")
        ingest = self.env.key("ingest")
        srv = self.env.serve("--no-worker")

        def one(i):
            return srv.request("POST", "/v1/events", participant(f"gc_{i}"), key=ingest if i % 2 else admin)
        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as ex:
            answers = list(ex.map(one, range(64)))
        for st, body, _ in answers:
            self.assertEqual(st, 200, body)
            self.assertEqual(body["outcome"], "accepted", body)
        # a bad event among good ones fails alone
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
            mixed = list(ex.map(lambda i: srv.request("POST", "/v1/events",
                                                      participant(f"gm_{i}") if i != 3 else {"id": "x", "type": "bogus"},
                                                      key=admin), range(8)))
        self.assertEqual([a[0] == 200 for a in mixed], [i != 3 for i in range(8)])
        _, metrics, _ = srv.request("GET", "/metrics")
        self.assertIn('fulfill_events_total{outcome="accepted"} 71', metrics)
        commits = int(next(l.split()[1] for l in metrics.splitlines() if l.startswith("fulfill_ingest_commits_total")))
        requests = int(next(l.split()[1] for l in metrics.splitlines() if l.startswith("fulfill_ingest_requests_total")))
        self.assertEqual(requests, 72)
        self.assertLess(commits, requests, "no two events ever shared a commit")
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(20), 0)
        srv2 = self.env.serve("--no-worker")
        st, body, _ = srv2.request("GET", "/v1/participants?limit=1000", key=admin)
        self.assertEqual(st, 200, body)
        ids = {p["id"] for p in body["data"]}
        self.assertTrue({f"gc_{i}" for i in range(64)} <= ids)

    def test_group_commit_off_commits_each_request(self):
        # FULFILL_HTTP_GROUP_COMMIT=0, the benchmark's comparison: one transaction each
        admin = self.env.key("admin")
        self.env.env["FULFILL_HTTP_GROUP_COMMIT"] = "0"
        srv = self.env.serve("--no-worker")

        def one(i):
            return srv.request("POST", "/v1/events", participant(f"go_{i}"), key=admin,
                               headers={"Idempotency-Key": f"go-{i}"}, raw=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
            answers = list(ex.map(one, range(16)))
        for st, body, _ in answers:
            self.assertEqual(st, 200, body)
            self.assertEqual(json.loads(body)["outcome"], "accepted", body)
        st, again, h = one(5)
        self.assertEqual((st, again, h.get("idempotent-replayed")), (200, answers[5][1], "true"))
        _, metrics, _ = srv.request("GET", "/metrics")
        counter = lambda name: int(next(l.split()[1] for l in metrics.splitlines() if l.startswith(name)))
        self.assertEqual(counter("fulfill_ingest_requests_total"), 16)
        self.assertEqual(counter("fulfill_ingest_commits_total"), 16)


if __name__ == "__main__":
    unittest.main()
