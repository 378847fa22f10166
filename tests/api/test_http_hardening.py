"""Hostile and sloppy requests over real loopback HTTP, as an operator's server meets
them: bytes that are not UTF-8 (or are cut inside a character) in the path, the query
and the method; percent-encoded NULs; bodies sent where a route takes none; header
blocks beyond the limit, beyond libmicrohttpd's pool, and request lines it cannot
parse; and the request log and the metrics that record all of it. After each, the
server still answers and stored data is unchanged."""
import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import Env, SeededAPITest, eventually, participant, seed  # noqa: E402

# src/http/http_int.h
HEADER_MAX = 16 * 1024    # HTTP_HEADER_MAX: request line + header fields, line ends included
FIELDS_MAX = 100          # HTTP_HEADER_FIELDS_MAX: header fields, query parameters and cookies
CONN_MEMORY = 32 * 1024   # HTTP_CONN_MEMORY: libmicrohttpd's pool per connection


def read_answer(s):
    """Read one answer from socket s: (status, headers dict, body bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    n = int(headers.get("content-length", 0))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def raw(port, request, timeout=10):
    """Send raw bytes, return (status, headers dict, body bytes) of the answer."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    try:
        s.sendall(request)
        return read_answer(s)
    finally:
        s.close()


def sized(method, target, size, fields, body=b""):
    """A request whose header block - request line, header fields, line ends and the
    blank line - is exactly `size` bytes: `fields` ((name, value) bytes) padded with an
    X-Pad field."""
    head = method + b" " + target + b" HTTP/1.1\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in fields)
    fixed = len(head) + len(b"X-Pad: \r\n") + len(b"\r\n")
    assert size >= fixed, (size, fixed)
    return head + b"X-Pad: " + b"p" * (size - fixed) + b"\r\n\r\n" + body


