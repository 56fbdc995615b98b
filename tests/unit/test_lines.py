from __future__ import annotations

import pytest

from launcher.runtime.lines import LineSplitter


@pytest.mark.parametrize(
    ("chunks", "lines", "rest"),
    [
        ([b"a\nb\n"], ["a", "b"], []),
        ([b"a", b"b\nc"], ["ab"], ["c"]),
        ([b"win\r\n"], ["win"], []),
        ([b"caf\xc3", b"\xa9\n"], ["caf\u00e9"], []),  # a character split across chunks
        ([b"bad \xff\xfe bytes\n"], ["bad \ufffd\ufffd bytes"], []),
        ([b"no newline at the end"], [], ["no newline at the end"]),
        ([b"\n\n"], ["", ""], []),
        ([b"a\r", b"\nb\r\n"], ["a", "b"], []),  # CRLF split across chunks
        ([b"a\r\r\nb\rc\n"], ["a\r", "b\rc"], []),  # only the "\r" of a line end goes
        ([b"lo", b"ng", b" line\nnext", b" one"], ["long line"], ["next one"]),
        ([b"partial\r"], [], ["partial"]),
    ],
)
def test_splitting(chunks: list[bytes], lines: list[str], rest: list[str]) -> None:
    splitter = LineSplitter()
    got = [line for chunk in chunks for line in splitter.feed(chunk)]
    assert got == lines
    assert splitter.flush() == rest


def test_a_line_of_any_length_arrives_whole() -> None:
    splitter = LineSplitter()
    big = b"x" * (3 * 1024 * 1024)
    got = [line for i in range(0, len(big), 65536) for line in splitter.feed(big[i : i + 65536])]
    assert got == []
    got = splitter.feed(b"\nok\n")
    assert [len(got[0]), got[1]] == [len(big), "ok"]
