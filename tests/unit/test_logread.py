"""Reading the per-service log files (launcher/runtime/logread.py) as launcher/runtime/logfiles.py
writes them: stamps, merge order, the last N lines, --since, rotation, following; and the
prefixes and colours of `launcher logs`, the same as `launcher run`'s."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from launcher.cli import logs as logs_command
from launcher.runtime import output, palette
from launcher.runtime.logfiles import LogFiles
from launcher.runtime.logread import (
    Follower,
    LogLine,
    ServiceLog,
    last,
    merge,
    parse_since,
    parse_stamp,
    select,
    services_logged,
)

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")


def write(path: Path, *lines: str) -> None:
    with path.open("a") as file:
        file.writelines(f"{line}\n" for line in lines)


def texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


def read(directory: Path, service: str, *, final: bool = False) -> list[LogLine]:
    """Everything a service's files hold (its file closed again)."""
    log = ServiceLog(str(directory), service)
    try:
        return log.read(final=final)
    finally:
        log.close()


def files(directory: Path, max_bytes: int = 5 * 1024 * 1024) -> LogFiles:
    def fail(service: str, message: str) -> None:
        raise AssertionError(message)

    return LogFiles(directory, fail, max_bytes=max_bytes)


# -- the files' stamps -----------------------------------------------------------------------


def test_each_line_is_stamped_rfc_3339_to_the_millisecond_with_the_local_offset(tmp_path: Path) -> None:
    writer = files(tmp_path)
    before = datetime.now().astimezone()
    writer.write("api", ["one", "two  spaced", ""])
    writer.close()
    raw = (tmp_path / "api.log").read_text().split("\n")
    assert raw[-1] == ""
    stamps = {line.split(" ", 1)[0] for line in raw[:-1]}
    assert len(stamps) == 1  # one stamp for the whole chunk
    stamp = stamps.pop()
    assert STAMP.fullmatch(stamp), stamp
    when = datetime.fromisoformat(stamp)
    assert when.utcoffset() == before.utcoffset()
    assert abs(when - before) < timedelta(seconds=5)
    lines = read(tmp_path, "api")
    assert texts(lines) == ["one", "two  spaced", ""]
    assert {line.stamp for line in lines} == {stamp}
    assert lines[0].at == pytest.approx(when.timestamp())


def test_stamps_of_earlier_versions_and_lines_without_one_are_read(tmp_path: Path) -> None:
    write(
        tmp_path / "api.log",
        "2024-05-01T12:00:00 old format, local time",
        "2024-05-01T12:00:00.500Z utc",
        "a line without a stamp",
        " leading space, no stamp either",
    )
    lines = read(tmp_path, "api")
    assert texts(lines) == [
        "old format, local time",
        "utc",
        "a line without a stamp",
        " leading space, no stamp either",
    ]
    assert lines[0].at == datetime(2024, 5, 1, 12).timestamp()
    assert lines[1].at == datetime(2024, 5, 1, 12, 0, 0, 500_000, UTC).timestamp()
    # Without a stamp: the time of the line before, and no stamp to show.
    assert [(line.at, line.stamp) for line in lines[2:]] == [(lines[1].at, "")] * 2


def test_a_service_line_is_split_on_newlines_only_and_kept_as_written(tmp_path: Path) -> None:
    writer = files(tmp_path)
    odd = ["carriage\rreturn", "form\x0cfeed and \u2028 separator", "tab\there", "bad \ufffd utf-8"]
    writer.write("api", odd)
    writer.close()
    assert texts(read(tmp_path, "api")) == odd


@pytest.mark.parametrize(
    ("stamp", "valid"),
    [
        ("2024-05-01T12:00:00.123+02:00", True),
        ("2024-05-01T12:00:00Z", True),
        ("2024-05-01T12:00:00", True),
        ("2024-05-01", False),
        ("hello", False),
        ("2024-13-01T12:00:00", False),
    ],
)
def test_parse_stamp(stamp: str, valid: bool) -> None:
    assert (parse_stamp(stamp) is not None) is valid


