"""GET /v1/openapi.json types every success body, and the API tests check every answer
they receive against it (apiutil.ValidatingServer, openapi_check.py). These tests show
that every operation has a schema for its success body, that the checking is wired into
the request helper, and that it cannot pass silently: a body that breaks its schema, an
undocumented media type or an error of the wrong shape is reported."""
import copy
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import PROGRAM, SeededAPITest, conversion, participant, referral  # noqa: E402
from openapi_check import KEYWORDS, REF, check_answer, find_path, schema_errors  # noqa: E402

try:
    import jsonschema
except ImportError:  # optional: a second opinion where it is installed
    jsonschema = None


def walk(schema, where, out):
    """Every (where, sub-schema) of a schema, itself included."""
    if not isinstance(schema, dict):
        return
    out.append((where, schema))
    for name, sub in schema.get("properties", {}).items():
        walk(sub, f"{where}.{name}", out)
    for k in ("items", "additionalProperties"):
        if isinstance(schema.get(k), dict):
            walk(schema[k], f"{where}[]", out)
    for k in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(k, [])):
            walk(sub, f"{where}/{k}{i}", out)


class ResponseSchemas(SeededAPITest):
    def setUp(self):
        self.doc = self.srv.doc
        self.reward_id = self.s.rewards["alice"][0]

    def test_every_operation_documents_its_success_body(self):
        ops = 0
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                where = (method, path)
                ok = [c for c in op["responses"] if c.startswith("2")]
                self.assertEqual(len(ok), 1, where)
                content = op["responses"][ok[0]].get("content")
                self.assertTrue(content, where)
                for media, m in content.items():
                    self.assertIn("schema", m, (where, media))
                ops += 1
                if path.startswith(("/console", "/portal")):
                    self.assertIn("text/html", content, where)
                    continue
                if path in ("/metrics", "/v1/batches/{id}/report.csv"):
                    self.assertEqual(list(content), ["text/plain" if path == "/metrics" else "text/csv"], where)
                    continue
                schema = content["application/json"]["schema"]
                refs = [schema] if "$ref" in schema else schema.get("oneOf", [])
                self.assertTrue(refs, where)
                for r in refs:
                    target = self.doc["components"]["schemas"][r["$ref"][len(REF):]]
                    self.assertEqual(target["type"], "object", where)
                    self.assertTrue(target["properties"], where)
                formats = [q for q in op.get("parameters", []) if q["name"] == "format"]
                self.assertEqual("text/csv" in content, bool(formats), where)
                if op["x-roles"]:
                    self.assertEqual(op["responses"]["429"]["content"]["application/json"]["schema"],
                                     {"$ref": REF + "Error"}, where)
        self.assertGreaterEqual(ops, 79)
        lists = {p for p, item in self.doc["paths"].items() if "get" in item and
                 item["get"]["responses"]["200"]["content"].get("application/json", {})
                 .get("schema", {}).get("$ref", "").endswith("List")}
        self.assertIn("/v1/rewards", lists)
        self.assertIn("/v1/audit", lists)

    def test_every_schema_resolves_and_the_validator_knows_it(self):
        found = []
        for name, schema in self.doc["components"]["schemas"].items():
            walk(schema, name, found)
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                for code, resp in op["responses"].items():
                    for media, m in resp.get("content", {}).items():
                        walk(m["schema"], f"{method} {path} {code} {media}", found)
        self.assertGreater(len(found), 500)
        for where, schema in found:
            self.assertLessEqual(set(schema), KEYWORDS, where)
            if "$ref" in schema:
                self.assertIn(schema["$ref"][len(REF):], self.doc["components"]["schemas"], where)
            if "required" in schema:
                self.assertLessEqual(set(schema["required"]), set(schema["properties"]), where)
        reward = self.doc["components"]["schemas"]["Reward"]["properties"]
        self.assertEqual(reward["amount"]["type"], ["integer", "null"])
        self.assertEqual(reward["currency"]["pattern"], "^([A-Z]{3}|POINT)$")
        self.assertEqual(reward["created_at"]["format"], "date-time")

    def test_a_reward_matches_and_a_broken_one_does_not(self):
        reward = self.ok("GET", f"/v1/rewards/{self.reward_id}")
        schema = {"$ref": REF + "RewardDetail"}
        self.assertEqual(schema_errors(schema, reward, self.doc), [])
        breaks = {
            "amount as a string": lambda r: r.update(amount="1000"),
            "amount as a boolean": lambda r: r.update(amount=True),
            "a lower-case currency": lambda r: r.update(currency="usd"),
            "an unknown status": lambda r: r.update(status="paid"),
            "no id": lambda r: r.pop("id"),
            "an id of another kind": lambda r: r.update(id="bat_0Vbu"),
            "created_at null": lambda r: r.update(created_at=None),
            "a time without milliseconds": lambda r: r.update(created_at="2026-10-02T12:00:00Z"),
            "negative attempts": lambda r: r.update(attempts=-1),
            "signals not an array": lambda r: r.update(signals={}),
            "a history entry without at": lambda r: r["history"][0].pop("at"),
            "a history entry from nowhere": lambda r: r["history"][0].update({"from": "limbo"}),
            "another object": lambda r: r.update(object="batch"),
        }
        for what, change in breaks.items():
            bad = copy.deepcopy(reward)
            change(bad)
            self.assertTrue(schema_errors(schema, bad, self.doc), what)
        # what may change without breaking the schema: null where allowed, a new member
        fine = copy.deepcopy(reward)
        fine.update(batch=None, external_reference="R1", zz_new_member=1)
        self.assertEqual(schema_errors(schema, fine, self.doc), [])

    def test_the_request_helper_reports_a_mismatch(self):
        """The helper every API test uses validates: with a document that says something
        the server does not do, the same requests that pass fail in the helper."""
        real = self.srv.doc
        requests = [("GET", f"/v1/rewards/{self.reward_id}"), ("GET", "/v1/rewards/nope"),
                    ("GET", "/v1/reports/participants?format=csv"), ("GET", "/v1/participants/alice")]
        for method, path in requests:
            self.req(method, path)  # as documented
        doc = copy.deepcopy(real)
        schemas = doc["components"]["schemas"]
        schemas["RewardDetail"]["required"].append("zz_never_sent")
        schemas["ErrorBody"]["properties"]["code"] = {"enum": ["zz_code"]}
        del doc["paths"]["/v1/reports/participants"]["get"]["responses"]["200"]["content"]["text/csv"]
        doc["paths"]["/v1/participants/{id}"]["get"]["responses"]["201"] = \
            doc["paths"]["/v1/participants/{id}"]["get"]["responses"].pop("200")
        expected = ["zz_never_sent is missing", "is not one of ['zz_code']", "text/csv not documented",
                    "status not documented"]
        self.srv.doc = doc
        try:
            for (method, path), why in zip(requests, expected):
                with self.assertRaises(AssertionError, msg=path) as caught:
                    self.req(method, path)
                self.assertIn(why, str(caught.exception), path)
        finally:
            self.srv.doc = real

    def test_rarer_answers_match_too(self):
        """Shapes the rest of the API suite does not meet, each through the validating
        helper: fraud signals and a rejected referral, a refund's changes, why a
        conversion earned nothing, a simulation that differs."""
        eve = participant("eve")
        eve["data"]["device_id"] = "dev_eve"
        self.ok("POST", "/v1/events", eve)
        ref = referral("ref_self", "eve", "mallory")
        ref["data"]["device_id"] = "dev_eve"
        got = self.ok("POST", "/v1/events", ref)
        self.assertEqual((got["referral_status"], got["signals"][0]["signal"]), ("rejected", "self_referral"), got)
        r = self.ok("GET", "/v1/referrals/ref_self")
        self.assertTrue(r["explanation"]["failed"], r)

        got = self.ok("POST", "/v1/events", {"id": "evt_refund_2", "type": "refund",
                                             "data": {"conversion": "ord_2", "amount": 7500}})
        self.assertEqual(len(got["changed"]), 2, got)
        self.ok("GET", "/v1/conversions/ord_2")

        self.ok("POST", "/v1/events", conversion("ord_alone", "eve"))
        x = self.ok("GET", "/v1/rewards/ord_alone/explain")
        self.assertEqual(x["conversion"], "ord_alone", x)
        c = self.ok("GET", "/v1/conversions/ord_alone")
        self.assertTrue(c["explanation"], c)

        richer = dict(PROGRAM, rewards=[dict(PROGRAM["rewards"][0], amount=1500), PROGRAM["rewards"][1]])
        v = self.ok("PUT", "/v1/programs/p1", richer, status=201)["version"]
        sim = self.ok("POST", f"/v1/programs/p1/versions/{v}/simulate",
                      {"from": "2026-10-01T00:00:00Z", "to": "2026-10-03T00:00:00Z"})
        self.assertTrue(sim["changes"], sim)

    def test_check_answer(self):
        ok = {"content-type": "application/json"}
        body = b'{"ok":true}'
        self.assertEqual(check_answer(self.doc, "GET", "/healthz", 200, ok, body), [])
        self.assertTrue(check_answer(self.doc, "GET", "/healthz", 200, ok, b'{"ok":"yes"}'))
        self.assertTrue(check_answer(self.doc, "GET", "/healthz", 200, ok, b"not json"))
        self.assertTrue(check_answer(self.doc, "GET", "/healthz", 200, {"content-type": "text/plain"}, b"ok"))
        self.assertTrue(check_answer(self.doc, "GET", "/v1/nothing", 200, ok, body))
        self.assertTrue(check_answer(self.doc, "GET", "/v1/nothing", 404, ok, body))
        err = b'{"error":{"code":"not_found","message":"no such resource"}}'
        self.assertEqual(check_answer(self.doc, "GET", "/v1/nothing", 404, ok, err), [])
        self.assertEqual(check_answer(self.doc, "GET", "/metrics", 200,
                                      {"content-type": "text/plain; version=0.0.4"}, b"# x"), [])

    def test_find_path(self):
        cases = [("POST", "/v1/rewards/review", "/v1/rewards/review"),
                 ("GET", "/v1/rewards/rwd_x/", "/v1/rewards/{id}"),
                 ("GET", "/v1/rewards?limit=5&status=pending", "/v1/rewards"),
                 ("GET", "/v1/batches/bat_1/report.csv", "/v1/batches/{id}/report.csv"),
                 ("POST", "/v1/programs/p1/versions/2/approve", "/v1/programs/{id}/versions/{version}/approve"),
                 ("GET", "/console/app.js", "/console/{file}"),
                 ("GET", "/v1/nothing", None), ("DELETE", "/v1/rewards", None),
                 ("GET", "/v1//rewards", None), ("GET", "/v1/rewards/a/b/c", None)]
        for method, path, template in cases:
            self.assertEqual(find_path(self.doc, method, path), template, (method, path))

    def test_the_validator(self):
        doc = {"components": {"schemas": {"N": {"type": "integer", "minimum": 1}}}}
        cases = [
            ({"type": ["string", "null"]}, None, True), ({"type": ["string", "null"]}, 1, False),
            ({"type": "integer"}, 1.5, False), ({"type": "integer"}, False, False),
            ({"type": "number"}, 1.5, True),
            ({"enum": ["a", None]}, None, True), ({"enum": ["a"]}, "b", False),
            ({"const": "list"}, "list", True), ({"const": True}, False, False),
            ({"pattern": "^[A-Z]{3}$"}, "USD", True), ({"pattern": "^[A-Z]{3}$"}, "USDX", False),
            ({"pattern": "^[A-Z]{3}$"}, 5, True),  # pattern constrains strings only
            ({"minimum": 0}, -1, False), ({"maximum": 3}, 4, False),
            ({"$ref": REF + "N"}, 1, True), ({"$ref": REF + "N"}, 0, False),
            ({"type": "object", "required": ["a"]}, {}, False),
            ({"type": "object", "properties": {"a": {"type": "string"}}}, {"a": 1}, False),
            ({"type": "object", "properties": {"a": {}}, "additionalProperties": False}, {"b": 1}, False),
            ({"type": "object", "additionalProperties": {"type": "integer"}}, {"b": "x"}, False),
            ({"type": "array", "items": {"$ref": REF + "N"}}, [1, 2, 0], False),
            ({"anyOf": [{"$ref": REF + "N"}, {"type": "null"}]}, None, True),
            ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 1, False),  # both match
            ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, "x", True),
            ({"allOf": [{"type": "integer"}, {"minimum": 2}]}, 1, False),
            ({"maxProperties": 0}, {"a": 1}, False),
            ({"if": {"type": "string"}}, "x", False),  # an unknown keyword is a problem, not a pass
        ]
        for schema, value, valid in cases:
            self.assertEqual(schema_errors(schema, value, doc) == [], valid, (schema, value))
        with self.assertRaises(KeyError):
            schema_errors({"$ref": REF + "Missing"}, 1, doc)

    @unittest.skipUnless(jsonschema, "python3-jsonschema is not installed")
    def test_a_reference_validator_agrees(self):
        root = {"components": self.doc["components"]}
        for name in self.doc["components"]["schemas"]:
            jsonschema.Draft202012Validator.check_schema(dict(root, **{"$ref": REF + name}))
        reward = self.ok("GET", f"/v1/rewards/{self.reward_id}")
        check = jsonschema.Draft202012Validator(dict(root, **{"$ref": REF + "RewardDetail"}))
        self.assertEqual(list(check.iter_errors(reward)), [])
        reward["currency"] = "usd"
        self.assertTrue(list(check.iter_errors(reward)))


if __name__ == "__main__":
    unittest.main()
