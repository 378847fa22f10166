#!/usr/bin/env python3
"""Runs the integration tests (tests/cli, tests/api, tests/e2e: files test_*.py) with
unittest, in parallel across files, and prints 'N passed, N failed' as its last line.
Arguments other than options (--pg) choose groups: only the files whose path contains
one of them run, e.g. `run-integration.py cli` or `run-integration.py --pg test_install`."""
import concurrent.futures
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
files = sorted(glob.glob(os.path.join(ROOT, "tests", "*", "test_*.py")))
groups = [a for a in sys.argv[1:] if not a.startswith("-")]
if groups:
    files = [f for f in files if any(g in os.path.relpath(f, ROOT) for g in groups)]
env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests", "lib"))


def run(path):
    r = subprocess.run([sys.executable, "-m", "unittest", "-v", path], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1800)
    out = r.stdout + r.stderr
    ran = re.search(r"Ran (\d+) test", out)
    n = int(ran.group(1)) if ran else 0
    m = re.search(r"FAILED \(([^)]*)\)", out)
    bad = 0
    if m:
        for part in m.group(1).split(","):
            k, _, v = part.strip().partition("=")
            if k in ("failures", "errors"):
                bad += int(v)
    if r.returncode != 0 and bad == 0:
        bad = max(1, n)
    return path, n, bad, out


def failure_report(out, limit=12000, line_limit=1500):
    """The failures of a test file's output: from unittest's first FAIL/ERROR block on
    (else the end), each line cut to line_limit characters so that one huge assertion
    message (a whole /metrics page) cannot push the test's name and traceback out."""
    lines = out.splitlines()
    start = next((i - 1 for i, l in enumerate(lines) if l.startswith(("FAIL: ", "ERROR: "))), None)
    if start is None:
        start = max(0, len(lines) - 60)
    cut = [l if len(l) <= line_limit else l[:line_limit] + f" ... [{len(l) - line_limit} more characters]"
           for l in lines[max(start, 0):]]
    text = "\n".join(cut)
    return text if len(text) <= limit else text[:limit] + "\n... [cut]"


passed = failed = 0
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
    for path, n, bad, out in ex.map(run, files):
        rel = os.path.relpath(path, ROOT)
        print(f"{rel}: {n - bad}/{n} passed", flush=True)
        if bad:
            print(failure_report(out))
        passed += n - bad
        failed += bad
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
