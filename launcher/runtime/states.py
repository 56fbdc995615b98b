"""Service states, the sets of them that mean something, and the only transitions allowed.

Every legal transition becomes a `StateChange` event that the output, the status API and the
metrics see; an illegal one raises, because it means the runtime has a bug. "Which states count
as running / healthy / ended / settled" is asked all over the runtime and its interfaces: the
sets below are the one answer. (`launcher status` keeps two as strings, since importing this
module would cost it 10 ms; tests/unit/test_vocabulary.py keeps them equal.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from launcher.core.vocabulary import Condition


class ServiceState(enum.StrEnum):
    PENDING = "pending"  # planned, not looked at yet
    WAITING = "waiting"  # waiting for its dependencies
    STARTING = "starting"  # spawned, not ready yet
    READY = "ready"  # ready (probe passed, or started when it has none)
    UNHEALTHY = "unhealthy"  # ready once, now failing its liveness probe
    BACKOFF = "backoff"  # waiting before the next start attempt or restart
    STOPPING = "stopping"  # stop signal sent
    STOPPED = "stopped"  # not running, by request or after a clean exit
    COMPLETED = "completed"  # a oneshot that exited with a success code
    FAILED = "failed"  # gave up: start retries or restarts exhausted
    SKIPPED = "skipped"  # a dependency failed, so it never started

    @property
    def running(self) -> bool:
        return self in RUNNING

    @property
    def settled(self) -> bool:
        """Done with starting: ready, completed, or nothing more will happen on its own."""
        return self in SETTLED


S = ServiceState
# It has a process (whose age is its uptime).
RUNNING = frozenset({S.STARTING, S.READY, S.UNHEALTHY, S.STOPPING})
# Doing its job: ready, or a oneshot that completed (what /healthz and `up --wait` wait for).
HEALTHY = frozenset({S.READY, S.COMPLETED})
# Not running, and nothing more will happen on its own: what a start of the service starts again.
ENDED = frozenset({S.STOPPED, S.FAILED, S.COMPLETED, S.SKIPPED})
# Ended without doing its job: it will not become healthy on its own.
GAVE_UP = ENDED - HEALTHY
# Done with starting: healthy, or ended.
SETTLED = HEALTHY | ENDED
# Ended after its process exited, so that its exit code says why (a skipped one never ran).
EXITED = ENDED - {S.SKIPPED}
# Each condition a dependency can wait for, and the states that meet it.
MEETS: dict[Condition, frozenset[ServiceState]] = {
    "started": frozenset({S.STARTING, S.READY, S.UNHEALTHY, S.COMPLETED}),
    "ready": HEALTHY,
    "completed": frozenset({S.COMPLETED}),
}

# How a change to each state reads in the launcher's own lines: failures red, retries and
# trouble yellow, readiness green (launcher/runtime/output.py colours them).
LEVELS: dict[ServiceState, str] = {
    S.FAILED: "error",
    S.BACKOFF: "warning",
    S.UNHEALTHY: "warning",
    S.SKIPPED: "warning",
    S.READY: "ok",
    S.COMPLETED: "ok",
}

TRANSITIONS: dict[ServiceState, frozenset[ServiceState]] = {
    # PENDING -> WAITING when it has dependencies, -> STARTING when it has none.
    S.PENDING: frozenset({S.WAITING, S.STARTING, S.SKIPPED, S.STOPPED}),
    # WAITING -> SKIPPED when a dependency failed; -> STOPPED when the stack stops first.
    S.WAITING: frozenset({S.STARTING, S.SKIPPED, S.STOPPED}),
    # STARTING -> BACKOFF on a failed attempt with retries left, -> FAILED without.
    S.STARTING: frozenset({S.READY, S.COMPLETED, S.BACKOFF, S.FAILED, S.STOPPING, S.STOPPED}),
    # READY -> BACKOFF when it exited and the restart policy restarts it; -> STOPPED / FAILED
    # when it exited and the policy does not (by its exit code).
    S.READY: frozenset({S.UNHEALTHY, S.BACKOFF, S.STOPPING, S.STOPPED, S.FAILED, S.COMPLETED}),
    # UNHEALTHY -> READY when liveness passes again before anything was done about it.
    S.UNHEALTHY: frozenset({S.READY, S.BACKOFF, S.STOPPING, S.STOPPED, S.FAILED}),
    S.BACKOFF: frozenset({S.STARTING, S.STOPPED, S.FAILED}),
    S.STOPPING: frozenset({S.STOPPED, S.FAILED}),
    # Terminal states leave only by an explicit start or restart of the service.
    S.STOPPED: frozenset({S.STARTING, S.WAITING}),
    S.COMPLETED: frozenset({S.STARTING, S.WAITING, S.STOPPED}),
    S.FAILED: frozenset({S.STARTING, S.WAITING, S.STOPPED}),
    S.SKIPPED: frozenset({S.STARTING, S.WAITING, S.STOPPED}),
}


class IllegalTransition(RuntimeError):
    def __init__(self, service: str, old: ServiceState, new: ServiceState) -> None:
        super().__init__(f"service '{service}': illegal state transition {old} -> {new}")
        self.service, self.old, self.new = service, old, new


@dataclass(frozen=True)
class StateChange:
    """One legal transition: the event everyone downstream sees."""

    service: str
    old: ServiceState
    new: ServiceState
    at: float  # the wall-clock time (time.time()) of the change
    reason: str = ""


def check_transition(service: str, old: ServiceState, new: ServiceState) -> None:
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(service, old, new)
