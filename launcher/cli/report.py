"""How the command line shows an error: red on a terminal (unless NO_COLOR or --no-color), or
one JSON record under `--log-format json`, on stderr. A warning likewise, in yellow."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

from launcher.runtime.palette import use_colour

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from launcher.core.diagnostics import Diagnostic
    from launcher.core.errors import LauncherError

RED = "\033[1;31m"
YELLOW = "\033[33m"
RESET = "\033[0m"


def print_error(error: LauncherError, *, log_format: str | None = None, no_color: bool = False) -> None:
    if log_format == "json":
        record: dict[str, object] = {
            "ts": datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "service": error.service or "launcher",
            "level": "error",
            "message": str(error),
        }
        details = getattr(error, "record", None)  # a failed start: every failure, structured
        if callable(details):
            record.update(details())
        print(json.dumps(record), file=sys.stderr)
        return
    text = str(error)
    if use_colour(sys.stderr, False if no_color else None, os.environ):
        text = "\n".join(f"{RED}{line}{RESET}" for line in text.split("\n"))
    print(text, file=sys.stderr)


def print_warning(warning: Diagnostic, *, log_format: str | None = None, no_color: bool = False) -> None:
    """A warning (it refuses nothing), as `print_error` shows an error, in yellow."""
    text = warning.render()
    if log_format == "json":
        ts = datetime.now().astimezone().isoformat(timespec="milliseconds")
        print(
            json.dumps({"ts": ts, "service": "launcher", "level": "warning", "message": text}),
            file=sys.stderr,
        )
        return
    if use_colour(sys.stderr, False if no_color else None, os.environ):
        text = "\n".join(f"{YELLOW}{line}{RESET}" for line in text.split("\n"))
    print(text, file=sys.stderr)
