"""launcher/control/metrics.py without a running stack: probe observations, the scrape-time collector
over an orchestrator that has not started, and the process-tree walk (over this process)."""

from __future__ import annotations

import asyncio
import io
import os
import time
from typing import Any

import psutil
import pytest
from helpers import ProjectFactory
from prometheus_client.parser import text_string_to_metric_families

import launcher
from launcher.control.metrics import StackMetrics, tree_usage
from launcher.control.probe_counts import ProbeCounts
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.output import make_sink
from launcher.runtime.probes import ProbeResult

CONFIG = """
[services.api]
command = "serve"
port = 8000
probe = { http = "/health" }
liveness = { tcp = "127.0.0.1:8000" }

[services.worker]
command = "work"
"""


def metrics_of(project: ProjectFactory) -> StackMetrics:
    plan = launcher.load(project(CONFIG) / "launcher.toml").plan()
    return StackMetrics(Orchestrator(plan, sink=make_sink(io.StringIO()), state_file=False))


def scrape(metrics: StackMetrics) -> dict[str, Any]:
    text = asyncio.run(metrics.render()).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(families: dict[str, Any], name: str, **labels: str) -> list[float]:
    """The values of the samples called `name` (a family's, or its _count, _sum, _total...)."""
    return [
        sample.value
        for family in families.values()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]


def test_probe_series_exist_at_zero_before_any_check(project: ProjectFactory) -> None:
    families = scrape(metrics_of(project))
    assert samples(families, "launcher_probe_duration_seconds_count", service="api", probe="readiness") == [0]
    assert samples(families, "launcher_probe_failures_total", service="api", probe="liveness") == [0]
    assert samples(families, "launcher_probe_failures_total", service="worker") == []  # it has no probe


def test_each_check_is_observed_and_failures_counted(project: ProjectFactory) -> None:
    metrics = metrics_of(project)
    metrics.observe("api", "readiness", ProbeResult(False, "connection refused", 0.0002))
    metrics.observe("api", "readiness", ProbeResult(True, "HTTP 200", 0.003))
    metrics.observe("api", "liveness", ProbeResult(False, "timed out", 1.0))
    families = scrape(metrics)
    assert samples(families, "launcher_probe_duration_seconds_count", service="api", probe="readiness") == [2]
    assert samples(families, "launcher_probe_duration_seconds_sum", service="api", probe="readiness") == [
        pytest.approx(0.0032)
    ]
    assert samples(families, "launcher_probe_failures_total", service="api", probe="readiness") == [1]
    assert samples(families, "launcher_probe_failures_total", service="api", probe="liveness") == [1]
    bucket = samples(
        families, "launcher_probe_duration_seconds_bucket", service="api", probe="readiness", le="0.001"
    )
    assert bucket == [1]


def test_a_stack_not_started_is_pending_with_no_processes(project: ProjectFactory) -> None:
    families = scrape(metrics_of(project))
    assert samples(families, "launcher_service_state", service="worker", state="pending") == [1]
    assert samples(families, "launcher_service_state", service="worker", state="ready") == [0]
    assert families["launcher_service_memory_bytes"].samples == []
    assert families["launcher_service_restarts"].samples == []
    assert families["launcher_info"].samples[0].labels["mode"] == "multi"
    assert samples(families, "process_resident_memory_bytes")[0] > 0  # the launcher's own


def test_tree_usage_sums_a_process_and_its_descendants() -> None:
    me = psutil.Process()
    tree = [me, *me.children(recursive=True)]
    cpu, resident = tree_usage({"self": os.getpid()})["self"]
    expected = sum(p.memory_info().rss for p in tree)
    assert resident == pytest.approx(expected, rel=0.1)
    times = me.cpu_times()
    assert cpu >= times.user + times.system


def test_tree_usage_of_a_gone_process_is_zero() -> None:
    gone = max(psutil.pids()) + 100_000
    assert tree_usage({"gone": gone}) == {"gone": (0.0, 0)}
    assert tree_usage({}) == {}


def test_checks_counted_before_the_metrics_exist_are_scraped(project: ProjectFactory) -> None:
    # `launcher run` counts from the start and builds the metrics at its API's first client.
    plan = launcher.load(project(CONFIG) / "launcher.toml").plan()
    orchestrator = Orchestrator(plan, sink=make_sink(io.StringIO()), state_file=False)
    counts = ProbeCounts(plan)
    counts.observe("api", "readiness", ProbeResult(False, "connection refused", 0.001))  # le="0.001"
    counts.observe("api", "readiness", ProbeResult(True, "HTTP 200", 0.0011))
    metrics = StackMetrics(orchestrator, counts)
    counts.observe("api", "liveness", ProbeResult(True, "connected", 5.0))  # over every bound
    families = scrape(metrics)
    labels = {"service": "api", "probe": "readiness"}
    assert samples(families, "launcher_probe_duration_seconds_count", **labels) == [2]
    assert samples(families, "launcher_probe_duration_seconds_bucket", le="0.001", **labels) == [1]
    assert samples(families, "launcher_probe_duration_seconds_bucket", le="0.0025", **labels) == [2]
    assert samples(families, "launcher_probe_failures_total", **labels) == [1]
    liveness = {"service": "api", "probe": "liveness"}
    assert samples(families, "launcher_probe_duration_seconds_bucket", le="1.0", **liveness) == [0]
    assert samples(families, "launcher_probe_duration_seconds_bucket", le="+Inf", **liveness) == [1]
    # As prometheus-client's own Histogram and Counter: when each series began.
    created = samples(families, "launcher_probe_failures_created", **labels)
    assert created == samples(families, "launcher_probe_duration_seconds_created", **labels)
    assert created[0] == pytest.approx(time.time(), abs=60)
