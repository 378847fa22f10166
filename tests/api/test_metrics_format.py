"""GET /metrics read as Prometheus would read it: the text format checked line by line
(HELP and TYPE once per family and before its samples, one group per family, label
syntax and escaping, no duplicate series, histograms with ascending cumulative buckets
ending in +Inf equal to _count, and _sum), and the request series checked against the
requests actually sent: every route has its own latency histogram, whatever its place
in the route table."""
import json
import math
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import ndjson, participant, seed, Env, eventually  # noqa: E402

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def parse_labels(text, where):
    """'a="x",b="y\\"z"' -> {"a": "x", "b": 'y"z'}, checking the escapes."""
    labels, i = {}, 0
    while i < len(text):
        m = LABEL_NAME.match(text, i)
        assert m, f"{where}: bad label name at {text[i:]!r}"
        name = m.group(0)
        i = m.end()
        assert text[i:i + 2] == '="', f"{where}: expected =\" after {name}"
        i += 2
        value = []
        while True:
            assert i < len(text), f"{where}: unterminated value of {name}"
            c = text[i]
            if c == "\\":
                esc = text[i + 1:i + 2]
                assert esc in ("\\", '"', "n"), f"{where}: bad escape \\{esc}"
                value.append("\n" if esc == "n" else esc)
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                assert c != "\n", where
                value.append(c)
                i += 1
        assert name not in labels, f"{where}: label {name} twice"
        labels[name] = "".join(value)
        if i < len(text):
            assert text[i] == ",", f"{where}: expected , at {text[i:]!r}"
            i += 1
    return labels


