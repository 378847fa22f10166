"""Group commit when the disk refuses the fsync (docs/api.md, "group commit"): the
syncer's fdatasync of the WAL fails, so nobody is told the events were stored - every
event of those groups answers 500 in API.md's error shape - while the server keeps
serving. The events were committed, so sending them again (same ids) answers
`duplicate` with the first result: stored once, never twice. SQLite only (PostgreSQL
commits are durable when they return; there is no syncer)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, fault_shim, participant  # noqa: E402


@unittest.skipIf(os.environ.get("FULFILL_TEST_PG_HOST"), "SQLite's syncer only")
class SyncFailure(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.shim = fault_shim(self.env, "fault_fdatasync")
        self.flag = os.path.join(self.env.dir, "fail-fdatasync")
        self.env.env = dict(self.env.env, LD_PRELOAD=self.shim, FF_FAULT_FDATASYNC=self.flag)

    def tearDown(self):
        self.env.close()

    def test_failed_sync_answers_500_and_a_retry_finds_the_event_stored(self):
        admin = self.env.key("admin")
        srv = self.env.serve("--no-worker")
        st, body, _ = srv.request("POST", "/v1/events", participant("sync_ok"), key=admin)
        self.assertEqual((st, body["outcome"]), (200, "accepted"), body)

        open(self.flag, "w").close()
        st, body, _ = srv.request("POST", "/v1/events", participant("sync_bad"), key=admin)
        self.assertEqual(st, 500, body)
        self.assertEqual(body["error"]["code"], "storage_error", body)
        self.assertIn("durable", body["error"]["message"])
        # the server carries on, and says it cannot store anything for now
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        st, body, _ = srv.request("GET", "/readyz")
        self.assertEqual((st, body["error"]["code"]), (503, "unavailable"), body)
        self.assertIn("cannot be written", body["error"]["message"])

        os.remove(self.flag)
        self.assertEqual(srv.request("GET", "/readyz")[0], 200)
        st, body, _ = srv.request("POST", "/v1/events", participant("sync_bad"), key=admin)
        self.assertEqual((st, body["outcome"]), (200, "duplicate"), body)
        st, body, _ = srv.request("POST", "/v1/events", participant("sync_next"), key=admin)
        self.assertEqual((st, body["outcome"]), (200, "accepted"), body)
        st, body, _ = srv.request("GET", "/v1/participants/sync_bad", key=admin)
        self.assertEqual(st, 200, body)


if __name__ == "__main__":
    unittest.main()
