"""What a running stack is at one moment: the one status type that every interface renders.

The orchestrator's `snapshot()` makes a `StackStatus`; the CLI's `status`, the control API, the
library's `status()`, the metrics and the terminal dashboard all read it, and none of them
reaches into a supervisor. Frozen: a snapshot never changes under its reader.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from launcher.plan.spec import ProcessSpec
from launcher.runtime.states import HEALTHY, ServiceState


class StackState(enum.StrEnum):
    """The stack as a whole: it starts, runs, stops, and is stopped."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ProbeReport:
    """The last check of a service's probe (readiness or liveness): its answer and when."""

    ok: bool
    detail: str
    latency: float
    at: float  # wall-clock time of the check


@dataclass(frozen=True)
class ServiceStatus:
    """One service of a running stack.

    `pid` is the running process (None when there is none); `held` says it was stopped on
    request (the API, the library, a reload) rather than by itself.
    """

    name: str
    state: ServiceState
    pid: int | None
    port: int | None
    url: str | None
    restarts: int
    exit_code: int | None
    started_at: float | None
    ready_at: float | None
    reason: str = ""
    last_probe: ProbeReport | None = None
    held: bool = False
    # The running process's group and start time: what a later launcher checks before it
    # ends the leftovers of this one (launcher/runtime/leftovers.py).
    pgid: int | None = None
    create_time: float | None = None
    # Why an automatic port is not the usual one: "8000 was held by pid 42 (python -m http.server)".
    port_note: str | None = None

    @classmethod
    def pending(cls, spec: ProcessSpec) -> ServiceStatus:
        """A service the stack has not got to yet."""
        return cls(spec.name, ServiceState.PENDING, None, spec.port, spec.url, 0, None, None, None)


@dataclass(frozen=True)
class StackStatus:
    """The whole stack: its own state and each service's, in plan order."""

    stack: str
    state: StackState
    profile: str | None
    mode: str
    pid: int
    started_at: float
    services: tuple[ServiceStatus, ...]
    at: float = 0.0  # when the snapshot was taken (wall clock)

    def service(self, name: str) -> ServiceStatus:
        """The status of `name`; KeyError when the stack has no such service."""
        for status in self.services:
            if status.name == name:
                return status
        raise KeyError(name)

    @property
    def ready(self) -> int:
        """How many services are ready or completed."""
        return sum(1 for s in self.services if s.state in HEALTHY)
