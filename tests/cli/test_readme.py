"""README.md's five-minute tour, run as written: every `$ ./fulfill ...` line of the
tour's shell blocks (and the `for` line that loads the programs) runs from the
repository root against a fresh database (on either backend), and its output must be
the lines the README shows under it. In the README, `...` stands for any number of
lines, and a reward id for any reward id (they are random). The lines that start the
server or call it with curl are left out: the API tests cover that."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fulfilltest import BIN, ROOT, FulfillTest  # noqa: E402

README = os.path.join(ROOT, "README.md")
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


if __name__ == "__main__":
    unittest.main()
