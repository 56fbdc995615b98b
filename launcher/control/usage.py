"""The CPU and memory of each service's process tree: the walk that `GET /metrics` reads at
scrape time, and the samples that the service objects of the API carry (`cpu`, `rss`).

    sampler = UsageSampler(orchestrator)
    figures = sampler.latest()              # on the loop: the last sample, never a wait
    figures["api"].cpu, figures["api"].rss  # percent of one core, resident bytes
    await sampler.aclose()

A walk over /proc costs some 10 ms for 20 services and a few tens for 50, so a status answer
never waits for one: it carries the last sample, and asks for the next one when that is older
than FRESH. The walk runs on a worker thread, only while clients ask (an idle stack with no
client costs nothing), at most once every FRESH seconds however many clients poll.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

from launcher.runtime.tasks import TaskScope

if TYPE_CHECKING:
    from launcher.runtime.orchestrator import Orchestrator

FRESH = 1.0  # seconds a sample answers for before the next one is taken


@dataclass(frozen=True)
class Usage:
    """One service's figures: `cpu` the percent of one core its tree used since the previous
    sample (None for its first sample), `rss` the resident bytes of its tree; `pid` its root,
    for whoever reads a sample taken before the service was restarted or stopped."""

    pid: int
    cpu: float | None
    rss: int


class UsageSampler:
    """The figures of one stack's services, sampled off the loop. A hosted service (shared
    mode) runs in the host's process: its figures are the host's, reported under the host."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._orchestrator = orchestrator
        self._hosted = {spec.name for spec in orchestrator.plan.specs if spec.host is not None}
        self._figures: dict[str, Usage] = {}
        # Each service's root pid, CPU seconds and time of the last sample: a percent is the
        # CPU used between two samples of the same process.
        self._previous: dict[str, tuple[int, float, float]] = {}
        self._taken = float("-inf")  # monotonic time of the last sample asked for
        self._scope = TaskScope()
        self.generation = 0  # counts the samples taken: what a cached answer must not miss

    def latest(self) -> Mapping[str, Usage]:
        """The figures of the last sample (a service without a running process has none);
        starts the next sample when this one is older than FRESH and none is on its way."""
        now = time.monotonic()
        if now - self._taken >= FRESH and not len(self._scope):
            self._taken = now
            services = self._orchestrator.snapshot().services
            roots = {s.name: s.pid for s in services if s.pid is not None and s.name not in self._hosted}
            self._scope.spawn(self._sample(roots))
        return self._figures

    async def _sample(self, roots: dict[str, int]) -> None:
        totals = await asyncio.to_thread(tree_usage, roots)
        at = time.monotonic()
        figures: dict[str, Usage] = {}
        previous: dict[str, tuple[int, float, float]] = {}
        for name, (seconds, resident) in totals.items():
            pid = roots[name]
            cpu = None
            last = self._previous.get(name)
            if last is not None and last[0] == pid and at > last[2]:
                # Never below zero: a tree's total drops when a member ends unreaped by it.
                cpu = round(max(0.0, seconds - last[1]) / (at - last[2]) * 100, 1)
            figures[name] = Usage(pid, cpu, resident)
            previous[name] = (pid, seconds, at)
        self._figures, self._previous = figures, previous
        self.generation += 1

    async def aclose(self) -> None:
        await self._scope.aclose()


def tree_usage(roots: Mapping[str, int]) -> dict[str, tuple[float, int]]:
    """CPU seconds and resident bytes of each root pid's process tree, by name.

    One pass over /proc finds every tree (psutil's children(recursive=True) would make one pass
    per service), then only the trees' processes are read further. The CPU of a process
    includes that of the children it has reaped, so a tree's total does not drop when a worker
    of it ends; it starts from zero again with the service.
    """
    if not roots:
        return {}
    processes: dict[int, psutil.Process] = {}
    children: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        processes[process.pid] = process
        children.setdefault(process.info["ppid"], []).append(process.pid)
    usage: dict[str, tuple[float, int]] = {}
    for name, root in roots.items():
        cpu, resident = 0.0, 0
        for pid in _tree(root, children):
            member = processes.get(pid)
            if member is None:
                continue
            try:
                with member.oneshot():
                    times = member.cpu_times()
                    rss = member.memory_info().rss
            except psutil.Error:
                continue  # it ended meanwhile
            cpu += times.user + times.system + times.children_user + times.children_system
            resident += rss
        usage[name] = (cpu, resident)
    return usage


def _tree(root: int, children: Mapping[int, list[int]]) -> Iterator[int]:
    pending = [root]
    while pending:
        pid = pending.pop()
        yield pid
        pending.extend(children.get(pid, ()))
