"""HTTP conventions of API.md over real loopback HTTP: errors, auth, content types,
limits, malformed and abusive requests, request ids, metrics, OpenAPI, static pages,
rate limits, graceful shutdown. After every abuse /healthz still answers and the
stored data is unchanged."""
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, eventually, participant  # noqa: E402


def trickle_until_closed(s, byte, seconds=20):
    """Send `byte` on socket `s` once a second for up to `seconds`: the seconds until the
    server closed the connection (None if it never did). Closes `s`."""
    t0 = time.time()
    closed_after = None
    try:
        for _ in range(seconds):
            time.sleep(1)
            s.sendall(byte)
    except (BrokenPipeError, ConnectionResetError):
        closed_after = time.time() - t0
    if closed_after is None:  # the last sends may still succeed: the read side tells
        s.settimeout(5)
        try:
            closed_after = time.time() - t0 if s.recv(4096) == b"" else None
        except (ConnectionResetError, socket.timeout):
            closed_after = time.time() - t0
    s.close()
    return closed_after


class Conventions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.env.env["FULFILL_HTTP_TIMEOUT"] = "2"  # slowloris test
        cls.admin = cls.env.key("admin")
        cls.srv = cls.env.serve("--no-worker")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def req(self, method, path, body=None, key=True, **kw):
        return self.srv.request(method, path, body, key=self.admin if key is True else key, **kw)

    def assertError(self, resp, status, code, param=None):
        st, body, hdrs = resp
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body.get("error", {}).get("code"), code, body)
        self.assertTrue(body["error"].get("message"), body)
        if param is not None:
            self.assertEqual(body["error"].get("param"), param, body)
        self.assertTrue(hdrs.get("x-request-id"), hdrs)
        self.assertTrue(hdrs.get("content-type", "").startswith("application/json"), hdrs)

    def participants(self):
        st, body, _ = self.req("GET", "/v1/participants?limit=1000")
        self.assertEqual(st, 200, body)
        return body["data"]

    def assertAlive(self):
        self.assertEqual(self.req("GET", "/healthz", key=None)[:2], (200, {"ok": True}))

    def snapshot(self):
        """What is stored, as the API shows it: participants, rewards, audit log."""
        st, rewards, _ = self.req("GET", "/v1/rewards?limit=1000")
        self.assertEqual(st, 200, rewards)
        st, audit, _ = self.req("GET", "/v1/audit?limit=1000")
        self.assertEqual(st, 200, audit)
        return {"participants": self.participants(), "rewards": rewards["data"], "audit": audit["data"]}

    def stored_before_abuse(self, pid):
        """Something to lose: one participant stored, then the snapshot."""
        st, body, _ = self.req("POST", "/v1/events", participant(pid))
        self.assertEqual(st, 200, body)
        before = self.snapshot()
        self.assertIn(pid, [p["id"] for p in before["participants"]])
        self.assertTrue(before["audit"])
        return before

    # ---- operational routes ----

    def test_healthz_readyz(self):
        self.assertAlive()
        st, body, _ = self.req("GET", "/readyz", key=None)
        self.assertEqual((st, body), (200, {"ok": True}))

    def test_openapi_lists_routes(self):
        st, doc, hdrs = self.req("GET", "/v1/openapi.json", key=None)
        self.assertEqual(st, 200)
        self.assertEqual(doc["openapi"], "3.1.0")
        paths = doc["paths"]
        for p, m in [("/v1/events", "post"), ("/v1/programs/{id}", "put"), ("/v1/rewards/{id}/explain", "get"),
                     ("/v1/api-keys/{prefix}", "delete"), ("/v1/audit/verify", "get"), ("/metrics", "get")]:
            self.assertIn(m, paths.get(p, {}), p)
            self.assertTrue(paths[p][m]["summary"])
        names = [q["name"] for q in paths["/v1/rewards"]["get"]["parameters"] if q["in"] == "query"]
        self.assertEqual(sorted(names), sorted(["limit", "starting_after", "status", "participant", "program", "batch", "reason"]))
        self.assertIn("admin", paths["/v1/events"]["post"]["x-roles"])
        self.assertEqual(paths["/healthz"]["get"]["security"], [])

    def test_openapi_matches_what_the_server_answers(self):
        """Every documented operation is routed (no 404/405 from the router)."""
        _, doc, _ = self.req("GET", "/v1/openapi.json", key=None)
        for path, item in doc["paths"].items():
            for method in item:
                concrete = path.replace("{version}", "1").replace("{id}", "zz").replace("{prefix}", "zz") \
                               .replace("{file}", "index.html")
                st, body, _ = self.req(method.upper(), concrete, {} if method in ("post", "put") else None)
                self.assertNotEqual(st, 405, (method, path, body))
                if st == 404:  # must be the engine's not_found for the object, not an unknown route
                    self.assertNotIn("no such resource", json.dumps(body), (method, path))

    def test_openapi_documents_headers_and_bodies(self):
        _, doc, _ = self.req("GET", "/v1/openapi.json", key=None)
        closed = 0
        for path, item in doc["paths"].items():
            for method, op in item.items():
                where = (method, path)
                headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
                self.assertIn("X-Request-Id", headers, where)
                static = path.startswith(("/console", "/portal"))
                if method != "get" and not static:
                    self.assertIn("Idempotency-Key", headers, where)
                ok = [c for c in op["responses"] if c.startswith("2")]
                self.assertEqual(len(ok), 1, where)
                self.assertIn("X-Request-Id", op["responses"][ok[0]]["headers"], where)
                if method != "get" and not static:
                    self.assertIn("Idempotent-Replayed", op["responses"][ok[0]]["headers"], where)
                if op["x-roles"]:
                    self.assertIn("Retry-After", op["responses"]["429"]["headers"], where)
                schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
                if not schema or schema.get("additionalProperties") is not False:
                    continue
                # a closed body: what the document says is what the server enforces
                closed += 1
                concrete = path.replace("{version}", "1").replace("{id}", "zz").replace("{code}", "c") \
                               .replace("{connector}", "zz").replace("{country}", "US")
                st, body, _ = self.req(method.upper(), concrete, {"zz_unknown": 1})
                self.assertEqual((st, body["error"]["code"], body["error"].get("param")),
                                 (400, "unknown_field", "zz_unknown"), where)
        self.assertGreaterEqual(closed, 20)
        post = doc["paths"]["/v1/blocklist"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        self.assertEqual(set(post["properties"]), {"kind", "value", "note"})
        redeem = doc["paths"]["/v1/participants/{id}/redeem"]["post"]["requestBody"]["content"]
        props = redeem["application/json"]["schema"]["properties"]
        self.assertEqual(props["amount"]["type"], "integer")
        self.assertEqual(props["currency"]["pattern"], "^[A-Z]{3}$")
        empty = doc["paths"]["/v1/jobs/run"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        self.assertEqual(empty["maxProperties"], 0)

    def test_metrics(self):
        self.req("GET", "/v1/rewards")
        self.req("GET", "/v1/nope")

        def check():
            st, text, hdrs = self.req("GET", "/metrics", key=None)
            self.assertEqual(st, 200)
            self.assertTrue(hdrs["content-type"].startswith("text/plain"))
            missing = [line for line in (
                "# TYPE fulfill_http_requests_total counter",
                'fulfill_http_requests_total{route="/v1/rewards",method="GET",status="200"}',
                'route="unmatched"',
                "# TYPE fulfill_http_request_duration_seconds histogram",
                'fulfill_http_request_duration_seconds_bucket{route="/v1/rewards",le="+Inf"}',
                'fulfill_events_total{outcome="accepted"}',
                "# TYPE fulfill_worker_pass_seconds histogram") if line not in text]
            self.assertEqual(missing, [])  # (not the whole page as the message)
            self.assertNotIn(self.admin, text)
        eventually(check)

    def test_static_pages(self):
        for p in ("/console", "/console/", "/portal", "/portal/index.html"):
            st, body, hdrs = self.req("GET", p, key=None)
            self.assertEqual(st, 200, p)
            self.assertTrue(hdrs["content-type"].startswith("text/html"), hdrs)
        self.assertEqual(self.req("GET", "/console/..%2Fsecret", key=None)[0], 404)
        self.assertEqual(self.req("GET", "/console/.env", key=None)[0], 404)
        self.assertEqual(self.req("GET", "/console/nope.js", key=None)[0], 404)

    # ---- request ids ----

    def test_request_id_echoed_or_generated(self):
        _, _, h = self.req("GET", "/v1/rewards", headers={"X-Request-Id": "trace-42"})
        self.assertEqual(h["x-request-id"], "trace-42")
        _, _, h = self.req("GET", "/nope", key=None, headers={"X-Request-Id": "trace-43"})
        self.assertEqual(h["x-request-id"], "trace-43")
        _, _, h = self.req("GET", "/v1/rewards", headers={"X-Request-Id": "x" * 129})
        self.assertNotEqual(h["x-request-id"], "x" * 129)
        self.assertTrue(h["x-request-id"])
        _, _, h1 = self.req("GET", "/healthz", key=None)
        _, _, h2 = self.req("GET", "/healthz", key=None)
        self.assertNotEqual(h1["x-request-id"], h2["x-request-id"])

    # ---- auth ----

    def test_auth_errors(self):
        self.assertError(self.req("GET", "/v1/rewards", key=None), 401, "unauthorized")
        self.assertError(self.req("GET", "/v1/rewards", key="fk_admin_nonsense"), 401, "unauthorized")
        self.assertError(self.req("GET", "/v1/rewards", key=None, headers={"Authorization": "Basic eDp5"}),
                         401, "unauthorized")
        bad = self.admin[:-1] + ("A" if self.admin[-1] != "A" else "B")  # checksum typo
        self.assertError(self.req("GET", "/v1/rewards", key=bad), 401, "unauthorized")
        # a POST with a body still gets its 401 (answered after the body is read)
        self.assertError(self.req("POST", "/v1/events", participant("x"), key=None), 401, "unauthorized")

    def test_revoked_key_is_401(self):
        st, body, _ = self.req("POST", "/v1/api-keys", {"role": "auditor", "name": "temp"})
        self.assertEqual(st, 201, body)
        key, prefix = body["key"], body["prefix"]
        self.assertEqual(self.req("GET", "/v1/audit", key=key)[0], 200)
        st, body, _ = self.req("DELETE", f"/v1/api-keys/{prefix}")
        self.assertEqual(st, 200, body)
        self.assertError(self.req("GET", "/v1/audit", key=key), 401, "unauthorized")

    # ---- routing ----

    def test_unknown_path_404_wrong_method_405(self):
        self.assertError(self.req("GET", "/v1/nothing"), 404, "not_found")
        self.assertError(self.req("GET", "/nothing", key=None), 404, "not_found")
        st, body, h = self.req("DELETE", "/v1/rewards")
        self.assertError((st, body, h), 405, "method_not_allowed")
        self.assertEqual(h.get("allow"), "GET, HEAD")  # HEAD is answered wherever GET is
        self.assertEqual(self.req("HEAD", "/v1/rewards")[0], 200)
        st, body, h = self.req("PATCH", "/v1/programs/p1", {})
        self.assertError((st, body, h), 405, "method_not_allowed")
        self.assertEqual(h.get("allow"), "PUT, GET, HEAD")
        st, body, h = self.req("HEAD", "/v1/jobs/run")  # no GET here: no HEAD either
        self.assertEqual((st, h.get("allow")), (405, "POST"))
        self.assertError(self.req("POST", "/healthz", key=None), 405, "method_not_allowed")

    # ---- bodies ----

    def test_content_type(self):
        self.assertError(self.req("POST", "/v1/events", "id=1", ctype="application/x-www-form-urlencoded"),
                         415, "unsupported_media_type")
        self.assertError(self.req("POST", "/v1/api-keys", "role=admin", ctype="text/plain"),
                         415, "unsupported_media_type")
        self.assertError(self.req("PUT", "/v1/programs/p9", "x", ctype="text/csv"), 415, "unsupported_media_type")
        # NDJSON only where API.md allows it
        self.assertError(self.req("POST", "/v1/api-keys", '{"role":"admin"}\n', ctype="application/x-ndjson"),
                         415, "unsupported_media_type")
        # charset parameter is fine
        st, body, _ = self.req("POST", "/v1/api-keys", {"role": "auditor"},
                               headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(st, 201, body)

    def test_malformed_bodies(self):
        before = self.participants()
        self.assertError(self.req("POST", "/v1/events", "{oops"), 400, "malformed_json")
        self.assertError(self.req("POST", "/v1/api-keys", "{oops"), 400, "malformed_json")
        self.assertError(self.req("POST", "/v1/api-keys", b'{"role": "admin", "name": "\xff\xfe"}'), 400, "invalid_utf8")
        self.assertError(self.req("POST", "/v1/events", b'{"id":"u1","type":"participant","data":{"id":"\xc3"}}'),
                         400, "invalid_utf8")
        self.assertError(self.req("POST", "/v1/api-keys", "[" * 200 + "]" * 200), 400, "invalid_request")
        self.assertError(self.req("POST", "/v1/events", '{"a":' * 100 + "1" + "}" * 100), 400, "invalid_request")
        self.assertError(self.req("POST", "/v1/api-keys", '{"role":"admin","role":"auditor"}'), 400, "malformed_json")
        self.assertError(self.req("POST", "/v1/api-keys", '[1,2]'), 400, "invalid_request")
        self.assertError(self.req("POST", "/v1/api-keys", {"role": "admin", "colour": "red"}), 400,
                         "unknown_field", "colour")
        self.assertError(self.req("POST", "/v1/events", dict(participant("u2"), extra=1)), 400, "unknown_field")
        self.assertEqual(self.participants(), before)
        self.assertAlive()

    def test_body_too_large(self):
        before = self.participants()
        big = b'{"id":"big","type":"participant","data":{"id":"big","name":"' + b"x" * (11 << 20) + b'"}}'
        self.assertError(self.req("POST", "/v1/events", big), 413, "too_large")
        # without Content-Length (chunked): counted while streaming
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
        c.putrequest("POST", "/v1/events")
        c.putheader("Authorization", "Bearer " + self.admin)
        c.putheader("Content-Type", "application/json")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        chunk = b"x" * (1 << 20)
        for _ in range(11):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        self.assertEqual(r.status, 413)
        self.assertEqual(json.loads(r.read())["error"]["code"], "too_large")
        c.close()
        self.assertEqual(self.participants(), before)
        self.assertAlive()

    def test_query_validation(self):
        for bad in ("0", "1001", "-1", "abc", "", "1.5"):
            self.assertError(self.req("GET", f"/v1/rewards?limit={bad}"), 400, "invalid_request", "limit")
        self.assertEqual(self.req("GET", "/v1/rewards?limit=1000")[0], 200)
        self.assertEqual(self.req("GET", "/v1/participants?limit=1")[0], 200)
        self.assertError(self.req("GET", "/v1/rewards?status=lost"), 400, "invalid_request", "status")
        self.assertError(self.req("GET", "/v1/participants?status=zombie"), 400, "invalid_request", "status")
        self.assertError(self.req("GET", "/v1/participants?country=usa"), 400, "invalid_request", "country")
        self.assertError(self.req("GET", "/v1/rewards?colour=red"), 400, "unknown_field", "colour")
        self.assertError(self.req("GET", "/v1/programs/p1/diff?from=1"), 400, "invalid_request", "to")

    def test_idempotency_key_too_long(self):
        self.assertError(self.req("POST", "/v1/api-keys", {"role": "auditor"}, headers={"Idempotency-Key": "k" * 256}),
                         400, "invalid_request", "Idempotency-Key")
        st, _, _ = self.req("POST", "/v1/api-keys", {"role": "auditor"}, headers={"Idempotency-Key": "k" * 255})
        self.assertEqual(st, 201)

    # ---- abuse ----

    def test_huge_headers(self):
        """Far beyond libmicrohttpd's pool: its own bare 431 (test_http_hardening.py has
        the limits, and the 431 in the error shape below the pool)."""
        before = self.stored_before_abuse("before_huge_headers")
        try:
            st, _, _ = self.req("GET", "/v1/rewards", headers={"X-Filler": "a" * 200000})
            self.assertEqual(st, 431)
        except (ConnectionError, http.client.HTTPException):
            pass  # closed while the client was still sending: an answer too
        # the same on a write: refused whole, nothing stored
        try:
            st, body, _ = self.req("POST", "/v1/events", participant("huge_headers"),
                                   headers={"X-Filler": "a" * 200000})
            self.assertEqual(st, 431, body)
        except (ConnectionError, http.client.HTTPException):
            pass
        # above the limit but within the pool: ours, in the error shape
        self.assertError(self.req("POST", "/v1/events", participant("huge_headers"),
                                  headers={"X-Filler": "a" * 20000}), 431, "request_header_too_large")
        self.assertAlive()
        self.assertEqual(self.snapshot(), before)
        self.assertError(self.req("GET", "/v1/participants/huge_headers"), 404, "not_found")

    def test_slow_body_hits_connection_timeout(self):
        before = self.participants()
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + self.admin.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":")
        s.settimeout(20)
        t0 = time.time()
        data = b""
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        self.assertLess(time.time() - t0, 15, "the server kept a stalled upload open")
        self.assertAlive()
        self.assertEqual(self.participants(), before)

    def test_trickled_body_hits_request_timeout(self):
        # a byte every second never trips the idle timeout (2 s here); the whole body
        # must still arrive within --http-request-timeout
        srv = self.env.serve("--no-worker", "--http-request-timeout", "3")
        before = self.participants()
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + self.admin.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        closed_after = trickle_until_closed(s, b" ")
        self.assertIsNotNone(closed_after, "a trickled body kept its connection open")
        self.assertLess(closed_after, 12, "closed only after %.1f s" % closed_after)
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        self.assertEqual(self.participants(), before)

    def test_trickled_header_hits_request_timeout(self):
        # a header byte every second never trips the idle timeout (2 s here); the
        # header must still be complete within --http-request-timeout
        srv = self.env.serve("--no-worker", "--http-request-timeout", "3")
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed_after = trickle_until_closed(s, b"a")
        self.assertIsNotNone(closed_after, "a trickled header kept its connection open")
        self.assertLess(closed_after, 10, "closed only after %.1f s" % closed_after)
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        st, metrics, _ = srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertRegex(metrics, r"(?m)^fulfill_http_header_timeouts_total 1$")

    def test_kept_alive_connection_outlives_the_request_timeout(self):
        # the header clock starts again with each request: a connection that sends a
        # whole request every 1.5 s lives longer than --http-request-timeout (3 s)
        srv = self.env.serve("--no-worker", "--http-request-timeout", "3")
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.settimeout(5)
        t0 = time.time()
        answers = 0
        while time.time() - t0 < 7:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                self.assertTrue(chunk, "closed after %d answers, %.1f s" % (answers, time.time() - t0))
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:60])
            answers += 1
            time.sleep(1.5)
        s.close()
        self.assertGreaterEqual(answers, 4)
        st, metrics, _ = srv.request("GET", "/metrics")
        self.assertRegex(metrics, r"(?m)^fulfill_http_header_timeouts_total 0$")

    def test_connections_per_address_are_bounded(self):
        srv = self.env.serve("--no-worker", "--http-max-connections-per-ip", "2")

        def kept_open():
            # a connection that was served and stays open (keep-alive): counted for sure
            try:
                c = socket.create_connection(("127.0.0.1", srv.port))
                c.settimeout(5)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if c.recv(4096).startswith(b"HTTP/1.1 200"):
                    return c
                c.close()
            except OSError:
                pass
            return None
        held, deadline = [], time.time() + 5
        while len(held) < 2 and time.time() < deadline:  # the start-up probe may still count
            c = kept_open()
            if c:
                held.append(c)
            else:
                time.sleep(0.1)
        self.assertEqual(len(held), 2)
        third = socket.create_connection(("127.0.0.1", srv.port))
        third.settimeout(5)
        try:
            third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = third.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
        third.close()
        self.assertEqual(answer, b"", "a third connection from the same address was served")
        # the held ones still work, and once they are gone new ones are served
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(held[0].recv(4096).startswith(b"HTTP/1.1 200"))
        for c in held:
            c.close()
        time.sleep(0.3)
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)

    def test_garbage_request_line(self):
        before = self.stored_before_abuse("before_garbage")
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
        s.settimeout(10)
        try:
            s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        self.assertAlive()
        # a well-formed write pipelined after the garbage on the same connection is not
        # run: a request line that cannot be parsed ends the connection (RFC 9112, 2.2)
        body = json.dumps(participant("after_garbage")).encode()
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"\x16\x03\x01\x02\x00garbage\r\n\r\nPOST /v1/events HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + self.admin.encode() + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        self.assertAlive()
        self.assertEqual(self.snapshot(), before)
        self.assertError(self.req("GET", "/v1/participants/after_garbage"), 404, "not_found")

    def test_log_lines(self):
        self.req("GET", "/v1/rewards", headers={"X-Request-Id": "log-check-1"})
        time.sleep(0.2)
        logs = [f for f in os.listdir(self.env.dir) if f.startswith("serve-")]
        text = ""
        for f in logs:
            with open(os.path.join(self.env.dir, f)) as fh:
                text += fh.read()
        line = next(json.loads(l) for l in text.splitlines() if "log-check-1" in l)
        self.assertEqual(line["route"], "/v1/rewards")
        self.assertEqual(line["method"], "GET")
        self.assertEqual(line["status"], 200)
        self.assertIn("duration_ms", line)
        self.assertTrue(self.admin.startswith(line["key_prefix"]))
        self.assertNotIn(self.admin, text)
        self.assertNotIn("@example.com", text)


