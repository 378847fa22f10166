"""README.md's five-minute tour, run as written: every `$ ./fulfill ...` line of the
tour's shell blocks (and the `for` line that loads the programs) runs from the
repository root against a fresh database (on either backend), and its output must be
the lines the README shows under it. In the README, `...` stands for any number of
lines, and a reward id for any reward id (they are random). The lines that start the
server or call it with curl are left out: the API tests cover that.

The operator docs' runnable examples too (DocExamples): the example programs and every
program fragment of docs/programs.md, fraud.md and notifications.md load and activate;
docs/ingest.md's NDJSON and CSV examples ingest; docs/configuration.md's settings table
is `fulfill config show`. (docs/scaling.md's backup and restore: tests/cli/test_backup.py.)"""
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fulfilltest import BIN, ROOT, FulfillTest  # noqa: E402

README = os.path.join(ROOT, "README.md")
DOCS = os.path.join(ROOT, "docs")
ID = re.compile(r"rwd_[0-9A-Za-z]{22}")


def tour_steps(text):
    """[(command, [expected lines])] of the tour's `$ ` lines."""
    start = text.index("## A five-minute tour of the CLI")
    end = text.index("\n## ", start + 1)
    steps, block = [], False
    for line in text[start:end].splitlines():
        if line.startswith("```"):
            block = not block
            continue
        if not block:
            continue
        if line.startswith("$ "):
            steps.append((line[2:].split("  #")[0].strip(), []))
        elif steps and steps[-1][1] is not None:
            steps[-1][1].append(line)
    return steps


