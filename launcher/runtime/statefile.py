"""`.launcher/state.json`: what a running stack is, written atomically on every change.

Another launcher (a second `run`, `status`, the next run after a crash) reads it to find a live
stack, or the leftovers of a dead one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Where the file is, and reading its JSON: statejson.py, which the client commands use alone.
from launcher.runtime.statejson import STATE_DIR as STATE_DIR
from launcher.runtime.statejson import STATE_FILE as STATE_FILE
from launcher.runtime.statejson import read_json, take_lock

# `.launcher/` holds state, logs and a lock: none of it belongs in the project's repository, so
# the directory ignores itself (as a virtualenv's `.gitignore` of `*` does).
GITIGNORE = "*\n"


@dataclass
class ServiceRecord:
    name: str
    state: str
    pid: int | None = None
    pgid: int | None = None
    create_time: float | None = None
    port: int | None = None
    url: str | None = None
    restarts: int = 0
    exit_code: int | None = None
    started_at: float | None = None
    ready_at: float | None = None


@dataclass
class StackRecord:
    stack: str
    state: str
    pid: int
    create_time: float
    run_id: str
    # The configuration file it runs (absolute) and its profile: the client commands need no -f.
    config: str | None = None
    profile: str | None = None
    mode: str = "multi"
    started_at: float = 0.0
    api: str | None = None
    services: list[ServiceRecord] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackRecord:
        services = [ServiceRecord(**s) for s in data.get("services", [])]
        return cls(**{k: v for k, v in data.items() if k != "services"}, services=services)


def state_dir(root: Path) -> Path:
    return root / STATE_DIR


def make_state_dir(root: Path) -> Path:
    """`.launcher/` of the project at `root`, created 0700 with its `.gitignore` if need be.

    Every writer of the directory (the state file, the lock, the log files) comes through
    here, so `git add -A` never takes it in, whichever wrote first."""
    directory = state_dir(root)
    directory.mkdir(mode=0o700, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        # A full or read-only disk must not stop the stack: what needs the directory says so
        # itself (the state file once, each log file once), and the ignore file comes later.
        with contextlib.suppress(OSError):
            ignore.write_text(GITIGNORE)
    return directory


def read(root: Path) -> StackRecord | None:
    """The recorded stack of the project at `root`, or None (absent or unreadable)."""
    data = read_json(root)
    try:
        return None if data is None else StackRecord.from_dict(data)
    except TypeError:  # written by another version of launcher, or not by launcher
        return None


def write(root: Path, record: StackRecord) -> None:
    """Replace the state file atomically: readers see the old file or the new one, never half."""
    directory = make_state_dir(root)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".state-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(record.to_json())
        os.replace(temp, directory / STATE_FILE)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def remove(root: Path) -> None:
    (state_dir(root) / STATE_FILE).unlink(missing_ok=True)


def lock(root: Path) -> int | None:
    """Take the project's launcher lock: an fd to keep open while the stack runs, or None when
    another launcher holds it. The kernel releases it when the holder dies, even by SIGKILL, so
    unlike a pid in the state file it can neither go stale nor be taken twice at once."""
    return take_lock(make_state_dir(root))
