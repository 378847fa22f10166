"""What the web console and the referrer portal (web/, docs/console.md) need from the
server: GET /v1/me (the calling key's role and scope, for every role), and the static
pages' headers (content types, a Content-Security-Policy that allows this origin only,
nosniff, no-cache with an ETag that answers 304, the placeholder while index.html is
missing, and nothing outside the web root)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import ROLES, Env, seed  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Me(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.s = seed(cls.env)

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def test_every_role_learns_its_role_and_scope(self):
        for role in ROLES:
            extra = {"partner": ("--participant", "alice"), "fulfiller": ("--fulfiller", "acme")}.get(role, ())
            key = self.env.key(role, *extra)
            with self.subTest(role=role):
                st, body, hdrs = self.s.srv.request("GET", "/v1/me", key=key)
                self.assertEqual(st, 200, body)
                self.assertEqual(body["object"], "api_key")
                self.assertEqual(body["role"], role)
                self.assertTrue(key.startswith(body["prefix"]), (key, body))
                self.assertLess(len(body["prefix"]), len(key) - 16, "the key itself is never echoed")
                self.assertNotIn(key, str(body))
                self.assertEqual(body["participant"], "alice" if role == "partner" else None)
                self.assertEqual(body["fulfiller"], "acme" if role == "fulfiller" else None)
                self.assertIn("no-store", hdrs["cache-control"])

    def test_without_a_valid_key_401(self):
        for key in (None, "fk_admin_notarealkey"):
            st, body, _ = self.s.srv.request("GET", "/v1/me", key=key)
            self.assertEqual(st, 401, body)
            self.assertEqual(body["error"]["code"], "unauthorized", body)

    def test_unknown_query_parameter(self):
        st, body, _ = self.s.srv.request("GET", "/v1/me?verbose=1", key=self.s.admin)
        self.assertEqual((st, body["error"]["code"], body["error"]["param"]), (400, "unknown_field", "verbose"))


class StaticPages(unittest.TestCase):
    """A web root of our own, so the test does not depend on what web/ holds."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        cls.root = os.path.join(cls.env.dir, "webroot")
        os.makedirs(os.path.join(cls.root, "console"))
        os.makedirs(os.path.join(cls.root, "portal"))
        files = {"console/index.html": "<!doctype html><title>c</title>", "console/app.js": "export {};\n",
                 "console/style.css": "body{}\n", "console/chart.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
                 "console/data.bin": "x"}
        for name, text in files.items():
            with open(os.path.join(cls.root, name), "w") as f:
                f.write(text)
        with open(os.path.join(cls.env.dir, "secret.txt"), "w") as f:
            f.write("outside")
        cls.srv = cls.env.serve("--no-worker", "--web-root", cls.root)

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def get(self, path, headers=None):
        return self.srv.request("GET", path, headers=headers, raw=True)

    def test_content_types(self):
        for path, ctype in (("/console", "text/html; charset=utf-8"),
                            ("/console/index.html", "text/html; charset=utf-8"),
                            ("/console/app.js", "text/javascript; charset=utf-8"),
                            ("/console/style.css", "text/css; charset=utf-8"),
                            ("/console/chart.svg", "image/svg+xml"),
                            ("/console/data.bin", "application/octet-stream")):
            with self.subTest(path=path):
                st, body, h = self.get(path)
                self.assertEqual(st, 200, body)
                self.assertEqual(h["content-type"], ctype)

    def test_security_headers(self):
        st, _, h = self.get("/console")
        self.assertEqual(st, 200)
        csp = h["content-security-policy"]
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        self.assertEqual(directives["default-src"], ["'none'"], csp)
        for d in ("script-src", "style-src", "connect-src"):
            self.assertEqual(directives[d], ["'self'"], csp)  # no 'unsafe-inline', no other origin
        self.assertEqual(directives["frame-ancestors"], ["'none'"])
        self.assertNotIn("unsafe", csp)
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["x-frame-options"], "DENY")
        self.assertEqual(h["referrer-policy"], "no-referrer")
        self.assertTrue(h["x-request-id"])

    def test_no_cache_with_etag_and_304(self):
        st, body, h = self.get("/console/app.js")
        self.assertEqual(st, 200)
        self.assertEqual(h["cache-control"], "no-cache")
        etag = h["etag"]
        self.assertTrue(etag.startswith('"') and etag.endswith('"'), etag)
        st, body, h2 = self.get("/console/app.js", {"If-None-Match": etag})
        self.assertEqual((st, body), (304, b""))
        self.assertEqual(h2["etag"], etag)
        # a changed file has a new validator and is sent again
        path = os.path.join(self.root, "console", "app.js")
        with open(path, "w") as f:
            f.write("export const changed = true;\n")
        os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000_000))
        st, body, h3 = self.get("/console/app.js", {"If-None-Match": etag})
        self.assertEqual(st, 200)
        self.assertIn(b"changed", body)
        self.assertNotEqual(h3["etag"], etag)

    def test_placeholder_while_index_is_missing(self):
        st, body, h = self.get("/portal")
        self.assertEqual(st, 200)
        self.assertIn(b"not built yet", body)
        self.assertIn("default-src 'none'", h["content-security-policy"])
        # and the server said so when it started: the portal's page, not the console's
        with open(os.path.join(self.env.dir, f"serve-{self.srv.port}.log")) as f:
            warnings = [line for line in f if '"level":"warn"' in line]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn(f"no {self.root}/portal/index.html in the web root {self.root}: /portal shows a "
                      "placeholder page", warnings[0])

    def test_names_outside_the_web_root_are_404(self):
        for path in ("/console/..%2Fsecret.txt", "/console/.hidden", "/console/a%2Fb.js", "/console/nope.js",
                     "/portal/app.js"):
            with self.subTest(path=path):
                st, body, _ = self.srv.request("GET", path)
                self.assertEqual(st, 404, body)
                self.assertEqual(body["error"]["code"], "not_found")


class ShippedPages(unittest.TestCase):
    """web/ as shipped: the pages exist, and nothing in them needs more than the
    Content-Security-Policy allows (no inline script or style, no other origin)."""

    def files(self):
        for section in ("console", "portal"):
            d = os.path.join(ROOT, "web", section)
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    yield section, name, f.read()

    def test_console_and_portal_are_built(self):
        for section in ("console", "portal"):
            for name in ("index.html", "app.js", "style.css"):
                self.assertTrue(os.path.exists(os.path.join(ROOT, "web", section, name)), (section, name))

    def test_nothing_inline_and_nothing_third_party(self):
        import re
        for section, name, text in self.files():
            with self.subTest(file=f"{section}/{name}"):
                self.assertIsNone(re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), "an absolute URL")
                if name.endswith(".html"):
                    for tag in re.findall(r"<script\b[^>]*>", text):
                        self.assertIn('src="/', tag)
                        self.assertIn('type="module"', tag)
                    self.assertIsNone(re.search(r"<script\b[^>]*>\s*[^<\s]", text), "an inline script")
                    self.assertIsNone(re.search(r"\son[a-z]+\s*=", text), "an inline event handler")
                    self.assertIsNone(re.search(r"\sstyle\s*=|<style", text), "an inline style")
                if name.endswith(".js"):
                    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)  # the code, not its comments
                    self.assertNotIn("innerHTML", text)
                    self.assertNotIn("eval(", text)
                    self.assertIsNone(re.search(r"setAttribute\(\s*'style'", text))
                    self.assertNotIn("localStorage", text, "the key is kept in sessionStorage only")


if __name__ == "__main__":
    unittest.main()
