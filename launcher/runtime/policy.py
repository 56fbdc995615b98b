"""Restart decisions: pure functions over the policy, the exit and the recent restarts, and the
backoff between attempts (tenacity's exponential wait, for start retries and restarts alike)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tenacity import AsyncRetrying, RetryCallState
from tenacity.wait import wait_exponential

from launcher.plan.spec import BackoffSpec, ProcessSpec

Decision = Literal["restart", "stop", "fail"]


def after_exit(spec: ProcessSpec, exit_code: int) -> Decision:
    """What to do when a ready service exits on its own (restarts and crash loops aside)."""
    success = exit_code in spec.success_codes
    if spec.restart == "always" or (spec.restart == "on-failure" and not success):
        return "restart"
    return "stop" if success else "fail"


@dataclass
class RestartBudget:
    """`max_restarts` within `restart_window` seconds; one more makes the service failed.

    Time is whatever monotonic clock the caller uses. Staying ready for a whole window
    forgets the earlier restarts (and so resets the backoff).
    """

    max_restarts: int
    window: float
    times: deque[float] = field(default_factory=deque)

    def _forget(self, now: float) -> None:
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()

    def allow(self, now: float) -> bool:
        """Record a restart at `now` if the budget allows it; False means: give up (failed)."""
        self._forget(now)
        if len(self.times) >= self.max_restarts:
            return False
        self.times.append(now)
        return True

    def count(self, now: float) -> int:
        self._forget(now)
        return len(self.times)


def backoff_wait(backoff: BackoffSpec) -> wait_exponential:
    """The waits between start attempts and between restarts: one tenacity strategy for both.
    Attempt 1 (the first retry, or the first restart in the window) waits `initial`, each next
    one `multiplier` times longer, never more than `max`."""
    return wait_exponential(multiplier=backoff.initial, exp_base=backoff.multiplier, max=backoff.max)


def restart_delay(backoff: BackoffSpec, restarts: int) -> float:
    """The wait before the restart that is number `restarts` within the restart window."""
    state = RetryCallState(AsyncRetrying(), None, (), {})
    state.attempt_number = max(1, restarts)
    return float(backoff_wait(backoff)(state))


def followers(specs: Sequence[ProcessSpec], leaders: Iterable[str]) -> list[str]:
    """The services that declare `depends_on = { x = { restart = true } }` on one of `leaders`,
    transitively, in the order of `specs` (dependency order); the leaders themselves excluded."""
    chosen = set(leaders)
    found: list[str] = []
    for spec in specs:  # a follower comes after its leader: one pass reaches the fixed point
        if spec.name not in chosen and any(d.restart and d.name in chosen for d in spec.depends_on):
            chosen.add(spec.name)
            found.append(spec.name)
    return found
