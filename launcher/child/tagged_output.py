"""The shared host's output: every line says which hosted service wrote it.

The host replaces sys.stdout and sys.stderr with `TaggedStream`s before it imports anything. A
line written while `current` names a hosted service (its lifespan, its requests, its task and
every task or thread started from those) goes out as TAG + name + SEP + text; the launcher reads
the tag and relays the line under that service's name (launcher/runtime/host_process.py). Lines of the host
itself, and anything written to the file descriptors directly, stay untagged.

Lines written on the host's event loop are written out together, FLUSH_AFTER seconds after the
first of them, rather than one write each: uvicorn logs every request (its access log) before it
sends the response, and a write per line, each waking the launcher to relay it, costs a request
served under the launcher more than the rest of the host does (benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import threading
from typing import TextIO

TAG = "\x1e"
SEP = "\x1f"
# How long a line written on the event loop may wait for others to go out with it: too short
# for a person to notice, long enough to take in the access-log lines of many requests.
FLUSH_AFTER = 0.02
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
    their newline, or until the host ends (close()). Whole lines go out at once, except those
    written on the event loop given to `batch_on`, which wait up to FLUSH_AFTER.
    """

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self._raw = raw
        self._partial: dict[str | None, str] = {}
        self._lock = threading.Lock()
        self._waiting: list[str] = []  # whole lines, tagged, not written yet
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._flush_due = False

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

    def batch_on(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Batch the lines written on `loop`'s thread (None: write every line at once again)."""
        with self._lock:
            self._write_waiting()
            self._loop = loop
            self._loop_thread = threading.get_ident() if loop is not None else None

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
        self._waiting.append("".join(prefix + line + "\n" for line in lines))
        loop = self._loop
        if loop is None or threading.get_ident() != self._loop_thread:
            self._write_waiting()  # another thread's, or no loop to batch on: at once
        elif not self._flush_due:
            self._flush_due = True
            loop.call_later(FLUSH_AFTER, self._batch_due)

    def _batch_due(self) -> None:
        with self._lock:
            self._flush_due = False
            self._write_waiting()

    def flush_batch(self) -> None:
        """Write the lines waiting for their batch now."""
        with self._lock:
            self._write_waiting()

    def _write_waiting(self) -> None:
        if self._waiting:
            self._raw.write("".join(self._waiting))
            self._waiting.clear()
            self._raw.flush()

    def flush(self) -> None:
        # Whole lines go out on their own (at once, or with their batch), partial ones with
        # their newline: a flush per line (logging's, print's) must not undo the batching.
        pass

    def close(self) -> None:
        with self._lock:
            self._loop = None
            for unit, rest in self._partial.items():
                self._emit(unit, [rest])
            self._partial.clear()
            self._write_waiting()
        super().close()
