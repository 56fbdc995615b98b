"""The dashboard: the services table on top, below it the logs, the events or the dependency
tree; keys in the footer (the mouse works as well).

    app = Dashboard(ApiSource(socket), stack, project=root)
    app.run()                   # until `q`; the stack goes on (`run --tui`: FrontDashboard)

It follows the stack with three streams of the API, each a task that ends with the app: the
events (a state reaches the table as it changes), the sampled log stream (bounded, however
fast the services write: docs/api.md), and `GET /v1/status` once a second (pids, uptimes, CPU,
memory, probes). When the stack stops, the app ends and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from launcher.control import cells
from launcher.core.errors import ApiError
from launcher.runtime.states import HEALTHY
from launcher.tui.logstore import LogStore, Pattern
from launcher.tui.look import service_colours
from launcher.tui.source import Action, Source, StackGone
from launcher.tui.widgets import DependencyTree, EventsView, LogView, ServicesTable

if TYPE_CHECKING:  # the API's objects, typed for the checker alone
    from launcher.control.client import StackJson

POLL = 2.0  # seconds between two status requests (uptimes, CPU, memory, probes)
TAIL = 100  # lines of each service the log stream starts with, and the most a sample holds
SAMPLE = 0.25  # seconds between the log stream's batches at most: how far the view may lag
RECONNECT = 0.5  # seconds before a log stream that ended is opened again
DOING = {"start": "starting", "stop": "stopping", "restart": "restarting"}


class Dashboard(App[None]):
    """`launcher attach`: quitting leaves the stack running."""

    TITLE = "launcher"
    CSS = """
    #head { height: 1; padding: 0 1; background: $panel; }
    ServicesTable { height: auto; max-height: 45%; }
    ServicesTable.hidden { display: none; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    #logbar { height: 1; padding: 0 1; color: $text-muted; }
    LogView { height: 1fr; }
    #finder { dock: bottom; height: 1; border: none; padding: 0 1; display: none; }
    #finder.open { display: block; }
    """
    # Priority bindings act as the key comes, before the next key is passed on: `f` then
    # `word`, typed at once, is a filter for "word" (check_action passes the keys on to the
    # finder while it is open).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit", priority=True),
        Binding("ctrl+c", "interrupt", "quit", show=False, priority=True),
        Binding("r", "act('restart')", "restart", priority=True),
        Binding("s", "act('start')", "start", priority=True),
        Binding("x", "act('stop')", "stop", priority=True),
        Binding("a", "all_logs", "all logs", priority=True),
        Binding("slash", "find('search')", "search", priority=True),
        Binding("f", "find('filter')", "filter", priority=True),
        Binding("n", "next_match(1)", "next match", show=False, priority=True),
        Binding("N", "next_match(-1)", "previous match", show=False, priority=True),
        Binding("p", "pause", "pause", priority=True),
        Binding("t", "stamps", "time", priority=True),
        Binding("end", "follow", "follow", show=False),
        Binding("1", "pane('logs')", "logs", priority=True),
        Binding("2", "pane('events')", "events", priority=True),
        Binding("3", "pane('dependencies')", "deps", priority=True),
        Binding("z", "zoom", "zoom", priority=True),
        Binding("escape", "clear", "clear", show=False, priority=True),
    ]
    # What the keys still do while the finder is open: the rest is typed into it.
    FINDING = frozenset({"clear", "interrupt"})

    def __init__(
        self, source: Source, stack: StackJson, *, project: str = "", clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__()
        self.source = source
        self.stack = stack
        self.project = project
        self.clock = clock
        self.colours = service_colours([s["name"] for s in stack["services"]])
        self.store = LogStore()
        self.farewell: str | None = None  # what to say once the app has ended
        self._finding: str | None = None  # "search" or "filter" while the finder is open
        self._polling = False

    def compose(self) -> ComposeResult:
        yield Static(id="head")
        yield ServicesTable(self.colours, id="services")
        with TabbedContent(id="panes"):
            with TabPane("Logs", id="logs"):
                yield Static(id="logbar")
                yield LogView(self.store, self.colours, id="log")
                yield Input(id="finder")
            with TabPane("Events", id="events"):
                yield EventsView(self.colours, _clock_text, id="changes")
            with TabPane("Dependencies", id="dependencies"):
                yield DependencyTree(self.colours, id="tree")
        yield Footer()

    def on_mount(self) -> None:
        self._show()
        self._show_logbar()
        self.query_one(ServicesTable).focus()
        self.run_worker(self._follow_events(), name="events")
        self.run_worker(self._follow_logs(), name="logs")
        self.run_worker(self._load_dependencies(), name="dependencies")
        self.set_interval(POLL, self._poll)
        if not self.is_headless:  # a terminal's app: stopped by a signal, it gives the terminal back
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.exit)

    # -- what the stack tells --------------------------------------------------------------

    async def _follow_events(self) -> None:
        while True:
            # aclosing: a stream cut short (the app ends) closes its connection at once.
            async with contextlib.aclosing(self.source.events()) as events:
                async for kind, data in events:
                    if kind == "snapshot":
                        self.stack = data
                        self._show()
                    elif kind == "state":
                        self._changed(data)
            if not await self._still_running():
                return

    def _changed(self, change: dict[str, Any]) -> None:
        for service in self.stack["services"]:
            if service["name"] == change["service"]:
                service["state"] = change["new"]
        self.query_one(EventsView).add(change)
        self._show()
        if not self._polling:  # its pid, times and figures: from the status, soon
            self._polling = True
            self.set_timer(0.05, self._poll)

    async def _follow_logs(self) -> None:
        log = self.query_one(LogView)
        while True:
            async with contextlib.aclosing(self.source.logs(TAIL, SAMPLE)) as batches:
                async for objects in batches:
                    self.store.add(objects)
                    log.update_lines()
            if not await self._still_running():
                return
            # The stream ended while the stack runs: open another, which starts with the
            # lines the launcher keeps (those shown are let go, not shown twice).
            await asyncio.sleep(RECONNECT)
            self.store.clear()

    async def _load_dependencies(self) -> None:
        depends_on: dict[str, list[tuple[str, str]]] = {}
        try:
            for service in self.stack["services"]:
                detail = await self.source.detail(service["name"])
                depends_on[service["name"]] = [(d["name"], d["condition"]) for d in detail["depends_on"]]
        except (StackGone, ApiError):
            return  # the status or the events say what happened
        tree = self.query_one(DependencyTree)
        tree.build(depends_on)
        tree.show_states({s["name"]: s["state"] for s in self.stack["services"]})

    async def _poll(self) -> None:
        self._polling = False
        try:
            self.stack = await self.source.status()
        except StackGone:
            self._gone()
            return
        except ApiError:
            return  # a moment's trouble: the next poll tries again
        self._show()

    async def _still_running(self) -> bool:
        """After a stream ended: whether the stack still runs (else the app ends)."""
        try:
            stack = await self.source.status()
        except StackGone:
            stack = None
        if stack is None or stack["state"] == "stopped":
            self._gone()
            return False
        return True

    def _gone(self) -> None:
        self.farewell = "the stack has stopped"
        self.exit()

    # -- showing it -----------------------------------------------------------------------

    def _show(self) -> None:
        now = self.clock()
        services = self.stack["services"]
        self.query_one(ServicesTable).show(services, now)
        self.query_one(DependencyTree).show_states({s["name"]: s["state"] for s in services})
        self.query_one("#head", Static).update(_head(self.stack, now, self.project))

    def _show_logbar(self) -> None:
        log = self.query_one(LogView)
        parts = [f"logs of {log.service}" if log.service else "logs of every service"]
        if log.filter is not None:
            parts.append(f"filter /{log.filter.text}/")
        if log.search is not None:
            parts.append(f"search /{log.search.text}/ (n, N: next, previous)")
        if log.paused:
            parts.append("PAUSED (p: follow again)")
        if log.stamps:
            parts.append("times: when the launcher read each line")
        self.query_one("#logbar", Static).update("  ·  ".join(parts))

    # -- keys and the mouse ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self._finding is None or action in self.FINDING

    def action_interrupt(self) -> None:
        """Ctrl-C: as `q` (the stack goes on)."""
        self.exit()

    def action_act(self, action: Action) -> None:
        name = self.query_one(ServicesTable).selected
        if name is None:
            return
        self.notify(f"{DOING[action]} {name}", timeout=2)
        self.run_worker(self._act(name, action), group="actions")

    async def _act(self, name: str, action: Action) -> None:
        try:
            service = await self.source.act(name, action)
        except ApiError as exc:
            self.notify(str(exc), title=f"{action} {name}", severity="error", timeout=8)
            return
        except StackGone:
            self._gone()
            return
        self.notify(cells.summary(action, service), timeout=4)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row, or a click: that service's logs."""
        self._logs_of(str(event.row_key.value))

    def action_all_logs(self) -> None:
        self._logs_of(None)

    def _logs_of(self, service: str | None) -> None:
        log = self.query_one(LogView)
        log.service = service
        log.update_lines(force=True)
        log.follow()
        self.query_one(TabbedContent).active = "logs"
        self._show_logbar()

    def action_find(self, what: str) -> None:
        log = self.query_one(LogView)
        finder = self.query_one("#finder", Input)
        current = log.filter if what == "filter" else log.search
        self._finding = what
        self.query_one(TabbedContent).active = "logs"
        finder.placeholder = (
            "filter: the lines that match (a regular expression); enter: keep it, esc: clear it"
            if what == "filter"
            else "search (a regular expression); enter: to the last match, then n, N; esc: clear it"
        )
        finder.value = current.text if current is not None else ""
        finder.add_class("open")
        # At once, not at the next refresh as focus() does: the keys typed next are its own.
        self.screen.set_focus(finder)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._set_pattern(Pattern(event.value) if event.value else None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._finding == "search":
            self.query_one(LogView).next_match(-1)
        self._close_finder()

    def _set_pattern(self, pattern: Pattern | None) -> None:
        log = self.query_one(LogView)
        if self._finding == "filter":
            log.filter = pattern
            log.update_lines(force=True)
        elif self._finding == "search":
            log.search, log.current = pattern, None
            log.redraw()
        self._show_logbar()

    def _close_finder(self) -> None:
        self._finding = None
        finder = self.query_one("#finder", Input)
        finder.remove_class("open")
        self.screen.set_focus(self.query_one(LogView))

    def action_clear(self) -> None:
        """Esc: close the finder, clearing what it was for; else clear the filter and search."""
        if self._finding is not None:
            self._set_pattern(None)
            self._close_finder()
            return
        log = self.query_one(LogView)
        log.filter = log.search = None
        log.update_lines(force=True)
        self._show_logbar()

    def action_next_match(self, step: int) -> None:
        if not self.query_one(LogView).next_match(step):
            self.bell()

    def action_pause(self) -> None:
        log = self.query_one(LogView)
        log.paused = not log.paused
        if not log.paused:
            log.update_lines(force=True)
            log.follow()
        self._show_logbar()

    def action_follow(self) -> None:
        log = self.query_one(LogView)
        log.paused = False
        log.update_lines(force=True)
        log.follow()
        self._show_logbar()

    def action_stamps(self) -> None:
        log = self.query_one(LogView)
        log.stamps = not log.stamps
        log.redraw()
        self._show_logbar()

    def action_pane(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane

    def action_zoom(self) -> None:
        """The lower pane alone, or back with the table."""
        self.query_one(ServicesTable).toggle_class("hidden")


class FrontDashboard(Dashboard):
    """`launcher run --tui`: the dashboard in front of the stack that this launcher runs.
    Quitting it stops the stack; Ctrl-C acts as it would on `run` (exit code 130)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit and stop the stack"),
        *Dashboard.BINDINGS[1:],
    ]

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.interrupted = False

    def action_interrupt(self) -> None:
        self.interrupted = True
        self.exit(return_code=130)

    def _gone(self) -> None:
        self.exit()  # the launcher that runs the stack says what happened


def _head(stack: StackJson, now: float, project: str) -> str:
    """`stack shop: running, 3/4 ready (profile full, mode multi), launcher pid 4242, up 3m05s,
    in DIR`: what matters most first, for a narrow terminal."""
    services = stack["services"]
    ready = sum(1 for s in services if s["state"] in HEALTHY)
    profile = f"profile {stack['profile']}" if stack.get("profile") else "no profile"
    return (
        f"stack {stack['stack']}: {stack['state']}, {ready}/{len(services)} ready ({profile}, "
        f"mode {stack['mode']}), launcher pid {stack['pid']}, up {cells.duration(now - stack['started_at'])}"
        + (f", in {project}" if project else "")
    )


def _clock_text(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))
