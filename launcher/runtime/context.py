"""What every supervisor of a stack shares: how to spawn and probe, where output goes, the
clock, the base environment, and the callbacks that tell the orchestrator what happened.

The seams of the runtime are here: unit tests pass a fake spawner, prober and clock
(launcher/library/testing.py) and drive supervisors and the orchestrator without processes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from launcher.plan.spec import ProbeSpec
from launcher.runtime.clock import Clock
from launcher.runtime.history import History
from launcher.runtime.output import Sink
from launcher.runtime.probes import LogWatch, ProbeResult
from launcher.runtime.process import Handle, Spawner
from launcher.runtime.states import StateChange


class ProberLike(Protocol):
    async def check(self, probe: ProbeSpec, *, log: LogWatch | None = None) -> ProbeResult: ...


ProbeUse = Literal["readiness", "liveness"]
# Told of every probe check a supervisor makes: its service, what the probe was for, the result
# (the control API's last probe and its metrics). Called on the loop: it must not block.
ProbeObserver = Callable[[str, ProbeUse, ProbeResult], None]
# What a child gets besides the base environment and its spec's env: the variables that name
# the descriptors it inherits (its listening sockets), and those descriptors.
Inherited = Callable[[str], tuple[Mapping[str, str], tuple[int, ...]]]


def _unobserved(service: str, use: ProbeUse, result: ProbeResult) -> None:
    pass


def _nothing_inherited(service: str) -> tuple[Mapping[str, str], tuple[int, ...]]:
    return {}, ()


def _ignore(name: str, handle: Handle) -> None:
    pass


def _unheard(name: str) -> None:
    pass


@dataclass
class Context:
    spawner: Spawner
    prober: ProberLike
    wait_ready: Callable[..., Awaitable[ProbeResult]]
    watch_liveness: Callable[..., Awaitable[ProbeResult]]
    sink: Sink
    history: History
    clock: Clock
    environ: Mapping[str, str]
    on_change: Callable[[StateChange], None]
    on_spawn: Callable[[str, Handle], None] = _ignore
    on_exit: Callable[[str, Handle], None] = _ignore
    on_probe: ProbeObserver = _unobserved
    inherited: Inherited = _nothing_inherited
    # A service that its restart policy restarted is ready again (its followers restart now).
    on_restarted: Callable[[str], None] = _unheard


class ObservedProber:
    """The stack's prober, reporting each check's result to an observer."""

    def __init__(self, prober: ProberLike, report: Callable[[ProbeResult], None]) -> None:
        self._prober, self._report = prober, report

    async def check(self, probe: ProbeSpec, *, log: LogWatch | None = None) -> ProbeResult:
        result = await self._prober.check(probe, log=log)
        self._report(result)
        return result