# -- which services, merged how --------------------------------------------------------------


def test_the_services_logged_are_the_files_but_the_detached_launchers_own(tmp_path: Path) -> None:
    for name in ("web.log", "worker.1.log", "old.log.1", "launcher.log", "notes.txt"):
        (tmp_path / name).write_text("")
    assert services_logged(str(tmp_path)) == ["old", "web", "worker.1"]
    assert services_logged(str(tmp_path / "missing")) == []


def line(at: float, service: str, text: str) -> LogLine:
    return LogLine(at, service, "", text)


def test_merge_orders_by_time_and_keeps_the_order_of_equal_times() -> None:
    web = [line(1, "web", "w1"), line(3, "web", "w3"), line(3, "web", "w3b"), line(5, "web", "w5")]
    db = [line(2, "db", "d2"), line(3, "db", "d3"), line(3, "db", "d3b"), line(4, "db", "d4")]
    assert texts(list(merge([web, db]))) == ["w1", "d2", "w3", "w3b", "d3", "d3b", "d4", "w5"]
    assert texts(list(merge([db, web]))) == ["w1", "d2", "d3", "d3b", "w3", "w3b", "d4", "w5"]


def test_merge_keeps_each_files_order_when_its_clock_went_back() -> None:
    web = [line(5, "web", "w5"), line(1, "web", "w1 after a clock change"), line(6, "web", "w6")]
    db = [line(2, "db", "d2"), line(7, "db", "d7")]
    assert texts(list(merge([web, db]))) == ["d2", "w5", "w1 after a clock change", "w6", "d7"]


def test_last_n_has_no_cap() -> None:
    lines = [line(i, "web", str(i)) for i in range(2000)]
    assert texts(last(lines, 1500)) == [str(i) for i in range(500, 2000)]
    assert last(lines, 5000) == lines
    assert last(lines, 0) == []
    assert last(lines, None) == lines


def test_select_by_time_and_pattern() -> None:
    lines = [line(1, "web", "GET /a"), line(2, "web", "POST /b"), line(3, "web", "GET /c")]
    assert texts(select(lines, since=2)) == ["POST /b", "GET /c"]
    assert texts(select(lines, pattern=re.compile("^GET"))) == ["GET /a", "GET /c"]
    assert texts(select(lines, since=2, pattern=re.compile("GET"))) == ["GET /c"]
    assert select(lines) == lines


@pytest.mark.parametrize(
    ("text", "seconds_ago"),
    [("10m", 600), ("2h", 7200), ("30s", 30), ("1h30m", 5400), ("1d", 86400), ("1.5s", 1.5), ("250ms", 0.25)],
)
def test_since_takes_a_duration(text: str, seconds_ago: float) -> None:
    assert parse_since(text, 10_000.0) == pytest.approx(10_000.0 - seconds_ago)


def test_since_takes_rfc_3339_and_local_times() -> None:
    assert parse_since("2024-05-01T12:00:00Z", 0) == datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()
    assert parse_since("2024-05-01T14:00:00.250+02:00", 0) == pytest.approx(
        datetime(2024, 5, 1, 12, 0, 0, 250_000, UTC).timestamp()
    )
    assert parse_since("2024-05-01T12:00:00", 0) == datetime(2024, 5, 1, 12).timestamp()


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "10x", "2024-05-01T25:00:00Z", "-5m"])
def test_since_refuses_what_is_neither(text: str) -> None:
    with pytest.raises(ValueError, match="nor a duration"):
        parse_since(text, 0)


# -- rotation and following ------------------------------------------------------------------


def test_reading_takes_the_rotated_part_first_and_says_it_rotated(tmp_path: Path) -> None:
    writer = files(tmp_path, max_bytes=200)
    for i in range(30):
        writer.write("api", [f"line {i:02d}"])
    writer.close()
    assert (tmp_path / "api.log.1").exists()
    log = ServiceLog(str(tmp_path), "api")
    lines = log.read()
    log.close()
    assert log.rotated
    kept = [int(text.split()[1]) for text in texts(lines)]
    assert kept == list(range(kept[0], 30))  # the newest, in order, none twice
    assert kept[0] > 0  # the oldest lines were rotated away
    fresh = ServiceLog(str(tmp_path), "web")
    write(tmp_path / "web.log", "2024-05-01T12:00:00.000Z hello")
    assert texts(fresh.read()) == ["hello"]
    fresh.close()
    assert not fresh.rotated


