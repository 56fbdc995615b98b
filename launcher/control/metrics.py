"""The Prometheus metrics of a running stack, for `GET /metrics` (names in docs/api.md).

One registry per stack. Probe checks are observed as they happen (a latency histogram and a
failure counter, by service and probe use); everything else is read when scraped: the
orchestrator's states, restarts and ready times, the CPU and memory of each service's process
tree (psutil, the walk of launcher/control/usage.py), and prometheus-client's process collector
for the launcher itself.

    metrics = StackMetrics(orchestrator)
    orchestrator.observe_probes(metrics.observe)
    body = await metrics.render()        # the text format; the psutil work runs off the loop
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

from launcher.control.usage import tree_usage
from launcher.runtime.context import ProbeUse
from launcher.runtime.probes import ProbeResult
from launcher.runtime.states import ServiceState
from launcher.runtime.status import StackStatus
from launcher.version import __version__

if TYPE_CHECKING:
    from launcher.runtime.orchestrator import Orchestrator

# Probe checks take from tens of microseconds (a refused connection) to their timeout.
FRESH = 1.0  # seconds for which one scrape's text answers the next scrapes too
# Each bucket is a series per service and probe use: few of them, so that a scrape stays cheap.
PROBE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class StackMetrics:
    def __init__(self, orchestrator: Orchestrator) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._durations = Histogram(
            "launcher_probe_duration_seconds",
            "Latency of each probe check.",
            ["service", "probe"],
            registry=self.registry,
            buckets=PROBE_BUCKETS,
        )
        self._failures = Counter(
            "launcher_probe_failures",
            "Failed probe checks.",
            ["service", "probe"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str], tuple[Histogram, Counter]] = {}
        self._body: bytes | None = None  # the last scrape's text, made at _made (monotonic)
        self._made = 0.0
        # Every probe's series exist from the start, at zero, rather than from its first check.
        for spec in orchestrator.plan.specs:
            if spec.probe is not None:
                self._child(spec.name, "readiness")
            if spec.liveness is not None:
                self._child(spec.name, "liveness")
        self._orchestrator = orchestrator
        self._collector = StackCollector(orchestrator)
        self.registry.register(self._collector)
        ProcessCollector(registry=self.registry)

    def observe(self, service: str, use: ProbeUse, result: ProbeResult) -> None:
        """One probe check (an orchestrator's probe listener): cheap, it runs on the loop."""
        duration, failures = self._child(service, use)
        duration.observe(result.latency)
        if not result.ok:
            failures.inc()

    def _child(self, service: str, use: str) -> tuple[Histogram, Counter]:
        child = self._children.get((service, use))
        if child is None:
            child = self._children[service, use] = (
                self._durations.labels(service, use),
                self._failures.labels(service, use),
            )
        return child

    async def render(self) -> bytes:
        """The Prometheus text format, made at most once every FRESH seconds.

        A scrape of 50 services costs some 50 ms of CPU (the psutil walk over /proc and the
        text of a few thousand samples). It runs on a worker thread, so that the loop goes on;
        but that thread holds the GIL, and the loop's every wake-up then waits for it, so a
        client scraping in a loop would slow the probes: scrapes in between share one answer.
        """
        if self._body is None or time.monotonic() - self._made > FRESH:
            self._collector.status = self._orchestrator.snapshot()  # taken on the loop
            self._body = await asyncio.to_thread(generate_latest, self.registry)
            self._made = time.monotonic()
        return self._body


class StackCollector:
    """The per-service metrics, read from the orchestrator at scrape time.

    collect() runs on a worker thread (see StackMetrics.render): it reads the snapshot that
    render() took on the loop, so a scrape may be a moment old, never torn.
    """

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.status: StackStatus = orchestrator.snapshot()

    def describe(self) -> list[Metric]:
        return []  # nothing to check for clashes: the names are this module's own

    def collect(self) -> Iterator[Metric]:
        orchestrator = self.orchestrator
        plan = orchestrator.plan
        status = self.status
        yield InfoMetricFamily(
            "launcher",
            "The launcher and the stack it runs.",
            value={"version": __version__, "stack": plan.stack, "mode": plan.mode},
        )
        yield GaugeMetricFamily(
            "launcher_up_seconds",
            "Seconds since the launcher started the stack.",
            value=time.time() - orchestrator.started_at,
        )
        state = GaugeMetricFamily(
            "launcher_service_state",
            "1 for the service's current state, 0 for the others.",
            labels=["service", "state"],
        )
        restarts = CounterMetricFamily(
            "launcher_service_restarts", "Restarts by its policy since the stack started.", labels=["service"]
        )
        ready = GaugeMetricFamily(
            "launcher_service_time_to_ready_seconds", "From its last spawn to ready.", labels=["service"]
        )
        roots: dict[str, int] = {}
        for spec, service in zip(plan.specs, status.services, strict=True):
            for each in ServiceState:
                state.add_metric([spec.name, str(each)], 1.0 if each is service.state else 0.0)
            if service.state is ServiceState.PENDING and service.started_at is None:
                continue
            restarts.add_metric([spec.name], service.restarts)
            started, ready_at = service.started_at, service.ready_at
            if started is not None and ready_at is not None and ready_at >= started:
                ready.add_metric([spec.name], ready_at - started)
            # A hosted service (shared mode) runs in the host's process: reported under the host.
            if spec.host is None and service.pid is not None:
                roots[spec.name] = service.pid
        yield from (state, restarts, ready)
        yield from _resource_metrics(tree_usage(roots))


def _resource_metrics(usage: Mapping[str, tuple[float, int]]) -> Iterable[Metric]:
    cpu = CounterMetricFamily(
        "launcher_service_cpu_seconds",
        "CPU time of its whole process tree (user + system).",
        labels=["service"],
    )
    memory = GaugeMetricFamily(
        "launcher_service_memory_bytes", "Resident memory of its whole process tree.", labels=["service"]
    )
    for name, (seconds, resident) in usage.items():
        cpu.add_metric([name], seconds)
        memory.add_metric([name], resident)
    return cpu, memory
