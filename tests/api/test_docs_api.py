"""docs/api.md shows every task as a curl command: each operation the server routes (its
/v1/openapi.json, made from the route table) has at least one curl line in the page
with its method and a path that matches its pattern. Static assets (/console/{file},
/portal/{file}) are named in prose only."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import openapi_document  # noqa: E402

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "api.md")


def curl_calls(text):
    """{(METHOD, path)} of the curl commands in the page (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", text)
    calls = set()
    for line in text.splitlines():
        if not re.search(r"\bcurl\b", line):
            continue
        m = re.search(r"(?:localhost|127\.0\.0\.1):8080(/[^\s'\"?]*)", line)
        if not m:
            continue
        x = re.search(r"\s-X\s*(\w+)", line)
        sends = re.search(r"\s(-d|--data|--data-binary|--data-raw|-F|-T)\s", line)
        method = x.group(1) if x else ("POST" if sends else "GET")
        calls.add((method, m.group(1).rstrip("/")))
    return calls


def matches(pattern, path):
    a, b = pattern.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or (x.startswith("{") and y) for x, y in zip(a, b))


class DocsCurl(unittest.TestCase):
    def test_curl_calls_parse(self):
        calls = curl_calls("curl -s -X DELETE localhost:8080/v1/a/b -H x\n"
                           "curl -s localhost:8080/v1/c -H \"$H\" \\\n   -d '{}'\n"
                           "curl -s 'localhost:8080/v1/d?x=1' -H \"$H\"\n")
        self.assertEqual(calls, {("DELETE", "/v1/a/b"), ("POST", "/v1/c"), ("GET", "/v1/d")})
        self.assertTrue(matches("/v1/rewards/{id}/explain", "/v1/rewards/rwd_1/explain"))
        self.assertFalse(matches("/v1/rewards/{id}", "/v1/rewards/rwd_1/explain"))

    def test_every_route_has_a_curl_example(self):
        doc = openapi_document()
        with open(DOC) as f:
            calls = curl_calls(f.read())
        missing = []
        for path, item in doc["paths"].items():
            if re.match(r"^/(console|portal)/\{", path):
                continue  # assets
            for method in item:
                if not any(m == method.upper() and matches(path, p) for m, p in calls):
                    missing.append(f"{method.upper()} {path}")
        self.assertEqual(missing, [], "routes without a curl example in docs/api.md")


if __name__ == "__main__":
    unittest.main()
