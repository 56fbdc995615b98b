"""Where the launcher's output goes: prefixed, coloured lines (or JSON) on a stream, per-service
log files, a live progress block while starting; and never a wait for a slow reader.

A writer thread owns the stream. Callers (the event loop) only format and enqueue: up to
`memory_limit` bytes wait in memory; beyond that, lines spill in order to a temporary file that
the writer drains later. No line is lost, memory stays bounded, and the event loop never blocks
on a reader that is slow or stopped. When lines had to wait, the launcher says so.

A service's chunk of lines (launcher/runtime/lines.py) stays bytes from the pipe to the stream:
its prefix goes before each line in one `bytes.replace` over the chunk, and the writer writes
the pieces of every chunk queued meanwhile by one writev(2), with no per-line work in Python
and no copy of the bytes on the way. While more than BEHIND_BYTES wait, the output says it is
behind its reader (launcher/runtime/backlog.py): the services' pipes are then read in batches,
so that a reader slower than the services does not send their whole flood through the spill
file.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Literal, Protocol, TextIO

from launcher.core.masking import mask_text
from launcher.runtime import backlog
from launcher.runtime.lines import Lines
from launcher.runtime.logfiles import LogFiles
from launcher.runtime.palette import BRIGHT, COLOURS, LEVEL_COLOURS, RESET, use_colour
from launcher.runtime.pieces import Buffer, write_pieces
from launcher.runtime.states import LEVELS, ServiceState

MEMORY_LIMIT = 4 * 1024 * 1024
# This much queued or being written (or any spilled) is behind the reader (see the docstring).
BEHIND_BYTES = 1024 * 1024
# After writing a batch this large, the writer lets the next one gather for a moment: waking
# it for every chunk of a flood costs more (a thread switch each) than the writing itself.
GATHER_BYTES = 32 * 1024
GATHER_PAUSE = 0.005
# Spilled text is written back this much at a time: each round of the writer waits for the
# interpreter (the GIL) several times, up to 5 ms each while the event loop relays a flood.
SPILL_READ = 8 * 1024 * 1024


@dataclass(frozen=True)
class ProgressRow:
    service: str
    state: str
    elapsed: float
    detail: str = ""


class Sink(Protocol):
    def line(self, service: str, stream: str, text: str) -> None: ...
    def lines(self, service: str, stream: str, texts: Sequence[str]) -> None: ...
    def event(self, service: str, text: str, **fields: object) -> None: ...
    def progress(self, rows: Sequence[ProgressRow]) -> None: ...
    def end_progress(self) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...


class Formatter:
    """Turns lines into text: `HH:MM:SS name | text`, or JSON objects."""

    def __init__(self, names: Sequence[str], log_format: Literal["text", "json"], colour: bool) -> None:
        self.json = log_format == "json"
        self.width = max((len(n) for n in (*names, "launcher")), default=8)
        self.colour = colour
        self._prefix: dict[str, str] = {}
        for i, name in enumerate([*names, "launcher"]):
            self._prefix_of(name, i)

    def _prefix_of(self, name: str, index: int | None = None) -> str:
        prefix = self._prefix.get(name)
        if prefix is None:
            index = len(self._prefix) if index is None else index
            padded = f"{name:<{self.width}} | "
            if self.colour:
                colour = BRIGHT if name == "launcher" else COLOURS[index % len(COLOURS)]
                padded = f"{colour}{padded}{RESET}"
            prefix = self._prefix[name] = padded
        return prefix

    def lines(self, service: str, stream: str, texts: Sequence[str]) -> str:
        if self.json:
            stamp = datetime.now().astimezone().isoformat(timespec="milliseconds")
            return "".join(
                json.dumps({"ts": stamp, "service": service, "stream": stream, "line": t}) + "\n"
                for t in texts
            )
        if not texts:
            return ""
        head = time.strftime("%H:%M:%S ") + self._prefix_of(service)
        return head + ("\n" + head).join(texts) + "\n"

    def chunk(self, service: str, stream: str, lines: Lines) -> list[Buffer]:
        """`lines` formatted, as UTF-8 in pieces: in text, a prefix put before each line by one
        pass over the chunk's bytes (a busy service sends thousands of lines a chunk)."""
        if self.json or not lines:
            return [self.lines(service, stream, lines).encode("utf-8", "replace")]
        return lines.prefixed_parts((time.strftime("%H:%M:%S ") + self._prefix_of(service)).encode())

    def event(self, service: str, text: str, fields: Mapping[str, object]) -> str:
        """One of the launcher's own lines; `fields` go into its JSON record, and its `level`
        (error, warning, ok, info) gives its colour."""
        text = mask_text(text)
        if self.json:
            stamp = datetime.now().astimezone().isoformat(timespec="milliseconds")
            record = {"ts": stamp, "service": service, "event": text}
            record.update({k: mask_text(str(v)) for k, v in fields.items()})
            return json.dumps(record) + "\n"
        if service != "launcher":
            text = f"[{service}] {text}"
        colour = LEVEL_COLOURS.get(str(fields.get("level", ""))) if self.colour else None
        if colour:
            # Every line of a block (a failure report) in the colour: a terminal resets it at
            # each line end in some pagers.
            text = "\n".join(f"{colour}{part}{RESET}" for part in text.split("\n"))
        return f"{time.strftime('%H:%M:%S ')}{self._prefix_of('launcher')}{text}\n"


