"""Splitting a byte stream into lines: any length, any chunking, any bytes.

A line of any length arrives whole; a multibyte character split across chunks decodes right;
invalid UTF-8 is replaced, never fatal; the last partial line comes out at EOF with flush().

A chunk of a busy service holds hundreds of lines, and most of them are only copied on: to the
terminal and to the log file, where a prefix per line is one `bytes.replace` over the chunk
(launcher/runtime/output.py). So a chunk's complete lines stay one piece of bytes, `Lines`,
which becomes `str` lines only where they are read one by one, and only as many as are read
(the history keeps the last 500: `lines[-500:]` splits off those alone).

A flood is tens of megabytes a second, so what costs is each pass over its bytes, not the
Python around it (a busy pipe is read in chunks of up to 256 KiB): the prefixed lines come out
as pieces (`prefixed_parts`) that the writers hand to writev(2) as they are, and a chunk that
completes a line begun in the one before is joined once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload


class Lines(Sequence[str]):
    """Complete lines as one piece: `data` is valid UTF-8 and each line in it ends with "\\n"."""

    __slots__ = ("_count", "_list", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._count = -1
        self._list: list[str] | None = None

    @classmethod
    def of(cls, texts: Sequence[str]) -> Lines:
        """The lines of `texts` (lines of a str source, such as the shared host's demultiplexer)."""
        if isinstance(texts, Lines):
            return texts
        if not texts:
            return EMPTY
        lines = cls(("\n".join(texts) + "\n").encode("utf-8", "replace"))
        lines._list = list(texts)
        lines._count = len(texts)
        return lines

    def __len__(self) -> int:
        if self._count < 0:
            self._count = self.data.count(b"\n")
        return self._count

    def __bool__(self) -> bool:
        return bool(self.data)

    def prefixed(self, prefix: bytes) -> bytes:
        """The lines with `prefix` before each, as one piece of bytes."""
        return b"".join(self.prefixed_parts(prefix))

    def prefixed_parts(self, prefix: bytes) -> list[bytes | memoryview]:
        """The lines with `prefix` before each, in pieces to be written one after the other:
        one pass over the bytes, which also counts the lines (more cheaply than `bytes.count`:
        a `replace` finds each line end by memchr). Every line end gets the prefix of the next
        line, so the last one's is left out of a view rather than cut off by a copy."""
        if not self.data:
            return []
        if not prefix:
            return [self.data]
        body = self.data.replace(b"\n", b"\n" + prefix)
        if self._count < 0:
            self._count = (len(body) - len(self.data)) // len(prefix)
        return [prefix, memoryview(body)[: -len(prefix)]]

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice) and self._list is None and index.step is None and index.stop is None:
            start = index.start or 0
            if 0 > start > -len(self):
                return self.tail(-start)
        return self.strings()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.strings())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Lines):
            return self.data == other.data
        if isinstance(other, list):
            return self.strings() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by content, as a list is

    def __repr__(self) -> str:
        return f"Lines({self.strings()!r})"

    def strings(self) -> list[str]:
        """Every line, as str (made once)."""
        if self._list is None:
            self._list = self.data[:-1].decode().split("\n") if self.data else []
        return self._list

    def tail(self, n: int) -> list[str]:
        """The last `n` lines; the ones before them stay bytes."""
        if self._list is not None or n >= len(self):
            return self.strings()[-n:]
        # rsplit from the end: `n` str objects, whatever the number of lines before them.
        return self.data[:-1].decode().rsplit("\n", n)[1:]


EMPTY = Lines(b"")


class LineSplitter:
    def __init__(self) -> None:
        # The start of the current line, in pieces: a long line arrives over many chunks, and
        # joining once when it ends keeps that linear in its length.
        self._pending: list[bytes | memoryview] = []

    def feed(self, chunk: bytes) -> Lines:
        """The lines that `chunk` completes (EMPTY when it ends none)."""
        end = chunk.rfind(b"\n") + 1
        if not end:
            if chunk:
                self._pending.append(chunk)
            return EMPTY
        if self._pending:
            # One copy of the chunk, joined to the line it completes (a slice and then a join
            # would copy it twice).
            self._pending.append(memoryview(chunk)[:end])
            block = b"".join(self._pending)
            self._pending.clear()
        else:
            block = chunk if end == len(chunk) else chunk[:end]
        if end < len(chunk):
            self._pending.append(chunk[end:])
        return Lines(_clean(block))

    def flush(self) -> Lines:
        """The last line, which no newline ended (EOF)."""
        block = b"".join(self._pending)
        self._pending.clear()
        if not block:
            return EMPTY
        return Lines(_clean(block.removesuffix(b"\r") + b"\n"))


def _clean(block: bytes) -> bytes:
    """`block` (whole lines) as valid UTF-8, without the "\\r" of CRLF line ends.

    A line end is also a character boundary (no UTF-8 sequence holds the byte "\\n"), so each
    block decodes alone exactly as the whole stream would: no decoder state between chunks.
    """
    if not block.isascii():
        try:
            block.decode()
        except UnicodeDecodeError:
            block = block.decode("utf-8", "replace").encode()
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")  # CRLF line ends: each line loses one "\r"
    return block
