"""Shared mode as a plan transformation: the stack's apps and tasks go into one host process.

The hosted services keep their specs (name, probe, dependencies, restart policy) but lose their
processes; one more spec, the host, runs launcher's `shared_host` (launcher/child/shared_host.py,
in the project's interpreter: launcher/plan/childside.py), which listens
on every hosted app's port (the port the app has in multi mode: a mode never changes a URL),
routes each connection by the port it arrived on, and runs every task as a background task. The
launcher starts and stops each hosted service through the host (see
launcher/runtime/host_process.py), so each keeps its own state.

Pure: specs in, specs and diagnostics out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from launcher.child.units import HostedUnit, encode_units, listen_variable
from launcher.config.model import Service
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.core.masking import mask_value
from launcher.plan.childside import ChildSide
from launcher.plan.spec import DependencySpec, Listen, ProcessSpec

HOST = "shared-host"
# Variables of one service's process that the host, one process for all, does not take from
# them (it has no PORT: an app that needs its port reads its X_PORT).
HOST_VARIABLES = ("PORT", "LAUNCHER_SERVICE")
Where = Callable[[tuple[str, ...]], Origin | None]  # the file and line of a configuration key


def hostable(service: Service) -> bool:
    """Apps and tasks go into the host, except those that asked for processes of their own
    (`replicas`, `workers`): those stay separate, as in multi mode."""
    return service.kind in ("app", "task") and service.replicas == 1 and not service.workers


def refusal(selected: Mapping[str, Service]) -> str | None:
    """Why `mode = "auto"` runs the `selected` services multi (the mode line's reason), or None
    when shared mode hosts at least two of them, and every app and task as multi would run it."""
    sharable = [name for name, service in selected.items() if service.kind in ("app", "task")]
    for name in sharable:
        service = selected[name]
        if service.replicas > 1:
            return f"mode multi: '{name}' runs {service.replicas} replicas, which one process cannot hold"
        if service.workers:
            return f"mode multi: '{name}' runs uvicorn workers, which one process cannot hold"
    if len(sharable) < 2:
        what = f"one {selected[sharable[0]].kind}" if sharable else "no app or task"
        return f"mode multi: nothing to share ({what})"
    return None


def hosted(spec: ProcessSpec, *, keep_probe: bool) -> ProcessSpec:
    """A hosted service's spec: no process of its own (the host listens on its port), and it
    needs the host to be started.

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
    child: ChildSide,
    bind: str,
    start_timeout: float,
    stop_timeout: float,
    origin: Where,
    problems: list[Diagnostic],
) -> ProcessSpec:
    """The host process for `units` (the hosted services' specs, in dependency order), serving
    each app on `bind` at its own port. The host is infrastructure: no port or URL of its own."""
    return ProcessSpec(
        name=HOST,
        service=HOST,
        kind="host",
        argv=_host_argv(units, child),
        cwd=root,
        env=merged_env(units, stack_env, origin, problems),
        listen=tuple(Listen(bind, u.port, listen_variable(u.port)) for u in units if u.port is not None),
        # A crashed host takes every hosted service down; it comes back if any of them has a
        # restart policy (each hosted service then follows its own).
        restart="on-failure" if any(u.restart != "no" for u in units) else "no",
        start_timeout=start_timeout,
        # Its hosted services are stopped first, each within its own stop_timeout.
        stop_timeout=stop_timeout,
        watch=tuple(dict.fromkeys(p for u in units for p in u.watch)),
        description="the shared-mode host: " + ", ".join(u.name for u in units),
    )


def _host_argv(units: Sequence[ProcessSpec], child: ChildSide) -> tuple[str, ...]:
    """`shared_host --units JSON`, in the project's interpreter."""
    hosted = [
        HostedUnit(
            name=u.name,
            kind="app" if u.kind == "app" else "task",
            target=u.import_path or "",
            cwd=str(u.cwd),
            stop_timeout=u.stop_timeout,
            port=u.port if u.kind == "app" else None,
        )
        for u in units
    ]
    return child.argv("shared_host", "--units", encode_units(hosted))


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
            if key not in HOST_VARIABLES:
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