def test_following_sees_every_line_once_across_rotations(tmp_path: Path) -> None:
    writer = files(tmp_path, max_bytes=300)
    log = ServiceLog(str(tmp_path), "api")
    seen = texts(log.read())  # no file yet
    expected = []
    for i in range(200):
        chunk = [f"line {i:03d} {'x' * (i % 7)}"]
        writer.write("api", chunk)
        expected += chunk
        # Polled after every write, after every third, or (rotating twice) after every ninth.
        if i % (1 if i < 60 else 3 if i < 120 else 9) == 0:
            seen += texts(log.more())
    seen += texts(log.more())
    writer.close()
    log.close()
    assert seen == expected


def test_a_line_being_written_waits_for_its_newline_unless_final(tmp_path: Path) -> None:
    path = tmp_path / "api.log"
    path.write_text("2024-05-01T12:00:00.000Z one\n2024-05-01T12:00:00.000Z tw")
    log = ServiceLog(str(tmp_path), "api")
    assert texts(log.read()) == ["one"]
    assert texts(log.more()) == []
    write(path, "o")
    assert texts(log.more()) == ["two"]
    write(path, "2024-05-01T12:00:01.000Z three")
    path.write_text(path.read_text() + "2024-05-01T12:00:02.000Z cut")
    assert texts(log.more()) == ["three"]
    assert texts(log.rest()) == ["cut"]
    log.close()
    assert texts(read(tmp_path, "api", final=True)) == ["one", "two", "three", "cut"]


def test_a_truncated_file_is_read_again_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "api.log"
    write(path, "2024-05-01T12:00:00.000Z a long first line", "2024-05-01T12:00:00.000Z and another")
    log = ServiceLog(str(tmp_path), "api")
    assert len(log.read()) == 2
    path.write_text("")
    write(path, "2024-05-01T12:00:01.000Z anew")
    assert texts(log.more()) == ["anew"]
    log.close()


def test_the_follower_merges_and_takes_in_services_whose_file_appears(tmp_path: Path) -> None:
    write(tmp_path / "web.log", "2024-05-01T12:00:00.000Z w0")
    web = ServiceLog(str(tmp_path), "web")
    web.read()
    follower = Follower(str(tmp_path), {"web": web}, discover=True)
    write(tmp_path / "web.log", "2024-05-01T12:00:03.000Z w3")
    write(tmp_path / "db.log", "2024-05-01T12:00:01.000Z d1", "2024-05-01T12:00:04.000Z d4")
    write(tmp_path / "launcher.log", "12:00:02 launcher | its own line")
    assert [(x.service, x.text) for x in follower.poll()] == [("db", "d1"), ("web", "w3"), ("db", "d4")]
    assert follower.poll() == []
    named = Follower(str(tmp_path), {"web": ServiceLog(str(tmp_path), "web")}, discover=False)
    assert {x.service for x in named.poll()} == {"web"}
    follower.close()
    named.close()


# -- prefixes and colours, as `run` prints them ----------------------------------------------


def test_the_palette_is_runs() -> None:
    assert palette.COLOURS == output.COLOURS


@pytest.mark.parametrize("colour", [True, False])
@pytest.mark.parametrize("names", [["api", "worker"], ["api_gateway_with_a_long_name", "db", *"abcdefghijk"]])
def test_prefixes_are_runs(names: list[str], colour: bool) -> None:
    formatter = output.Formatter([*names, "launcher"], "text", colour)  # as `run` makes it
    prefixes = logs_command.Prefixes(names, colour)
    for name in names:
        printed = formatter.lines(name, "stdout", ["text"])
        assert printed[len("12:00:00 ") :] == f"{prefixes(name)}text\n"
