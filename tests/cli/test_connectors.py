"""`fulfill connectors set|list|show|delete` and `fulfill webhooks
create|list|show|delete|deliveries`: output, exit codes, secrets that never show, the
SSRF guard and its allow-list setting, and a real delivery seen through `deliveries`."""
import http.server
import json
import os
import sqlite3
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_helpers import ndjson, participant  # noqa: E402
from fulfilltest import FulfillTest  # noqa: E402

SECRET = "sk_test_abcdefSECRETxyz1234"
PUBLIC = "https://93.184.216.34"  # example.com's address: public, never contacted here

CONNECTOR_COMMANDS = ["connectors set", "connectors list", "connectors show", "connectors delete"]
WEBHOOK_COMMANDS = ["webhooks create", "webhooks list", "webhooks show", "webhooks delete",
                    "webhooks deliveries"]


class Connectors(FulfillTest):
    def setUp(self):
        super().setUp()
        self.seen = []  # every (stdout, stderr) of the test, searched for the secret

    def run_cli(self, *args, **kw):
        r = self.env.cli(*args, **kw)
        self.seen.append(r.stdout + r.stderr)
        return r

    def assertSecretNeverShown(self):
        for text in self.seen:
            self.assertNotIn(SECRET, text)
            self.assertNotIn("abcdefSECRET", text)

    def set_stripe(self, cid="stripe_main", *extra):
        cfg = json.dumps({"api_key": SECRET, "base_url": PUBLIC, "timeout_ms": 5000})
        return self.run_cli("connectors", "set", cid, "--type", "stripe", "--config", cfg, *extra)

    def test_set_list_show_mask_the_secret(self):
        r = self.set_stripe()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^id:\s+stripe_main$")
        self.assertRegex(r.stdout, r"(?m)^\s+api_key\s+sk_\.\.\.1234$")
        self.assertRegex(r.stdout, r"(?m)^breaker:\s+closed")

        r = self.run_cli("connectors", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "TYPE", "BREAKER", "FAILURES", "BASE", "URL"])
        self.assertEqual(lines[1].split(), ["stripe_main", "stripe", "closed", "0", PUBLIC])
        # aligned: every column starts at the same offset in the header and the row
        self.assertEqual(lines[0].index("TYPE"), lines[1].index("stripe "))

        j = json.loads(self.run_cli("connectors", "show", "stripe_main", "--json").stdout)
        self.assertEqual(j["config"]["api_key"], "sk_...1234")
        self.assertEqual(j["type"], "stripe")
        self.assertEqual(j["breaker"]["state"], "closed")
        j = json.loads(self.run_cli("connectors", "list", "--json").stdout)
        self.assertEqual([c["id"] for c in j["data"]], ["stripe_main"])
        r = self.run_cli("connectors", "show", "stripe_main")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sk_...1234", r.stdout)

        # a later set without the secret keeps it (write-only), still masked
        r = self.run_cli("connectors", "set", "stripe_main", "--type", "stripe", "--config",
                         json.dumps({"base_url": PUBLIC}))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sk_...1234", r.stdout)
        self.assertSecretNeverShown()

    def test_list_shows_where_each_connector_sends(self):
        whsec = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LTMyLWJ5dGVz"
        r = self.run_cli("connectors", "set", "hook", "--type", "webhook", "--config",
                         json.dumps({"url": "https://hooker:" + SECRET + "@93.184.216.34/rewards", "secret": whsec}))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("connectors", "set", "mail", "--type", "smtp", "--config",
                         json.dumps({"url": "smtp://mail.example.com:587", "from": "rewards@example.com",
                                     "username": "rewards", "password": SECRET}))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.run_cli("connectors", "set", "stripe_default", "--type", "stripe", "--config",
                                      json.dumps({"api_key": SECRET})).returncode, 0)
        self.assertEqual(self.set_stripe().returncode, 0)
        r = self.run_cli("connectors", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {line.split()[0]: line.split()[-1] for line in r.stdout.splitlines()[1:]}
        self.assertEqual(rows, {
            "hook": "https://hooker:****@93.184.216.34/rewards",  # its own url, the password masked
            "mail": "smtp://mail.example.com:587",                # the smtp server
            "stripe_default": "(default)",                        # the provider's own address
            "stripe_main": PUBLIC,                                # a base_url
        })
        self.assertNotIn(whsec, r.stdout)
        # the JSON the API answers too (one rendering): the url's password masked
        for args in (("connectors", "show", "hook", "--json"), ("connectors", "list", "--json")):
            r = self.run_cli(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn(SECRET, r.stdout)
            self.assertIn("https://hooker:****@93.184.216.34/rewards", r.stdout)
        # saving the configuration as a read showed it (the console's editor does) keeps
        # the stored password; a new password replaces it
        shown = json.loads(self.run_cli("connectors", "show", "hook", "--json").stdout)["config"]
        r = self.run_cli("connectors", "set", "hook", "--type", "webhook", "--config",
                         json.dumps({"url": shown["url"], "timeout_ms": 4000}))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("hooker:" + SECRET + "@", self.stored_config("hook"))
        r = self.run_cli("connectors", "set", "hook", "--type", "webhook", "--config",
                         json.dumps({"url": "https://hooker:other@93.184.216.34/rewards"}))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("hooker:other@", self.stored_config("hook"))
        self.assertSecretNeverShown()

    def stored_config(self, cid):
        """The connector's stored (plain) configuration text, read behind fulfill's back."""
        sql = f"SELECT config FROM connectors WHERE id = '{cid}'"
        if self.env.db.startswith("sqlite:"):
            with sqlite3.connect(self.env.db[len("sqlite:"):]) as db:
                return db.execute(sql).fetchone()[0]
        return subprocess.run(["psql", self.env.db, "-Atc", sql], check=True, capture_output=True,
                              text=True).stdout

    def test_config_file_and_stdin(self):
        path = self.env.write("stripe.json", json.dumps({"api_key": SECRET}))
        r = self.run_cli("connectors", "set", "s1", "--type", "stripe", "--config-file", path, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["config"]["api_key"], "sk_...1234")
        r = self.run_cli("connectors", "set", "s2", "--type", "stripe", "--config-file", "-",
                         input=json.dumps({"api_key": SECRET}))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli("connectors", "set", "s3", "--type", "stripe", "--config-file",
                         os.path.join(self.env.dir, "missing.json"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)
        self.assertSecretNeverShown()

    def test_bad_json_is_a_failure_that_does_not_echo_the_secret(self):
        # the secret is unquoted: jansson would quote it back as "near '...'"
        r = self.run_cli("connectors", "set", "s1", "--type", "stripe", "--config",
                         '{"api_key": ' + SECRET + '}')
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"invalid_request: --config is not valid JSON: line 1, column \d+")
        path = self.env.write("bad.json", '{"api_key": "' + SECRET + '",}')
        r = self.run_cli("connectors", "set", "s1", "--type", "stripe", "--config-file", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not valid JSON", r.stderr)
        r = self.run_cli("connectors", "set", "s1", "--type", "stripe", "--config", '["' + SECRET + '"]')
        self.assertEqual(r.returncode, 1)
        self.assertIn("must be a JSON object", r.stderr)
        # an engine refusal names the field, never its value
        r = self.run_cli("connectors", "set", "s1", "--type", "stripe", "--config",
                         json.dumps({"api_key": SECRET, "colour": "red"}))
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown_field", r.stderr)
        self.assertIn("config.colour", r.stderr)
        self.assertEqual(self.run_cli("connectors", "show", "s1").returncode, 1)
        self.assertSecretNeverShown()

    def test_unknown_type(self):
        r = self.run_cli("connectors", "set", "x", "--type", "carrier-pigeon", "--config", "{}")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_request", r.stderr)
        self.assertIn("(type)", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_delete(self):
        self.assertEqual(self.set_stripe().returncode, 0)
        r = self.run_cli("connectors", "delete", "stripe_main")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "deleted connector stripe_main\n")
        r = self.run_cli("connectors", "show", "stripe_main")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_found", r.stderr)
        self.assertEqual(self.run_cli("connectors", "delete", "stripe_main").returncode, 1)
        self.assertEqual(json.loads(self.run_cli("connectors", "list", "--json").stdout)["data"], [])

    def test_connector_urls_go_through_the_ssrf_guard(self):
        cfg = json.dumps({"api_key": SECRET, "base_url": "http://127.0.0.1:9"})
        r = self.run_cli("connectors", "set", "local", "--type", "stripe", "--config", cfg)
        self.assertEqual(r.returncode, 1)
        self.assertIn("config.base_url", r.stderr)
        r = self.run_cli("connectors", "set", "local", "--type", "stripe", "--config", cfg,
                         "--webhook-allow-hosts", "127.0.0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertSecretNeverShown()

    def test_usage_errors(self):
        cases = [
            ["connectors", "set", "x", "--config", "{}"],                       # no --type
            ["connectors", "set", "x", "--type", "stripe"],                     # no config
            ["connectors", "set", "x", "--type", "stripe", "--config", "{}", "--config-file", "f"],
            ["connectors", "set", "--type", "stripe", "--config", "{}"],        # no ID
            ["connectors", "show"],
            ["connectors", "show", "a", "b"],
            ["connectors", "list", "--type", "stripe"],                         # not its option
            ["connectors", "frobnicate"],
            ["connectors"],
            ["webhooks", "create"],
            ["webhooks", "create", PUBLIC, "--events", "reward.created,,reward.failed"],
            ["webhooks", "create", PUBLIC, "--events"],
            ["webhooks", "list", "--limit", "0"],
            ["webhooks", "deliveries"],
            ["webhooks", "delete", "we_1", "we_2"],
        ]
        for args in cases:
            with self.subTest(args=args):
                r = self.run_cli(*args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertIn("fulfill", r.stderr)

    def test_help(self):
        for c in CONNECTOR_COMMANDS + WEBHOOK_COMMANDS:
            with self.subTest(command=c):
                r = self.run_cli(*c.split(), "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.startswith("Usage: fulfill " + c), r.stdout[:200])
                self.assertIn("Exit status", r.stdout)
                self.assertEqual(self.run_cli("help", *c.split()).stdout, r.stdout)
        r = self.run_cli("connectors", "set", "--help")
        self.assertIn("--config JSON", r.stdout)
        self.assertIn("--config-file FILE", r.stdout)
        self.assertIn("--webhook-allow-hosts", r.stdout)
        self.assertNotIn("--config FILE", r.stdout)  # shadowed by the command's --config JSON
        r = self.run_cli("webhooks", "create", "--help")
        self.assertIn("--webhook-allow-hosts", r.stdout)
        for fam in ("connectors", "webhooks"):
            r = self.run_cli(fam, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn("delete", r.stdout)
        self.assertIn("webhooks create", self.run_cli("--help").stdout)


class Webhooks(FulfillTest):
    def create(self, url, *extra):
        return self.env.cli("webhooks", "create", url, *extra)

    def test_create_list_show_delete(self):
        r = self.create(PUBLIC + "/hooks", "--events", "reward.fulfilled, reward.failed",
                        "--description", "ops board")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^id:\s+we_\w+$")
        self.assertRegex(r.stdout, r"(?m)^events:\s+reward\.fulfilled,reward\.failed$")
        self.assertRegex(r.stdout, r"(?m)^secret:\s+whsec_\S+$")
        self.assertIn("only this once", r.stderr)
        secret = next(l.split()[1] for l in r.stdout.splitlines() if l.startswith("secret:"))
        wid = next(l.split()[1] for l in r.stdout.splitlines() if l.startswith("id:"))

        j = self.env.cli_json("webhooks", "create", PUBLIC + "/all")
        self.assertTrue(j["secret"].startswith("whsec_"))
        self.assertEqual(j["events"], [])
        self.assertEqual(j["status"], "enabled")

        r = self.env.cli("webhooks", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "STATUS", "URL", "EVENTS", "DESCRIPTION"])
        self.assertEqual(len(lines), 3, r.stdout)
        self.assertIn(wid, lines[1])
        self.assertIn("ops board", lines[1])
        self.assertIn("all", lines[2])
        self.assertEqual(lines[0].index("URL"), lines[1].index(PUBLIC))
        lst = self.env.cli_json("webhooks", "list", "--limit", "1")
        self.assertEqual(len(lst["data"]), 1)
        self.assertTrue(lst["has_more"])

        r = self.env.cli("webhooks", "show", wid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^deliveries:\s+pending 0, succeeded 0, failed 0$")
        for args in (["webhooks", "show", wid], ["webhooks", "list"], ["webhooks", "show", wid, "--json"],
                     ["webhooks", "list", "--json"]):
            out = self.env.cli(*args)
            self.assertNotIn(secret, out.stdout + out.stderr)
            self.assertNotIn("whsec_", out.stdout)

        r = self.env.cli("webhooks", "deliveries", wid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split()[:3], ["SEQ", "AT", "TYPE"])
        self.assertEqual(self.env.cli_json("webhooks", "deliveries", wid)["data"], [])

        r = self.env.cli("webhooks", "delete", wid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"deleted webhook endpoint {wid}\n")
        for args in (["webhooks", "show", wid], ["webhooks", "delete", wid], ["webhooks", "deliveries", wid]):
            r = self.env.cli(*args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("not_found", r.stderr)
        self.assertEqual(len(self.env.cli_json("webhooks", "list")["data"]), 1)

    def test_bad_events(self):
        r = self.create(PUBLIC, "--events", "reward.teleported")
        self.assertEqual(r.returncode, 1)
        self.assertIn("(events)", r.stderr)
        r = self.create("ftp://93.184.216.34/x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("(url)", r.stderr)

    def test_ssrf_refused_unless_allow_listed(self):
        r = self.create("http://127.0.0.1/x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_request", r.stderr)
        self.assertIn("(url)", r.stderr)
        self.assertEqual(r.stdout, "")
        for url in ("http://10.0.0.1/x", "http://169.254.169.254/latest", "http://[::1]/x", "http://2130706433/x"):
            with self.subTest(url=url):
                self.assertEqual(self.create(url).returncode, 1)
        # another host on the list does not help
        self.assertEqual(self.create("http://127.0.0.1/x", "--webhook-allow-hosts", "localhost").returncode, 1)
        r = self.create("http://127.0.0.1/x", "--webhook-allow-hosts", "127.0.0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("http://127.0.0.1/x", r.stdout)
        # the same setting from the environment and the --flag=value spelling
        self.env.env["FULFILL_WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"
        self.assertEqual(self.create("http://127.0.0.1/y").returncode, 0)
        del self.env.env["FULFILL_WEBHOOK_ALLOW_HOSTS"]
        self.assertEqual(self.create("http://127.0.0.1/z", "--webhook-allow-hosts=127.0.0.1").returncode, 0)
        self.assertEqual(len(self.env.cli_json("webhooks", "list")["data"]), 3)

    def test_deliveries_after_a_worker_pass(self):
        got = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                got.append((self.headers.get("webhook-id"), json.loads(self.rfile.read(n))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.shutdown)
        url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
        allow = ("--webhook-allow-hosts", "127.0.0.1")
        wid = self.env.cli_json("webhooks", "create", url, "--events", "reward.fulfilled", *allow)["id"]

        program = {"id": "p1", "name": "P1", "currency": "USD", "trigger": "conversion", "eligibility": True,
                   "rewards": [{"to": "referrer", "type": "credit", "amount": 1000}],
                   "hold_days": 0, "fulfillment": {"credit": "ledger"}}
        self.env.cli("program", "load", self.env.write("p1.json", json.dumps(program)), "--activate", check=True)
        events = [participant("alice"), participant("carol"),
                  {"id": "evt_r1", "type": "referral", "occurred_at": "2026-10-01T09:00:00Z",
                   "data": {"id": "ref_1", "program": "p1", "referrer": "alice", "referred": "carol"}},
                  {"id": "evt_c1", "type": "conversion", "occurred_at": "2026-10-02T12:00:00Z",
                   "data": {"id": "ord_1", "participant": "carol", "amount": 7500, "currency": "USD"}}]
        self.env.cli("ingest", self.env.write("e.ndjson", ndjson(*events)), check=True)
        r = self.env.cli("worker", "--once", *allow)
        self.assertEqual(r.returncode, 0, r.stderr)
        # the delivery written with the fulfillment goes out in the same pass
        self.assertIn("fulfilled 1", r.stdout)
        self.assertIn("webhooks 1", r.stdout)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][1]["type"], "reward.fulfilled")

        d = self.env.cli_json("webhooks", "deliveries", wid)["data"]
        self.assertEqual(len(d), 1, d)
        self.assertEqual((d[0]["status_code"], d[0]["success"], d[0]["attempt"]), (200, True, 1))
        self.assertEqual(d[0]["webhook_id"], got[0][0])
        r = self.env.cli("webhooks", "deliveries", wid)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        row = lines[1].split()
        self.assertEqual(row[0], d[0]["id"])
        self.assertEqual(row[2:6], ["reward.fulfilled", got[0][0], "1", "200"])
        self.assertEqual(lines[0].index("TYPE"), lines[1].index("reward.fulfilled"))
        self.assertRegex(self.env.cli("webhooks", "show", wid).stdout, r"(?m)^deliveries:\s+pending 0, succeeded 1")
        self.assertEqual(self.env.cli_json("webhooks", "deliveries", wid, "--starting-after", d[0]["id"])["data"], [])


if __name__ == "__main__":
    unittest.main()
