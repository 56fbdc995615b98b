"""The dashboard's pure parts and the API's pieces it relies on: the lines it keeps (bounded,
merged in order, gaps marked), its patterns, the cells of its table, the sampled log feed of
the API (the newest lines of each service, how many were left out), and the usage sampler."""

from __future__ import annotations

import asyncio
import os
import time
from types import SimpleNamespace
from typing import Any

import pytest
from helpers import wait_until_async

from launcher.control import cells, usage
from launcher.control.views import Sampler, service
from launcher.runtime.states import ServiceState
from launcher.runtime.status import ServiceStatus
from launcher.tui.logstore import LogStore, Pattern
from launcher.tui.look import service_colours, state_style


def line(name: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"service": name, "line": text, **extra}


def test_the_store_keeps_a_fixed_number_of_lines_per_service() -> None:
    store = LogStore(keep=3)
    store.add([line("api", f"a{i}") for i in range(10)])
    store.add([line("db", "d0")])
    assert [e.text for e in store.lines("api")] == ["a7", "a8", "a9"]
    assert [e.text for e in store.lines("db")] == ["d0"]
    assert store.lines("nope") == []


def test_every_service_s_lines_merge_in_the_order_they_came() -> None:
    store = LogStore()
    store.add([line("api", "1"), line("db", "2")])
    store.add([line("api", "3", ts=12.5), line("db", "4")])
    merged = store.lines(None)
    assert [(e.service, e.text) for e in merged] == [("api", "1"), ("db", "2"), ("api", "3"), ("db", "4")]
    assert merged[2].at == 12.5
    assert merged[0].at is None  # a line the launcher had before the stream: no time
    assert store.lines(None) is merged  # unchanged: not merged again
    store.clear()
    assert store.lines(None) == []


def test_a_gap_in_the_stream_is_a_marked_line() -> None:
    store = LogStore()
    store.add([{"service": "api", "skipped": 12345}, line("api", "newest")])
    gap, newest = store.lines("api")
    assert gap.skipped == 12345
    assert "12,345 lines left out" in gap.text
    assert newest.text == "newest"


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("error", "ERROR: boom", True),  # lower case: case-insensitive
        ("Error", "ERROR: boom", False),  # a capital: case-sensitive
        ("t.me", "time", True),  # a regular expression
        ("a(b", "xa(by", True),  # not one: a plain string
        ("x", "abc", False),
    ],
)
def test_patterns_are_regular_expressions_with_smart_case(pattern: str, text: str, matches: bool) -> None:
    assert Pattern(pattern).matches(text) is matches


def test_a_pattern_s_spans_leave_out_empty_matches() -> None:
    assert Pattern("o").spans("foo") == [(1, 2), (2, 3)]
    assert Pattern("x*").spans("axxb") == [(1, 3)]


def test_the_table_cells() -> None:
    assert cells.cpu({"cpu": 12.345}) == "12.3%"  # type: ignore[typeddict-item]
    assert cells.cpu({"cpu": None}) == "-"  # type: ignore[typeddict-item]
    assert cells.memory({"rss": 512}) == "512B"  # type: ignore[typeddict-item]
    assert cells.memory({"rss": 52_428_800}) == "50.0M"  # type: ignore[typeddict-item]
    assert cells.memory({"rss": 3 << 30}) == "3.0G"  # type: ignore[typeddict-item]
    assert cells.memory({"rss": None}) == "-"  # type: ignore[typeddict-item]


def test_colours_are_those_of_run_s_output() -> None:
    colours = service_colours(["api", "db"])
    assert colours["api"] != colours["db"]
    assert colours["launcher"].bold
    assert state_style("failed").color is not None
    assert state_style("failed").color.name == "color(1)"  # type: ignore[union-attr]
    assert state_style("ready").color.name == "color(2)"  # type: ignore[union-attr]
    assert state_style("stopped").color is None
    assert state_style("no such state").color is None


