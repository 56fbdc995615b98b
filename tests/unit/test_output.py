"""The output sink: formats, colour rules, masking, and never waiting for a slow reader."""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from pathlib import Path

import pytest
from helpers import wait_until

from launcher.runtime.lines import Lines
from launcher.runtime.output import Formatter, ProgressRow, StreamSink, make_sink, render_progress, use_colour


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "flag", "environ", "expected"),
    [
        (True, None, {}, True),
        (False, None, {}, False),
        (False, None, {"FORCE_COLOR": "1"}, True),
        (True, None, {"NO_COLOR": "1"}, False),
        (True, None, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        (True, False, {}, False),
    ],
)
def test_colour_rules(tty: bool, flag: bool | None, environ: dict[str, str], expected: bool) -> None:
    stream = Tty() if tty else io.StringIO()
    assert use_colour(stream, flag, environ) is expected


def test_text_lines_are_prefixed_padded_and_secrets_masked_in_events() -> None:
    stream = io.StringIO()
    sink = make_sink(stream, names=["api", "database"], environ={})
    sink.lines("api", "stdout", ["hello", "password=hunter2 in my own line"])
    sink.event("launcher", "connecting to postgresql://app:hunter2@db/app")
    sink.close()
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d api      \| hello", lines[0])
    assert lines[1].endswith("| password=hunter2 in my own line")  # services' output relayed as is
    assert lines[2].endswith("launcher | connecting to postgresql://app:******@db/app")


def test_json_lines() -> None:
    stream = io.StringIO()
    sink = make_sink(stream, log_format="json", names=["api"], environ={})
    sink.line("api", "stderr", "oops")
    sink.event("api", "ready", port=8000)
    sink.close()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: first[k] for k in ("service", "stream", "line")} == {
        "service": "api",
        "stream": "stderr",
        "line": "oops",
    }
    assert second["event"] == "ready"
    assert second["port"] == "8000"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", first["ts"])


def test_progress_without_a_terminal_prints_each_state_change_once() -> None:
    stream = io.StringIO()
    sink = make_sink(stream, names=["api"], environ={})
    sink.progress([ProgressRow("api", "starting", 0.1)])
    sink.progress([ProgressRow("api", "starting", 0.5)])
    sink.progress([ProgressRow("api", "ready", 0.9, "HTTP 200")])
    sink.close()
    text = stream.getvalue()
    assert text.count("[api] starting") == 1
    assert "[api] ready: HTTP 200" in text


def test_progress_block_rendering() -> None:
    block = render_progress(
        [ProgressRow("api", "starting", 1.25, "probing"), ProgressRow("db", "ready", 0)], 4
    )
    assert block == " api   starting    1.2s  probing\n db    ready           \n"


