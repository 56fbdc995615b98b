"""The dashboard's main screens, pinned as SVG snapshots (pytest-textual-snapshot): a change that
moves a column, a colour or a key shows up as a failing test with the two pictures side by side
in snapshot_report.html. Against the fake stack of tests/attach_fakes.py, whose pids, ports and
times are fixed, on a fixed clock and in UTC. After a change meant to be seen, look at the
report, then accept the new pictures with `pytest tests/unit/test_attach_snapshots.py
--snapshot-update`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from attach_fakes import NOW, FakeSource

from launcher.tui.app import Dashboard

SIZE = (120, 32)
Compare = Callable[..., bool]


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The times the dashboard shows (the events, the lines' stamps) in one zone everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def dashboard() -> Dashboard:
    source = FakeSource()
    return Dashboard(source, source.stack, project="/srv/shop", clock=lambda: NOW)


def test_the_services_and_every_service_s_logs(snap_compare: Compare) -> None:
    assert snap_compare(dashboard(), terminal_size=SIZE, press=["_"])


def test_one_service_s_logs_filtered_with_times(snap_compare: Compare) -> None:
    keys = ["down", "enter", "t", "f", *"health|running", "enter"]
    assert snap_compare(dashboard(), terminal_size=SIZE, press=keys)


def test_a_search_marks_its_matches(snap_compare: Compare) -> None:
    assert snap_compare(dashboard(), terminal_size=SIZE, press=["slash", *"worker", "enter"])


def test_the_events(snap_compare: Compare) -> None:
    assert snap_compare(dashboard(), terminal_size=SIZE, press=["2"])


def test_the_dependency_tree(snap_compare: Compare) -> None:
    assert snap_compare(dashboard(), terminal_size=SIZE, press=["3"])
