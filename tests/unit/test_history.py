"""The recent output of each service: tails, the merged order, and what is kept of a flood."""

from __future__ import annotations

from collections.abc import Sequence

from launcher.runtime.history import History
from launcher.runtime.lines import Lines


def chunk(*texts: str) -> Lines:
    return Lines("".join(f"{t}\n" for t in texts).encode())


def test_tails_cross_chunks_and_merge_in_the_order_lines_came() -> None:
    history = History(keep=5)
    history.extend("api", chunk("a1", "a2"))
    history.add("db", "d1")
    history.extend("api", ["a3"])
    history.extend("db", chunk("d2", "d3"))
    assert history.tail("api", 2) == ["a2", "a3"]
    assert history.tail("api", 20) == ["a1", "a2", "a3"]
    assert history.tail("nobody") == []
    assert history.tail("api", 0) == []
    assert history.merged(2) == [("api", "a2"), ("api", "a3"), ("db", "d2"), ("db", "d3")]
    assert history.merged() == [
        ("api", "a1"),
        ("api", "a2"),
        ("db", "d1"),
        ("api", "a3"),
        ("db", "d2"),
        ("db", "d3"),
    ]


def test_only_the_last_lines_are_kept_and_a_flood_is_not_split() -> None:
    history = History(keep=3)
    flood = chunk(*(f"line {i}" for i in range(10_000)))
    history.extend("api", chunk("old"))
    history.extend("api", flood)
    assert flood._list is None  # kept as its bytes
    assert history.tail("api", 10) == ["line 9997", "line 9998", "line 9999"]
    assert flood._list is None  # the tail alone was split off
    for i in range(4):
        history.add("api", f"new {i}")
    assert history.tail("api") == ["new 1", "new 2", "new 3"]
    assert len(history._chunks["api"]) == 3  # the flood's chunk went with the lines it held


def test_listeners_hear_each_batch_as_it_came() -> None:
    history = History()
    heard: list[tuple[str, Sequence[str]]] = []
    unsubscribe = history.listeners.subscribe(lambda service, lines: heard.append((service, lines)))
    history.extend("api", chunk("x", "y"))
    unsubscribe()
    history.add("api", "z")
    assert heard == [("api", ["x", "y"])]
