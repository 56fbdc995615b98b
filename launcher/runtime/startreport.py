"""What a failed start reports: one error for the whole stack.

The service that failed first and every other that failed (reason, attempts, last lines, the
log file that keeps all of its output), and what every other service was doing when the
rollback began (the report of DESIGN.md 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from launcher.core.errors import ReadinessTimeout, ServiceError, SpawnError, StartFailed
from launcher.plan.spec import Plan, ProcessSpec
from launcher.runtime.attempt import Failure, probe_address
from launcher.runtime.states import ServiceState
from launcher.runtime.status import ServiceStatus, StackStatus

LAST_LINES = 20


def start_error(
    name: str, failure: Failure | None, reason: str, output: list[str], log: str | None = None
) -> ServiceError:
    """The error of one failed start, by how its last attempt failed."""
    errors: dict[str, type[ServiceError]] = {"spawn": SpawnError, "timeout": ReadinessTimeout}
    error = errors.get(failure or "exit", StartFailed)
    return error(name, f"failed to start: {reason}", output, log=log)


def start_report(
    failed: Sequence[tuple[str, Failure | None]],
    status: StackStatus,
    plan: Plan,
    output: Callable[[str, int], list[str]],
) -> ServiceError:
    """The error a failed start raises: `failed` (name, how its last attempt failed), first
    the one to name first; `status` taken when the rollback began."""
    logs = plan.root / ".launcher" / "logs"

    def log_of(name: str) -> str | None:
        path = logs / f"{name}.log"
        return str(path.relative_to(plan.root)) if path.is_file() else None

    names = {name for name, _ in failed}
    errors = [
        start_error(name, failure, status.service(name).reason, output(name, LAST_LINES), log_of(name))
        for name, failure in failed
    ]
    others = [
        (s.name, str(s.state), _doing(s, plan.spec(s.name), status.at))
        for s in status.services
        if s.name not in names and plan.spec(s.name).kind != "host"  # the host: infrastructure
    ]
    head, also = errors[0], errors[1:]
    return type(head)(head.service, head.reason, head.output, log=head.log, also=also, others=others)


def _doing(service: ServiceStatus, spec: ProcessSpec, now: float) -> str:
    """What a service was doing, in a few words: its reason, or how long it has been starting
    and what its probe last answered."""
    if service.reason or service.state is not ServiceState.STARTING:
        return service.reason
    parts = [f"for {now - service.started_at:.1f}s"] if service.started_at is not None else []
    if spec.probe is not None:
        probe = service.last_probe
        answer = f": {probe.detail}" if probe is not None else ": no answer yet"
        parts.append(f"probe of {probe_address(spec.probe)}{answer}")
    return ", ".join(parts)
