"""Per-service log files under `.launcher/logs/`: the service's own lines, size-bounded.

Each line is `STAMP text`, STAMP the time it came in RFC 3339 to the millisecond with the local
offset (`2024-05-01T12:00:00.123+02:00`): `launcher logs` (launcher/runtime/logread.py) orders,
filters and shows the lines by it. Each file rotates to `<name>.log.1` when it passes
`max_bytes`. A write error (disk full, read-only directory) stops that one file and is reported
once through `on_error`, never raised: losing a log file must not take a service down.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from launcher.runtime.lines import Lines
from launcher.runtime.pieces import write_pieces
from launcher.runtime.statefile import STATE_DIR, make_state_dir

MAX_BYTES = 5 * 1024 * 1024


class LogFiles:
    def __init__(
        self, directory: Path, on_error: Callable[[str, str], None], max_bytes: int = MAX_BYTES
    ) -> None:
        self.directory = directory
        self.on_error = on_error
        self.max_bytes = max_bytes
        self._files: dict[str, BinaryIO] = {}
        self._sizes: dict[str, int] = {}
        self._broken: set[str] = set()

    def path(self, service: str) -> Path:
        return self.directory / f"{service}.log"

    def write(self, service: str, lines: Sequence[str]) -> None:
        if service in self._broken or not lines:
            return
        try:
            file = self._files.get(service) or self._open(service)
            # One stamp for the chunk, put before each line by one pass over its bytes: a
            # flooding service writes thousands of lines a chunk, none of them formatted alone.
            # The file is unbuffered: the pieces go out by one writev, complete lines for
            # `launcher logs` at once, and no byte is copied into a buffer first.
            stamp = datetime.now().astimezone().isoformat(timespec="milliseconds")
            parts = Lines.of(lines).prefixed_parts(stamp.encode() + b" ")
            self._sizes[service] += write_pieces(file.fileno(), parts)
            if self._sizes[service] > self.max_bytes:
                self._rotate(service)
        except OSError as exc:
            self._broken.add(service)
            self._close(service)
            self.on_error(
                service, f"cannot write {self.path(service)}: {exc.strerror}; its log file stops here"
            )

    def _open(self, service: str) -> BinaryIO:
        if self.directory.parent.name == STATE_DIR:  # a project's: `.launcher/` ignores itself
            make_state_dir(self.directory.parent.parent)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path(service)
        file = path.open("ab", buffering=0)
        self._files[service] = file
        self._sizes[service] = path.stat().st_size
        return file

    def _rotate(self, service: str) -> None:
        self._close(service)
        rotated = self.path(service).with_suffix(".log.1")
        # The old part goes first: a rename over it makes ext4 write the file's data out
        # (auto_da_alloc), a stall of several milliseconds of the event loop per rotation.
        with contextlib.suppress(FileNotFoundError):
            rotated.unlink()
        os.replace(self.path(service), rotated)

    def _close(self, service: str) -> None:
        file = self._files.pop(service, None)
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()

    def close(self) -> None:
        for service in list(self._files):
            self._close(service)
