"""The "own" cells of docs/api-roles.md over real HTTP, one row per (role, route): a
partner key (bound to one participant) and a fulfiller key (bound to one fulfiller)
reach their own objects, and for another's they get exactly what they would get for
an object that does not exist (404 not_found, or a list without it); a refused write
changes nothing. A test checks that every cell the server grants a scoped role has a
row here."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import ROLES, Env, conversion, ndjson, participant  # noqa: E402


def program(pid, fulfiller):
    return {"id": pid, "name": pid, "currency": "USD", "trigger": "conversion", "eligibility": True,
            "rewards": [{"to": "referrer", "type": "cash", "amount": 2500}],
            "hold_days": 0, "fulfillment": {"cash": "manual", "fulfiller": fulfiller}}


def referral(rid, prog, referrer, referred):
    return {"id": "evt_" + rid, "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
            "data": {"id": rid, "program": prog, "referrer": referrer, "referred": referred}}


def env_with_programs():
    """A new Env with the goods programs of fulfillers acme and other, active."""
    env = Env()
    for pid, ful in (("goods_acme", "acme"), ("goods_other", "other")):
        env.cli("program", "load", env.write(pid + ".json", json.dumps(program(pid, ful))), "--activate", check=True)
    return env


class Scopes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = env_with_programs()
        cls.admin = cls.env.key("admin")
        cls.acme = cls.env.key("fulfiller", "--fulfiller", "acme")
        cls.srv = cls.env.serve("--no-worker")
        evs = [participant(p) for p in ("alice", "amy", "bob", "bea")]
        evs += [referral("ref_a", "goods_acme", "alice", "amy"), conversion("ord_a", "amy"),
                referral("ref_b", "goods_other", "bob", "bea"), conversion("ord_b", "bea")]
        st, body, _ = cls.srv.request("POST", "/v1/events", ndjson(evs), key=cls.admin, ctype="application/x-ndjson")
        assert st == 200 and body["rejected"] == 0, body
        cls.partner = cls.env.key("partner", "--participant", "alice")
        st, body, _ = cls.srv.request("POST", "/v1/jobs/run", key=cls.admin)
        assert st == 200, body
        cls.reward = {}
        for who in ("alice", "bob"):
            st, body, _ = cls.srv.request("GET", f"/v1/participants/{who}/rewards", key=cls.admin)
            assert st == 200 and len(body["data"]) == 1, body
            cls.reward[who] = body["data"][0]["id"]
        st, body, _ = cls.srv.request("POST", "/v1/batches", {"fulfiller": "other"}, key=cls.admin)
        assert st == 201, body
        cls.other_batch = body["id"]

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def req(self, method, path, body=None, key=None):
        ctype = None
        if isinstance(body, tuple):
            body, ctype = body
        return self.srv.request(method, path, body, key=key, ctype=ctype)

    def as_admin(self, path):
        st, body, _ = self.req("GET", path, key=self.admin)
        self.assertEqual(st, 200, body)
        return body

    def ids(self, body):
        return [x.get("id") or x.get("participant") for x in body["data"]]

    # The rows: (role, method, route pattern, own path, own body, another's path,
    # another's body, check of the own answer, what the other's answer must be)
    def rows(self):
        a, b = self.reward["alice"], self.reward["bob"]
        ob = self.other_batch
        own_batch = lambda: self.own_batch  # noqa: E731  (made by the POST row)
        return [
            ("partner", "GET", "/v1/participants/{id}", "/v1/participants/alice", None,
             "/v1/participants/bob", None, lambda r: r["id"] == "alice", 404),
            ("partner", "GET", "/v1/participants/{id}/referrals", "/v1/participants/alice/referrals", None,
             "/v1/participants/bob/referrals", None, lambda r: self.ids(r) == ["ref_a"], 404),
            ("partner", "GET", "/v1/participants/{id}/rewards", "/v1/participants/alice/rewards", None,
             "/v1/participants/bob/rewards", None, lambda r: self.ids(r) == [a], 404),
            ("partner", "GET", "/v1/referrals/{id}", "/v1/referrals/ref_a", None,
             "/v1/referrals/ref_b", None, lambda r: r["id"] == "ref_a", 404),
            ("partner", "GET", "/v1/rewards/{id}", f"/v1/rewards/{a}", None,
             f"/v1/rewards/{b}", None, lambda r: r["id"] == a, 404),
            ("partner", "GET", "/v1/rewards/{id}/explain", f"/v1/rewards/{a}/explain", None,
             f"/v1/rewards/{b}/explain", None, lambda r: True, 404),
            ("fulfiller", "GET", "/v1/rewards", "/v1/rewards", None,
             "/v1/rewards?participant=bob", None, lambda r: self.ids(r) == [a], "empty"),
            ("fulfiller", "GET", "/v1/rewards/{id}", f"/v1/rewards/{a}", None,
             f"/v1/rewards/{b}", None, lambda r: r["id"] == a, 404),
            ("fulfiller", "GET", "/v1/reports/credit-status", "/v1/reports/credit-status", None,
             "/v1/reports/credit-status?fulfiller=other", None,
             lambda r: {x["fulfiller"] for x in r["data"]} == {"acme"}, 404),
            ("fulfiller", "POST", "/v1/batches", "/v1/batches", {"fulfiller": "acme"},
             "/v1/batches", {"fulfiller": "other"}, self.remember_batch, 404),
            ("fulfiller", "GET", "/v1/batches", "/v1/batches", None,
             "/v1/batches?fulfiller=other", None, lambda r: self.ids(r) == [own_batch()], "empty"),
            ("fulfiller", "GET", "/v1/batches/{id}", lambda: f"/v1/batches/{own_batch()}", None,
             f"/v1/batches/{ob}", None, lambda r: r["id"] == own_batch(), 404),
            ("fulfiller", "GET", "/v1/batches/{id}/report.csv", lambda: f"/v1/batches/{own_batch()}/report.csv", None,
             f"/v1/batches/{ob}/report.csv", None, lambda r: a in r, 404),
            ("fulfiller", "POST", "/v1/batches/{id}/close", lambda: f"/v1/batches/{own_batch()}/close", {},
             f"/v1/batches/{ob}/close", {}, lambda r: r["status"] == "closed", 404),
            ("fulfiller", "POST", "/v1/batches/{id}/fulfill", lambda: f"/v1/batches/{own_batch()}/fulfill",
             {"reference": "CM-1"}, f"/v1/batches/{ob}/fulfill", {"reference": "CM-X"},
             lambda r: r["status"] == "fulfilled", 404),
        ]

    def others(self):
        """Another fulfiller's batch and another participant's reward, as the admin sees them."""
        return (self.as_admin(f"/v1/batches/{self.other_batch}"),
                self.as_admin(f"/v1/rewards/{self.reward['bob']}"))

    def remember_batch(self, r):
        self.__class__.own_batch = r["id"]
        return r["rewards"] == [self.reward["alice"]]

    def test_own_objects_and_nothing_else(self):
        keys = {"partner": self.partner, "fulfiller": self.acme}
        for role, method, route, own, own_body, other, other_body, check, refused in self.rows():
            with self.subTest(role=role, route=f"{method} {route}"):
                key = keys[role]
                before = self.others()
                # another's object first: the write must change nothing
                st, body, _ = self.req(method, other, other_body, key=key)
                if refused == "empty":
                    self.assertEqual(st, 200, body)
                    self.assertEqual(body["data"], [], body)
                else:
                    self.assertEqual((st, body["error"]["code"]), (refused, "not_found"), body)
                    self.assertNotIn("forbidden", json.dumps(body))
                self.assertEqual(self.others(), before)
                # its own
                st, body, _ = self.req(method, own() if callable(own) else own, own_body, key=key)
                self.assertIn(st, (200, 201), body)
                self.assertTrue(check(body), body)
        # the other fulfiller's batch is as the admin made it
        self.assertEqual(self.as_admin(f"/v1/batches/{self.other_batch}")["status"], "open")

    def test_every_scoped_cell_has_a_row(self):
        _, doc, _ = self.srv.request("GET", "/v1/openapi.json")
        granted = {(role, m.upper(), p) for p, item in doc["paths"].items() for m, op in item.items()
                   for role in ("partner", "fulfiller") if role in (op.get("x-roles") or [])}
        rows = {(role, method, route) for role, method, route, *_ in self.rows()}
        # GET /v1/me names no object: it answers with the key's own scope, checked here
        self.assertEqual(self.req("GET", "/v1/me", key=self.partner)[1]["participant"], "alice")
        self.assertEqual(self.req("GET", "/v1/me", key=self.acme)[1]["fulfiller"], "acme")
        rows |= {("partner", "GET", "/v1/me"), ("fulfiller", "GET", "/v1/me")}
        self.assertEqual(granted, rows)
        self.assertLessEqual({r for r, _, _ in rows}, set(ROLES))


class ScopedCursors(unittest.TestCase):
    """?starting_after= on the lists a scoped key may read: another's object as the
    cursor is answered exactly as an id that does not exist (an empty page), never with
    the key's own objects made after it - which would tell that it exists, and when."""

    @classmethod
    def setUpClass(cls):
        cls.env = env_with_programs()
        cls.admin = cls.env.key("admin")
        cls.srv = cls.env.serve("--no-worker")
        # another's objects first, then alice's (and acme's) own, made after them
        evs = [participant(p) for p in ("alice", "amy", "ann", "bob", "bea")]
        evs += [referral("ref_b", "goods_other", "bob", "bea"), conversion("ord_b", "bea"),
                referral("ref_a1", "goods_acme", "alice", "amy"), conversion("ord_a1", "amy"),
                referral("ref_a2", "goods_acme", "alice", "ann"), conversion("ord_a2", "ann")]
        for ev in evs:  # one by one: the order of creation is the order above
            st, body, _ = cls.srv.request("POST", "/v1/events", ev, key=cls.admin)
            assert st == 200 and body["outcome"] == "accepted", body
        st, body, _ = cls.srv.request("POST", "/v1/jobs/run", key=cls.admin)
        assert st == 200, body
        cls.partner = cls.env.key("partner", "--participant", "alice")
        cls.acme = cls.env.key("fulfiller", "--fulfiller", "acme")
        cls.rewards = {}
        for who in ("alice", "bob"):
            st, body, _ = cls.srv.request("GET", f"/v1/participants/{who}/rewards", key=cls.admin)
            assert st == 200, body
            cls.rewards[who] = [r["id"] for r in body["data"]]
        st, body, _ = cls.srv.request("POST", "/v1/batches", {"fulfiller": "other"}, key=cls.admin)
        assert st == 201, body
        cls.other_batch = body["id"]
        st, body, _ = cls.srv.request("POST", "/v1/batches", {"fulfiller": "acme"}, key=cls.acme)
        assert st == 201, body
        cls.own_batch = body["id"]

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def page(self, path, key):
        st, body, _ = self.srv.request("GET", path, key=key)
        self.assertEqual(st, 200, body)
        return [x["id"] for x in body["data"]], body["has_more"]

    def test_another_objects_cursor_is_as_if_it_did_not_exist(self):
        a1, a2 = self.rewards["alice"]
        (b,) = self.rewards["bob"]
        cases = [  # (key, list, own cursor, what follows it, another's cursor)
            (self.partner, "/v1/participants/alice/referrals", "ref_a1", ["ref_a2"], "ref_b"),
            (self.partner, "/v1/participants/alice/rewards", a1, [a2], b),
            (self.acme, "/v1/rewards", a1, [a2], b),
            (self.acme, "/v1/batches", None, [self.own_batch], self.other_batch),
        ]
        for key, path, own, after_own, other in cases:
            with self.subTest(path=path):
                if own:
                    self.assertEqual(self.page(f"{path}?starting_after={own}", key), (after_own, False))
                else:
                    self.assertEqual(self.page(path, key), (after_own, False))
                missing = self.page(f"{path}?starting_after=nothing_by_this_id", key)
                self.assertEqual(missing, ([], False))
                self.assertEqual(self.page(f"{path}?starting_after={other}", key), missing)
        # staff lists are as they were: any object's id is a cursor
        self.assertEqual(self.page(f"/v1/rewards?starting_after={b}&participant=alice", self.admin),
                         ([a1, a2], False))


