"""Helpers shared by the CLI tests (tests/cli/test_*.py): paths to the examples and a
few canned events. Not a test file itself."""
import json
import os

from fulfilltest import ROOT

EXAMPLES = os.path.join(ROOT, "examples")
PROGRAMS = os.path.join(EXAMPLES, "programs")
DEMO_EVENTS = os.path.join(EXAMPLES, "demo-events.ndjson")


def program_path(name):
    return os.path.join(PROGRAMS, name + ".json")


def load_programs(env, *names):
    for n in names or ("give20get20", "give10get10", "free-goods"):
        env.cli("program", "load", program_path(n), "--activate", check=True)


def participant(pid, eid=None, **kw):
    data = {"id": pid, "email": f"{pid}@example.com", "name": pid.title(), "country": "US",
            "currency": "USD", "status": "active"}
    data.update(kw)
    return {"id": eid or f"evt_p_{pid}", "type": "participant", "data": data}


def ndjson(*events):
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)
