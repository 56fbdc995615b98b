"""Every probe check of a stack, counted from its start without prometheus-client (stdlib only).

`launcher run` serves its control API from the first client on (launcher/control/lazy.py), so
that an idle launcher nobody asks does not hold aiohttp and prometheus-client; the probe checks
must be counted all along nonetheless. They are counted here, on the loop, as a histogram would
count them; launcher/control/metrics.py turns the counts into Prometheus series at each scrape.

    counts = ProbeCounts(plan)
    unobserve = orchestrator.observe_probes(counts.observe)
    series = counts.snapshot()           # on the loop: a copy that a scrape's thread may read
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from launcher.plan.spec import Plan
    from launcher.runtime.context import ProbeUse
    from launcher.runtime.probes import ProbeResult

# Probe checks take from tens of microseconds (a refused connection) to their timeout.
# Each bucket is a series per service and probe use: few of them, so that a scrape stays cheap.
PROBE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass
class ProbeSeries:
    """One service's checks of one use: `buckets[i]` counts the checks that took at most
    PROBE_BUCKETS[i] and more than the bound before it (the last one, those over every bound);
    `created` is when the series began (Unix time), as prometheus-client's `_created`."""

    created: float
    buckets: list[int] = field(default_factory=lambda: [0] * (len(PROBE_BUCKETS) + 1))
    seconds: float = 0.0  # the sum of their latencies
    failures: int = 0

    def copy(self) -> ProbeSeries:
        return ProbeSeries(self.created, list(self.buckets), self.seconds, self.failures)


class ProbeCounts:
    """The checks of a plan's probes, by (service, use); every probe's series exists from the
    start, at zero, rather than from its first check."""

    def __init__(self, plan: Plan) -> None:
        self._series: dict[tuple[str, str], ProbeSeries] = {}
        for spec in plan.specs:
            if spec.probe is not None:
                self._add(spec.name, "readiness")
            if spec.liveness is not None:
                self._add(spec.name, "liveness")

    def observe(self, service: str, use: ProbeUse, result: ProbeResult) -> None:
        """One probe check (an orchestrator's probe observer): cheap, it runs on the loop."""
        series = self._series.get((service, use)) or self._add(service, use)
        # A check of exactly a bound's latency is in that bound's bucket (le: less or equal).
        series.buckets[bisect.bisect_left(PROBE_BUCKETS, result.latency)] += 1
        series.seconds += result.latency
        if not result.ok:
            series.failures += 1

    def snapshot(self) -> dict[tuple[str, str], ProbeSeries]:
        """A copy of every series, in the order they began: taken on the loop, for a scrape
        that reads it on a worker thread while the loop counts on."""
        return {key: series.copy() for key, series in self._series.items()}

    def _add(self, service: str, use: str) -> ProbeSeries:
        series = self._series[service, use] = ProbeSeries(time.time())
        return series