class PartnerRedaction(unittest.TestCase):
    """A partner key sees its own referrals and rewards without what the fraud checks
    found (signals), the referred person's IP address and device, and the connector's
    last error; the admin sees all of it (docs/api-roles.md)."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        prog = program("watched", "acme")
        prog["fraud"] = {"payout_threshold_amount": 1}  # every reward: review, with a signal
        cls.env.cli("program", "load", cls.env.write("watched.json", json.dumps(prog)), "--activate", check=True)
        cls.admin = cls.env.key("admin")
        cls.srv = cls.env.serve("--no-worker")
        ref = referral("ref_w", "watched", "alice", "amy")
        ref["data"].update(ip="203.0.113.7", device_id="dev_amy")
        selfref = referral("ref_self", "watched", "alice", "alma")
        selfref["data"].update(device_id="dev_alice")
        alice = participant("alice")
        alice["data"]["device_id"] = "dev_alice"
        evs = [alice, participant("amy"), ref, conversion("ord_w", "amy"), selfref]
        st, body, _ = cls.srv.request("POST", "/v1/events", ndjson(evs), key=cls.admin, ctype="application/x-ndjson")
        assert st == 200 and body["rejected"] == 0, body
        cls.partner = cls.env.key("partner", "--participant", "alice")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def get(self, path, key):
        st, body, _ = self.srv.request("GET", path, key=key)
        self.assertEqual(st, 200, body)
        return body

    def test_referrals(self):
        full = self.get("/v1/referrals/ref_w", self.admin)
        self.assertEqual((full["ip"], full["device_id"]), ("203.0.113.7", "dev_amy"), full)
        mine = self.get("/v1/referrals/ref_w", self.partner)
        self.assertEqual((mine["ip"], mine["device_id"], mine["signals"]), (None, None, []), mine)
        self.assertEqual({k: v for k, v in mine.items() if k not in ("ip", "device_id", "signals", "explanation")},
                         {k: v for k, v in full.items() if k not in ("ip", "device_id", "signals", "explanation")})
        # a rejected self-referral: the partner learns that and why, not what was matched
        full = self.get("/v1/referrals/ref_self", self.admin)
        self.assertTrue(full["signals"], full)
        mine = self.get("/v1/referrals/ref_self", self.partner)
        self.assertIn(":", full["rejection_reason"])
        self.assertEqual((mine["status"], mine["rejection_reason"]),
                         (full["status"], full["rejection_reason"].split(":")[0]))
        self.assertEqual((mine["signals"], mine["device_id"]), ([], None), mine)
        self.assertNotIn("dev_alice", json.dumps(mine))
        listed = self.get("/v1/participants/alice/referrals", self.partner)["data"]
        self.assertEqual({(r["id"], r["ip"], r["device_id"], len(r["signals"])) for r in listed},
                         {("ref_w", None, None, 0), ("ref_self", None, None, 0)})

    def test_rewards(self):
        full = self.get("/v1/participants/alice/rewards", self.admin)["data"]
        self.assertEqual([(r["status"], r["signals"][0]["signal"]) for r in full], [("review", "payout_threshold")])
        rid = full[0]["id"]
        for got in (self.get("/v1/participants/alice/rewards", self.partner)["data"][0],
                    self.get(f"/v1/rewards/{rid}", self.partner)):
            self.assertEqual((got["id"], got["status"], got["signals"], got["last_error"]), (rid, "review", [], None))
        self.assertTrue(self.get(f"/v1/rewards/{rid}", self.admin)["signals"])
        explained = self.get(f"/v1/rewards/{rid}/explain", self.partner)
        self.assertEqual(explained["signals"], [])
        self.assertEqual(explained["explanation"].get("signals", []), [])
        self.assertTrue(self.get(f"/v1/rewards/{rid}/explain", self.admin)["signals"])


if __name__ == "__main__":
    unittest.main()
