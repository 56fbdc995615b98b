"""The recent output of each service, kept in memory for failure reports and `logs`."""

from __future__ import annotations

from collections import deque


class History:
    def __init__(self, keep: int = 500) -> None:
        self.keep = keep
        self._lines: dict[str, deque[str]] = {}

    def add(self, service: str, line: str) -> None:
        self.extend(service, [line])

    def extend(self, service: str, lines: list[str]) -> None:
        kept = self._lines.get(service)
        if kept is None:
            kept = self._lines[service] = deque(maxlen=self.keep)
        kept.extend(lines)

    def tail(self, service: str, n: int = 20) -> list[str]:
        lines = self._lines.get(service)
        if not lines or n <= 0:
            return []
        return list(lines)[-n:]
