"""`launcher status [--json]`: the running stack and each of its services.

Exit codes as `systemctl status`: 0 the stack runs with every service ready or completed, 1 it
runs otherwise (starting, stopping, a service failed or stopped), 3 no stack runs (JSON
`{"state": "stopped", "services": []}`). A quick command: it imports the client and json,
nothing of the runtime (see launcher/control/client.py).
"""

from __future__ import annotations

import argparse
import time

from launcher.control import cells

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from launcher.control.client import ServiceJson, StackJson
    from launcher.core.errors import NoStackRunning

COLUMNS = ("SERVICE", "STATE", "PID", "URL", "UPTIME", "RESTARTS", "LAST PROBE")
# launcher/runtime/states.py's HEALTHY, as strings (see launcher/control/cells.py).
HEALTHY = frozenset({"ready", "completed"})
NOT_RUNNING = 3  # as `systemctl status` of a unit that is not active


EXAMPLES = """\
examples:
  launcher status                   the stack's line, then a row per service
  launcher status --json | jq '.services[] | {name, state, url}'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the API's JSON")


def main(args: argparse.Namespace) -> int:
    import json

    from launcher.control import client

    try:
        running = client.connect(args.file)
        stack: StackJson = running.get("/v1/status")
    except Exception as exc:
        # Imported here: the errors' module is not for the path that answers.
        from launcher.core.errors import NoStackRunning

        if not isinstance(exc, NoStackRunning):
            raise
        return _stopped(exc, as_json=args.json)
    if args.json:
        print(json.dumps(stack, indent=2))
    else:
        print(render(stack, time.time(), running.root), end="")
    healthy = stack["state"] == "running" and all(s["state"] in HEALTHY for s in stack["services"])
    return 0 if healthy else 1


def _stopped(exc: NoStackRunning, *, as_json: bool) -> int:
    import json
    import sys

    if exc.note:  # a dead launcher's leftovers, just ended
        print(exc.note, file=sys.stderr)
    if as_json:
        print(json.dumps({"state": "stopped", "services": []}, indent=2))
    else:
        print(f"stopped: no stack of this project is running ({exc.state_file})")
    return NOT_RUNNING


def render(stack: StackJson, now: float, project: str | None = None) -> str:
    """The stack's line (ending with its project's directory, which tells two copies of a
    project apart), then a table of one row per service (pure, for tests)."""
    head = cells.stack_line(stack, now, project)
    rows = [COLUMNS, *(_row(service, now) for service in stack["services"])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    # Every column padded to its widest cell but the last, whose cells vary most.
    table = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]
    return "\n".join([head, *table]) + "\n"


def _row(service: ServiceJson, now: float) -> tuple[str, ...]:
    return (
        service["name"],
        cells.state(service),
        _or_dash(service.get("pid")),
        cells.address(service),
        cells.uptime(service, now),
        str(service.get("restarts", 0)),
        cells.probe(service.get("last_probe"), now),
    )


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)
