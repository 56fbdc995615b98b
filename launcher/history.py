"""The recent output of each service, kept in memory for failure reports and `logs`."""

from __future__ import annotations

from collections import deque


class History:
    def __init__(self, keep: int = 500) -> None:
        self.keep = keep
        self._lines: dict[str, deque[str]] = {}

    def add(self, service: str, line: str) -> None:
        lines = self._lines.get(service)
        if lines is None:
            lines = self._lines[service] = deque(maxlen=self.keep)
        lines.append(line)

    def tail(self, service: str, n: int = 20) -> list[str]:
        lines = self._lines.get(service)
        if not lines or n <= 0:
            return []
        return list(lines)[-n:]
