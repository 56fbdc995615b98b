"""The recent output of each service, kept in memory for failure reports and `logs`.

Lines are kept in the chunks they came in (launcher/runtime/lines.py keeps a chunk's lines as
one piece of bytes) and split into str only when read: a flooding service's chunks of
thousands of lines cost no work per line here.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Sequence

from launcher.runtime.events import Subscribers

# Told of each batch of new lines of a service (the control API's `logs --follow`). Called on
# the output path: it must not block.
LinesListener = Callable[[str, Sequence[str]], None]


class History:
    def __init__(self, keep: int = 500) -> None:
        self.keep = keep
        self.listeners: Subscribers[[str, Sequence[str]]] = Subscribers()
        # Each chunk with the number of its first line in the stack's order of arrival, so
        # that the tails of several services can be merged back into that order; and how many
        # lines the chunks of each service hold (the oldest chunk goes once the others hold
        # `keep` lines).
        self._chunks: dict[str, deque[tuple[int, Sequence[str]]]] = {}
        self._held: dict[str, int] = {}
        self._count = 0  # lines seen, of every service: the next line's number

    def add(self, service: str, line: str) -> None:
        self.extend(service, [line])

    def extend(self, service: str, lines: Sequence[str]) -> None:
        """Keep `lines` (not copied: a caller's list must not change afterwards)."""
        if lines:
            chunks = self._chunks.setdefault(service, deque())
            chunks.append((self._count, lines))
            self._count += len(lines)
            held = self._held.get(service, 0) + len(lines)
            while held - len(chunks[0][1]) >= self.keep:
                held -= len(chunks.popleft()[1])
            self._held[service] = held
        self.listeners.tell(service, lines)

    def tail(self, service: str, n: int = 20) -> list[str]:
        return [line for _, line in self._tail(service, n)]

    def merged(self, n: int = 100) -> list[tuple[str, str]]:
        """Every service's last `n` lines as (service, line), in the order they came."""
        tails = [[(number, name, line) for number, line in self._tail(name, n)] for name in self._chunks]
        return [(name, line) for _, name, line in heapq.merge(*tails)]

    def _tail(self, service: str, n: int) -> list[tuple[int, str]]:
        """The last `n` lines (at most `keep`) with their numbers, oldest first."""
        n = min(n, self.keep)
        pieces: list[list[tuple[int, str]]] = []
        for first, lines in reversed(self._chunks.get(service, ())):
            if n <= 0:
                break
            taken = lines[-n:] if len(lines) > n else lines
            end = first + len(lines)
            pieces.append(list(zip(range(end - len(taken), end), taken, strict=True)))
            n -= len(taken)
        return [entry for piece in reversed(pieces) for entry in piece]
