"""The shared host's output: every line says which hosted service wrote it.

The host replaces sys.stdout and sys.stderr with `TaggedStream`s before it imports anything. A
line written while `current` names a hosted service (its lifespan, its requests, its task and
every task or thread started from those) goes out as TAG + name + SEP + text; the launcher reads
the tag and relays the line under that service's name (launcher/runtime/host_process.py). Lines of the host
itself, and anything written to the file descriptors directly, stay untagged.
"""

from __future__ import annotations

import contextvars
import io
import threading
from typing import TextIO

TAG = "\x1e"
SEP = "\x1f"
current: contextvars.ContextVar[str | None] = contextvars.ContextVar("launcher_hosted_service", default=None)


def split_tag(line: str) -> tuple[str | None, str]:
    """(service, text) of a line of the host's output; service is None for the host's own."""
    if line.startswith(TAG):
        name, sep, text = line[1:].partition(SEP)
        if sep:
            return name, text
    return None, line


class TaggedStream(io.TextIOBase):
    """A text stream that writes whole lines, each tagged with the service writing it.

    Partial lines wait per service (so that two services' halves never share a line) until
    their newline, or until the host ends (close()).
    """

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self._raw = raw
        self._partial: dict[str | None, str] = {}
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._raw.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._raw.errors

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._raw.fileno()

    def write(self, text: str) -> int:
        unit = current.get()
        with self._lock:
            pending = self._partial.pop(unit, "") + text
            head, newline, rest = pending.rpartition("\n")
            if rest:
                self._partial[unit] = rest
            if newline:
                self._emit(unit, head.split("\n"))
        return len(text)

    def _emit(self, unit: str | None, lines: list[str]) -> None:
        prefix = "" if unit is None else TAG + unit + SEP
        self._raw.write("".join(prefix + line + "\n" for line in lines))
        self._raw.flush()

    def flush(self) -> None:
        # Whole lines are flushed as they are written; partial ones wait for their newline.
        pass

    def close(self) -> None:
        with self._lock:
            for unit, rest in self._partial.items():
                self._emit(unit, [rest])
            self._partial.clear()
        super().close()
