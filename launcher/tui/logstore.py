"""The lines the dashboard keeps: the newest KEEP of each service (its memory stays bounded
however long it runs and however fast the services write), in the order they came, with the
gaps that the API's sampled stream left under a flood; and the patterns that filter and search
them.

    store = LogStore()
    store.add(objects)                     # a batch of the API's sampled log stream
    store.lines("api"), store.lines(None)  # one service's lines, or every service's merged
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KEEP = 1000  # lines of each service


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a service, or (`skipped` > 0) the mark of the lines the stream left out
    there. `at`: when the launcher read it; None for the lines it had before the stream."""

    number: int  # its place in the order of arrival, across services
    service: str
    text: str
    at: float | None
    skipped: int = 0


class LogStore:
    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lines: dict[str, deque[Entry]] = {}
        self._numbers = itertools.count()
        self.version = 0  # counts the batches added: a view rebuilds when it changed
        self._merged: tuple[int, list[Entry]] = (-1, [])

    def add(self, objects: Iterable[dict[str, Any]]) -> None:
        """The API's objects: {"service", "line", "ts"}, and {"service", "skipped"} for a gap."""
        for item in objects:
            service = item["service"]
            lines = self._lines.get(service)
            if lines is None:
                lines = self._lines[service] = deque(maxlen=self._keep)
            skipped = item.get("skipped", 0)
            text = item.get("line", f"... {skipped:,} lines left out: they came faster than shown")
            lines.append(Entry(next(self._numbers), service, text, item.get("ts"), skipped))
        self.version += 1

    def clear(self) -> None:
        self._lines.clear()
        self.version += 1

    def lines(self, service: str | None) -> list[Entry]:
        """One service's lines, or every service's (None) in the order they came."""
        if service is not None:
            return list(self._lines.get(service, ()))
        version, merged = self._merged
        if version != self.version:
            merged = list(heapq.merge(*self._lines.values(), key=lambda entry: entry.number))
            self._merged = (self.version, merged)
        return merged


class Pattern:
    """What the filter and the search look for: a regular expression (a plain string where the
    text is not one), case-insensitive unless it has a capital letter (as ripgrep's smart case)."""

    def __init__(self, text: str) -> None:
        self.text = text
        flags = 0 if any(c.isupper() for c in text) else re.IGNORECASE
        try:
            self._regex = re.compile(text, flags)
        except re.error:
            self._regex = re.compile(re.escape(text), flags)

    def matches(self, text: str) -> bool:
        return self._regex.search(text) is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where it matches in `text` (empty matches left out)."""
        return [m.span() for m in self._regex.finditer(text) if m.end() > m.start()]
