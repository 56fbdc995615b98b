"""The dashboard driven headless by textual's pilot, against a fake stack (tests/attach_fakes.py):
its keys and what they do to the views. tests/integration/test_attach.py drives it against a
real stack; tests/unit/test_attach_snapshots.py pins its screens."""

from __future__ import annotations

import time
from collections.abc import Callable

from attach_fakes import NOW, FakeSource
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from launcher.tui.app import Dashboard, FrontDashboard
from launcher.tui.widgets import DependencyTree, EventsView, LogView, ServicesTable

SIZE = (120, 36)


def dashboard(source: FakeSource | None = None) -> Dashboard:
    source = source or FakeSource()
    return Dashboard(source, source.stack, project="/srv/shop", clock=lambda: NOW)


async def until(pilot: Pilot[None], predicate: Callable[[], object], timeout: float = 10) -> None:
    """Let the app run until `predicate` holds (a busy machine may take its time)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def texts(app: Dashboard) -> list[str]:
    return [entry.text for entry in app.query_one(LogView).shown]


async def test_the_table_has_a_row_per_service_with_its_figures() -> None:
    app = dashboard()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(ServicesTable)
        assert table.row_count == 5
        api = [str(cell) for cell in table.get_row("api")]
        assert api[:5] == ["api", "ready", "4250", "http://127.0.0.1:8000", "3m03s"]
        assert api[5:] == ["0", "2.5%", "50.0M", "ok: HTTP 200, 3s ago"]
        assert str(table.get_cell("mailer", "state")) == "failed (exit 3)"
        assert str(table.get_cell("cache", "probe")) == "failing: connection refused, 1s ago"


async def test_a_change_of_state_reaches_the_table_and_the_events() -> None:
    source = FakeSource(changes=[])
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        change = {"service": "api", "old": "ready", "new": "stopping", "time": NOW, "reason": "asked"}
        source.more_changes.put_nowait(change)
        await until(pilot, lambda: str(app.query_one(ServicesTable).get_cell("api", "state")) == "stopping")
        await pilot.press("2")  # the events pane (it draws once shown)
        assert "ready -> stopping" in str(app.query_one(EventsView).lines[-1].text)


async def test_keys_start_stop_and_restart_the_selected_service() -> None:
    source = FakeSource()
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "r", "down", "x", "s")
        await until(pilot, lambda: len(source.acts) == 3)
        assert source.acts == [("api", "restart"), ("worker", "stop"), ("worker", "start")]


async def test_the_filter_narrows_the_log_view_and_esc_clears_it() -> None:
    app = dashboard()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert len(texts(app)) == 8
        await pilot.press("f", *"worker", "enter")  # typed at once after `f`: the finder's
        assert texts(app) == ["worker: waiting for jobs", "worker: job 17 done in 0.4s"]
        assert app.focused is app.query_one(LogView)
        await pilot.press("escape")
        assert len(texts(app)) == 8


async def test_enter_on_a_row_shows_that_service_s_logs_and_a_all_of_them() -> None:
    app = dashboard()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "down", "down", "enter")
        assert app.query_one(LogView).service == "mailer"
        assert texts(app)[0] == "Traceback (most recent call last):"
        assert len(texts(app)) == 2
        await pilot.press("a")
        assert len(texts(app)) == 8


async def test_pause_holds_the_view_until_it_goes_on() -> None:
    source = FakeSource()
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        source.more_lines.put_nowait([{"service": "api", "line": "while paused"}])
        await pilot.pause()
        assert "while paused" not in texts(app)
        assert "PAUSED" in str(app.query_one("#logbar").render())
        await pilot.press("p")
        assert texts(app)[-1] == "while paused"


async def test_the_view_follows_new_lines_at_the_end() -> None:
    source = FakeSource()
    app = dashboard(source)
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        source.more_lines.put_nowait([{"service": "api", "line": f"line {i}"} for i in range(200)])
        await pilot.pause()
        log = app.query_one(LogView)
        assert log.is_vertical_scroll_end
        assert log.shown[-1].text == "line 199"


async def test_search_marks_and_goes_to_matches() -> None:
    source = FakeSource()
    source.lines += [{"service": "api", "line": f"filler {i}"} for i in range(100)]
    app = dashboard(source)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        log = app.query_one(LogView)
        assert log.is_vertical_scroll_end
        await pilot.press("slash", *"mailer|smtp", "enter")
        assert log.search is not None
        assert log.search.text == "mailer|smtp"
        # Enter: to the newest match, which the view shows.
        smtp = next(e for e in log.shown if "smtp" in e.text)
        assert log.current == smtp.number
        top = log.scroll_offset.y
        assert smtp in log.shown[top : top + log.size.height]
        assert not log.following  # it holds still there
        await pilot.press("slash", *"filler 9", "enter")  # filler 9, 90-99: the newest is 99
        assert log.shown[-1].number == log.current
        await pilot.press("n")  # the next one down: round the end, to the first
        assert next(e for e in log.shown if e.text == "filler 9").number == log.current
        await pilot.press("N")
        assert log.shown[-1].number == log.current


async def test_panes_timestamps_and_zoom() -> None:
    app = dashboard()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("2")
        assert app.query_one(TabbedContent).active == "events"
        await pilot.press("3")
        assert app.query_one(TabbedContent).active == "dependencies"
        tree = app.query_one(DependencyTree)
        assert [str(node.data) for node in tree.root.children] == ["worker", "mailer"]
        await pilot.press("1", "t")
        assert app.query_one(LogView).stamps
        await pilot.press("z")
        assert not app.query_one(ServicesTable).display
        await pilot.press("z")
        assert app.query_one(ServicesTable).display


async def test_quitting_asks_nothing_of_the_stack() -> None:
    source = FakeSource()
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
    assert app.return_code == 0
    assert source.acts == []


async def test_ctrl_c_in_the_front_dashboard_is_an_interrupt() -> None:
    source = FakeSource()
    app = FrontDashboard(source, source.stack, clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")
    assert app.return_code == 130
    assert app.interrupted


async def test_a_stack_that_stops_ends_the_dashboard() -> None:
    class Stopping(FakeSource):
        async def events(self):  # type: ignore[no-untyped-def]
            yield "snapshot", self.stack
            self.stack = {**self.stack, "state": "stopped"}  # then the stream ends

    source = Stopping()
    app = dashboard(source)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.farewell is not None)
    assert app.farewell == "the stack has stopped"
