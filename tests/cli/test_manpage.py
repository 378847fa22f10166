"""docs/fulfill.1 against the binary it documents: every command of `fulfill --help`
has an entry, every setting of `fulfill config show` is in the CONFIGURATION table with
its default (and its environment variable follows the page's rule), and the page
renders with tbl, as man(1) does, without groff warnings."""
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fulfilltest import BIN, ROOT, FulfillTest  # noqa: E402

MAN = os.path.join(ROOT, "docs", "fulfill.1")


def plain(roff_line):
    """A roff line without its macro and font escapes: '.B rewards approve\\fR|\\fBreject'
    -> 'rewards approve|reject'."""
    s = re.sub(r"^\.(B|BR|BI|I|IR|RB|TP)\b ?", "", roff_line)
    s = re.sub(r"\\f[BRIP]", "", s).replace("\\-", "-").replace('"', "")
    return s.strip()


def documented_commands(text):
    """{(family, subcommand or None)} named by the page's entry headings."""
    found = set()
    for line in text.splitlines():
        if not line.startswith(".B "):
            continue
        for entry in plain(line).split(", "):
            words = entry.split()
            if not words or not re.fullmatch(r"[a-z][a-z-]*", words[0]):
                continue
            subs = words[1].split("|") if len(words) > 1 and re.fullmatch(r"[a-z|-]+", words[1]) else [None]
            for sub in subs:
                found.add((words[0], sub))
    return found


class ManPage(FulfillTest):
    def setUp(self):
        super().setUp()
        with open(MAN) as f:
            self.text = f.read()

    def test_every_command_has_an_entry(self):
        r = self.env.cli("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        documented = documented_commands(self.text)
        commands = set()
        for line in r.stdout.split("Commands:", 1)[1].splitlines():
            m = re.match(r"  ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?(?: |$)", line)
            if m:
                commands.add((m.group(1), m.group(2)))
        self.assertGreater(len(commands), 40)
        missing = {c for c in commands if c not in documented and (c[0], None) not in documented}
        self.assertEqual(missing, set(), "commands of --help without an entry in docs/fulfill.1")

    def test_every_setting_is_in_the_table(self):
        # the defaults: no FULFILL_* variable in the way
        env = {k: v for k, v in os.environ.items() if not k.startswith("FULFILL_")}
        r = subprocess.run([BIN, "config", "show", "--json"], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        table = self.text.split(".TS", 1)[1].split(".TE", 1)[0]
        rows = {}
        for line in table.splitlines():
            cells = line.split("\t")
            if len(cells) == 2:
                rows[cells[0]] = cells[1].replace("\\-", "-")
        for s in json.loads(r.stdout):
            if s["name"] == "config":
                continue  # --config / FULFILL_CONFIG: OPTIONS and ENVIRONMENT
            with self.subTest(setting=s["name"]):
                self.assertIn(s["name"], rows, "no row in the CONFIGURATION table")
                # the page's rule for the variable's name
                self.assertEqual(s["env"], "FULFILL_" + s["name"].upper())
                if s["value"] and not s["secret"]:
                    self.assertEqual(rows[s["name"]], s["value"], "default")
        self.assertTrue(self.text.startswith("'\\\" t"), "the first line asks man for tbl")

    def test_renders_without_warnings(self):
        if not shutil.which("groff"):
            self.skipTest("groff is not installed")
        r = subprocess.run(["groff", "-t", "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True, text=True,
                           env=dict(os.environ, LC_ALL="C"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([l for l in r.stderr.splitlines() if "cannot adjust line" not in l], [])


if __name__ == "__main__":
    unittest.main()
