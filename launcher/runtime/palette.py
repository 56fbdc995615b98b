"""The services' colours and when to use colour: `run`'s output (launcher/runtime/output.py)
and `launcher logs` print a service's name the same way.

The colours are the ANSI sequences themselves (what colorama's constants hold): `logs` is a
quick command, and the running launcher idles smaller without colorama (and the ctypes it
imports), so this module imports nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs ~6 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TextIO

# A service's colour is COLOURS[its place in the plan % 10]: never red, which marks failures
# in the launcher's own lines.
COLOURS = [
    "\x1b[36m",  # cyan
    "\x1b[33m",  # yellow
    "\x1b[32m",  # green
    "\x1b[35m",  # magenta
    "\x1b[34m",  # blue
    "\x1b[96m",  # light cyan
    "\x1b[93m",  # light yellow
    "\x1b[92m",  # light green
    "\x1b[95m",  # light magenta
    "\x1b[94m",  # light blue
]
RESET = "\x1b[0m"
BRIGHT = "\x1b[1m"  # the launcher's own name
# The launcher's own lines by severity (an event's `level`): "info" stays plain.
LEVEL_COLOURS = {"error": "\x1b[31m" + BRIGHT, "warning": "\x1b[33m", "ok": "\x1b[32m"}


def use_colour(stream: TextIO, colour: bool | None, environ: Mapping[str, str]) -> bool:
    """NO_COLOR never, FORCE_COLOR always, otherwise only on a terminal (or as told)."""
    if colour is False or environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR") or colour:
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
