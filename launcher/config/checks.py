"""Rules that need the whole stack: dependencies, cycles, probes against ports, selections."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from launcher.config import graph
from launcher.config.envfile import RESERVED
from launcher.config.interpolation import references
from launcher.config.layers import Layered
from launcher.config.model import Config, Service
from launcher.config.sources import Key
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin, did_you_mean

# A name becomes part of variable names (X_PORT), unit and container names, and `name.N`
# for replicas: letters, digits, `_` and `-`, starting with a letter.
_SERVICE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def check_names(names: Iterable[str], layered: Layered) -> list[Diagnostic]:
    return [
        Diagnostic(
            Code.SERVICE_NAME,
            f"invalid service name {name!r}",
            layered.origin(("services", name)),
            "use letters, digits, '_' and '-', starting with a letter (e.g. 'api_gateway')",
        )
        for name in names
        if not _SERVICE_NAME.fullmatch(name)
    ]


def check_services(config: Config, layered: Layered) -> list[Diagnostic]:
    """Every cross-service problem. `config` may be the part of an invalid configuration that
    validates (`layered` is all of it): its services are judged, the others only named."""
    services = config.services
    names = set(services) | set(_raw_services(layered))
    problems = check_names(sorted(names), layered)
    for name in services:
        problems.extend(_dependency_problems(name, config, layered, names))
        problems.extend(_probe_problems(name, config, layered))
        problems.extend(_port_references(name, services[name], layered))
    problems.extend(_reserved_variables(config, layered))
    edges = {n: [d for d in s.dependencies() if d in services and d != n] for n, s in services.items()}
    cycle = graph.find_cycle(edges)
    if cycle:
        problems.append(
            Diagnostic(
                Code.DEPENDENCY_CYCLE,
                "dependency cycle: " + " -> ".join(cycle),
                layered.origin(("services", cycle[0], "depends_on", cycle[1])),
                "remove one of these depends_on entries",
            )
        )
    return problems


def _dependency_problems(name: str, config: Config, layered: Layered, names: set[str]) -> list[Diagnostic]:
    """Each `depends_on` entry of service `name`: a known service, not itself, enabled when it
    is, and a oneshot when it must complete."""
    service = config.services[name]
    problems = []
    for dep, spec in service.dependencies().items():
        origin = layered.origin(("services", name, "depends_on", dep))
        if dep not in names:
            problems.append(
                Diagnostic(
                    Code.UNKNOWN_DEPENDENCY,
                    f"service '{name}' depends on unknown service '{dep}'",
                    origin,
                    did_you_mean(dep, names) or f"known services: {', '.join(sorted(names))}",
                )
            )
            continue
        if dep == name:
            problems.append(
                Diagnostic(
                    Code.DEPENDENCY_CYCLE,
                    f"service '{name}' depends on itself",
                    origin,
                    "remove it from its own depends_on",
                )
            )
            continue
        target = config.services.get(dep)
        if target is None:
            continue
        if service.enabled and not target.enabled:
            problems.append(
                Diagnostic(
                    Code.DISABLED_DEPENDENCY,
                    f"service '{name}' depends on disabled service '{dep}'",
                    origin,
                    f"enable '{dep}', or disable '{name}' too",
                )
            )
        if spec.condition == "completed" and not target.oneshot:
            problems.append(
                Diagnostic(
                    Code.NOT_ONESHOT,
                    f"service '{name}' waits for '{dep}' to complete, but '{dep}' is not a oneshot",
                    origin,
                    f'use condition "ready" or "started", or set oneshot = true on {dep}',
                )
            )
    return problems


def _reserved_variables(config: Config, layered: Layered) -> list[Diagnostic]:
    """PORT and LAUNCHER_SERVICE are set by the launcher for each process, before anything is
    interpolated: declaring one would only hide the real value."""
    keys: list[tuple[str, ...]] = [("env", key) for key in config.env]
    keys += [("services", name, "env", key) for name, s in config.services.items() for key in s.env]
    return [
        Diagnostic(
            Code.RESERVED_VARIABLE,
            f"{'.'.join(key)}: {key[-1]} cannot be declared, the launcher sets it for each service "
            + ("(its own port)" if key[-1] == "PORT" else "(its name, `name.N` for a replica)"),
            layered.origin(key),
            "remove it; "
            + (
                'give the service a port (port = "auto" or a number) and it gets PORT; '
                "another service's port is X_PORT"
                if key[-1] == "PORT"
                else "a service reads its own name from LAUNCHER_SERVICE as it is"
            ),
        )
        for key in keys
        if key[-1] in RESERVED
    ]


def _raw_services(layered: Layered) -> dict[str, object]:
    """The `[services]` table as written, valid or not."""
    raw = layered.data.get("services")
    return raw if isinstance(raw, dict) else {}


def _probe_problems(name: str, config: Config, layered: Layered) -> list[Diagnostic]:
    service = config.services[name]
    where = ("services", name)
    problems = []
    if service.external and service.probe is None:
        problems.append(
            Diagnostic(
                Code.EXTERNAL_WITHOUT_PROBE,
                f"external service '{name}' has no probe",
                layered.origin(where),
                'an external service is only probed: add e.g. probe = { tcp = "127.0.0.1:5432" }',
            )
        )
    for key in ("probe", "liveness"):
        probe = getattr(service, key)
        if (
            probe is not None
            and probe.http is not None
            and probe.http.startswith("/")
            and not service.wants_port
        ):
            problems.append(
                Diagnostic(
                    Code.HTTP_PROBE_WITHOUT_PORT,
                    f"service '{name}' has an http {key} on a path but no port",
                    layered.origin((*where, key, "http")),
                    'add port = "auto", or give the probe a full URL',
                )
            )
    return problems


def _port_references(name: str, service: Service, layered: Layered) -> list[Diagnostic]:
    """`${PORT}` in a service without a port, which gets no PORT: the value would be empty
    (`${PORT:-8000}` says what to use instead, and is fine)."""
    if service.wants_port:
        return []
    return [
        Diagnostic(
            Code.PORT_WITHOUT_PORT,
            f"{'.'.join(('services', name, *key))}: ${{PORT}} is used, but service '{name}' has no port",
            layered.origin(("services", name, *key)),
            f'add port = "auto" (or a fixed port) to [services.{name}]',
        )
        for key, text in _interpolated_values(service)
        if any(variable == "PORT" and op not in ("-", ":-") for variable, op in references(text))
    ]


def _interpolated_values(service: Service) -> Iterator[tuple[Key, str]]:
    """Each value of `service` that is interpolated, with its key: command, env, probes, cwd."""
    yield from _texts(("command",), service.command)
    for key, value in service.env.items():
        yield from _texts(("env", key), value)
    for field in ("probe", "liveness"):
        probe = getattr(service, field)
        if probe is not None:
            yield from _texts((field, probe.kind), probe.value)
    yield from _texts(("cwd",), service.cwd)


def _texts(key: Key, value: object) -> Iterator[tuple[Key, str]]:
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str) and "${" in text:
            yield key, text


def check_narrowing(
    words: Iterable[str], allowed: set[str], profile: str | None, config: Config
) -> list[Diagnostic]:
    """SERVICE words narrow a profile's selection: each must be one of its services."""
    return [
        Diagnostic(
            Code.UNKNOWN_SELECTION,
            f"service '{word}' is not part of profile '{profile}'",
            Origin("command line"),
            f"profile '{profile}' runs {', '.join(sorted(allowed))}; name a profile that has '{word}'",
        )
        for word in words
        if word in config.services and word not in allowed
    ]


def check_selection(
    config: Config, layered: Layered, selection: Iterable[str], origin: Origin | None, source: str
) -> list[Diagnostic]:
    """Names given in a profile's `select` or on the command line must be enabled services (a
    service that failed validation as a whole has its problems reported where it is defined)."""
    problems = []
    for name in selection:
        if name not in config.services and name in _raw_services(layered):
            continue
        if name not in config.services:
            problems.append(
                Diagnostic(
                    Code.UNKNOWN_SELECTION,
                    f"unknown service '{name}' in the {source}",
                    origin,
                    did_you_mean(name, config.services)
                    or f"known services: {', '.join(sorted(config.services))}",
                )
            )
        elif not config.services[name].enabled:
            problems.append(
                Diagnostic(
                    Code.DISABLED_DEPENDENCY,
                    f"service '{name}' is selected by the {source} but disabled",
                    origin,
                    f"set enabled = true on '{name}', or leave it out",
                )
            )
    return problems
