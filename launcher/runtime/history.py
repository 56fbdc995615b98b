"""The recent output of each service, kept in memory for failure reports and `logs`."""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable

from launcher.runtime.events import Subscribers

# Told of each batch of new lines of a service (the control API's `logs --follow`). Called on
# the output path: it must not block.
LinesListener = Callable[[str, list[str]], None]


class History:
    def __init__(self, keep: int = 500) -> None:
        self.keep = keep
        self.listeners: Subscribers[[str, list[str]]] = Subscribers()
        # Each line with its number in the stack's order of arrival, so that the tails of
        # several services can be merged back into that order.
        self._lines: dict[str, deque[tuple[int, str]]] = {}
        self._numbers = itertools.count()

    def add(self, service: str, line: str) -> None:
        self.extend(service, [line])

    def extend(self, service: str, lines: list[str]) -> None:
        kept = self._lines.get(service)
        if kept is None:
            kept = self._lines[service] = deque(maxlen=self.keep)
        kept.extend(zip(self._numbers, lines, strict=False))  # strict: _numbers never ends
        self.listeners.tell(service, lines)

    def tail(self, service: str, n: int = 20) -> list[str]:
        return [line for _, line in self._tail(service, n)]

    def merged(self, n: int = 100) -> list[tuple[str, str]]:
        """Every service's last `n` lines as (service, line), in the order they came."""
        tails = [[(number, name, line) for number, line in self._tail(name, n)] for name in self._lines]
        return [(name, line) for _, name, line in heapq.merge(*tails)]

    def _tail(self, service: str, n: int) -> list[tuple[int, str]]:
        lines = self._lines.get(service)
        if not lines or n <= 0:
            return []
        return list(itertools.islice(lines, max(0, len(lines) - n), None))
