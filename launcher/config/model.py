"""The configuration model: what a valid `launcher.toml` holds, validated by pydantic.

The model is the single description of the format: validation, defaults and the JSON Schema
(`launcher schema`) all come from it. Cross-service rules (dependencies, cycles, ports) live in
`checks.py`, since they need the whole stack.

No `from __future__ import annotations` here: pydantic would compile and evaluate each field's
annotation from its text (about 2 ms of a cold `launcher check`); as objects, it reads them.
"""

import re
import signal
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from launcher.core.probekinds import PROBE_KINDS, ProbeKind
from launcher.core.vocabulary import SERVICE_KINDS, Condition, RestartPolicy, ServiceKind

Mode = Literal["auto", "multi", "shared"]
LogFormat = Literal["text", "json"]

PortNumber = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(ge=0)]
ExitCode = Annotated[int, Field(ge=0, le=255)]
EnvValue = str | int | float | bool

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


def _no_items() -> list[Any]:
    """The default of a list key. Not `list`: pydantic reads the signature of each default
    factory, and the first signature read of a builtin compiles tokenize's patterns (2-3 ms of a
    cold `launcher check`)."""
    return []


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Backoff(Strict):
    initial: Seconds = 0.5
    max: Seconds = 15.0
    multiplier: Annotated[float, Field(ge=1)] = 2.0


# One optional key per kind of probe (`http = "/health"`), from the table of kinds, before the
# keys every kind shares. The type checker sees none of them: they are read by name (`value`).
if TYPE_CHECKING:
    _ProbeKinds = Strict
else:
    _ProbeKinds = create_model(
        "_ProbeKinds",
        __base__=Strict,
        **{name: (kind.value | None, None) for name, kind in PROBE_KINDS.items()},
    )


