"""The live progress block while a stack starts: one row per service, its state and seconds,
the way docker compose shows them. It reads snapshots and writes to the sink; after the start,
state changes are printed as event lines instead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from launcher.runtime.output import ProgressRow, Sink
from launcher.runtime.states import ServiceState
from launcher.runtime.status import ServiceStatus, StackStatus
from launcher.runtime.tasks import TaskScope

TICK = 0.25  # seconds between redraws, so that the seconds count up between state changes


class Progress:
    def __init__(self, sink: Sink, snapshot: Callable[[], StackStatus]) -> None:
        self._sink = sink
        self._snapshot = snapshot
        self._scope = TaskScope()
        self.active = False

    def begin(self) -> None:
        self.active = True
        self._scope.spawn(self._tick())

    def draw(self) -> None:
        if self.active:
            self._sink.progress(rows(self._snapshot(), time.time()))

    async def end(self) -> None:
        if self.active:
            self.active = False
            await self._scope.aclose()
            self._sink.end_progress()

    async def _tick(self) -> None:
        # Real time, not the runtime's clock: it is for a person watching (the clock may be a fake).
        while self.active:
            await asyncio.sleep(TICK)
            self.draw()


def rows(status: StackStatus, now: float) -> list[ProgressRow]:
    return [ProgressRow(s.name, str(s.state), elapsed(s, now), s.reason) for s in status.services]


def elapsed(service: ServiceStatus, now: float) -> float:
    """Seconds shown beside a service while the stack starts: counting up while it starts,
    then frozen at the time it took to become ready."""
    started, ready = service.started_at, service.ready_at
    if started is None:
        return 0.0
    if service.state is ServiceState.READY and ready is not None and ready >= started:
        return ready - started
    return now - started if service.state.running else 0.0
