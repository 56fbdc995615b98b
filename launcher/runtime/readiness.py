"""When to probe: fast while a service starts, at its interval once it is ready."""

from __future__ import annotations

from launcher.plan.spec import ProbeSpec
from launcher.runtime.clock import Clock, SystemClock
from launcher.runtime.context import ProberLike
from launcher.runtime.probes import LogWatch, ProbeResult

# While starting: every 5 ms for the first FAST_PHASE seconds (a connection refused costs
# microseconds), then slowing down gently to at most min(interval, SLOWEST).
FIRST_DELAY = 0.005
FAST_PHASE = 2.0
GROWTH = 1.2
SLOWEST = 0.1
CMD_FIRST_DELAY = 0.05  # a cmd probe spawns a process each time: poll it less eagerly


SYSTEM_CLOCK = SystemClock()


async def wait_ready(
    prober: ProberLike,
    probe: ProbeSpec,
    *,
    log: LogWatch | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> ProbeResult:
    """Check until one check passes and return it; the caller bounds it with a timeout."""
    if probe.kind == "log" and log is not None:
        started = clock.now()
        line = await log.wait(probe.target)  # event-driven: no polling
        return ProbeResult(True, f"matched: {line[:80]}", clock.now() - started)
    started = clock.now()
    delay = CMD_FIRST_DELAY if probe.kind == "cmd" else FIRST_DELAY
    slowest = min(probe.interval, SLOWEST)
    while True:
        result = await prober.check(probe, log=log)
        if result.ok:
            return result
        await clock.sleep(delay)
        if clock.now() - started > FAST_PHASE:
            delay = min(slowest, delay * GROWTH)


async def watch_liveness(
    prober: ProberLike, probe: ProbeSpec, *, log: LogWatch | None = None, clock: Clock = SYSTEM_CLOCK
) -> ProbeResult:
    """Check every `interval`; return the last result after `failure_threshold` failures in a row."""
    failures = 0
    while True:
        await clock.sleep(probe.interval)
        result = await prober.check(probe, log=log)
        failures = 0 if result.ok else failures + 1
        if failures >= probe.failure_threshold:
            return result