class Probe(_ProbeKinds):
    """A readiness or liveness check: exactly one kind plus its timing."""

    expect: Annotated[int, Field(ge=100, le=599)] = 200
    interval: Annotated[float, Field(gt=0)] = 1.0
    timeout: Annotated[float, Field(gt=0)] = 1.0
    failure_threshold: Annotated[int, Field(ge=1)] = 3

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = [k for k in PROBE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise PydanticCustomError(
                "probe_kind",
                f"a probe needs exactly one of {', '.join(PROBE_KINDS)} (found: {{found}})",
                {"found": found},
            )
        if self.kind == "log":
            try:
                re.compile(self.value)
            except re.error as exc:
                raise PydanticCustomError(
                    "probe_regex",
                    "log probe is not a valid regular expression: {error}",
                    {"error": str(exc)},
                ) from None
        return self

    @property
    def kind(self) -> ProbeKind:
        return next(k for k in PROBE_KINDS if getattr(self, k) is not None)

    @property
    def value(self) -> Any:
        """The value of its kind's key: what it checks, as written."""
        return getattr(self, self.kind)


class Dependency(Strict):
    condition: Condition | None = None
    restart: bool = False


def normalize_signal(value: str | int) -> str:
    """`SIGTERM`, `TERM`, `term` and `15` all name SIGTERM; return the canonical name."""
    try:
        if isinstance(value, int):
            return signal.Signals(value).name
        name = value.strip().upper()
        if name.isdigit():
            return signal.Signals(int(name)).name
        name = name if name.startswith("SIG") else f"SIG{name}"
        return signal.Signals[name].name
    except (KeyError, ValueError):
        raise PydanticCustomError("signal_name", "unknown signal {value}", {"value": repr(value)}) from None


class Service(Strict):
    """One service of the stack, as written in `[services.<name>]`."""

    description: str | None = None
    command: str | list[str] | None = None
    shell: bool = False
    app: str | None = None
    task: str | None = None
    external: bool = False
    cwd: str | None = None
    env: dict[str, EnvValue] = Field(default_factory=dict)
    env_file: str | list[str] | None = None
    port: Literal["auto"] | PortNumber | None = None
    depends_on: list[str] | dict[str, Condition | Dependency] = Field(default_factory=_no_items)
    oneshot: bool = False
    enabled: bool = True
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    restart: RestartPolicy = "no"
    max_restarts: Annotated[int, Field(ge=0)] = 5
    restart_window: Annotated[float, Field(gt=0)] = 60.0
    backoff: Backoff = Field(default_factory=Backoff)
    start_retries: Annotated[int, Field(ge=0)] = 2
    start_timeout: Annotated[float, Field(gt=0)] | None = None
    stop_signal: str | int = "SIGTERM"
    stop_timeout: Seconds | None = None
    success_codes: list[ExitCode] = Field(default_factory=lambda: [0])
    probe: Probe | None = None
    liveness: Probe | None = None
    watch: list[str] | None = None
    watch_ignore: list[str] = Field(default_factory=_no_items)
    tags: list[str] = Field(default_factory=_no_items)
    image: str | None = None
    workers: Annotated[int, Field(ge=1, le=64)] | None = None

    @field_validator("app", "task")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value is not None and not _IMPORT_PATH.match(value):
            raise PydanticCustomError(
                "import_path", "{value} is not of the form 'module:attr'", {"value": repr(value)}
            )
        return value

    @field_validator("stop_signal")
    @classmethod
    def _signal(cls, value: str | int) -> str:
        return normalize_signal(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = self.kinds
        if len(kinds) != 1:
            found = " and ".join(kinds) if kinds else "none"
            raise PydanticCustomError(
                "service_kind",
                "a service needs exactly one of command, app, task, external = true (found: {found})",
                {"found": found},
            )
        if self.workers is not None and self.app is None:
            raise PydanticCustomError("workers", "workers applies to app services only", {})
        if self.shell and self.command is None:
            raise PydanticCustomError("shell", "shell applies to command services only", {})
        return self

    @property
    def kinds(self) -> list[ServiceKind]:
        present = {
            "command": self.command is not None,
            "app": self.app is not None,
            "task": self.task is not None,
            "external": self.external,
        }
        return [k for k in SERVICE_KINDS if present[k]]

    @property
    def kind(self) -> ServiceKind:
        return self.kinds[0]

    def dependencies(self) -> dict[str, Dependency]:
        """`depends_on` in one shape: name -> Dependency (condition None means the default)."""
        if isinstance(self.depends_on, list):
            return {name: Dependency() for name in self.depends_on}
        return {
            name: value if isinstance(value, Dependency) else Dependency(condition=value)
            for name, value in self.depends_on.items()
        }

    @property
    def wants_port(self) -> bool:
        return self.port is not None or self.kind == "app"


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class Settings(Strict):
    """The `[launcher]` table."""

    name: str | None = None
    ports: Annotated[list[PortNumber], Field(min_length=2, max_length=2)] = Field(
        default_factory=lambda: [8000, 8010]
    )
    mode: Mode = "auto"
    default_profile: str | None = None
    start_timeout: Annotated[float, Field(gt=0)] = 60.0
    stop_timeout: Seconds = 10.0
    env_file: str | list[str] = ".env"
    api: str | None = None
    image: str | None = None
    log_format: LogFormat = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The project's interpreter (launcher/plan/interpreter.py): a path relative to this file,
    # or a command on PATH; default: .venv/bin/python here, else $VIRTUAL_ENV's, else launcher's.
    python: str | None = None

    @field_validator("api")
    @classmethod
    def _loopback(cls, value: str | None) -> str | None:
        # The TCP listener is for this machine only: a token over plain HTTP on a network
        # interface would be readable by anyone on the path.
        if value is None:
            return value
        host, _, port = value.rpartition(":")
        if host not in LOOPBACK_HOSTS or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise PydanticCustomError(
                "api_address",
                "api address '{value}' is not on the loopback interface (127.0.0.1:PORT)",
                {"value": value},
            )
        return value

    @field_validator("ports")
    @classmethod
    def _range(cls, value: list[int]) -> list[int]:
        if value[0] > value[1]:
            raise PydanticCustomError(
                "port_range",
                "port range {low}-{high} is empty",
                {"low": value[0], "high": value[1]},
            )
        return value


class Profile(Strict):
    """A profile: `profiles/<name>.toml` or `[profiles.<name>]`."""

    description: str | None = None
    extends: str | None = None
    select: list[str] | None = None
    watch: bool | None = None
    # A service to run under debugpy, as `--debug SERVICE` would (which takes precedence).
    debug: str | None = None
    launcher: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    services: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Config(Strict):
    """A whole merged configuration (schema of `launcher.toml`)."""

    launcher: Settings = Field(default_factory=Settings)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    services: dict[str, Service] = Field(default_factory=dict)
    profiles: dict[str, Profile] = Field(default_factory=dict)
