#!/usr/bin/env python3
"""Which routes of src/http/router.c have no success-path or no error-path test?

    python3 tests/api/route_coverage.py            # runs tests/api and tests/cli, then reports
    python3 tests/api/route_coverage.py DIR        # reports on the kept test dirs under DIR

It reads what the servers of the tests logged (one JSON line per request: method,
route pattern, status; FULFILL_TEST_KEEP keeps the logs), so it counts what the tests
really sent, not what they seem to. A route is covered when some test got a 2xx from
it and some test got an error of its own from it: a 4xx other than 401, 403 and 429
(which the role matrix and rate-limit tests give every route), or a 5xx. The static
pages (/console, /portal) have no error of their own. Exit 1 when a route has a gap."""
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NO_ERROR_PATH = {("GET", "/console"), ("GET", "/portal")}


def routes():
    with open(os.path.join(ROOT, "src", "http", "router.c")) as f:
        src = f.read()
    return [(m.group(1), m.group(2)) for m in re.finditer(r'^\s*\{"(GET|POST|PUT|DELETE)", "([^"]+)"', src, re.M)]


def seen_statuses(top):
    seen = collections.defaultdict(set)
    logs = glob.glob(os.path.join(top, "**", "serve-*.log"), recursive=True)
    logs += glob.glob(os.path.join(top, "**", "demo.out"), recursive=True)
    for path in logs:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "request" and rec.get("status"):
                    method = "GET" if rec["method"] == "HEAD" else rec["method"]
                    seen[(method, rec["route"])].add(rec["status"])
    return seen, len(logs)


def main():
    if len(sys.argv) > 1:
        top = sys.argv[1]
    else:
        top = tempfile.mkdtemp(prefix="fulfill-coverage-")
        env = dict(os.environ, FULFILL_TEST_KEEP="1", TMPDIR=top)
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run-integration.py"), "tests/api", "tests/cli"],
                       env=env, cwd=ROOT)
        print(f"(test directories kept under {top})")
    seen, nlogs = seen_statuses(top)
    if not nlogs:
        sys.exit(f"no server logs under {top}")
    gaps = 0
    for route in routes():
        st = seen.get(route, set())
        ok = any(200 <= s < 300 for s in st)
        err = route in NO_ERROR_PATH or any((400 <= s < 500 and s not in (401, 403, 429)) or s >= 500 for s in st)
        if not (ok and err):
            gaps += 1
            what = " and ".join(w for w, missing in (("success", not ok), ("error", not err)) if missing)
            print(f"{route[0]:6} {route[1]:48} no {what} path tested (seen: {sorted(st)})")
    print(f"{len(routes())} routes, {gaps} with a gap ({nlogs} server logs)")
    sys.exit(1 if gaps else 0)


if __name__ == "__main__":
    main()