# -- the API's sampled log feed --------------------------------------------------------------


async def test_a_sample_holds_the_newest_lines_of_each_service_and_counts_the_rest() -> None:
    sampler = Sampler(keep=3)
    sampler.put(("api", ["a1", "a2"]))
    sampler.put(("db", ["d1"]))
    sampler.put(("api", ["a3", "a4", "a5", "a6"]))
    taken = await sampler.take(0)
    assert taken is not None
    assert [(s.service, list(s.lines), s.skipped) for s in taken] == [
        ("db", ["d1"], 0),
        ("api", ["a4", "a5", "a6"], 3),
    ]
    assert all(s.at is not None and abs(s.at - time.time()) < 5 for s in taken)
    assert await sampler.take(0) == []  # nothing since


async def test_a_sample_keeps_the_order_of_batches_across_services() -> None:
    sampler = Sampler(keep=10)
    for name, text in [("a", "1"), ("b", "2"), ("a", "3")]:
        sampler.put((name, [text]))
    taken = await sampler.take(0)
    assert [(s.service, list(s.lines)) for s in taken or []] == [("a", ["1"]), ("b", ["2"]), ("a", ["3"])]


async def test_a_sampler_stays_bounded_under_a_flood_and_ends_when_closed() -> None:
    sampler = Sampler(keep=5)
    for i in range(100_000):
        sampler.put(("api", [f"line {i}"]))
    assert len(sampler._batches["api"]) == 5
    taken = await sampler.take(0)
    assert taken is not None
    assert [s.lines[0] for s in taken] == [f"line {i}" for i in range(99_995, 100_000)]
    assert taken[0].skipped == 99_995
    sampler.close()
    assert await sampler.take(1) is None


async def test_take_waits_for_a_line_or_the_timeout() -> None:
    sampler = Sampler(keep=5)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, sampler.put, ("api", ["late"]))
    taken = await sampler.take(5)
    assert [s.lines for s in taken or []] == [["late"]]
    started = time.monotonic()
    assert await sampler.take(0.05) == []
    assert time.monotonic() - started < 2


# -- cpu and rss in the service objects ------------------------------------------------------


def status(pid: int | None) -> ServiceStatus:
    return ServiceStatus("api", ServiceState.READY, pid, None, None, 0, None, None, None)


def test_a_service_object_carries_the_figures_of_its_running_process_only() -> None:
    figures = {"api": usage.Usage(pid=42, cpu=12.5, rss=1024)}
    assert (service(status(42), figures)["cpu"], service(status(42), figures)["rss"]) == (12.5, 1024)
    # Sampled before a restart (another pid) or a stop: no figures rather than another's.
    assert (service(status(43), figures)["cpu"], service(status(43), figures)["rss"]) == (None, None)
    assert (service(status(None), figures)["cpu"], service(status(None))["rss"]) == (None, None)


async def test_the_usage_sampler_answers_at_once_and_samples_off_the_loop() -> None:
    me = os.getpid()
    snapshot = SimpleNamespace(services=[SimpleNamespace(name="self", pid=me)])
    orchestrator = SimpleNamespace(plan=SimpleNamespace(specs=[]), snapshot=lambda: snapshot)
    sampler = usage.UsageSampler(orchestrator)  # type: ignore[arg-type]
    assert sampler.latest() == {}  # nothing sampled yet: no wait either
    await wait_until_async(lambda: sampler.generation == 1 and not len(sampler._scope))  # its task done
    first = sampler.latest()["self"]
    assert first.pid == me
    assert first.cpu is None  # one sample: no rate yet
    assert first.rss > 0
    sampler._taken -= usage.FRESH  # as if a second had passed
    sum(range(3_000_000))  # some CPU of this process's own
    sampler.latest()
    await wait_until_async(lambda: sampler.generation == 2)
    second = sampler.latest()["self"]
    assert second.cpu is not None
    assert second.cpu > 0
    await sampler.aclose()