def metrics(srv):
    """GET /metrics as {(name, frozenset of label items): value}."""
    st, text, _ = srv.request("GET", "/metrics", raw=True)
    assert st == 200, st
    out = {}
    for line in text.decode().splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if m:
            labels = frozenset(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def count(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


class Checks:
    """What every abuse test checks afterwards, and the error shape."""

    def snapshot(self):
        out = {}
        for path in ("/v1/participants?limit=1000", "/v1/rewards?limit=1000", "/v1/audit?limit=1000"):
            st, body, _ = self.req("GET", path)
            self.assertEqual(st, 200, body)
            out[path] = body["data"]
        return out

    def assertAlive(self):
        self.assertEqual(self.srv.request("GET", "/healthz")[:2], (200, {"ok": True}))
        self.assertIsNone(self.srv.proc.poll(), "the server died")

    def assertErrorShape(self, status, headers, body, want_status, code):
        self.assertEqual(status, want_status, body)
        doc = json.loads(body.decode("utf-8"))  # valid UTF-8, valid JSON
        self.assertEqual(doc["error"]["code"], code, doc)
        self.assertTrue(doc["error"]["message"], doc)
        self.assertTrue(headers.get("x-request-id"), headers)


class Hardening(Checks, SeededAPITest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.auditor = cls.env.key("auditor")

    def get_raw(self, target, key=None, method=b"GET"):
        auth = b"Authorization: Bearer " + key.encode() + b"\r\n" if key else b""
        return raw(self.srv.port, method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n" + auth +
                   b"Connection: close\r\n\r\n")

    # ---- bytes that are not UTF-8 ----

    def test_path_bytes_that_are_not_utf8(self):
        """An id that is not UTF-8 names nothing: 404 with the error shape, whether or
        not the path is a route and whether or not a key came with it. (Each of these
        used to abort the server: the error message quoting the path could not be
        made a JSON string.)"""
        before = self.snapshot()
        cut = b"/v1/participants/" + b"%C3%A9" * 150  # too long for an id: quoted, cut mid-character
        cases = [(b"/v1/nope/%FF", None), (b"/v1/nope/%FF", self.admin), (b"/v1/participants/%C3", self.admin),
                 (b"/v1/rewards/%FF%FE/explain", self.admin), (b"/v1/participants/%C3", None),
                 (b"/v1/programs/%ED%A0%80", self.admin),  # an encoded surrogate
                 (cut, None), (cut, self.admin), (b"/v1/participants/x" + b"%C3%A9" * 100, self.admin)]
        for target, key in cases:
            with self.subTest(target=target[:40], key=bool(key)):
                st, h, body = self.get_raw(target, key)  # like an unknown path: 404 before the key
                self.assertErrorShape(st, h, body, 404, "not_found")
                self.assertAlive()
        # the same bytes as a write's path
        st, h, body = raw(self.srv.port, b"POST /v1/rewards/%FF/approve HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                          self.admin.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                          b"Connection: close\r\n\r\n{}")
        self.assertErrorShape(st, h, body, 404, "not_found")
        self.assertAlive()
        self.assertEqual(self.snapshot(), before)

    def test_query_values_that_are_not_utf8(self):
        for target, param in ((b"/v1/rewards?participant=%FF", "participant"),
                              (b"/v1/participants?status=%C3", "status"),
                              (b"/v1/programs/p1/diff?from=1&to=%E2%82", "to")):
            with self.subTest(target=target):
                st, h, body = self.get_raw(target, self.admin)
                self.assertErrorShape(st, h, body, 400, "invalid_utf8")
                self.assertEqual(json.loads(body)["error"]["param"], param)
        # an unknown parameter whose name is not UTF-8 is still just unknown
        st, h, body = self.get_raw(b"/v1/rewards?%FF=1", self.admin)
        self.assertErrorShape(st, h, body, 400, "unknown_field")
        self.assertAlive()

    def test_method_that_is_not_utf8(self):
        for target in (b"/v1/rewards", b"/v1/nope"):
            with self.subTest(target=target):
                try:
                    st, h, body = self.get_raw(target, self.admin, method=b"G\xffT")
                except (ConnectionError, socket.timeout, IndexError, ValueError):
                    pass  # refusing the request line outright is fine too
                else:
                    self.assertIn(st, (400, 404, 405, 501), body)
                    if body:
                        json.loads(body.decode("utf-8"))
                self.assertAlive()

    def test_idempotency_key_that_is_not_text(self):
        """An Idempotency-Key is stored as text beside the effect: one that is not UTF-8,
        or holds control characters, is refused before anything runs."""
        before = self.snapshot()
        body = json.dumps({"role": "auditor", "name": "idem-bytes"}).encode()
        for ik in (b"k\xff\xfe", b"k\x01x", b"caf\xc3"):
            with self.subTest(key=ik):
                st, h, resp = raw(self.srv.port, b"POST /v1/api-keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                  self.admin.encode() + b"\r\nContent-Type: application/json\r\nIdempotency-Key: " +
                                  ik + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
                if st == 400 and not resp:
                    continue  # refused by the HTTP parser itself
                self.assertErrorShape(st, h, resp, 400, "invalid_request")
                self.assertEqual(json.loads(resp)["error"]["param"], "Idempotency-Key")
        self.assertEqual(self.snapshot(), before)
        # UTF-8 text is fine
        st, resp, h = self.req("POST", "/v1/api-keys", {"role": "auditor", "name": "idem-text"},
                               headers={"Idempotency-Key": "clé-1".encode().decode("latin-1")})
        self.assertEqual(st, 201, resp)
        self.assertAlive()

    # ---- %00 ----

    def test_percent_encoded_nul_is_not_the_end_of_an_id(self):
        """alice%00x is not alice: neither as an id in the path nor as a filter."""
        self.assertEqual(self.req("GET", "/v1/participants/alice")[0], 200)
        for path in ("/v1/participants/alice%00x", "/v1/participants/alice%00", "/v1/referrals/ref_1%00zz"):
            st, body, _ = self.req("GET", path)
            self.assertEqual((st, body["error"]["code"]), (404, "not_found"), (path, body))
        st, body, _ = self.req("GET", "/v1/rewards?participant=alice")
        self.assertEqual(st, 200)
        self.assertTrue(body["data"])
        st, body, _ = self.req("GET", "/v1/rewards?participant=alice%00x")
        self.assertEqual((st, body["data"]), (200, []), body)
        # a partner key bound to alice gets nothing more through a NUL
        partner = self.env.key("partner", "--participant", "alice")
        st, body, _ = self.req("GET", "/v1/participants/alice%00bob", key=partner)
        self.assertEqual(st, 404, body)
        self.assertAlive()

    # ---- bodies on writes that take none ----

    def test_body_on_a_delete_is_checked_not_ignored(self):
        st, created, _ = self.req("POST", "/v1/api-keys", {"role": "auditor", "name": "del-body"})
        self.assertEqual(st, 201, created)
        prefix, key = created["prefix"], created["key"]
        before = self.snapshot()
        st, body, _ = self.req("DELETE", f"/v1/api-keys/{prefix}", {"reason": "left"})
        self.assertEqual((st, body["error"]["code"], body["error"].get("param")), (400, "unknown_field", "reason"))
        st, body, _ = self.req("DELETE", f"/v1/api-keys/{prefix}", "reason=left", ctype="text/plain")
        self.assertEqual((st, body["error"]["code"]), (415, "unsupported_media_type"), body)
        st, body, _ = self.req("DELETE", f"/v1/api-keys/{prefix}", "{oops")
        self.assertEqual((st, body["error"]["code"]), (400, "malformed_json"), body)
        st, body, _ = self.req("DELETE", f"/v1/api-keys/{prefix}", "[]")
        self.assertEqual((st, body["error"]["code"]), (400, "invalid_request"), body)
        self.assertEqual(self.snapshot(), before)  # nothing revoked, nothing audited
        self.assertEqual(self.req("GET", "/v1/audit?limit=1", key=key)[0], 200)
        # {} is no body at all
        st, body, _ = self.req("DELETE", f"/v1/api-keys/{prefix}", {})
        self.assertEqual((st, body.get("revoked")), (200, True), body)
        self.assertEqual(self.req("GET", "/v1/audit?limit=1", key=key)[0], 401)
        st, body, _ = self.req("DELETE", "/v1/blocklist?kind=domain&value=x.example", {"note": "x"})
        self.assertEqual((st, body["error"]["code"]), (400, "unknown_field"), body)


class HeaderLimits(Checks, SeededAPITest):
    """The header block (request line and header fields): up to HEADER_MAX bytes and
    FIELDS_MAX header fields, query parameters and cookies, the request goes on; beyond
    either it is refused with 431 request_header_too_large in the error shape, with
    X-Request-Id, a request log line and the metrics, as long as it fits in
    libmicrohttpd's pool. Beyond the pool libmicrohttpd answers a bare 431 itself, which
    is still logged and counted; a request line it cannot parse is counted."""

    def log(self):
        with open(os.path.join(self.env.dir, f"serve-{self.srv.port}.log"), encoding="utf-8") as f:
            return [json.loads(l) for l in f.read().splitlines()]

    def log_line(self, rid):
        def check():
            got = [l for l in self.log() if l.get("msg") == "request" and l.get("request_id") == rid]
            self.assertEqual(len(got), 1, got)
            return got[0]
        return eventually(check)

    def refused_by_mhd(self):
        return [l for l in self.log() if l.get("msg") == "request" and l.get("answered_by") == "libmicrohttpd"]

    def fields(self, rid, close=True):
        f = [(b"Host", b"x"), (b"X-Request-Id", rid.encode()), (b"Authorization", b"Bearer " + self.admin.encode())]
        return f + [(b"Connection", b"close")] if close else f

    def assertCounted(self, before, delta, name, **labels):
        eventually(lambda: self.assertEqual(count(metrics(self.srv), name, **labels),
                                            count(before, name, **labels) + delta, (name, labels)))

    def test_up_to_the_limit_the_request_goes_on(self):
        for size in (HEADER_MAX - 1, HEADER_MAX):
            with self.subTest(size=size):
                st, h, body = raw(self.srv.port, sized(b"GET", b"/v1/rewards", size, self.fields(f"at-{size}")))
                self.assertEqual(st, 200, body[:300])
                self.assertTrue(json.loads(body)["data"])
                self.assertEqual(h["x-request-id"], f"at-{size}")
        # fields: 3 + Connection + X-Pad + the query parameter + 94 more = FIELDS_MAX
        extra = [(b"X-F%d" % i, b"v") for i in range(FIELDS_MAX - 6)]
        st, _, body = raw(self.srv.port, sized(b"GET", b"/v1/rewards?limit=5", 2000, self.fields("at-fields") + extra))
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(self.log_line("at-fields")["status"], 200)

    def test_over_the_limit_is_refused_in_the_error_shape(self):
        before, snap = metrics(self.srv), self.snapshot()
        extra = [(b"X-F%d" % i, b"v") for i in range(FIELDS_MAX - 5)]  # one field too many
        cookies = [(b"Cookie", b"; ".join(b"c%d=1" % i for i in range(FIELDS_MAX)))]  # cookies count as fields
        cases = [("over-1", sized(b"GET", b"/v1/rewards", HEADER_MAX + 1, self.fields("over-1"))),
                 ("over-pool", sized(b"GET", b"/v1/rewards", CONN_MEMORY - 2048, self.fields("over-pool"))),
                 ("over-fields", sized(b"GET", b"/v1/rewards?limit=5", 2000, self.fields("over-fields") + extra)),
                 ("over-cookies", sized(b"GET", b"/v1/rewards", 2000, self.fields("over-cookies") + cookies))]
        for rid, request in cases:
            with self.subTest(rid=rid):
                st, h, body = raw(self.srv.port, request)
                self.assertErrorShape(st, h, body, 431, "request_header_too_large")
                self.assertEqual(h["x-request-id"], rid)  # the caller's, echoed
                self.assertIn(str(HEADER_MAX), json.loads(body)["error"]["message"])
                line = self.log_line(rid)
                self.assertEqual((line["method"], line["route"], line["status"]), ("GET", "unmatched", 431), line)
                self.assertNotIn("key_prefix", line)  # refused before the key was read
                self.assertNotIn("answered_by", line)
        self.assertCounted(before, len(cases), "fulfill_http_requests_total", route="unmatched", method="GET",
                           status="431")
        self.assertEqual(count(metrics(self.srv), "fulfill_http_parser_refusals_total", status="431"),
                         count(before, "fulfill_http_parser_refusals_total", status="431"))
        # without an X-Request-Id of its own the answer carries a generated one, logged
        st, h, body = raw(self.srv.port, sized(b"GET", b"/healthz", HEADER_MAX + 100,
                                               [(b"Host", b"x"), (b"Connection", b"close")]))
        self.assertErrorShape(st, h, body, 431, "request_header_too_large")
        self.assertRegex(h["x-request-id"], r"^req_[A-Za-z0-9]+$")
        self.assertEqual(self.log_line(h["x-request-id"])["status"], 431)
        self.assertAlive()
        self.assertEqual(self.snapshot(), snap)

    def test_over_the_limit_on_a_write_stores_nothing(self):
        snap = self.snapshot()
        body = json.dumps(participant("hdr_write")).encode()
        fields = self.fields("over-write") + [(b"Content-Type", b"application/json"),
                                              (b"Content-Length", str(len(body)).encode())]
        st, h, resp = raw(self.srv.port, sized(b"POST", b"/v1/events", HEADER_MAX + 1, fields, body))
        self.assertErrorShape(st, h, resp, 431, "request_header_too_large")
        self.assertEqual(self.log_line("over-write")["route"], "unmatched")
        # a client waiting for "100 Continue" gets the refusal instead, and sends nothing
        fields = self.fields("over-expect") + [(b"Content-Type", b"application/json"), (b"Expect", b"100-continue"),
                                               (b"Content-Length", str(len(body)).encode())]
        st, h, resp = raw(self.srv.port, sized(b"POST", b"/v1/events", HEADER_MAX + 1, fields))
        self.assertErrorShape(st, h, resp, 431, "request_header_too_large")
        self.assertEqual(self.log_line("over-expect")["status"], 431)
        self.assertEqual(self.req("GET", "/v1/participants/hdr_write")[0], 404)
        self.assertEqual(self.snapshot(), snap)
        self.assertAlive()

    def test_a_kept_alive_connection_goes_on_after_the_refusal(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.settimeout(10)
        try:
            s.sendall(sized(b"GET", b"/v1/rewards", HEADER_MAX + 1, self.fields("alive-1", close=False)))
            st, h, body = read_answer(s)
            self.assertErrorShape(st, h, body, 431, "request_header_too_large")
            s.sendall(sized(b"GET", b"/v1/rewards", 1000, self.fields("alive-2", close=False)))
            st, h, body = read_answer(s)
            self.assertEqual((st, h["x-request-id"]), (200, "alive-2"), body[:300])
        finally:
            s.close()

    def test_beyond_the_pool_libmicrohttpd_answers_and_it_is_logged_and_counted(self):
        """A header block larger than libmicrohttpd's pool (or made of so many short
        fields that their records fill it) never reaches us: libmicrohttpd answers a
        bare 431 of its own (no JSON, no X-Request-Id). It is still logged, with
        "answered_by", and counted."""
        before, snap, logged = metrics(self.srv), self.snapshot(), len(self.refused_by_mhd())
        many = [(b"F%d" % i, b"v") for i in range(2000)]  # under 20 KB, but 2,000 records
        # just beyond the pool, so that the whole request is in the socket buffers before
        # libmicrohttpd closes the connection (a client still sending would see a reset)
        for what, request in (("bytes", sized(b"GET", b"/v1/rewards", CONN_MEMORY + 8192, self.fields("pool-bytes"))),
                              ("records", b"GET /v1/rewards HTTP/1.1\r\n" +
                               b"".join(k + b": " + v + b"\r\n" for k, v in self.fields("pool-records") + many) +
                               b"\r\n")):
            with self.subTest(what=what):
                try:
                    st, h, body = raw(self.srv.port, request)
                except (ConnectionError, socket.timeout) as e:  # pragma: no cover - the answer is expected
                    self.fail(f"no answer: {e}")
                self.assertEqual(st, 431, body[:200])
                self.assertNotIn("x-request-id", h)
        eventually(lambda: self.assertEqual(len(self.refused_by_mhd()), logged + 2))
        for line in self.refused_by_mhd()[logged:]:
            self.assertEqual((line["route"], line["status"], line["termination"]), ("unmatched", 431, "error"), line)
            self.assertRegex(line["request_id"], r"^req_")
        self.assertCounted(before, 2, "fulfill_http_requests_total", route="unmatched", method="OTHER", status="431")
        self.assertCounted(before, 2, "fulfill_http_parser_refusals_total", status="431")
        self.assertAlive()
        self.assertEqual(self.snapshot(), snap)

    def test_query_parameters_beyond_the_pool_are_counted(self):
        """So many query parameters that libmicrohttpd's records of them fill its pool:
        it counts a 431 in its warning but (0.9.75) sends nothing and keeps the
        connection until the idle timeout, and never reports the request complete - so
        nothing may be allocated for it before the headers are in (request_begin)."""
        before = metrics(self.srv)
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.settimeout(1)
        try:
            s.sendall(b"GET /v1/rewards?" + b"&".join(b"a" for _ in range(3000)) +
                      b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try:
                s.recv(65536)
            except socket.timeout:
                pass
        finally:
            s.close()
        self.assertCounted(before, 1, "fulfill_http_parser_refusals_total", status="431")
        self.assertAlive()

    def test_unparsable_requests_are_counted(self):
        """A request line libmicrohttpd cannot parse reaches no callback of ours: only its
        error log tells, and that is counted (fulfill_http_parser_refusals_total). A
        malformed header line comes after the request line: logged and counted in the
        request metrics too."""
        before, logged = metrics(self.srv), len(self.refused_by_mhd())
        st, _, _ = raw(self.srv.port, b"GET /v1/rewards HTTP/1.1 extra\r\nHost: x\r\n\r\n")
        self.assertEqual(st, 400)
        self.assertCounted(before, 1, "fulfill_http_parser_refusals_total", status="400")
        st, _, _ = raw(self.srv.port, b"GET /v1/rewards HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
        self.assertEqual(st, 400)
        self.assertCounted(before, 2, "fulfill_http_parser_refusals_total", status="400")
        self.assertCounted(before, 1, "fulfill_http_requests_total", route="unmatched", method="OTHER", status="400")
        eventually(lambda: self.assertEqual([l["status"] for l in self.refused_by_mhd()[logged:]], [400]))
        self.assertAlive()


class RequestLog(unittest.TestCase):
    """One JSON line per request on stderr: request id, method, route (the pattern),
    status, duration and key prefix - on success and on every error path, for NDJSON
    too - and never a key or an e-mail address."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.s = seed(cls.env, env_extra={"FULFILL_HTTP_MAX_BODY": "100000"})
        cls.srv, cls.admin = cls.s.srv, cls.s.admin
        cls.auditor = cls.env.key("auditor")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def log_lines(self):
        with open(os.path.join(self.env.dir, f"serve-{self.srv.port}.log"), encoding="utf-8") as f:
            text = f.read()
        return text, [json.loads(l) for l in text.splitlines()]  # every line is JSON

    def lines_for(self, rid, wait=3.0):
        deadline = time.time() + wait
        while True:
            text, lines = self.log_lines()
            got = [l for l in lines if l.get("request_id") == rid]
            if got or time.time() > deadline:
                return text, got
            time.sleep(0.05)

    def test_one_line_per_request_on_every_path(self):
        nd = "".join(json.dumps(e) + "\n" for e in (
            {"id": "log_p1", "type": "participant", "data": {"id": "logp1", "email": "secret.person@example.org",
                                                            "country": "US", "currency": "USD", "status": "active"}},
            {"id": "log_bad", "type": "conversion", "data": {"id": "o", "participant": "nobody@example.org",
                                                             "amount": 1, "currency": "USD"}}))
        bad_key = self.admin[:-1] + ("A" if self.admin[-1] != "A" else "B")
        cases = [
            # (request id, method, path, body, key, ctype, status, route, key prefix expected)
            ("log-ok", "GET", "/v1/rewards", None, self.admin, None, 200, "/v1/rewards", True),
            ("log-ndjson", "POST", "/v1/events", nd, self.admin, "application/x-ndjson", 200, "/v1/events", True),
            ("log-event-400", "POST", "/v1/events", {"id": "e", "type": "participant",
                                                      "data": {"id": "x", "email": "not-logged@example.org",
                                                               "country": "USA"}},
             self.admin, None, 400, "/v1/events", True),
            ("log-404-object", "GET", "/v1/participants/someone@example.org", None, self.admin, None, 404,
             "/v1/participants/{id}", True),
            ("log-404-path", "GET", "/v1/nothing-here", None, self.admin, None, 404, "unmatched", False),
            ("log-405", "DELETE", "/v1/rewards", None, self.admin, None, 405, "/v1/rewards", False),
            ("log-401", "GET", "/v1/rewards", None, bad_key, None, 401, "/v1/rewards", False),
            ("log-403", "POST", "/v1/jobs/run", {}, self.auditor, None, 403, "/v1/jobs/run", True),
            ("log-415", "POST", "/v1/api-keys", "role=x", self.admin, "text/plain", 415, "/v1/api-keys", True),
            ("log-413", "POST", "/v1/api-keys", "x" * 200000, self.admin, None, 413, "/v1/api-keys", True),
            ("log-unknown", "POST", "/v1/api-keys", {"role": "auditor", "mail": "a@example.org"}, self.admin, None,
             400, "/v1/api-keys", True),
            ("log-public", "GET", "/healthz", None, None, None, 200, "/healthz", False),
        ]
        for rid, method, path, body, key, ctype, status, route, has_prefix in cases:
            with self.subTest(rid=rid):
                st, resp, h = self.srv.request(method, path, body, key=key, ctype=ctype,
                                               headers={"X-Request-Id": rid})
                self.assertEqual(st, status, resp)
                self.assertEqual(h["x-request-id"], rid)
                text, got = self.lines_for(rid)
                self.assertEqual(len(got), 1, f"{rid}: {got}")
                line = got[0]
                self.assertEqual((line["msg"], line["method"], line["route"], line["status"]),
                                 ("request", method, route, status))
                self.assertIsInstance(line["duration_ms"], (int, float))
                self.assertGreaterEqual(line["duration_ms"], 0)
                if has_prefix:
                    self.assertTrue(key.startswith(line["key_prefix"]), line)
                    self.assertLess(len(line["key_prefix"]), len(key) // 2, "a prefix, not the key")
                else:
                    self.assertNotIn("key_prefix", line)
        text, _ = self.log_lines()
        for k in (self.admin, self.auditor, bad_key):
            self.assertNotIn(k, text)
            self.assertNotIn(k[len(k) // 2:], text)  # nor its secret half
        self.assertNotIn("@example.", text)

    def test_generated_request_ids_are_unique_and_logged(self):
        ids = []
        for _ in range(20):
            _, _, h = self.srv.request("GET", "/v1/programs", key=self.admin)
            ids.append(h["x-request-id"])
        self.assertEqual(len(set(ids)), 20)
        for rid in ids:
            self.assertTrue(rid.startswith("req_"), rid)
            _, got = self.lines_for(rid)
            self.assertEqual(len(got), 1, rid)

    def test_request_ids_that_are_not_echoed(self):
        """1-128 printable ASCII characters without spaces are echoed; anything else is
        replaced by a generated id (and that one is logged)."""
        self.assertEqual(self.srv.request("GET", "/healthz", headers={"X-Request-Id": "r" * 128})[2]["x-request-id"],
                         "r" * 128)
        for bad in (b"has space", b"caf\xc3\xa9", b"tab\there", b"\x01ctl", b"r" * 129):
            with self.subTest(bad=bad[:20]):
                st, h, _ = raw(self.srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + bad +
                               b"\r\nConnection: close\r\n\r\n")
                if st == 400:
                    continue  # refused as a malformed header: fine
                self.assertEqual(st, 200)
                self.assertNotEqual(h["x-request-id"].encode("latin-1"), bad)
                self.assertRegex(h["x-request-id"], r"^req_[A-Za-z0-9]+$")
                _, got = self.lines_for(h["x-request-id"])
                self.assertEqual(len(got), 1)


if __name__ == "__main__":
    unittest.main()
