from __future__ import annotations

import pytest

from launcher.runtime.lines import Lines, LineSplitter


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


def test_a_chunk_of_lines_stays_bytes_until_read_and_reads_as_a_list() -> None:
    lines = LineSplitter().feed(b"one\ntwo\nthree\n")
    assert isinstance(lines, Lines)
    assert lines.data == b"one\ntwo\nthree\n"
    assert len(lines) == 3
    assert lines == ["one", "two", "three"]
    assert (lines[0], lines[-1], lines[1:]) == ("one", "three", ["two", "three"])
    assert list(lines) == ["one", "two", "three"]
    assert not LineSplitter().feed(b"no end yet")


def test_the_tail_of_a_chunk_splits_off_only_the_last_lines() -> None:
    lines = Lines(b"".join(b"line %d\n" % i for i in range(1000)))
    assert lines[-3:] == ["line 997", "line 998", "line 999"]
    assert lines._list is None  # the 997 lines before were never made into str
    assert lines.tail(2000) == [f"line {i}" for i in range(1000)]
    assert Lines(b"a\nb\n")[-5:] == ["a", "b"]


def test_a_prefix_goes_before_every_line_and_counts_them() -> None:
    lines = Lines(b"a\n\nc\n")
    assert lines.prefixed(b"> ") == b"> a\n> \n> c\n"
    assert lines._count == 3  # counted by the same pass
    assert len(lines) == 3
    assert Lines(b"").prefixed(b"> ") == b""


def test_lines_of_str_keep_their_strings() -> None:
    lines = Lines.of(["caf\u00e9", "bad \udcff surrogate"])
    assert lines.data == "caf\u00e9\nbad ? surrogate\n".encode()
    assert list(lines) == ["caf\u00e9", "bad \udcff surrogate"]
    assert Lines.of(lines) is lines
    assert Lines.of([]) == []


def test_the_prefixed_lines_come_in_pieces_that_join_to_the_same_bytes() -> None:
    lines = Lines(b"a\n\nc\n")
    parts = lines.prefixed_parts(b"> ")
    assert b"".join(parts) == b"> a\n> \n> c\n" == Lines(b"a\n\nc\n").prefixed(b"> ")
    assert len(lines) == 3
    assert Lines(b"a\nb\n").prefixed_parts(b"") == [b"a\nb\n"]
    assert Lines(b"").prefixed_parts(b"> ") == []


def test_a_chunk_that_completes_a_line_is_joined_to_its_start() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"he") == []
    assert splitter.feed(b"ll") == []
    lines = splitter.feed(b"o\nwor")
    assert lines.data == b"hello\n"
    assert splitter.feed(b"ld\n").data == b"world\n"