def parse_exposition(text):
    """Check the format; return {family: {"type", "help", "samples": [(name, labels, value)]}}."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    families, order, current = {}, [], None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}: {line!r}"
        assert line, f"{where}: empty line"
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert NAME.match(name), where
                fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
                assert not fam["samples"], f"{where}: {parts[1]} after the family's samples"
                key = parts[1].lower()
                assert fam[key] is None, f"{where}: second {parts[1]} for {name}"
                fam[key] = parts[3] if len(parts) > 3 else ""
                if key == "type":
                    assert fam["type"] in ("counter", "gauge", "histogram", "summary", "untyped"), where
                if name not in order:
                    order.append(name)
                current = name
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        assert m, f"{where}: not a sample"
        name, labels = m.group(1), parse_labels(m.group(3) or "", where)
        value = float(m.group(4))  # also accepts +Inf, NaN
        fam_name = name
        if current and families[current]["type"] == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                if name == current + suffix:
                    fam_name = current
        assert fam_name == current, f"{where}: sample of {fam_name} outside its family's group ({current})"
        fam = families[fam_name]
        assert fam["type"] is not None, f"{where}: sample before TYPE"
        if fam["type"] == "histogram":
            assert name != fam_name, f"{where}: a histogram has only _bucket, _sum and _count samples"
        if fam["type"] == "counter":
            assert value >= 0 and not math.isnan(value), where
        fam["samples"].append((name, labels, value))
    for name, fam in families.items():
        assert fam["help"] is not None and fam["type"] is not None, f"{name}: HELP and TYPE"
        seen = set()
        for sname, labels, _ in fam["samples"]:
            key = (sname, tuple(sorted(labels.items())))
            assert key not in seen, f"duplicate series {key}"
            seen.add(key)
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families


def check_histogram(name, samples):
    series = {}
    for sname, labels, value in samples:
        base = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(base, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            assert "le" in labels, f"{name}{dict(base)}: bucket without le"
            s["buckets"].append((float(labels["le"]), value))
        elif sname == name + "_sum":
            s["sum"] = value
        else:
            s["count"] = value
    for base, s in series.items():
        where = f"{name}{dict(base)}"
        les = [le for le, _ in s["buckets"]]
        assert les == sorted(les) and len(set(les)) == len(les), f"{where}: le not ascending"
        assert les and les[-1] == math.inf, f"{where}: no +Inf bucket"
        counts = [c for _, c in s["buckets"]]
        assert counts == sorted(counts), f"{where}: buckets not cumulative"
        assert s["count"] is not None and s["sum"] is not None, f"{where}: _sum and _count"
        assert counts[-1] == s["count"], f"{where}: +Inf bucket {counts[-1]} != _count {s['count']}"
        assert s["sum"] >= 0, where


def value(families, family, sample=None, **labels):
    for name, l, v in families[family]["samples"]:
        if name == (sample or family) and l == labels:
            return v
    return None


class MetricsFormat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.s = seed(cls.env)
        cls.srv, cls.admin = cls.s.srv, cls.s.admin

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def scrape(self):
        st, text, h = self.srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/plain"), h)
        self.assertIn("version=0.0.4", h["content-type"].replace(" ", ""))
        return text, parse_exposition(text)

    def test_every_route_has_its_own_latency_histogram(self):
        """Each route's requests land in its own series - the routes at the end of the
        table too (they used to share the "unmatched" histogram)."""
        _, before = self.scrape()
        hist = "fulfill_http_request_duration_seconds"
        sent = [("GET", "/healthz", None, "/healthz"), ("GET", "/readyz", None, "/readyz"),
                ("GET", "/v1/openapi.json", None, "/v1/openapi.json"),
                ("GET", "/v1/audit/verify", self.admin, "/v1/audit/verify"),
                ("GET", "/v1/reports/kpis", self.admin, "/v1/reports/kpis"),
                ("GET", "/v1/rewards", self.admin, "/v1/rewards"),
                ("GET", "/v1/no-such-thing", self.admin, "unmatched")]
        for method, path, key, _ in sent:
            for _ in range(3):
                self.srv.request(method, path, key=key)

        def check():  # a request is counted once the server sees it complete (eventually)
            _, after = self.scrape()
            for method, path, _, route in sent:
                b = value(before, hist, hist + "_count", route=route) or 0
                a = value(after, hist, hist + "_count", route=route)
                self.assertEqual(a, b + 3, f"{route}: {b} -> {a}")
                self.assertEqual(value(after, hist, hist + "_bucket", route=route, le="+Inf"), a)
                st = "404" if route == "unmatched" else "200"
                b = value(before, "fulfill_http_requests_total", route=route, method=method, status=st) or 0
                self.assertEqual(value(after, "fulfill_http_requests_total", route=route, method=method,
                                       status=st), b + 3, route)
        eventually(check)

    def test_exposition_after_varied_traffic(self):
        # events of every outcome, a 405, a 401, a worker pass
        _, before = self.scrape()
        events = [participant("mf_1"), participant("mf_1"),
                  {"id": "mf_bad", "type": "conversion", "data": {"id": "o", "participant": "nobody",
                                                                  "amount": 1, "currency": "USD"}}]
        st, body, _ = self.srv.request("POST", "/v1/events", ndjson(events), key=self.admin,
                                       ctype="application/x-ndjson")
        self.assertEqual((st, body["accepted"], body["duplicate"], body["rejected"]), (200, 1, 1, 1), body)
        self.assertEqual(self.srv.request("DELETE", "/v1/rewards", key=self.admin)[0], 405)
        self.assertEqual(self.srv.request("GET", "/v1/rewards", key="fk_admin_nope")[0], 401)
        self.assertEqual(self.srv.request("POST", "/v1/jobs/run", key=self.admin)[0], 200)

        def counted():  # the 405 and the 401 are counted once the server sees them complete
            text, after = self.scrape()
            self.assertEqual(value(after, "fulfill_http_requests_total", route="/v1/rewards", method="DELETE",
                                   status="405"), 1)
            self.assertGreaterEqual(value(after, "fulfill_http_requests_total", route="/v1/rewards",
                                          method="GET", status="401") or 0, 1)
            return text, after
        text, after = eventually(counted)
        for outcome in ("accepted", "duplicate", "rejected"):
            self.assertEqual(value(after, "fulfill_events_total", outcome=outcome),
                             value(before, "fulfill_events_total", outcome=outcome) + 1, outcome)
        wp = "fulfill_worker_pass_seconds"
        self.assertEqual(value(after, wp, wp + "_count"), value(before, wp, wp + "_count") + 1)
        for family, kind in (("fulfill_http_requests_total", "counter"),
                             ("fulfill_http_request_duration_seconds", "histogram"),
                             ("fulfill_events_total", "counter"), ("fulfill_rewards", "gauge"),
                             ("fulfill_worker_pass_seconds", "histogram"), ("fulfill_queue_depth", "gauge"),
                             ("fulfill_connector_call_seconds", "histogram"),
                             ("fulfill_webhook_deliveries_total", "counter")):
            self.assertEqual(after[family]["type"], kind, family)
            self.assertTrue(after[family]["help"], family)
        self.assertNotIn(self.admin, text)
        self.assertNotIn("@example.com", text)


class ExpositionChecker(unittest.TestCase):
    """The checker above refuses what Prometheus refuses (so its passing means something)."""

    def refuses(self, text):
        with self.assertRaises(AssertionError, msg=text):
            parse_exposition(text)

    def test_refuses_broken_expositions(self):
        ok = ("# HELP h x\n# TYPE h histogram\n"
              'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n'
              '# HELP c x\n# TYPE c counter\nc{a="q\\"\\\\"} 1\n')
        fams = parse_exposition(ok)
        self.assertEqual(fams["c"]["samples"][0][1], {"a": 'q"\\'})
        self.refuses(ok.replace('le="+Inf"} 2', 'le="+Inf"} 3'))       # +Inf != _count
        self.refuses(ok.replace('le="1"} 1', 'le="1"} 5'))             # not cumulative
        self.refuses(ok.replace('h_bucket{le="+Inf"} 2\n', ""))         # no +Inf
        self.refuses(ok.replace("h_sum 3\n", ""))                       # no _sum
        self.refuses(ok.replace("# TYPE c counter\n", ""))              # no TYPE
        self.refuses(ok + "# HELP c again\n")                          # HELP twice / after samples
        self.refuses(ok + 'c{a="q\\"\\\\"} 2\n')                       # duplicate series
        self.refuses(ok.replace('c{a="q\\"\\\\"}', 'c{a="q"x"}'))       # bad escaping
        self.refuses(ok + "h_count 2\n")                               # family split in two groups
        self.refuses(ok.rstrip("\n"))                                  # no final newline
        self.refuses(ok.replace("c{", "c{1a=\"x\",").replace("", ""))  # bad label name
        self.refuses(json.dumps(ok))


if __name__ == "__main__":
    unittest.main()
