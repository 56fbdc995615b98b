"""The Prometheus metrics of a running stack, for `GET /metrics` (names in docs/api.md).

One registry per stack, read when scraped: the probe checks counted since the start
(launcher/control/probe_counts.py: a latency histogram and a failure counter, by service and
probe use), the orchestrator's states, restarts and ready times, the CPU and memory of each
service's process tree (psutil, the walk of launcher/control/usage.py), and prometheus-client's
process collector for the launcher itself.

    metrics = StackMetrics(orchestrator, probes)   # probes: the stack's ProbeCounts, observed
    body = await metrics.render()        # the text format; the psutil work runs off the loop
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from launcher.control.probe_counts import PROBE_BUCKETS, ProbeCounts, ProbeSeries
from launcher.control.usage import tree_usage
from launcher.runtime.context import ProbeUse
from launcher.runtime.probes import ProbeResult
from launcher.runtime.states import ServiceState
from launcher.runtime.status import StackStatus
from launcher.version import __version__

if TYPE_CHECKING:
    from launcher.runtime.orchestrator import Orchestrator

FRESH = 1.0  # seconds for which one scrape's text answers the next scrapes too
# The `le` labels, as prometheus-client writes these bounds (0.001, ..., 1.0, +Inf).
BOUNDS = [*(str(bound) for bound in PROBE_BUCKETS), "+Inf"]


class StackMetrics:
    """The registry of one stack. `probes` counts its probe checks (whoever made it observes
    them); without it, the metrics count their own, which `observe` feeds."""

    def __init__(self, orchestrator: Orchestrator, probes: ProbeCounts | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.probes = probes if probes is not None else ProbeCounts(orchestrator.plan)
        self._body: bytes | None = None  # the last scrape's text, made at _made (monotonic)
        self._made = 0.0
        self._orchestrator = orchestrator
        self._collector = StackCollector(orchestrator)
        self.registry.register(self._collector)
        ProcessCollector(registry=self.registry)

    def observe(self, service: str, use: ProbeUse, result: ProbeResult) -> None:
        """One probe check (an orchestrator's probe listener): cheap, it runs on the loop."""
        self.probes.observe(service, use, result)

    async def render(self) -> bytes:
        """The Prometheus text format, made at most once every FRESH seconds.

        A scrape of 50 services costs some 50 ms of CPU (the psutil walk over /proc and the
        text of a few thousand samples). It runs on a worker thread, so that the loop goes on;
        but that thread holds the GIL, and the loop's every wake-up then waits for it, so a
        client scraping in a loop would slow the probes: scrapes in between share one answer.
        """
        if self._body is None or time.monotonic() - self._made > FRESH:
            # Both taken on the loop, which goes on counting while the thread writes the text.
            self._collector.status = self._orchestrator.snapshot()
            self._collector.probes = self.probes.snapshot()
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
        self.probes: dict[tuple[str, str], ProbeSeries] = {}

    def describe(self) -> list[Metric]:
        return []  # nothing to check for clashes: the names are this module's own

    def collect(self) -> Iterator[Metric]:
        orchestrator = self.orchestrator
        plan = orchestrator.plan
        status = self.status
        yield from _probe_metrics(self.probes)
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


def _probe_metrics(probes: Mapping[tuple[str, str], ProbeSeries]) -> Iterable[Metric]:
    """The series that a prometheus-client Histogram and Counter would have made of the same
    checks, `_created` samples included."""
    labels = ["service", "probe"]
    durations = HistogramMetricFamily(
        "launcher_probe_duration_seconds", "Latency of each probe check.", labels=labels
    )
    failures = CounterMetricFamily("launcher_probe_failures", "Failed probe checks.", labels=labels)
    for (service, use), series in probes.items():
        cumulative: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip(BOUNDS, series.buckets, strict=True):
            total += count
            cumulative.append((bound, float(total)))
        durations.add_metric([service, use], cumulative, series.seconds)
        durations.add_sample(
            "launcher_probe_duration_seconds_created", {"service": service, "probe": use}, series.created
        )
        failures.add_metric([service, use], series.failures, created=series.created)
    return durations, failures


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
