"""Shared helpers for fulfill's integration tests (CLI, HTTP API, end to end).

Every test drives the real ./fulfill binary: a fresh SQLite database in a temp dir
(or the PostgreSQL cluster named by FULFILL_TEST_PG, see tests/run-all), real
processes, real HTTP over loopback. Nothing here fakes fulfill itself."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("FULFILL_BIN", os.path.join(ROOT, "fulfill"))
MASTER_KEY = "ab" * 32


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Env:
    """A database plus helpers to run CLI commands against it. serve() starts servers of
    class `server_class` (None: Server; the API tests use one that checks every answer
    against the OpenAPI document, tests/api/apiutil.py)."""

    server_class = None

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fulfill-it-")
        host = os.environ.get("FULFILL_TEST_PG_HOST")
        if host:
            # one fresh database per Env on the throwaway cluster (tests/with-postgres)
            name = "t" + os.path.basename(self.dir).replace("-", "_").lower()
            subprocess.run(["psql", f"postgresql://postgres@/postgres?host={host}", "-qc",
                            f"CREATE DATABASE {name}"], check=True, capture_output=True)
            self.db = f"postgresql://postgres@/{name}?host={host}"
        else:
            self.db = "sqlite:" + os.path.join(self.dir, "t.db")
        self.env = dict(os.environ, FULFILL_DB=self.db, FULFILL_MASTER_KEY=MASTER_KEY)
        self.procs = []

    def cli(self, *args, input=None, check=False, timeout=120):
        r = subprocess.run([BIN, *args], env=self.env, capture_output=True, text=True,
                           input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"fulfill {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def cli_json(self, *args, **kw):
        r = self.cli(*args, "--json", check=True, **kw)
        return json.loads(r.stdout)

    def write(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def key(self, role="admin", *extra):
        r = self.cli("keys", "create", "--role", role, *extra, check=True)
        return r.stdout.strip().splitlines()[-1]

    def serve(self, *extra):
        port = free_port()
        log = open(os.path.join(self.dir, f"serve-{port}.log"), "w")
        p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", *extra],
                             env=self.env, stdout=log, stderr=log)
        self.procs.append(p)
        srv = (self.server_class or Server)(port, p)
        for _ in range(200):
            try:
                if srv.request("GET", "/healthz")[0] == 200:
                    return srv
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not come up")

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if not os.environ.get("FULFILL_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    def __init__(self, port, proc):
        self.port = port
        self.proc = proc

    def request(self, method, path, body=None, key=None, headers=None, ctype=None, raw=False):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        data = None
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body.encode() if isinstance(body, str) else body
                h.setdefault("Content-Type", ctype or "application/json")
            else:
                data = json.dumps(body).encode()
                h.setdefault("Content-Type", ctype or "application/json")
        c.request(method, path, body=data, headers=h)
        resp = c.getresponse()
        payload = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        c.close()
        if raw:
            return resp.status, payload, hdrs
        return resp.status, self.decode(payload), hdrs

    @staticmethod
    def decode(payload):
        """A body as request() returns it: parsed JSON, None when empty, else text."""
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            return payload.decode(errors="replace")


class FulfillTest(unittest.TestCase):
    """Base class: self.env is a fresh database for each test."""

    def setUp(self):
        self.env = Env()

    def tearDown(self):
        self.env.close()

    def assertError(self, resp, status, code):
        st, body, _ = resp
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body.get("error", {}).get("code"), code, body)
        self.assertTrue(body["error"].get("message"), body)
