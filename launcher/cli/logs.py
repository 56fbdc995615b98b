"""`launcher logs [SERVICE...] [-f] [-n N] [-t] [--since WHEN] [--grep RE] [--no-prefix]`: the
services' lines, read from their files in `.launcher/logs/`, so also once the stack has stopped.

The services' lines are merged in time order, each prefixed with the service's name padded and
coloured as `launcher run` prints it (colours by the plan's order, which the state file keeps
while a stack runs; else by the names' sorted order), and printed as the services wrote them:
never masked. `-f` then prints new lines as they are written, until Ctrl-C or, when a stack was
running, until it has stopped. Where no stack has run yet (no service's log file, no stack
running) one line on stderr says so and the exit code is 0, as `docker compose logs` prints
nothing for a project without containers: a CI step that always collects the logs must not fail
because the stack never started.

A quick command: the files are read by launcher/runtime/logread.py and the colours come from
launcher/runtime/palette.py, both standard library only; no client of the control API.
"""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    import re
    from collections.abc import Callable
    from typing import Any

    from launcher.runtime.logread import Follower, LogLine, ServiceLog

POLL = 0.1  # seconds between two looks at the files while following
CHUNK = 10_000  # lines per write to stdout


EXAMPLES = """\
examples:
  launcher logs                     every service's lines, in time order
  launcher logs -f api worker       two services' lines, then the new ones as they come
  launcher logs -n 100 -t api       api's last 100 lines, with when each came
  launcher logs --since 10m --grep ERROR
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # `-f` is --follow here (as tail's and docker's): main.py gives `logs` only `--file FILE`.
    parser.add_argument("services", nargs="*", metavar="SERVICE", help="the services (default: every one)")
    parser.add_argument("-f", "--follow", action="store_true", help="then print new lines as they come")
    parser.add_argument(
        "-n", "--tail", type=_count, metavar="N", help="the last N lines of each service (default: all)"
    )
    parser.add_argument("-t", "--timestamps", action="store_true", help="show when each line came")
    parser.add_argument(
        "--since",
        type=_since,
        metavar="WHEN",
        help="lines since WHEN: RFC 3339, or a duration (10m, 2h, 30s)",
    )
    parser.add_argument("--grep", type=_pattern, metavar="RE", help="only the lines matching RE (Python re)")
    parser.add_argument(
        "--no-prefix",
        "--no-log-prefix",
        action="store_true",
        help="print the lines without the service's name",
    )


def main(args: argparse.Namespace) -> int:
    from launcher.control.client import project_root
    from launcher.runtime import logread, palette, statejson

    root = project_root(args.file)
    directory = logread.log_dir(root)
    state = statejson.read_json(root)
    run_id = state.get("run_id") if state is not None and _launcher_alive(state) else None
    planned = [service["name"] for service in state.get("services", [])] if state else []
    logged = logread.services_logged(directory)
    known = [*planned, *(name for name in logged if name not in planned)]
    if not logged and run_id is None:
        print(f"no logs: no stack of this project has run here yet ({directory} has none)", file=sys.stderr)
        return 0
    names = list(dict.fromkeys(args.services)) or known
    unknown = [name for name in names if name not in known]
    if unknown:
        from launcher.core.errors import UnknownService

        raise UnknownService(unknown[0], known)
    colour = palette.use_colour(sys.stdout, False if args.no_color else None, os.environ)
    show = _shower(args, Prefixes(known, colour))
    logs = {name: logread.ServiceLog(directory, name) for name in names}
    follower = logread.Follower(directory, logs, discover=not args.services)
    try:
        _write(_present(args, list(logs.values()), final=run_id is None), show)
        if args.follow:
            _follow(args, follower, show, root, run_id)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how one stops following: not an error
    finally:
        follower.close()
    return 0


def _present(args: argparse.Namespace, logs: list[ServiceLog], *, final: bool) -> list[LogLine]:
    """What the files hold now, selected by the options, merged; a note on stderr for each
    service whose older lines may have been rotated away (not when -n asks for the last lines
    only, nor when --since asks for none of the lines before the oldest kept)."""
    from launcher.runtime import logread

    selected = []
    for log in logs:
        lines = log.read(final=final)
        if log.rotated and args.tail is None and lines and (args.since is None or lines[0].at > args.since):
            print(
                f"note: {log.service}'s log reached its size bound and was rotated: its oldest lines "
                f"kept are in {os.path.relpath(log.rotated_path)}, any older are gone",
                file=sys.stderr,
            )
        selected.append(logread.last(logread.select(lines, since=args.since, pattern=args.grep), args.tail))
    return list(logread.merge(selected))


def _follow(
    args: argparse.Namespace, follower: Follower, show: Callable[[LogLine], str], root: str, run_id: object
) -> None:
    """New lines as they are written, until Ctrl-C or, when a stack was running (`run_id`),
    until it has stopped."""
    import time

    from launcher.runtime import logread

    while True:
        time.sleep(POLL)
        # Looked at before the files: every line the stack wrote is in them once its state is gone.
        stopped = run_id is not None and not _still_running(root, run_id)
        lines = follower.poll() + (follower.rest() if stopped else [])
        _write(logread.select(lines, since=args.since, pattern=args.grep), show)
        if stopped:
            return


def _still_running(root: str, run_id: object) -> bool:
    from launcher.runtime import statejson

    state = statejson.read_json(root)
    return state is not None and state.get("run_id") == run_id and _launcher_alive(state)


def _launcher_alive(state: dict[str, Any]) -> bool:
    """Whether the launcher a state file names still runs (one killed with SIGKILL leaves its
    state file behind; `status` reaps what it left)."""
    pid = state.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process has that pid now; ours would be signalable
    return True


def _write(lines: list[LogLine], show: Callable[[LogLine], str]) -> None:
    for start in range(0, len(lines), CHUNK):
        sys.stdout.write("".join(map(show, lines[start : start + CHUNK])))
    sys.stdout.flush()


def _shower(args: argparse.Namespace, prefixes: Prefixes) -> Callable[[LogLine], str]:
    def show(line: LogLine) -> str:
        stamp = f"{line.stamp} " if args.timestamps and line.stamp else ""
        prefix = "" if args.no_prefix else prefixes(line.service)
        return f"{stamp}{prefix}{line.text}\n"

    return show


class Prefixes:
    """`name | `: the name padded and coloured as launcher/runtime/output.py's Formatter does for
    `run` (padded to the longest name, `launcher` included; the colour of its place in `names`)."""

    def __init__(self, names: list[str], colour: bool) -> None:
        self.width = max(map(len, [*names, "launcher"]))
        self.colour = colour
        self._prefixes: dict[str, str] = {}
        for name in names:
            self(name)

    def __call__(self, name: str) -> str:
        prefix = self._prefixes.get(name)
        if prefix is None:  # (after __init__: a service whose file appeared while following)
            from launcher.runtime.palette import COLOURS, RESET

            prefix = f"{name:<{self.width}} | "
            if self.colour:
                prefix = f"{COLOURS[len(self._prefixes) % len(COLOURS)]}{prefix}{RESET}"
            self._prefixes[name] = prefix
        return prefix


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of lines: {text!r}")
    return int(text)


def _since(text: str) -> float:
    import time

    from launcher.runtime.logread import parse_since

    try:
        return parse_since(text, time.time())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pattern(text: str) -> re.Pattern[str]:
    import re

    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r} ({exc})") from None