def matches(expected, actual):
    """Whether `actual` lines are `expected` lines, `...` matching any run of lines."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    parts = ID.split(expected[0])
    pattern = r"rwd_[0-9A-Za-z]{22}".join(re.escape(p) for p in parts)
    return re.fullmatch(pattern, actual[0].rstrip()) is not None and matches(expected[1:], actual[1:])


class ReadmeTour(FulfillTest):
    def test_the_tour_prints_what_the_readme_shows(self):
        with open(README) as f:
            steps = tour_steps(f.read())
        run = [(c, e) for c, e in steps if "serve" not in c and "curl" not in c and "KEY=" not in c]
        self.assertGreaterEqual(len(run), 8, "could not find the tour's commands in README.md")
        for command, expected in run:
            self.assertTrue(command.startswith("./fulfill") or command.startswith("for "), command)
            p = subprocess.run(["bash", "-c", command.replace("./fulfill", BIN)], cwd=ROOT, env=self.env.env,
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, f"{command}: {p.stderr}")
            got = p.stdout.rstrip("\n").splitlines()
            self.assertTrue(matches([e.rstrip() for e in expected], got),
                            f"README.md shows for `{command}`:\n" + "\n".join(expected) +
                            "\nbut it prints:\n" + "\n".join(got))

    def test_the_matcher(self):
        self.assertTrue(matches(["a", "...", "z"], ["a", "b", "c", "z"]))
        self.assertTrue(matches(["a", "...", "z"], ["a", "z"]))
        self.assertFalse(matches(["a", "z"], ["a", "b", "z"]))
        self.assertTrue(matches(["x rwd_1TgQOOPfbYQ3DpfS2dbaCh y"], ["x rwd_0VbvqL1BY82gIfLzFT9eQP y"]))
        self.assertFalse(matches(["x rwd_1TgQOOPfbYQ3DpfS2dbaCh y"], ["x rwd_short y"]))


def doc(name):
    with open(os.path.join(DOCS, name)) as f:
        return f.read()


def blocks(text, lang):
    """The contents of the ```lang blocks of a Markdown text."""
    return re.findall(r"^```" + lang + r"\n(.*?)^```", text, re.S | re.M)


class DocExamples(FulfillTest):
    def load(self, program, *extra):
        path = self.env.write("program.json", json.dumps(program))
        return self.env.cli("program", "load", path, *extra)

    def test_example_programs_and_program_fragments_load_and_activate(self):
        for name in sorted(os.listdir(os.path.join(ROOT, "examples", "programs"))):
            r = self.env.cli("program", "load", os.path.join(ROOT, "examples", "programs", name), "--activate")
            self.assertEqual(r.returncode, 0, f"{name}: {r.stderr}")
            self.assertIn("active", r.stdout)
        with open(os.path.join(ROOT, "examples", "programs", "give20get20.json")) as f:
            base = json.load(f)
        fragments = 0
        for name in ("programs.md", "fraud.md", "notifications.md"):
            for block in blocks(doc(name), "json"):
                block = block.strip()
                if not block.startswith('"'):
                    continue  # a whole object shown as an illustration, not a member
                members = json.loads("{" + block + "}")
                with self.subTest(doc=name, members=list(members)):
                    r = self.load(dict(base, **members), "--activate")
                    self.assertEqual(r.returncode, 0, f"{name}: {block}\n{r.stderr}")
                    fragments += 1
        self.assertGreaterEqual(fragments, 6)

    def test_ingest_examples(self):
        text = doc("ingest.md")
        self.env.cli("program", "load", os.path.join(ROOT, "examples", "programs", "give20get20.json"),
                     "--activate", check=True)
        ndjson = blocks(text, "json")[0]
        r = self.env.cli("ingest", self.env.write("events.ndjson", ndjson))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "accepted 4, duplicate 0, rejected 0"), r.stderr)
        # the CSV examples are the same events again, under other event ids, one file each
        csvs = blocks(text, "csv")
        self.assertEqual(len(csvs), 4)
        self.env.cli("ingest", self.env.write("p.csv", csvs[0]), check=True)
        # a referral whose data.id an earlier event created: its code is in the doc's list
        r = self.env.cli("ingest", self.env.write("r.csv", csvs[1]))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "accepted 0, duplicate 0, rejected 1"))
        code = re.match(r"line 2: (\w+): ", r.stderr).group(1)
        codes = text.split("`CODE` is the API error code", 1)[1].split("`PARAM`", 1)[0]
        self.assertIn(f"`{code}`", codes)
        # on a database of their own the CSV files make the NDJSON's rewards
        other = type(self.env)()
        self.addCleanup(other.close)
        other.cli("program", "load", os.path.join(ROOT, "examples", "programs", "give20get20.json"),
                  "--activate", check=True)
        for i, (block, n) in enumerate(zip(csvs, (2, 1, 1, 1))):
            r = other.cli("ingest", other.write(f"{i}.csv", block))
            self.assertEqual((r.returncode, r.stdout.strip()), (0, f"accepted {n}, duplicate 0, rejected 0"),
                             block + r.stderr)
        rewards = other.cli_json("rewards", "list")["data"]
        self.assertEqual(sorted(w["participant"] for w in rewards), ["jessica", "tom"])
        # an unusable CSV header is exit status 1 (docs/ingest.md, Exit status)
        r = other.cli("ingest", other.write("bad.csv", "name,email\na,b\n"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("a CSV header lacks `id` or `type`", " ".join(text.split()))

    def test_configuration_table_is_config_show(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FULFILL_")}
        r = subprocess.run([BIN, "config", "show", "--json"], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {}
        for line in doc("configuration.md").splitlines():
            m = re.match(r"\| `(\w+)` \| (.*?) \| (.*?) \| (.*?) \|", line)
            if m:
                rows[m.group(1)] = [c.strip("`") for c in m.groups()[1:]]
        for s in json.loads(r.stdout):
            with self.subTest(setting=s["name"]):
                self.assertIn(s["name"], rows)
                env_var, flag, default = rows[s["name"]]
                self.assertEqual(env_var, s["env"])
                if s["flag"]:
                    self.assertEqual(flag.split()[0].split("`")[0], s["flag"])
                else:
                    self.assertIn("secret", flag)
                if s["value"] and not s["secret"]:
                    self.assertEqual(default, s["value"])
        self.assertEqual(set(rows), {s["name"] for s in json.loads(r.stdout)})
        # the example at the top, run on etc/fulfill.conf (installed as /etc/fulfill/fulfill.conf)
        example = doc("configuration.md").split("```\n$ ", 1)[1].split("```", 1)[0].splitlines()
        self.assertEqual(example[0], "FULFILL_LISTEN=0.0.0.0:9000 fulfill --config /etc/fulfill/fulfill.conf "
                                     "config show")
        self.assertEqual(example[-1], "...")
        r = subprocess.run([BIN, "--config", os.path.join(ROOT, "etc", "fulfill.conf"), "config", "show"],
                           env=dict(env, FULFILL_LISTEN="0.0.0.0:9000"), capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = [line.split() for line in example[1:-1]]
        got = [line.split() for line in r.stdout.splitlines()[:len(shown)]]
        got[1][1] = "/etc/fulfill/fulfill.conf"
        self.assertEqual(shown, got)


if __name__ == "__main__":
    unittest.main()
