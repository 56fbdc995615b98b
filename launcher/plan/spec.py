"""The plan: what the runtime runs. Frozen data, and the rule that names its processes.

Configuration + profile + mode compile to a `Plan`: an ordered list of `ProcessSpec`s, each
with everything needed to start, probe, restart and stop one process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from launcher.core.probekinds import ProbeKind
from launcher.core.vocabulary import Condition, ProcessKind, RestartPolicy
from launcher.plan.modes import Mode


@dataclass(frozen=True)
class ProbeSpec:
    """One readiness or liveness check, interpolated and ready to run."""

    kind: ProbeKind
    target: str
    argv: tuple[str, ...] = ()
    expect: int = 200
    interval: float = 1.0
    timeout: float = 1.0
    failure_threshold: int = 3
    # A `cmd` probe runs where its service runs: in its cwd, with its declared environment (on
    # top of the launcher's, as the service's own is). None: the launcher's own.
    cwd: Path | None = None
    env: Mapping[str, str] | None = None


@dataclass(frozen=True)
class DependencySpec:
    """What a process waits for before it starts: another process, in a condition."""

    name: str
    condition: Condition
    restart: bool = False


@dataclass(frozen=True)
class BackoffSpec:
    """The waits between restarts: `initial`, times `multiplier` each time, at most `max`."""

    initial: float = 0.5
    max: float = 15.0
    multiplier: float = 2.0

    def delay(self, attempt: int) -> float:
        """The wait before attempt number `attempt` (1 = the first retry)."""
        return min(self.max, self.initial * self.multiplier ** max(0, attempt - 1))


@dataclass(frozen=True)
class Listen:
    """A listening socket that the launcher binds before the process starts and the process
    inherits, so that no other program can take the port between planning it and serving on
    it, and the port stays bound across restarts. The process learns the descriptor's number
    from the variable `fd_variable` (uvicorn reads `UVICORN_FD` as its `--fd`); its argv names
    the same host and port, so that it also runs as it is without the launcher."""

    host: str
    port: int
    fd_variable: str


def instance_name(service: str, replica: int, replicas: int) -> str:
    """A process's name: its service's, or `service.N` for replica N of several."""
    return f"{service}.{replica}" if replicas > 1 else service


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the plan (a service's, or one replica's): how to start, probe, restart
    and stop it."""

    name: str
    service: str
    kind: ProcessKind
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    shell: bool = False
    replica: int | None = None
    port: int | None = None
    url: str | None = None
    import_path: str | None = None
    probe: ProbeSpec | None = None
    liveness: ProbeSpec | None = None
    depends_on: tuple[DependencySpec, ...] = ()
    oneshot: bool = False
    restart: RestartPolicy = "no"
    max_restarts: int = 5
    restart_window: float = 60.0
    backoff: BackoffSpec = field(default_factory=BackoffSpec)
    start_retries: int = 2
    start_timeout: float = 60.0
    stop_signal: str = "SIGTERM"
    stop_timeout: float = 10.0
    success_codes: tuple[int, ...] = (0,)
    watch: tuple[Path, ...] = ()
    watch_ignore: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    image: str | None = None
    description: str | None = None
    workers: int | None = None
    # In shared mode, the name of the host process that runs this app or task (which then has
    # no process and no argv of its own).
    host: str | None = None
    # The sockets the launcher binds for it (apps and the shared host); empty for the rest.
    listen: tuple[Listen, ...] = ()
    # An automatic port that had to move: the one it would have had, held by another program.
    moved_from: int | None = None

    @property
    def confirms_start(self) -> bool:
        """The host says when this one has started (the host is serving, an app's lifespan
        completed): it needs no first-second wait for an early exit."""
        return self.kind == "host" or (self.host is not None and self.kind == "app")


@dataclass(frozen=True)
class Plan:
    """A whole stack, ready to run: `specs` are in dependency order."""

    stack: str
    profile: str | None
    mode: Mode
    root: Path
    config_path: Path
    specs: tuple[ProcessSpec, ...]
    port_range: tuple[int, int]
    env: Mapping[str, str]
    start_timeout: float = 60.0
    stop_timeout: float = 10.0
    watch: bool = False
    api: str | None = None
    mode_reason: str = ""
    # Lines the launcher prints at start, after the mode's (such as where debugpy listens).
    notes: tuple[str, ...] = ()
    # The project's interpreter (launcher/plan/interpreter.py): its bin directory comes first
    # on every child's PATH.
    python: str = ""
    # The directory of launcher's child programs for that interpreter (launcher/plan/childside.py),
    # which the runtime writes before the first child starts; None where launcher is installed.
    child_dir: Path | None = None

    def spec(self, name: str) -> ProcessSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]