class BlockedPipe:
    """A stream whose reader is stopped until `release()`: writes block, as on a full pipe."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.data: list[str] = []

    def write(self, text: str) -> int:
        self.open.wait()
        self.data.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_a_stopped_reader_never_blocks_and_no_line_is_lost() -> None:
    pipe = BlockedPipe()
    sink = StreamSink(pipe, Formatter(["a", "b"], "text", False), memory_limit=64 * 1024)  # type: ignore[arg-type]
    started = time.monotonic()
    for i in range(100_000):
        sink.lines("a" if i % 2 else "b", "stdout", [f"line {i:06d} " + "x" * 40])
    # 100,000 calls returned while nothing could be written: the caller never waited.
    assert time.monotonic() - started < 30
    assert sink._queued_bytes <= 64 * 1024
    assert sink._spill is not None
    pipe.open.set()
    sink.close(timeout=30)
    lines = "".join(pipe.data).splitlines()
    numbers = [int(m.group(1)) for line in lines if (m := re.search(r"line (\d{6})", line))]
    assert numbers == list(range(100_000))
    assert any("lines behind a slow reader; none were lost" in line for line in lines)


def test_log_files_get_each_services_lines_and_survive_a_broken_directory(tmp_path: Path) -> None:
    stream = io.StringIO()
    sink = make_sink(stream, names=["api", "db"], log_dir=tmp_path / "logs", environ={})
    sink.lines("api", "stdout", ["one", "two"])
    # A log directory that cannot be written: the place of db.log is taken by a directory.
    (tmp_path / "logs" / "db.log").mkdir(parents=True)
    sink.lines("db", "stdout", ["lost to the file, not to the terminal"])
    sink.lines("db", "stdout", ["again"])
    sink.close()
    assert [line.split(" ", 1)[1] for line in (tmp_path / "logs" / "api.log").read_text().splitlines()] == [
        "one",
        "two",
    ]
    text = stream.getvalue()
    assert text.count("cannot write") == 1
    assert "lost to the file, not to the terminal" in text
    assert oct((tmp_path / "logs").stat().st_mode & 0o777) == oct(0o700)
    assert os.path.isdir(tmp_path / "logs" / "db.log")


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_chunk_goes_out_as_bytes_in_the_streams_encoding_with_bad_bytes_replaced(encoding: str) -> None:
    from launcher.runtime.lines import LineSplitter

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict")
    sink = make_sink(stream, names=["api"], environ={})
    sink.lines("api", "stdout", LineSplitter().feed(b"caf\xc3\xa9 \xff\none\r\n"))
    sink.close()
    text = raw.getvalue().decode(encoding, "replace")
    lines = [line.split("| ", 1)[1] for line in text.splitlines()]
    assert lines == ["caf\u00e9 \ufffd" if encoding == "utf-8" else "caf\u00e9 ?", "one"]


def test_every_line_of_a_large_chunk_is_prefixed_in_the_terminal_and_stamped_in_its_file(
    tmp_path: Path,
) -> None:
    from launcher.runtime.lines import Lines

    stream = io.StringIO()
    sink = make_sink(stream, names=["api"], log_dir=tmp_path, environ={})
    sink.lines("api", "stdout", Lines(b"".join(b"line %05d\n" % i for i in range(5000))))
    sink.close()
    printed = stream.getvalue().splitlines()
    assert [line.split("| ", 1)[1] for line in printed] == [f"line {i:05d}" for i in range(5000)]
    assert all(re.match(r"\d\d:\d\d:\d\d api +\| ", line) for line in printed)
    logged = (tmp_path / "api.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in logged] == [f"line {i:05d}" for i in range(5000)]


def test_an_output_behind_its_reader_says_so_until_it_caught_up() -> None:
    from launcher.runtime import backlog
    from launcher.runtime.output import BEHIND_BYTES

    pipe = BlockedPipe()
    sink = StreamSink(pipe, Formatter(["a"], "text", False))  # type: ignore[arg-type]
    line = "x" * 1000
    sink.lines("a", "stdout", [line] * 10)
    assert not backlog.behind()  # a few KiB wait: not behind
    sink.lines("a", "stdout", [line] * (BEHIND_BYTES // 1000))
    assert backlog.behind()
    pipe.open.set()
    wait_until(lambda: not backlog.behind(), 10, message="the output caught up")
    sink.close()
    assert "".join(pipe.data).count(line) == 10 + BEHIND_BYTES // 1000


def test_a_flood_behind_a_pipe_arrives_whole_through_the_spill_file() -> None:
    read_fd, write_fd = os.pipe()
    stream = open(write_fd, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    sink = StreamSink(stream, Formatter(["a"], "text", False), memory_limit=64 * 1024)
    got: list[bytes] = []

    def read_all() -> None:
        while data := os.read(read_fd, 65536):
            got.append(data)

    count = 50_000
    # Nothing reads the pipe yet: the sink spills, then writes it all back in order.
    for i in range(0, count, 500):
        sink.lines("a", "stdout", Lines(b"".join(b"line %06d\n" % n for n in range(i, i + 500))))
    assert sink._spill is not None
    reader = threading.Thread(target=read_all)
    reader.start()
    sink.close(timeout=30)
    stream.close()
    reader.join(30)
    os.close(read_fd)
    text = b"".join(got).decode()
    assert re.findall(r"line (\d{6})", text) == [f"{n:06d}" for n in range(count)]
    assert "lines behind a slow reader; none were lost" in text
