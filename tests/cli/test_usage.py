"""CLI usage: exit codes (0 ok, 1 failure, 2 usage), --help for every command,
unknown commands and options, missing arguments."""
import json
import unittest

from fulfilltest import FulfillTest

COMMANDS = [
    "serve", "worker", "keys create", "keys revoke", "program load", "program list",
    "program show", "program diff", "program approve", "program activate", "program rollback",
    "ingest", "explain", "rewards list", "rewards show", "rewards approve", "rewards reject",
    "rewards retry", "rewards cancel", "review list", "review approve", "review reject",
    "participants list", "participants show", "redeem", "report participants", "audit verify",
    "audit list", "migrate", "config show", "demo", "program simulate", "batch create",
    "batch list", "batch show", "batch export", "batch close", "batch fulfill", "batch reconcile",
    "codes upload", "codes show", "codes list", "participants tax-form", "report payouts",
    "report aging", "report tax", "report kpis", "report credit-status", "keys rotate-master",
    "blocklist add", "blocklist remove", "blocklist list",
]


class Usage(FulfillTest):
    def test_main_help(self):
        r = self.env.cli("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Usage: fulfill <command>", r.stdout)
        for c in ("serve", "ingest", "audit verify", "keys create", "demo"):
            self.assertIn(c, r.stdout)
        self.assertEqual(r.stderr, "")

    def test_help_for_every_command(self):
        for c in COMMANDS:
            with self.subTest(command=c):
                r = self.env.cli(*c.split(), "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.startswith("Usage: fulfill " + c), r.stdout[:200])
                self.assertIn("Exit status", r.stdout)
                # `fulfill help CMD` is the same text
                h = self.env.cli("help", *c.split())
                self.assertEqual(h.returncode, 0)
                self.assertEqual(h.stdout, r.stdout)

    def test_server_settings_are_listed_by_serve_not_by_every_command(self):
        settings = json.loads(self.env.cli("config", "show", "--json", check=True).stdout)
        server = [s["flag"] for s in settings if s["name"].startswith("http_")]
        self.assertGreaterEqual(len(server), 9)
        for cmd in (["serve"], ["demo"]):
            h = self.env.cli(*cmd, "--help", check=True).stdout
            section = h.split("Settings (flag", 1)[1].split("Global options", 1)[0]
            for flag in server:
                self.assertIn(flag + " ", section, (cmd, flag))
        for cmd in ([], ["rewards", "list"], ["worker"]):
            h = self.env.cli(*cmd, "--help", check=True).stdout
            glob = h.split("Global options", 1)[1]
            for flag in server:
                self.assertNotIn(flag + " ", glob, (cmd, flag))

    def test_family_help(self):
        r = self.env.cli("rewards", "--help")
        self.assertEqual(r.returncode, 0)
        for sub in ("list", "show", "approve", "reject", "retry", "cancel"):
            self.assertIn(sub, r.stdout)

    def test_family_help_shows_every_synopsis_whole(self):
        # `fulfill FAMILY` lists each subcommand with the synopsis of `fulfill --help`,
        # however long (rewards list's used to be cut off, its summary glued to it)
        main = self.env.cli("--help", check=True).stdout.split("Commands:", 1)[1].split("\n\n", 1)[0]
        for family in ("rewards", "review", "program", "participants", "batch", "report", "webhooks"):
            with self.subTest(family=family):
                h = self.env.cli(family, "--help", check=True).stdout
                lines = [l.strip() for l in h.splitlines()]
                for line in main.splitlines():
                    # a synopsis fills 44 columns, then a space and the summary, or has
                    # the line to itself
                    whole = line[2:46] if len(line) > 47 and line[46] == " " else line[2:]
                    if whole.startswith(family + " "):
                        synopsis = whole[len(family) + 1:].rstrip()
                        self.assertTrue(any(l == synopsis or l.startswith(synopsis + "  ") for l in lines),
                                        f"{synopsis!r} not whole in `fulfill {family} --help`:\n{h}")

    def test_no_command(self):
        r = self.env.cli()
        self.assertEqual(r.returncode, 2)
        self.assertIn("Usage", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_unknown_command(self):
        r = self.env.cli("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command", r.stderr)

    def test_unknown_subcommand(self):
        r = self.env.cli("rewards", "frobnicate")
        self.assertEqual(r.returncode, 2)
        r = self.env.cli("rewards")
        self.assertEqual(r.returncode, 2)

    def test_unknown_option(self):
        for args in (["rewards", "list", "--bogus"], ["migrate", "-x"], ["keys", "create", "--role", "admin", "--once"]):
            with self.subTest(args=args):
                r = self.env.cli(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("unknown option", r.stderr)
                self.assertEqual(r.stdout, "")

    def test_missing_option_argument(self):
        r = self.env.cli("rewards", "list", "--status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs an argument", r.stderr)
        r = self.env.cli("migrate", "--db")
        self.assertEqual(r.returncode, 2)

    def test_flag_with_value(self):
        r = self.env.cli("worker", "--once=yes")
        self.assertEqual(r.returncode, 2)

    def test_missing_and_extra_arguments(self):
        for args in (["explain"], ["rewards", "show"], ["program", "diff", "p", "1"],
                     ["redeem", "jessica", "10"], ["ingest"], ["keys", "revoke"]):
            with self.subTest(args=args):
                r = self.env.cli(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("missing argument", r.stderr)
        r = self.env.cli("explain", "a", "b")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unexpected argument", r.stderr)

    def test_bad_values_are_usage_errors(self):
        self.assertEqual(self.env.cli("rewards", "list", "--limit", "0").returncode, 2)
        self.assertEqual(self.env.cli("rewards", "list", "--limit", "x").returncode, 2)
        self.assertEqual(self.env.cli("worker", "--once", "--now", "yesterday").returncode, 2)
        self.assertEqual(self.env.cli("ingest", "x.ndjson", "--format", "xml").returncode, 2)
        self.assertEqual(self.env.cli("program", "approve", "p", "one").returncode, 2)
        self.assertEqual(self.env.cli("keys", "create").returncode, 2)
        self.assertEqual(self.env.cli("keys", "create", "--role", "wizard").returncode, 2)
        self.assertEqual(self.env.cli("redeem", "jessica", "ten", "USD").returncode, 2)
        self.assertEqual(self.env.cli("redeem", "jessica", "10", "XXX").returncode, 2)

    def test_failures_exit_1(self):
        r = self.env.cli("explain", "rwd_nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_found", r.stderr)
        self.assertEqual(r.stdout, "")
        r = self.env.cli("ingest", "/nonexistent/file.ndjson")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)

    def test_global_options_anywhere(self):
        r = self.env.cli("--json", "rewards", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        r2 = self.env.cli("rewards", "list", "--json")
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(r.stdout, r2.stdout)
        r3 = self.env.cli("rewards", "--json", "list")
        self.assertEqual(r3.stdout, r.stdout)

    def test_version(self):
        r = self.env.cli("--version")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("fulfill "))

    def test_migrate(self):
        r = self.env.cli("migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.strip())
        again = self.env.cli("migrate")
        self.assertEqual(again.returncode, 0)
        self.assertEqual(again.stdout, r.stdout)


if __name__ == "__main__":
    unittest.main()
