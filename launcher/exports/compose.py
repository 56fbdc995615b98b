"""`launcher export compose`: one docker compose file, `compose.yaml`, a service per process.

Every process of the plan is a compose service of its own name (replicas too: `web.1` and
`web.2` each keep their own port, as under launcher), run from its image, with its argv as
`command`, its environment, its readiness probe as a `healthcheck` (the check commands of
probecommands.py, so the image needs python for `http`/`tcp`, redis-cli or pg_isready for the
protocol probes), its restart policy, stop signal and grace period, and its port published on
127.0.0.1 only: launcher keeps a stack on loopback, and so does its export. `depends_on` keeps
the conditions: `ready` waits for the dependency's healthcheck (`service_healthy`), `completed`
for a oneshot's exit 0 (`service_completed_successfully`).

Secrets are never written: a service that needs some reads `secrets.env` (`env_file`), which
the operator makes from the `secrets.env.example` written beside, which lists their names; a
command or a check that refers to one runs through the container's `sh`, which expands it.
A directory of a database file that several services name is a volume they all mount
(sharedfiles.py). External services are left out (the header names them): compose does not
run them. The project's image has a Dockerfile beside (dockerfile.py, written by the command).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from launcher.exports.containers import (
    SECRETS_EXAMPLE,
    SECRETS_FILE,
    dump_yaml,
    escape_dollars,
    secrets_example,
)
from launcher.exports.deployment import Deployment, ExportFile, Unit
from launcher.exports.dockerfile import DOCKERFILE, uses_project_image
from launcher.exports.probecommands import check_argv
from launcher.exports.secretrefs import expanded, shell_line
from launcher.exports.sharedfiles import SharedDirectory, shared_directories
from launcher.plan.spec import DependencySpec, ProcessSpec

COMPOSE_FILE = "compose.yaml"
# What the Compose Specification accepts as a service name, and as a project name.
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_PROJECT_INVALID = re.compile(r"[^a-z0-9_-]+")
_CONDITIONS = {
    "started": "service_started",
    "ready": "service_healthy",
    "completed": "service_completed_successfully",
}


def host_name(spec: ProcessSpec) -> str:
    """The compose service's name, which is also its host name on the project's network."""
    if not _SERVICE_NAME.match(spec.name):
        raise ValueError(f"{spec.name!r} is not a valid compose service name")
    return spec.name


def render(deployment: Deployment) -> list[ExportFile]:
    healthy = {u.name for u in deployment.units if healthcheck(u, deployment.target.python)}
    shared = shared_directories(deployment)
    services = {u.name: service(deployment, u, healthy, shared) for u in deployment.units}
    document: dict[str, Any] = {"name": project_name(deployment.stack), "services": services}
    if shared:
        document["volumes"] = {volume.name: {} for volume in shared}
    header = deployment.header(extra=tuple(_notes(deployment, healthy)))
    files = [ExportFile(COMPOSE_FILE, header + dump_yaml(document))]
    if deployment.secrets:
        files.append(ExportFile(SECRETS_EXAMPLE, secrets_example(deployment)))
    return files


def service(
    deployment: Deployment, unit: Unit, healthy: set[str], shared: tuple[SharedDirectory, ...] = ()
) -> dict[str, Any]:
    """One compose service, its keys in a fixed order."""
    spec = unit.spec
    out: dict[str, Any] = {"image": spec.image, "command": compose_argv(unit), "working_dir": unit.cwd}
    if unit.env:
        out["environment"] = {key: escape_dollars(value) for key, value in unit.env.items()}
    if unit.secrets:
        out["env_file"] = [SECRETS_FILE]
    if spec.port is not None:
        out["ports"] = [f"127.0.0.1:{spec.port}:{spec.port}"]
    volumes = [f"{v.name}:{v.path}" for v in shared if unit.name in v.units]
    if volumes:
        out["volumes"] = volumes
    if unit.depends_on:
        out["depends_on"] = {d.name: {"condition": condition(d, healthy)} for d in unit.depends_on}
    check = healthcheck(unit, deployment.target.python)
    if check:
        out["healthcheck"] = check
    out["restart"] = restart(spec)
    out["stop_signal"] = spec.stop_signal
    out["stop_grace_period"] = duration(spec.stop_timeout)
    return out


def compose_argv(unit: Unit) -> list[str]:
    """The argv with compose's `$` interpolation escaped. A command that refers to secrets
    (`${NAME}`) runs through the container's `sh`, which expands them from the environment its
    env_file gave it: compose never sees their values."""
    names = expanded(unit.argv, unit.secrets)
    argv = ("sh", "-c", "exec " + shell_line(unit.argv, names)) if names else unit.argv
    return [escape_dollars(word) for word in argv]


def condition(dependency: DependencySpec, healthy: set[str]) -> str:
    # Without a healthcheck compose could never call the dependency healthy: it is waited for
    # as started (the header says so).
    if dependency.condition == "ready" and dependency.name not in healthy:
        return _CONDITIONS["started"]
    return _CONDITIONS[dependency.condition]


def healthcheck(unit: Unit, python: str = "python") -> dict[str, Any] | None:
    """The unit's readiness probe, run inside its own container (so loopback is right)."""
    probe = unit.probe
    argv = check_argv(probe, python=python) if probe is not None else None
    if probe is None or argv is None:
        return None
    return {
        "test": ["CMD", *(escape_dollars(word) for word in argv)],
        "interval": duration(probe.interval),
        "timeout": duration(probe.timeout),
        "retries": probe.failure_threshold,
        "start_period": duration(unit.spec.start_timeout),
    }


