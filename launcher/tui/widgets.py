"""The dashboard's widgets: the services table, the log view, the dependency tree and the list
of events. They show what they are given; launcher/tui/app.py feeds them from the stack."""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import DataTable, RichLog, Tree
from textual.widgets.tree import TreeNode

from launcher.control import cells
from launcher.tui.logstore import Entry, LogStore, Pattern
from launcher.tui.look import state_style

if TYPE_CHECKING:  # the API's objects, typed for the checker alone
    from launcher.control.client import ServiceJson

# (key, heading) of the table's columns: `launcher status`'s, with CPU and memory.
COLUMNS = (
    ("name", "SERVICE"),
    ("state", "STATE"),
    ("pid", "PID"),
    ("url", "URL"),
    ("uptime", "UPTIME"),
    ("restarts", "RESTARTS"),
    ("cpu", "CPU"),
    ("rss", "MEM"),
    ("probe", "LAST PROBE"),
)
DIM = Style(dim=True)
MATCH = Style(reverse=True)
CURRENT = Style(bgcolor="bright_black")  # the line the search went to
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # a CSI sequence: colours, mostly
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # what a line may not hold once drawn
DependsOn = Mapping[str, Sequence[tuple[str, str]]]  # each service's (dependency, condition)


class ServicesTable(DataTable[Text]):
    """A row per service, updated cell by cell as the stack changes."""

    def __init__(self, colours: Mapping[str, Style], **options: Any) -> None:
        super().__init__(cursor_type="row", **options)
        self.colours = colours
        self._cells: dict[str, tuple[str, ...]] = {}  # what each row shows, to change only what differs

    def on_mount(self) -> None:
        for key, heading in COLUMNS:
            self.add_column(heading, key=key)

    def show(self, services: Sequence[ServiceJson], now: float) -> None:
        for service in services:
            name = service["name"]
            texts = _cells(service, now)
            shown = self._cells.get(name)
            if shown is None:
                self.add_row(*self._styled(name, texts), key=name)
            else:
                for (key, _), old, new, styled in zip(
                    COLUMNS, shown, texts, self._styled(name, texts), strict=True
                ):
                    if old != new:
                        # A wider text widens its column (measuring every row costs)
                        self.update_cell(name, key, styled, update_width=len(new) > len(old))
            self._cells[name] = texts

    @property
    def selected(self) -> str | None:
        """The service under the cursor."""
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def _styled(self, name: str, texts: tuple[str, ...]) -> list[Text]:
        styled = [Text(text) for text in texts]
        styled[0].stylize(self.colours.get(name, Style()))
        styled[1].stylize(state_style(texts[1].split(" ")[0]))
        if texts[-1].startswith("failing"):
            styled[-1].stylize(state_style("unhealthy"))
        return styled


def _cells(service: ServiceJson, now: float) -> tuple[str, ...]:
    pid = service.get("pid")
    return (
        service["name"],
        cells.state(service),
        "-" if pid is None else str(pid),
        cells.address(service),
        cells.uptime(service, now),
        str(service.get("restarts", 0)),
        cells.cpu(service),
        cells.memory(service),
        cells.probe(service.get("last_probe"), now),
    )


