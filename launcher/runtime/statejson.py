"""Where a project's state file is, `.launcher/state.json`, and its JSON as it is: the one
reader of the file.

launcher/runtime/statefile.py makes its records of it (and writes it); the client commands use
it as it is. They must answer within 40 ms of a bare interpreter, which statefile's imports
(dataclasses, tempfile, pathlib: ~18 ms) do not fit, so this module imports json and os only.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # not typing's: importing typing costs ~6 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    from typing import Any

STATE_DIR = ".launcher"
STATE_FILE = "state.json"
LOCK_FILE = "launcher.lock"


def take_lock(directory: str | os.PathLike[str]) -> int | None:
    """Take the launcher lock of the state directory `directory`: an fd to keep open while the
    stack runs, or None when another launcher holds it (launcher/runtime/statefile.py lock(),
    and firstspawn.py, which must not wait for statefile's imports)."""
    import fcntl

    fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def state_path(root: str | os.PathLike[str]) -> str:
    """The state file of the project at `root`."""
    return os.path.join(root, STATE_DIR, STATE_FILE)


def find_state(start: str) -> str | None:
    """The nearest directory, from `start` up, that holds a state file: the project of a stack
    that runs there (or whose launcher died, leaving the file), or None."""
    directory = start
    while True:
        if os.path.isfile(state_path(directory)):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def read_json(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The state file of the project at `root` as JSON, or None (absent, unreadable, or not
    an object)."""
    try:
        with open(state_path(root), "rb") as file:
            state = json.load(file)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None
