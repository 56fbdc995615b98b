"""Splitting a byte stream into lines: any length, any chunking, any bytes.

A line of any length arrives whole; a multibyte character split across chunks decodes right;
invalid UTF-8 is replaced, never fatal; the last partial line comes out at EOF with flush().

A chunk of a busy service holds hundreds of lines: the work per chunk is a few passes over the
whole text (decode, find, replace, split), none per line in Python.
"""

from __future__ import annotations

import codecs


class LineSplitter:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The start of the current line, in pieces: a long line arrives over many chunks, and
        # joining once when it ends keeps that linear in its length.
        self._pending: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        text = self._decoder.decode(chunk)
        end = text.rfind("\n") + 1
        if not end:
            if text:
                self._pending.append(text)
            return []
        block, rest = text[:end], text[end:]
        if self._pending:
            self._pending.append(block)
            block = "".join(self._pending)
            self._pending.clear()
        if rest:
            self._pending.append(rest)
        if "\r" in block:
            block = block.replace("\r\n", "\n")  # CRLF line ends: each line loses one "\r"
        return block[:-1].split("\n")

    def flush(self) -> list[str]:
        text = "".join(self._pending) + self._decoder.decode(b"", final=True)
        self._pending.clear()
        if not text:
            return []
        return [text[:-1] if text.endswith("\r") else text]