def render_progress(rows: Sequence[ProgressRow], width: int) -> str:
    """The live block: one row per service (pure, for tests)."""
    out = []
    for row in rows:
        elapsed = f"{row.elapsed:5.1f}s" if row.elapsed else "      "
        detail = f"  {row.detail}" if row.detail else ""
        out.append(f" {row.service:<{width}}  {row.state:<9} {elapsed}{detail}"[:200] + "\n")
    return "".join(out)


class StreamSink:
    """The Sink of the CLI and the library (see the module docstring)."""

    def __init__(
        self,
        stream: TextIO,
        formatter: Formatter,
        *,
        log_files: LogFiles | None = None,
        live: bool = False,
        memory_limit: int = MEMORY_LIMIT,
        echo: bool = True,
    ) -> None:
        self.stream = stream
        self.echo = echo  # services' lines to the stream too (a detached launcher: files only)
        self.formatter = formatter
        self.log_files = log_files
        self.live = live
        self.memory_limit = memory_limit
        self._queue: deque[Buffer] = deque()
        self._queued_bytes = 0
        self._writing_bytes = 0  # taken from the queue by the writer, not yet written
        self._spill: IO[bytes] | None = None
        self._spill_read = 0  # how far the spill file was read back; it is written at its end
        self._spill_size = 0
        self._spilled_lines = 0
        self._cond = threading.Condition()
        self._closing = False
        self._block = ""  # the live progress block currently shown (terminal only)
        self._block_lines = 0
        self._dirty = False  # the block changed and needs a redraw
        self._last_states: dict[str, str] = {}
        self._thread = threading.Thread(target=self._writer, name="launcher-output", daemon=True)
        self._thread.start()

    # -- producers (any thread) ----------------------------------------------------------

    def line(self, service: str, stream: str, text: str) -> None:
        self.lines(service, stream, [text])

    def lines(self, service: str, stream: str, texts: Sequence[str]) -> None:
        if not texts:
            return
        lines = Lines.of(texts)
        if self.log_files is not None:
            self.log_files.write(service, lines)
        if self.echo:
            self._put(self.formatter.chunk(service, stream, lines), len(lines))

    def event(self, service: str, text: str, **fields: object) -> None:
        self._put([self.formatter.event(service, text, fields).encode("utf-8", "replace")], 1)

    def progress(self, rows: Sequence[ProgressRow]) -> None:
        if self.live:
            with self._cond:
                self._block = render_progress(rows, self.formatter.width)
                self._dirty = True
                self._cond.notify()
            return
        for row in rows:  # one line per state change, not a redraw
            old = self._last_states.get(row.service, "pending")
            if old != row.state:
                self._last_states[row.service] = row.state
                detail = f": {row.detail}" if row.detail else ""
                level = LEVELS.get(ServiceState(row.state), "info")
                fields = {"from": old, "to": row.state, "reason": row.detail}
                self.event(row.service, f"{row.state}{detail}", level=level, **fields)

    def end_progress(self) -> None:
        with self._cond:
            self._block = ""
            self._dirty = True
            self._cond.notify()

    def _put(self, pieces: Sequence[Buffer], count: int) -> None:
        size = sum(len(piece) for piece in pieces)
        with self._cond:
            if self._spill is None and self._queued_bytes + size <= self.memory_limit:
                self._queue.extend(pieces)
                self._queued_bytes += size
            else:
                spill = self._spill
                if spill is None:
                    # Lives across calls; the writer closes it once drained. Unbuffered: written
                    # at its end by writev, read back by pread, never a seek.
                    spill = self._spill = tempfile.TemporaryFile(prefix="launcher-output-", buffering=0)  # noqa: SIM115
                    self._spill_read = self._spill_size = 0
                self._spill_size += write_pieces(spill.fileno(), pieces)
                self._spilled_lines += count
            if self._spill is not None or self._queued_bytes + self._writing_bytes >= BEHIND_BYTES:
                backlog.mark(self, True)
            self._cond.notify()

    # -- the writer thread ---------------------------------------------------------------

    def _writer(self) -> None:
        while True:
            with self._cond:
                while not (self._queue or self._spill is not None or self._closing or self._dirty):
                    self._cond.wait()
                self._dirty = False
                batch = list(self._queue)
                size = self._writing_bytes = self._queued_bytes
                self._queue.clear()
                self._queued_bytes = 0
                # (spilled text is read only when none is queued: all that came after it waits
                # in the spill file too)
                spilled = self._read_spill() if not batch else []
                block = self._block
                done = self._closing and not batch and not spilled and self._spill is None
            self._write(batch or spilled, block)
            with self._cond:
                self._writing_bytes = 0
                if self._spill is None and self._queued_bytes < BEHIND_BYTES:
                    backlog.mark(self, False)
            if done:
                return
            if size >= GATHER_BYTES and not self._queued_bytes and self._spill is None:
                time.sleep(GATHER_PAUSE)  # caught up with a busy producer: let it gather

    def _read_spill(self) -> list[Buffer]:
        """The next chunk of spilled text (called with the lock held)."""
        spill = self._spill
        if spill is None:
            return []
        chunk = os.pread(spill.fileno(), SPILL_READ, self._spill_read)
        # Whole lines (a redraw of the live block may come before the next chunk); a view of
        # them, not a copy.
        cut = chunk.rfind(b"\n") + 1 or len(chunk)
        self._spill_read += cut
        if self._spill_read >= self._spill_size:
            spill.close()
            self._spill = None
            waited, self._spilled_lines = self._spilled_lines, 0
            notice = self.formatter.event(
                "launcher", f"output was {waited} lines behind a slow reader; none were lost", {}
            )
            return [chunk, notice.encode("utf-8", "replace")]
        return [memoryview(chunk)[:cut]]

    def _write(self, pieces: list[Buffer], block: str) -> None:
        try:
            if self.live and (self._block_lines or block):
                clear = f"\x1b[{self._block_lines}F\x1b[J" if self._block_lines else ""
                self._block_lines = block.count("\n")
                _write_all(self.stream, [clear.encode(), *pieces, block.encode("utf-8", "replace")])
            elif pieces:
                _write_all(self.stream, pieces)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the reader went away: output is best effort, the stack runs on

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closing = True
            self._block = ""
            self._cond.notify()
        self._thread.join(timeout)
        backlog.mark(self, False)
        if self.log_files is not None:
            self.log_files.close()


