"""Splitting a byte stream into lines: any length, any chunking, any bytes.

A line of any length arrives whole; a multibyte character split across chunks decodes right;
invalid UTF-8 is replaced, never fatal; the last partial line comes out at EOF with flush().
"""

from __future__ import annotations

import codecs


class LineSplitter:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, chunk: bytes) -> list[str]:
        text = self._partial + self._decoder.decode(chunk)
        if "\n" not in text:
            self._partial = text
            return []
        *lines, self._partial = text.split("\n")
        return [line[:-1] if line.endswith("\r") else line for line in lines]

    def flush(self) -> list[str]:
        text = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if not text:
            return []
        return [text[:-1] if text.endswith("\r") else text]
