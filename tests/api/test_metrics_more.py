"""GET /metrics beyond HTTP: connector call latency (in-transaction ledger and an
external webhook connector), webhook delivery outcomes and queue depths, after real
worker passes (POST /v1/jobs/run) against real loopback receivers; the reward gauge by
status against GET /v1/rewards?status=, and the worker-pass histogram."""
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import PROGRAM, Env, conversion, ndjson, participant, receiver, referral, seed  # noqa: E402
from fulfilltest import free_port  # noqa: E402

ALLOW = ("--webhook-allow-hosts", "127.0.0.1")
STATUSES = ("pending", "review", "approved", "issuing", "fulfilled", "reconciled", "failed", "cancelled",
            "reversed", "expired")  # API.md, "Rewards"
SAMPLE = re.compile(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$')


def parse(text):
    """{(name, frozenset(labels.items())): value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample: {line!r}"
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class MetricsMore(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.addCleanup(self.env.close)

    def metrics(self, srv):
        st, text, hdrs = srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain"), hdrs)
        return text, parse(text)

    def assertHistogram(self, samples, name, count, **labels):
        """Cumulative buckets, +Inf == _count == count, a plausible _sum."""
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in samples.items()
                         if k[0] == name + "_bucket" and all(dict(k[1]).get(a) == b for a, b in labels.items()))
        self.assertTrue(buckets, f"no {name} buckets for {labels}")
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values), f"{name} buckets not cumulative")
        self.assertEqual(buckets[-1][0], float("inf"))
        self.assertEqual(buckets[-1][1], count)
        self.assertEqual(sample(samples, name + "_count", **labels), count)
        total = sample(samples, name + "_sum", **labels)
        self.assertIsNotNone(total)
        self.assertGreaterEqual(total, 0)
        self.assertLess(total, 10 * max(count, 1), "a loopback call takes well under 10 s")

    def test_ledger_latency_webhook_outcomes_and_queues(self):
        s = seed(self.env, *ALLOW)
        url, got = receiver(self)
        text, m = self.metrics(s.srv)
        for name in ("fulfill_connector_call_seconds", "fulfill_webhook_deliveries_total", "fulfill_queue_depth"):
            self.assertIn(f"# TYPE {name} ", text)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="approved"), 4, text)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="issuing"), 0)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="outbox"), 0)
        for result in ("success", "retry", "failed"):
            self.assertEqual(sample(m, "fulfill_webhook_deliveries_total", result=result), 0)
        self.assertNotIn('fulfill_connector_call_seconds_count{connector="ledger"}', text)

        # one endpoint that answers, one nobody listens on (connection refused: retried)
        ok = s.srv.request("POST", "/v1/webhook-endpoints", {"url": url + "/ok", "events": ["reward.fulfilled"]},
                           key=s.admin)
        self.assertEqual(ok[0], 201, ok[1])
        down = s.srv.request("POST", "/v1/webhook-endpoints",
                             {"url": f"http://127.0.0.1:{free_port()}/down", "events": ["reward.fulfilled"]},
                             key=s.admin)
        self.assertEqual(down[0], 201, down[1])

        st, counts, _ = s.srv.request("POST", "/v1/jobs/run", key=s.admin)
        self.assertEqual(st, 200, counts)
        self.assertEqual(counts["fulfilled"], 4, counts)
        self.assertEqual(counts["webhooks"], 4, counts)
        self.assertEqual(len(got), 4)

        text, m = self.metrics(s.srv)
        self.assertHistogram(m, "fulfill_connector_call_seconds", 4, connector="ledger")
        self.assertEqual(sample(m, "fulfill_webhook_deliveries_total", result="success"), 4, text)
        self.assertEqual(sample(m, "fulfill_webhook_deliveries_total", result="retry"), 4, text)
        self.assertEqual(sample(m, "fulfill_webhook_deliveries_total", result="failed"), 0, text)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="approved"), 0, text)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="issuing"), 0, text)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="outbox"), 4, text)  # the retries
        self.assertGreaterEqual(sample(m, "fulfill_queue_depth", queue="notifications"), 0)

        # deleting the dead endpoint gives its pending deliveries up: the outbox empties
        st, body, _ = s.srv.request("DELETE", f"/v1/webhook-endpoints/{down[1]['id']}", key=s.admin)
        self.assertEqual(st, 200, body)
        text, m = self.metrics(s.srv)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="outbox"), 0, text)
        # counters never go down; the ledger series is unchanged without new work
        self.assertEqual(sample(m, "fulfill_webhook_deliveries_total", result="success"), 4, text)
        self.assertEqual(sample(m, "fulfill_connector_call_seconds_count", connector="ledger"), 4)

    def test_external_connector_latency(self):
        url, got = receiver(self)
        # programs name a connector type; the configuration "payout_hook" of that type
        # serves it, and its id labels the series
        program = dict(PROGRAM, id="p1", fulfillment={"credit": "webhook"})
        self.env.cli("connectors", "set", "payout_hook", "--type", "webhook", "--config",
                     json.dumps({"url": url + "/issue", "secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"}), *ALLOW,
                     check=True)
        self.env.cli("program", "load", self.env.write("p1.json", json.dumps(program)), "--activate", check=True)
        admin = self.env.key("admin")
        srv = self.env.serve("--no-worker", *ALLOW)
        events = [participant(p) for p in ("alice", "carol")]
        events += [referral("ref_1", "alice", "carol"), conversion("ord_1", "carol")]
        st, body, _ = srv.request("POST", "/v1/events", ndjson(events), key=admin, ctype="application/x-ndjson")
        self.assertEqual((st, body.get("rejected")), (200, 0), body)

        _, m = self.metrics(srv)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="approved"), 2)
        st, counts, _ = srv.request("POST", "/v1/jobs/run", key=admin)
        self.assertEqual(st, 200, counts)
        self.assertEqual(counts["fulfilled"], 2, counts)
        self.assertEqual([p for p, _ in got], ["/issue", "/issue"])

        text, m = self.metrics(srv)
        self.assertHistogram(m, "fulfill_connector_call_seconds", 2, connector="payout_hook")
        self.assertNotIn('connector="ledger"', text)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="approved"), 0)
        self.assertEqual(sample(m, "fulfill_queue_depth", queue="issuing"), 0)

    def assertRewardGauge(self, srv, key, expected):
        """fulfill_rewards{status} for every status equals both `expected` (0 when not
        named) and the number of rewards GET /v1/rewards?status= lists."""
        text, m = self.metrics(srv)
        self.assertIn("# TYPE fulfill_rewards gauge", text)
        for status in STATUSES:
            st, body, _ = srv.request("GET", f"/v1/rewards?status={status}&limit=1000", key=key)
            self.assertEqual(st, 200, body)
            self.assertFalse(body["has_more"])
            listed = len(body["data"])
            self.assertEqual(listed, expected.get(status, 0), f"GET /v1/rewards?status={status}")
            self.assertEqual(sample(m, "fulfill_rewards", status=status), listed, f"fulfill_rewards{{{status}}}")
        self.assertEqual(sorted(k[1] for k in m if k[0] == "fulfill_rewards"),
                         sorted(frozenset({("status", s)}) for s in STATUSES), "one series per status")

    def test_reward_gauge_follows_status_changes(self):
        program = dict(PROGRAM, review={"always": True})
        self.env.cli("program", "load", self.env.write("p1.json", json.dumps(program)), "--activate", check=True)
        admin = self.env.key("admin")
        srv = self.env.serve("--no-worker")
        self.assertRewardGauge(srv, admin, {})
        events = [participant(p) for p in ("alice", "bob", "carol", "dave")]
        events += [referral("ref_1", "alice", "carol"), conversion("ord_1", "carol"),
                   referral("ref_2", "bob", "dave"), conversion("ord_2", "dave")]
        st, body, _ = srv.request("POST", "/v1/events", ndjson(events), key=admin, ctype="application/x-ndjson")
        self.assertEqual((st, body.get("rejected")), (200, 0), body)
        self.assertRewardGauge(srv, admin, {"review": 4})
        st, body, _ = srv.request("GET", "/v1/rewards?limit=1000", key=admin)
        r = {x["participant"]: x["id"] for x in body["data"]}

        def act(who, action, body=None):
            st, got, _ = srv.request("POST", f"/v1/rewards/{r[who]}/{action}", body, key=admin)
            self.assertEqual(st, 200, got)

        act("alice", "approve")
        self.assertRewardGauge(srv, admin, {"review": 3, "approved": 1})
        act("carol", "reject", {"reason": "fraud"})
        self.assertRewardGauge(srv, admin, {"review": 2, "approved": 1, "cancelled": 1})
        act("alice", "cancel", {"reason": "refunded"})
        self.assertRewardGauge(srv, admin, {"review": 2, "cancelled": 2})
        act("bob", "approve")
        self.assertRewardGauge(srv, admin, {"review": 1, "approved": 1, "cancelled": 2})
        st, counts, _ = srv.request("POST", "/v1/jobs/run", key=admin)
        self.assertEqual((st, counts["fulfilled"]), (200, 1), counts)
        self.assertRewardGauge(srv, admin, {"review": 1, "fulfilled": 1, "cancelled": 2})

    def test_worker_pass_histogram_counts_jobs_run(self):
        s = seed(self.env)  # --no-worker: no pass runs unless asked for
        text, m = self.metrics(s.srv)
        self.assertIn("# TYPE fulfill_worker_pass_seconds histogram", text)
        self.assertHistogram(m, "fulfill_worker_pass_seconds", 0)
        self.assertEqual(sample(m, "fulfill_worker_pass_seconds_sum"), 0)

        st, counts, _ = s.srv.request("POST", "/v1/jobs/run", key=s.admin)
        self.assertEqual((st, counts["fulfilled"]), (200, 4), counts)
        _, m = self.metrics(s.srv)
        self.assertHistogram(m, "fulfill_worker_pass_seconds", 1)
        first = sample(m, "fulfill_worker_pass_seconds_sum")
        self.assertGreater(first, 0, "a pass that fulfilled four rewards took some time")

        for _ in range(2):
            st, counts, _ = s.srv.request("POST", "/v1/jobs/run", key=s.admin)
            self.assertEqual((st, counts["fulfilled"]), (200, 0), counts)
        _, m = self.metrics(s.srv)
        self.assertHistogram(m, "fulfill_worker_pass_seconds", 3)
        self.assertGreater(sample(m, "fulfill_worker_pass_seconds_sum"), first)

        # refused requests run no pass: the count stays
        st, body, _ = s.srv.request("POST", "/v1/jobs/run", {"now": "2030-01-01T00:00:00Z"}, key=s.admin)
        self.assertEqual(st, 400, body)
        st, body, _ = s.srv.request("POST", "/v1/jobs/run", key=self.env.key("operator"))
        self.assertEqual(st, 403, body)
        _, m = self.metrics(s.srv)
        self.assertHistogram(m, "fulfill_worker_pass_seconds", 3)


if __name__ == "__main__":
    unittest.main()
