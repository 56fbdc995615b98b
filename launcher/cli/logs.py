"""`launcher logs [SERVICE] [-f] [-n N]`: the last lines of one service, or of every service.

One service's lines are printed as they are; every service's are prefixed with the service's
name, padded and coloured as `launcher run` prints them (without the time: the API does not
keep when a line came). `-f` goes on printing new lines until Ctrl-C or until the stack stops.
"""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Callable

    from launcher.control.client import LineJson


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # `-f` is --follow here (as tail's and docker's): main.py gives `logs` only `--file FILE`.
    parser.add_argument("service", nargs="?", help="the service (default: every service)")
    parser.add_argument("-f", "--follow", action="store_true", help="go on printing new lines")
    parser.add_argument(
        "-n", "--tail", type=_count, default=100, metavar="N", help="the last N lines (default 100)"
    )


def main(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from launcher.control import client
    from launcher.runtime.output import use_colour

    stack = client.connect(args.file)
    if args.service:
        route = f"/v1/services/{quote(args.service, safe='')}/logs?tail={args.tail}"
        show: Callable[[LineJson], str] = _bare
    else:
        route = f"/v1/logs?tail={args.tail}"
        names = [service["name"] for service in stack.get("/v1/status")["services"]]
        colour = use_colour(sys.stdout, False if args.no_color else None, os.environ)
        show = Prefixer(names, colour)
    if not args.follow:
        # One service's route answers its lines; /v1/logs {"service", "line"} objects.
        for line in stack.get(route, service=args.service)["lines"]:
            print(line if args.service else show(line))
        return 0
    try:
        for line in stack.stream(f"{route}&follow=true", service=args.service):
            print(show(line), flush=True)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how one stops following: not an error
    return 0


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of lines: {text!r}")
    return int(text)


def _bare(line: LineJson) -> str:
    return line["line"]


class Prefixer:
    """`name | line`, the name padded to the longest and coloured by its place in the stack,
    as launcher.output.Formatter does for `run` (its colours, without the time)."""

    def __init__(self, names: list[str], colour: bool) -> None:
        width = max(map(len, names), default=0)
        self.prefixes = {name: self._prefix(name, width, i, colour) for i, name in enumerate(names)}
        self.width = width
        self.colour = colour

    @staticmethod
    def _prefix(name: str, width: int, index: int, colour: bool) -> str:
        from colorama import Style

        from launcher.runtime.output import COLOURS

        padded = f"{name:<{width}} | "
        return f"{COLOURS[index % len(COLOURS)]}{padded}{Style.RESET_ALL}" if colour else padded

    def __call__(self, line: LineJson) -> str:
        name = line["service"]
        prefix = self.prefixes.get(name)
        if prefix is None:  # a service the stack did not have a moment ago
            prefix = self.prefixes[name] = self._prefix(name, self.width, len(self.prefixes), self.colour)
        return prefix + line["line"]
