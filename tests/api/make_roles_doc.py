#!/usr/bin/env python3
"""Regenerate the table of docs/api-roles.md from a running server's /v1/openapi.json
(the route table's x-roles), keeping the prose around it:

    python3 tests/api/make_roles_doc.py            # starts ./fulfill on a scratch database

test_roles.py fails when the file and the server disagree."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from apiutil import ROLES, openapi_document  # noqa: E402

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "api-roles.md")


def table(doc):
    rows = ["| method | path | " + " | ".join(ROLES) + " |", "|---|---|" + "---|" * len(ROLES)]
    public = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            roles = op.get("x-roles") or []
            if not roles:
                public.append(f"`{method.upper()} {path}`")
                continue
            cells = [("own" if r in ("partner", "fulfiller") else "yes") if r in roles else "\u2014" for r in ROLES]
            rows.append(f"| {method.upper()} | `{path}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\nNeeds no key: " + ", ".join(public) + ".\n"


def main():
    doc = openapi_document()
    with open(DOC) as f:
        text = f.read()
    head = text[:text.index("| method | path |")]
    tail = text[text.index("## The roles in words"):]
    with open(DOC, "w") as f:
        f.write(head + table(doc) + "\n" + tail)


if __name__ == "__main__":
    main()