def make_sink(
    stream: TextIO,
    *,
    log_format: Literal["text", "json"] = "text",
    color: bool | None = None,
    names: Sequence[str] = (),
    log_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    echo: bool = True,
) -> StreamSink:
    environ = os.environ if environ is None else environ
    colour = use_colour(stream, color, environ) and log_format == "text"
    formatter = Formatter(names, log_format, colour)
    sink: StreamSink

    def log_error(service: str, message: str) -> None:
        sink.event(service, message)

    log_files = LogFiles(log_dir, log_error) if log_dir is not None else None
    live = log_format == "text" and _isatty(stream)
    sink = StreamSink(stream, formatter, log_files=log_files, live=live, echo=echo)
    return sink


def _write_all(stream: TextIO, pieces: Sequence[Buffer]) -> None:
    """`pieces` (UTF-8), in order, on `stream`, all of them: by writev(2) to its descriptor
    when it has one (what was written to it as text flushed first).

    With PYTHONUNBUFFERED (or `python -u`), sys.stdout writes through a raw FileIO: a write(2)
    that a signal interrupts after part of the data returns a short count, which TextIOWrapper
    ignores, and the rest of the batch is lost without an error. Behind a full pipe that is a
    matter of time, since signals (SIGCHLD of every probe command) keep coming. So the bytes go
    out here, to the end (launcher/runtime/pieces.py).
    """
    buffer = getattr(stream, "buffer", None)
    if not isinstance(buffer, io.RawIOBase | io.BufferedIOBase):  # a text stream alone
        stream.write(b"".join(pieces).decode("utf-8", "replace"))
        return
    encoding = codecs.lookup(stream.encoding or "utf-8").name
    if encoding != "utf-8":
        pieces = [b"".join(pieces).decode("utf-8", "replace").encode(encoding, "replace")]
    stream.flush()  # what was written to it as text comes first (a TextIOWrapper flushes its buffer)
    try:
        fd = buffer.fileno()
    except (OSError, ValueError):  # io.BytesIO and the like: no descriptor
        buffer.write(b"".join(pieces))
        return
    write_pieces(fd, pieces)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
