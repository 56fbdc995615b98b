"""Shared mode as a plan transformation: the stack's apps and tasks go into one host process.

The hosted services keep their specs (name, probe, dependencies, restart policy) but lose their
processes; one more spec, the host, runs `python -m launcher.child.shared_host`, which
mounts every app under its prefix in one router and runs every task as a background task. The
launcher starts and stops each hosted service through the host (see
launcher/runtime/host_process.py), so each keeps its own state.

Pure: specs in, specs and diagnostics out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from launcher.child.units import LISTEN_FD, HostedUnit, encode_units
from launcher.config.model import Service
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.core.masking import mask_value
from launcher.plan.spec import DependencySpec, Listen, ProcessSpec

HOST = "shared-host"
# The host's values win over the hosted services' own: they describe the one process.
HOST_VARIABLES = ("PORT", "LAUNCHER_SERVICE")
Where = Callable[[tuple[str, ...]], Origin | None]  # the file and line of a configuration key


def hostable(service: Service) -> bool:
    """Apps and tasks go into the host, except those that asked for processes of their own
    (`replicas`, `workers`): those stay separate, as in multi mode."""
    return service.kind in ("app", "task") and service.replicas == 1 and not service.workers


def hosted(spec: ProcessSpec, *, keep_probe: bool) -> ProcessSpec:
    """A hosted service's spec: no process of its own, and it needs the host to be started.

    Without a probe of its own, a hosted app is ready once its lifespan has started (the host
    says so): the default probe of multi mode, any HTTP answer, would pass on the host's 503.
    """
    return replace(
        spec,
        argv=(),
        listen=(),
        host=HOST,
        depends_on=(DependencySpec(HOST, "started"), *spec.depends_on),
        probe=spec.probe if keep_probe or spec.kind != "app" else None,
    )


def host_spec(
    units: Sequence[ProcessSpec],
    *,
    root: Path,
    stack_env: Mapping[str, str],
    python: str,
    port: int | None,
    bind: str,
    start_timeout: float,
    stop_timeout: float,
    origin: Where,
    problems: list[Diagnostic],
) -> ProcessSpec:
    """The host process for `units` (the hosted services' specs, in dependency order), serving
    its apps on `bind`."""
    _check_mounts(units, origin, problems)
    env = merged_env(units, stack_env, origin, problems)
    if port is not None:
        env["PORT"] = str(port)
    return ProcessSpec(
        name=HOST,
        service=HOST,
        kind="host",
        argv=_host_argv(units, python, port),
        cwd=root,
        env=env,
        port=port,
        url=f"http://127.0.0.1:{port}" if port is not None else None,
        listen=(Listen(bind, port, LISTEN_FD),) if port is not None else (),
        # A crashed host takes every hosted service down; it comes back if any of them has a
        # restart policy (each hosted service then follows its own).
        restart="on-failure" if any(u.restart != "no" for u in units) else "no",
        start_timeout=start_timeout,
        # Its hosted services are stopped first, each within its own stop_timeout.
        stop_timeout=stop_timeout,
        watch=tuple(dict.fromkeys(p for u in units for p in u.watch)),
        description="the shared-mode host: " + ", ".join(u.name for u in units),
    )


def _host_argv(units: Sequence[ProcessSpec], python: str, port: int | None) -> tuple[str, ...]:
    """`python -m launcher.child.shared_host [--port N] --units JSON`."""
    hosted = [
        HostedUnit(
            name=u.name,
            kind="app" if u.kind == "app" else "task",
            target=u.import_path or "",
            mount=u.mount or f"/{u.name}",
            cwd=str(u.cwd),
            stop_timeout=u.stop_timeout,
        )
        for u in units
    ]
    port_option = ("--port", str(port)) if port is not None else ()
    return (python, "-m", "launcher.child.shared_host", *port_option, "--units", encode_units(hosted))


def merged_env(
    units: Sequence[ProcessSpec],
    stack_env: Mapping[str, str],
    origin: Where,
    problems: list[Diagnostic],
) -> dict[str, str]:
    """One environment for one process.

    A value a hosted service sets itself (its `env`, its `env_file`) wins over the stack-wide
    one the others inherit (as `REDIS_URL` of a gateway over the injected `REDIS_URL`); two
    services setting one key to two values is an error.
    """
    env: dict[str, str] = {}
    for unit in units:
        for key, value in unit.env.items():
            env.setdefault(key, value)
    owner: dict[str, str] = {}
    for unit in units:
        for key, value in unit.env.items():
            if key in HOST_VARIABLES or stack_env.get(key) == value:
                continue
            if key in owner and env[key] != value:
                problems.append(
                    Diagnostic(
                        Code.CANNOT_SHARE,
                        f"in shared mode, '{owner[key]}' and '{unit.name}' run in one process but set "
                        f"{key} differently ({mask_value(key, env[key])!r} and {mask_value(key, value)!r})",
                        origin(("services", unit.service, "env", key)),
                        "give both one value (in [env]), or run this stack with --mode multi",
                    )
                )
                continue
            env[key] = value
            owner.setdefault(key, unit.name)
    env["LAUNCHER_SERVICE"] = HOST
    return env


def _check_mounts(
    units: Sequence[ProcessSpec],
    origin: Where,
    problems: list[Diagnostic],
) -> None:
    seen: dict[str, str] = {}
    for unit in units:
        if unit.kind != "app" or unit.mount is None:
            continue
        if unit.mount in seen:
            problems.append(
                Diagnostic(
                    Code.CANNOT_SHARE,
                    f"in shared mode, '{seen[unit.mount]}' and '{unit.name}' share the mount {unit.mount}",
                    origin(("services", unit.service, "mount")),
                    "give one of them another mount",
                )
            )
        seen.setdefault(unit.mount, unit.name)


def reserved_name(names: Sequence[str], origin: Where) -> list[Diagnostic]:
    """The host's name is taken by the host in shared mode."""
    return [
        Diagnostic(
            Code.CANNOT_SHARE,
            f"in shared mode the host process is named '{HOST}': a service cannot have that name",
            origin(("services", HOST)),
            "rename the service, or run this stack with --mode multi",
        )
        for name in names
        if name == HOST
    ]


def hosted_ports(ports: Mapping[str, int], apps: Sequence[str]) -> dict[str, int]:
    """Every hosted app answers on the host's port."""
    out = dict(ports)
    if HOST in ports:
        out.update({name: ports[HOST] for name in apps})
    return out