class RateLimit(unittest.TestCase):
    def setUp(self):
        self.env = Env()

    def tearDown(self):
        self.env.close()

    def test_429_with_retry_after_per_key(self):
        self.env.env.update(FULFILL_HTTP_RATE="1", FULFILL_HTTP_BURST="3")
        a, b = self.env.key("admin"), self.env.key("auditor")
        srv = self.env.serve("--no-worker")
        codes = [srv.request("GET", "/v1/audit", key=a)[0] for _ in range(6)]
        self.assertEqual(codes[:3], [200, 200, 200])
        self.assertIn(429, codes[3:])
        st, body, h = srv.request("GET", "/v1/audit", key=a)
        self.assertEqual(st, 429)
        self.assertEqual(body["error"]["code"], "rate_limited")
        self.assertGreaterEqual(int(h["retry-after"]), 1)
        self.assertEqual(srv.request("GET", "/v1/audit", key=b)[0], 200)  # per key
        self.assertEqual(srv.request("GET", "/healthz")[0], 200)          # no key, no limit
        time.sleep(1.2)
        self.assertEqual(srv.request("GET", "/v1/audit", key=a)[0], 200)  # refilled


class Shutdown(unittest.TestCase):
    def setUp(self):
        self.env = Env()

    def tearDown(self):
        self.env.close()

    def test_sigterm_exits_zero_and_keeps_data(self):
        admin = self.env.key("admin")
        srv = self.env.serve()
        st, body, _ = srv.request("POST", "/v1/events", participant("zed"), key=admin)
        self.assertEqual(st, 200, body)
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(20), 0)
        srv2 = self.env.serve("--no-worker")
        st, body, _ = srv2.request("GET", "/v1/participants/zed", key=admin)
        self.assertEqual(st, 200, body)
        srv2.proc.send_signal(signal.SIGINT)
        self.assertEqual(srv2.proc.wait(20), 0)

    def test_sigterm_finishes_in_flight_requests(self):
        admin = self.env.key("admin")
        srv = self.env.serve()
        results = {}

        def post(i):
            try:
                results[i] = srv.request("POST", "/v1/events", participant(f"inflight_{i}"), key=admin)[0]
            except (OSError, http.client.HTTPException):
                results[i] = None  # refused after shutdown began: fine, as long as it is not half-done
        threads = [threading.Thread(target=post, args=(i,)) for i in range(40)]
        for i, t in enumerate(threads):
            t.start()
            if i == 20:
                srv.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        self.assertEqual(srv.proc.wait(30), 0)
        # 200: stored. 503: arrived on an open connection after the writer stopped,
        # refused whole (and the server still exits cleanly rather than abort).
        answered = [i for i, st in results.items() if st == 200]
        refused = [i for i, st in results.items() if st == 503]
        self.assertTrue(answered)
        self.assertEqual(sorted(answered + refused), sorted(i for i, st in results.items() if st is not None), results)
        srv2 = self.env.serve("--no-worker")
        st, body, _ = srv2.request("GET", "/v1/participants?limit=1000", key=admin)
        ids = {p["id"] for p in body["data"]}
        for i in answered:
            self.assertIn(f"inflight_{i}", ids)
        for i in refused:
            self.assertNotIn(f"inflight_{i}", ids)


if __name__ == "__main__":
    unittest.main()