class LogView(ScrollView, can_focus=True):
    """The lines of one service or of all, drawn line by line from the store (only those in
    sight are ever rendered), filtered, with the search's matches marked. It follows the newest
    line while it is scrolled to the end; scrolled up, or paused, it holds still."""

    def __init__(self, store: LogStore, colours: Mapping[str, Style], **options: Any) -> None:
        super().__init__(**options)
        self.store = store
        self.colours = colours
        self.names_width = max(map(len, colours), default=8)
        self.service: str | None = None  # None: every service
        self.filter: Pattern | None = None
        self.search: Pattern | None = None
        self.current: int | None = None  # the number of the line the search went to last
        self.paused = False
        self.following = True
        self.stamps = False
        self.shown: list[Entry] = []
        self._built: tuple[int, str | None, str | None] | None = None  # what `shown` was made of

    def update_lines(self, *, force: bool = False) -> None:
        """Take in what the store holds now (nothing while paused, unless `force`)."""
        if self.paused and not force:
            return
        key = (self.store.version, self.service, self.filter.text if self.filter else None)
        if key == self._built and not force:
            return
        self._built = key
        entries = self.store.lines(self.service)
        if self.filter is not None:
            pattern = self.filter
            entries = [e for e in entries if e.skipped or pattern.matches(_plain(e.text))]
        self.shown = entries
        longest = max((len(e.text) for e in entries), default=0)
        self.virtual_size = Size(self._prefix_width + longest, len(entries))
        if self.following:
            self.follow()
        self.refresh()

    def follow(self) -> None:
        """To the newest line, and stay there as lines come (once the new size is laid out)."""
        self.following = True
        self.scroll_end(animate=False, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Scrolled up (by the wheel, the keys, the scroll bar): it holds still; back at the end,
        # it follows again. (Lines that come do not move it: the end moves away from it.)
        self.following = new_value >= self.max_scroll_y

    def redraw(self) -> None:
        """Draw again with the same lines (the timestamps or the search changed)."""
        self.virtual_size = Size(
            self._prefix_width + max((len(e.text) for e in self.shown), default=0), len(self.shown)
        )
        self.refresh()

    def next_match(self, step: int) -> bool:
        """Go to the next line (step 1) or the previous one (-1) that the search matches, from
        the one gone to last (at first, from the end), round the end; False when none does."""
        if self.search is None or not self.shown:
            return False
        count = len(self.shown)
        numbers = [entry.number for entry in self.shown]
        start = count if self.current is None else bisect.bisect_left(numbers, self.current)
        for distance in range(1, count + 1):
            index = (start + step * distance) % count
            if self.search.matches(_plain(self.shown[index].text)):
                self.current = self.shown[index].number
                self.scroll_to(y=max(0, index - self.size.height // 2), animate=False)
                self.refresh()
                return True
        return False

    @property
    def _prefix_width(self) -> int:
        return (13 if self.stamps else 0) + self.names_width + 3

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        index = scroll_y + y
        if index >= len(self.shown):
            return Strip.blank(width, self.rich_style)
        line = self._line(self.shown[index])
        strip = Strip(line.render(self.app.console), line.cell_len)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _line(self, entry: Entry) -> Text:
        """`[12:00:01.250 ]name | text`, as `run` prints it (`launcher logs -t` has the stamps)."""
        line = Text(style=self.rich_style)
        if self.stamps:
            stamp = "" if entry.at is None else time.strftime("%H:%M:%S", time.localtime(entry.at))
            millis = "" if entry.at is None else f".{int(entry.at * 1000) % 1000:03d}"
            line.append(f"{stamp}{millis}".ljust(13), DIM)
        line.append(f"{entry.service:<{self.names_width}} | ", self.colours.get(entry.service, Style()))
        if entry.skipped:
            line.append(entry.text, DIM + Style(italic=True))
            return line
        raw = entry.text.expandtabs() if "\t" in entry.text else entry.text
        text = Text.from_ansi(raw) if "\x1b" in raw else Text(raw)
        if CONTROL.search(text.plain):  # one character for one: the colours stay in place
            text.plain = CONTROL.sub("\N{REPLACEMENT CHARACTER}", text.plain)
        if self.search is not None:
            for start, end in self.search.spans(text.plain):
                text.stylize(MATCH, start, end)
        line.append_text(text)
        if entry.number == self.current and self.search is not None:
            line.stylize(CURRENT)
        return line


def _plain(text: str) -> str:
    """A line without its colour codes: what the filter and the search read."""
    return ANSI.sub("", text) if "\x1b" in text else text


class DependencyTree(Tree[str]):
    """Each service with what it depends on (and on which condition) under it; the services
    that nothing depends on at the top."""

    def __init__(self, colours: Mapping[str, Style], **options: Any) -> None:
        super().__init__("stack", **options)
        self.show_root = False
        self.colours = colours
        self._by_service: dict[str, list[tuple[TreeNode[str], str]]] = {}  # service -> (node, condition)
        self._states: dict[str, str] = {}

    def build(self, depends_on: DependsOn) -> None:
        """`depends_on`: each service's dependencies, (name, condition), in the stack's order."""
        self.clear()
        self._by_service = {}
        needed = {name for deps in depends_on.values() for name, _ in deps}
        for name in depends_on:
            if name not in needed:
                self._add(self.root, name, "", depends_on)
        self.root.expand_all()

    def _add(self, parent: TreeNode[str], name: str, condition: str, depends_on: DependsOn) -> None:
        node = parent.add(self._label(name, condition), data=name)
        self._by_service.setdefault(name, []).append((node, condition))
        for dependency, how in depends_on.get(name, ()):
            self._add(node, dependency, how, depends_on)
        if not node.children:
            node.allow_expand = False

    def show_states(self, states: Mapping[str, str]) -> None:
        for name, state in states.items():
            if self._states.get(name) != state:
                self._states[name] = state
                for node, condition in self._by_service.get(name, ()):
                    node.set_label(self._label(name, condition))

    def _label(self, name: str, condition: str) -> Text:
        label = Text(name, self.colours.get(name, Style()))
        state = self._states.get(name)
        if state:
            label.append("  ").append(state, state_style(state))
        if condition:
            label.append(f"  (when {condition})", DIM)
        return label


class EventsView(RichLog):
    """The changes of state, newest last: `12:00:01 api  starting -> ready  reason`."""

    def __init__(self, colours: Mapping[str, Style], clock: Callable[[float], str], **options: Any) -> None:
        super().__init__(max_lines=1000, wrap=False, markup=False, highlight=False, **options)
        self.colours = colours
        self.clock = clock  # a Unix time as the dashboard shows it (HH:MM:SS)
        self.width_of_names = max(map(len, colours), default=8)

    def add(self, change: Mapping[str, Any]) -> None:
        line = Text(f"{self.clock(change['time'])} ", DIM)
        name = change["service"]
        line.append(f"{name:<{self.width_of_names}}  ", self.colours.get(name, Style()))
        line.append(change["old"], state_style(change["old"])).append(" -> ")
        line.append(change["new"], state_style(change["new"]))
        if change.get("reason"):
            line.append(f"  {change['reason']}", DIM)
        self.write(line)
