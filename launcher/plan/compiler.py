"""Compiling a loaded configuration into a `Plan` of process specs.

Selection (profile, SERVICE words, transitive dependencies) -> dependency order -> replicas
-> ports -> environment and interpolation -> one `ProcessSpec` per process. Pure: the
environment, the Python executable and the "is this port taken" question come in as arguments,
and so does the address apps bind: the plan is final for where it runs.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from graphlib import CycleError
from pathlib import Path

from launcher.child.units import REQUEST_GRACE
from launcher.config import graph
from launcher.config.checks import check_services
from launcher.config.loader import Loaded
from launcher.config.model import Probe, Service
from launcher.config.modules import missing_module
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, in_file_order
from launcher.core.errors import ConfigError, PortRangeExhausted
from launcher.core.vocabulary import Condition
from launcher.plan import shared_mode as hosting
from launcher.plan.childside import ChildSide, in_cache
from launcher.plan.environment import Interpolation, injected_env, service_env, service_url, stack_env
from launcher.plan.interpreter import project_python
from launcher.plan.modes import Mode
from launcher.plan.ports import PortRequest, assign_ports, never_taken
from launcher.plan.selection import selected
from launcher.plan.spec import (
    BackoffSpec,
    DependencySpec,
    Listen,
    Plan,
    ProbeSpec,
    ProcessSpec,
    instance_name,
)

LOCALHOST = "127.0.0.1"


def build_plan(
    loaded: Loaded,
    *,
    services: Sequence[str] = (),
    no_deps: bool = False,
    mode: Mode = "multi",
    mode_reason: str = "",
    environ: Mapping[str, str] | None = None,
    python: str | None = None,
    is_taken: Callable[[int], bool] = never_taken,
    bind: str = LOCALHOST,
    find_modules: bool = False,
) -> Plan:
    """The plan for the selected services, in dependency order, their apps listening on `bind`
    (loopback under launcher; every interface of a container, for its exports). With
    `find_modules`, each app's and task's module must be found under its cwd (LCH-1037; only
    looked for, not imported).

    In shared mode (DESIGN.md 2) the hostable apps and tasks lose their processes to one host:
    its spec comes first, and it listens on each app's own port, so every URL is the same in
    both modes. `mode = "auto"` (the configured mode) that asked for shared runs multi when the
    selection has nothing to share or something shared mode cannot host; the plan's
    `mode_reason` then says so.
    """
    config = loaded.config
    ordered, found = _ordered(loaded, services, no_deps)
    # A copy: read twice a process, os.environ would decode every variable each time.
    environ = {} if environ is None else dict(environ)
    # The project's interpreter, which runs launcher's child programs from the user's cache;
    # unless the caller names one (exports: their target's, where launcher is installed).
    if python:
        child = ChildSide(python)
    else:
        child = in_cache(project_python(loaded.root, config.launcher.python, environ), environ)

    def compiled(mode: Mode, reason: str) -> Plan:
        plan = _compiled(loaded, ordered, found, mode, reason, environ, child, is_taken, bind, find_modules)
        return replace(plan, python=child.python, child_dir=child.directory)

    if mode != "shared" or config.launcher.mode != "auto":
        return compiled(mode, mode_reason)
    refused = hosting.refusal({name: config.services[name] for name in ordered})
    if refused is None:
        try:
            return compiled("shared", mode_reason)
        except ConfigError as error:
            refused = _cannot_share(error)
            if refused is None:
                raise
    return compiled("multi", refused)


def shared_plan_differs(loaded: Loaded) -> bool:
    """Whether a plan in shared mode can host anything here, and so differ from the multi plan
    and have problems of its own (LCH-1029): under mode shared, once an app or a task can be
    hosted; under mode auto, once two can (else `hosting.refusal` plans multi anyway)."""
    mode = loaded.config.launcher.mode
    if mode == "multi":
        return False
    hostable = sum(map(hosting.hostable, loaded.config.services.values()))
    return hostable >= (1 if mode == "shared" else 2)


def _cannot_share(error: ConfigError) -> str | None:
    """auto's reason to run multi when shared mode refused the stack (LCH-1029); None when the
    error is about something else."""
    for problem in error.diagnostics:
        if problem.code == Code.CANNOT_SHARE:
            return "mode multi: " + problem.message.removeprefix("in shared mode, ")
    return None


def _compiled(
    loaded: Loaded,
    ordered: list[str],
    found: list[Diagnostic],
    mode: Mode,
    mode_reason: str,
    environ: Mapping[str, str],
    child: ChildSide,
    is_taken: Callable[[int], bool],
    bind: str,
    find_modules: bool,
) -> Plan:
    config, settings = loaded.config, loaded.config.launcher
    problems = list(found)
    hosted = [n for n in ordered if mode == "shared" and hosting.hostable(config.services[n])]
    if hosted:
        problems.extend(hosting.reserved_name(ordered, loaded.layered.origin))
    instances = [(name, i) for name in ordered for i in _replicas(config.services[name])]
    ports, urls, exhausted, moved = _addresses(loaded, instances, is_taken, problems)
    injected = injected_env(loaded, ordered, ports, urls)
    env = stack_env(loaded, injected, environ, problems)
    build = _Build(loaded, ports, urls, env, injected, environ, child, bind, problems, moved)
    specs = _specs(build, instances, hosted)
    if find_modules:
        problems += _missing_modules(loaded, specs)
    if problems:
        raise ConfigError(in_file_order([*problems, *exhausted]))
    if exhausted:
        raise PortRangeExhausted(exhausted)
    if mode == "shared" and not hosted:
        mode_reason = "mode multi: nothing to share (no app or task that one process can hold)"
    return Plan(
        stack=loaded.stack_name,
        profile=loaded.profile,
        mode="shared" if hosted else "multi",
        mode_reason=mode_reason,
        root=loaded.root,
        config_path=loaded.path,
        specs=specs,
        port_range=(settings.ports[0], settings.ports[1]),
        env=env,
        start_timeout=settings.start_timeout,
        stop_timeout=settings.stop_timeout,
        watch=loaded.watch,
        api=settings.api,
    )


def _missing_modules(loaded: Loaded, specs: Sequence[ProcessSpec]) -> list[Diagnostic]:
    """LCH-1037 for each app and task whose module is not under its cwd."""
    services, origin = loaded.config.services, loaded.layered.origin
    return [
        problem
        for spec in specs
        if spec.import_path is not None
        for problem in missing_module(spec.service, services[spec.service], spec.cwd, origin)
    ]


def _ordered(loaded: Loaded, words: Sequence[str], no_deps: bool) -> tuple[list[str], list[Diagnostic]]:
    """The selected services in dependency order, and every problem of the services and of the
    selection (after those of a `partial` load): the plan is still made, to find its own."""
    services = loaded.config.services
    problems = [*loaded.problems, *check_services(loaded.config, loaded.layered)]
    selection = selected(loaded, words, no_deps, problems)
    edges = {n: [d for d in services[n].dependencies() if d in selection] for n in services if n in selection}
    try:
        return graph.order(edges), problems
    except CycleError:  # a problem found by check_services
        return list(edges), problems


def _addresses(
    loaded: Loaded,
    instances: list[tuple[str, int]],
    is_taken: Callable[[int], bool],
    problems: list[Diagnostic],
) -> tuple[Mapping[str, int], dict[str, str], list[Diagnostic], Mapping[str, int]]:
    """The port and URL of each process that has one: the same in both modes (in shared mode
    the host listens on each hosted app's port); and the range's running out (LCH-3001), which
    is the machine's problem rather than the configuration's."""
    services = loaded.config.services
    requests = []
    for name, i in instances:
        service = services[name]
        if service.wants_port:
            origin = loaded.layered.origin(("services", name, "port"))
            requests.append(
                PortRequest(instance_name(name, i, service.replicas), service.port or "auto", origin)
            )
    low, high = loaded.config.launcher.ports[0], loaded.config.launcher.ports[1]
    ports = assign_ports(requests, (low, high), is_taken)
    problems.extend(ports.clashes)
    urls = {name: f"http://{LOCALHOST}:{port}" for name, port in ports.assigned.items()}
    return ports.assigned, urls, ports.exhausted, ports.moved


@dataclass(frozen=True)
class _Build:
    """What every spec of one plan is compiled from."""

    loaded: Loaded
    ports: Mapping[str, int]
    urls: Mapping[str, str]
    env: Mapping[str, str]  # the stack's
    injected: Mapping[str, str]  # LAUNCHER_STACK, PYTHONUNBUFFERED, every X_PORT and X_URL
    environ: Mapping[str, str]
    child: ChildSide  # the project's interpreter, and how it runs launcher's child programs
    bind: str
    problems: list[Diagnostic]
    moved: Mapping[str, int]  # an automatic port's first choice, held by another program


def _specs(build: _Build, instances: list[tuple[str, int]], hosted: list[str]) -> tuple[ProcessSpec, ...]:
    """One spec per process; in shared mode, the host's first, and the hosted ones without
    processes of their own."""
    loaded = build.loaded
    specs = []
    for name, replica in instances:
        spec = _spec(build, name, replica)
        if name in hosted:
            spec = hosting.hosted(spec, keep_probe=loaded.config.services[name].probe is not None)
        specs.append(spec)
    if not hosted:
        return tuple(specs)
    settings = loaded.config.launcher
    host = hosting.host_spec(
        [s for s in specs if s.host is not None],
        root=loaded.root,
        stack_env=build.env,
        child=build.child,
        bind=build.bind,
        start_timeout=settings.start_timeout,
        stop_timeout=settings.stop_timeout,
        origin=loaded.layered.origin,
        problems=build.problems,
    )
    return (host, *specs)


def _spec(build: _Build, name: str, replica: int) -> ProcessSpec:
    """The process `replica` of service `name`, interpolated in its environment."""
    loaded, settings = build.loaded, build.loaded.config.launcher
    service = loaded.config.services[name]
    instance = instance_name(name, replica, service.replicas)
    port, url = build.ports.get(instance), build.urls.get(instance)
    env = service_env(loaded, name, instance, port, build.injected, build.environ, build.problems)
    values = Interpolation(
        {**build.environ, **env}, loaded.layered.origin, ("services", name), build.problems
    )
    cwd = loaded.root / values.expand(service.cwd, ("cwd",)) if service.cwd else loaded.root
    argv = _argv(service, port, build.child, build.bind, values)
    where = (cwd, env)  # a cmd probe's: its service's
    probe = _probe(service.probe, url, values, ("probe",), where) if service.probe else None
    if probe is None and not service.oneshot:
        probe = _default_probe(service, port, url)
    return ProcessSpec(
        name=instance,
        service=name,
        kind=service.kind,
        argv=argv,
        cwd=cwd,
        env=env,
        shell=service.shell,
        replica=replica if service.replicas > 1 else None,
        port=port,
        url=service_url(service, url) if url is not None else None,
        moved_from=build.moved.get(instance),
        listen=_listen(service, port, build.bind),
        import_path=service.app or service.task,
        probe=probe,
        liveness=_probe(service.liveness, url, values, ("liveness",), where) if service.liveness else None,
        depends_on=_dependencies(service, loaded.config.services),
        oneshot=service.oneshot,
        restart=service.restart,
        max_restarts=service.max_restarts,
        restart_window=service.restart_window,
        backoff=BackoffSpec(service.backoff.initial, service.backoff.max, service.backoff.multiplier),
        start_retries=service.start_retries,
        start_timeout=service.start_timeout or settings.start_timeout,
        stop_signal=str(service.stop_signal),
        stop_timeout=service.stop_timeout if service.stop_timeout is not None else settings.stop_timeout,
        success_codes=tuple(service.success_codes),
        watch=_watch(service, loaded.root, cwd),
        watch_ignore=tuple(service.watch_ignore),
        tags=tuple(service.tags),
        image=service.image or settings.image,
        description=service.description,
        workers=service.workers,
    )


def _replicas(service: Service) -> range:
    return range(1, service.replicas + 1)


def _argv(
    service: Service, port: int | None, child: ChildSide, bind: str, values: Interpolation
) -> tuple[str, ...]:
    if service.command is not None:
        if service.shell:
            text = service.command if isinstance(service.command, str) else shlex.join(service.command)
            return ("/bin/sh", "-c", values.expand(text, ("command",)))
        return values.words(service.command, ("command",))
    if service.app is not None:
        argv = [child.python, "-m", "uvicorn", "--app-dir", ".", "--host", bind, "--port", str(port)]
        argv += ["--timeout-graceful-shutdown", str(REQUEST_GRACE)]
        if service.workers:
            argv += ["--workers", str(service.workers)]
        return (*argv, service.app)
    if service.task is not None:
        return child.argv("task_runner", "--app-dir", ".", service.task)
    return ()


def _listen(service: Service, port: int | None, bind: str) -> tuple[Listen, ...]:
    """An app's server inherits its socket from the launcher (uvicorn reads UVICORN_FD)."""
    return (Listen(bind, port, "UVICORN_FD"),) if service.app is not None and port is not None else ()


def _probe(
    probe: Probe,
    url: str | None,
    values: Interpolation,
    key: tuple[str, ...],
    where: tuple[Path, Mapping[str, str]],
) -> ProbeSpec:
    """A probe, interpolated; a `cmd` probe runs `where` its service does (cwd, environment)."""
    kind = probe.kind
    raw = getattr(probe, kind)
    argv: tuple[str, ...] = ()
    if kind == "cmd":
        argv = values.words(raw, (*key, kind))
        target = shlex.join(argv)
    else:
        target = values.expand(raw, (*key, kind))
    if kind == "http" and target.startswith("/") and url is not None:
        target = url + target
    return ProbeSpec(
        kind=kind,
        target=target,
        argv=argv,
        expect=probe.expect,
        interval=probe.interval,
        timeout=probe.timeout,
        failure_threshold=probe.failure_threshold,
        cwd=where[0] if kind == "cmd" else None,
        env=where[1] if kind == "cmd" else None,
    )


def _default_probe(service: Service, port: int | None, url: str | None) -> ProbeSpec | None:
    """An app is ready when it answers HTTP at all (expect 0: any status); a port, on connect."""
    if service.kind == "app" and url is not None:
        return ProbeSpec(kind="http", target=url + "/", expect=0)
    if port is not None:
        return ProbeSpec(kind="tcp", target=f"{LOCALHOST}:{port}")
    return None


def _dependencies(service: Service, services: Mapping[str, Service]) -> tuple[DependencySpec, ...]:
    out = []
    for name, dep in service.dependencies().items():
        target = services.get(name)
        if target is None:
            continue  # unknown, or invalid: a problem found by check_services
        condition = dep.condition or default_condition(target)
        for replica in _replicas(target):
            out.append(DependencySpec(instance_name(name, replica, target.replicas), condition, dep.restart))
    return tuple(out)


def default_condition(target: Service) -> Condition:
    """`completed` for a oneshot, `ready` with a probe or a port, `started` otherwise."""
    if target.oneshot:
        return "completed"
    if target.probe is not None or target.wants_port:
        return "ready"
    return "started"


def _watch(service: Service, root: Path, cwd: Path) -> tuple[Path, ...]:
    """Its `watch` paths; by default, an app's or a task's module (or package) in its cwd."""
    if service.watch is not None:
        return tuple(root / w for w in service.watch)
    path = service.app or service.task
    if path is None:
        return ()
    return (cwd / path.split(":")[0].split(".")[0],)