def restart(spec: ProcessSpec) -> str:
    # A oneshot that restarted would never be `completed` for its dependents.
    return "no" if spec.oneshot else spec.restart


def duration(seconds: float) -> str:
    return f"{seconds:g}s"


def project_name(stack: str) -> str:
    """A compose project name: lowercase letters, digits, `_` and `-`, starting with neither."""
    name = _PROJECT_INVALID.sub("-", stack.lower()).lstrip("_-")
    return name or "stack"


def _notes(deployment: Deployment, healthy: set[str]) -> Iterable[str]:
    yield "Ports are published on 127.0.0.1 only. Resources are left for you to set. Start with:"
    # A line of its own, so that the command is not wrapped.
    yield f"  docker compose -f {COMPOSE_FILE} up"
    if deployment.secrets:
        yield (
            f"Secrets: copy {SECRETS_EXAMPLE} to {SECRETS_FILE} and fill in the values "
            f"({', '.join(deployment.secrets)}); the services that need them read it (env_file)."
        )
    if uses_project_image(deployment):
        yield (
            f"The services that run from {deployment.target.image} need that image: build it with the "
            f"{DOCKERFILE} beside this file first (its header says how)."
        )
    for volume in shared_directories(deployment):
        yield (
            f"{', '.join(volume.units)}: share {volume.path} (a database file) on the volume {volume.name}."
        )
    for unit in deployment.units:
        waited = sorted({d.name for d in unit.depends_on if d.condition == "ready" and d.name not in healthy})
        if waited:
            yield f"{unit.name}: waits for {', '.join(waited)} only started (no healthcheck to wait for)."
        if unit.liveness is not None:
            yield f"{unit.name}: its liveness probe has no compose equivalent (restarts are on exit only)."
        if unit.spec.oneshot and unit.spec.success_codes != (0,):
            yield (
                f"{unit.name}: service_completed_successfully means exit 0 only "
                f"(success_codes = {list(unit.spec.success_codes)} here)."
            )
        if unit.spec.oneshot and unit.spec.restart != "no":
            yield f"{unit.name}: a oneshot, not restarted here (its dependents wait for its exit 0)."
