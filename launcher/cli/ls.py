"""`launcher ls [--json]`: every stack of this user running on this machine.

A quick command: the registry (launcher/runtime/registry.py) and each project's state file, read
as plain JSON (launcher/runtime/statejson.py), with nothing but the standard library.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from typing import Any

    from launcher.runtime.registry import Entry

EXAMPLES = """\
examples:
  launcher ls                       the stacks running on this machine, one line each
  launcher ls --json | jq -r '.[].project'
"""

COLUMNS = ("STACK", "PROFILE", "MODE", "STATE", "READY", "PID", "PROJECT")
# launcher/runtime/states.py's HEALTHY, as strings: importing that module costs 10 ms
# (tests/unit/test_vocabulary.py keeps them equal).
HEALTHY = frozenset({"ready", "completed"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list")


def main(args: argparse.Namespace) -> int:
    import json

    from launcher.runtime import registry, statejson

    stacks = [row(entry, statejson.read_json(entry["root"])) for entry in registry.entries()]
    if args.json:
        print(json.dumps(stacks, indent=2))
    elif stacks:
        print(render(stacks), end="")
    else:
        print("no stack is running (of this user, on this machine)")
    return 0


def row(entry: Entry, state: dict[str, Any] | None) -> dict[str, Any]:
    """One stack: where it is and which launcher runs it from the registry, the rest from its
    state file (None when it is unreadable, or is another launcher's by now)."""
    if state is not None and state.get("pid") != entry["pid"]:
        state = None
    state = state or {}
    services = state.get("services") or []
    return {
        "project": entry["root"],
        "stack": state.get("stack", entry["stack"]),
        "profile": state.get("profile"),
        "mode": state.get("mode"),
        "state": state.get("state", "unknown"),
        "ready": sum(1 for s in services if s.get("state") in HEALTHY),
        "total": len(services),
        "pid": entry["pid"],
    }


def render(stacks: list[dict[str, Any]]) -> str:
    """A table of one row per stack (pure, for tests)."""
    rows = [COLUMNS] + [
        (
            s["stack"],
            s["profile"] or "-",
            s["mode"] or "-",
            s["state"],
            f"{s['ready']}/{s['total']}",
            str(s["pid"]),
            s["project"],
        )
        for s in stacks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    return "".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)), r[-1]]) + "\n"
        for r in rows
    )
