"""Compiling a loaded configuration into a `Plan` of process specs.

Selection (profile, SERVICE words, transitive dependencies) -> dependency order -> replicas
-> ports -> environment and interpolation -> one `ProcessSpec` per process. Pure: the
environment, the Python executable and the "is this port taken" question come in as arguments.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from launcher.child.units import REQUEST_GRACE
from launcher.config import graph
from launcher.config.checks import check_narrowing, check_selection, check_services
from launcher.config.interpolation import InterpolationError, interpolate, split_words
from launcher.config.loader import Loaded
from launcher.config.model import Probe, Service
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.core.errors import ConfigError
from launcher.core.vocabulary import Condition
from launcher.plan import shared_mode as hosting
from launcher.plan.modes import Mode
from launcher.plan.ports import PortRequest, assign_ports, never_taken
from launcher.plan.spec import BackoffSpec, DependencySpec, Listen, Plan, ProbeSpec, ProcessSpec

LOCALHOST = "127.0.0.1"


def env_name(service: str) -> str:
    """`api-gateway` -> `API_GATEWAY` (the prefix of X_PORT and X_URL)."""
    return service.upper().replace("-", "_").replace(".", "_")


def build_plan(
    loaded: Loaded,
    *,
    services: Sequence[str] = (),
    no_deps: bool = False,
    mode: Mode = "multi",
    mode_reason: str = "",
    environ: Mapping[str, str] | None = None,
    python: str = sys.executable,
    is_taken: Callable[[int], bool] = never_taken,
) -> Plan:
    """The plan for the selected services, in dependency order.

    In shared mode (DESIGN.md 2) the hostable apps and tasks lose their processes to one host:
    its spec comes first, the apps share its port, and their URLs carry their mount prefixes.
    """
    config, layered = loaded.config, loaded.layered
    environ = {} if environ is None else environ
    problems = check_services(config, layered)
    selection = _selection(loaded, services, no_deps, problems)
    if problems:
        raise ConfigError(problems)
    edges = {
        n: [d for d in config.services[n].dependencies() if d in selection]
        for n in config.services
        if n in selection
    }
    ordered = graph.order(edges)
    hosted = [n for n in ordered if mode == "shared" and hosting.hostable(config.services[n])]
    if hosted:
        problems.extend(hosting.reserved_name(ordered, layered.origin))
    apps = [n for n in hosted if config.services[n].kind == "app"]

    instances = [(name, i) for name in ordered for i in _replicas(config.services[name])]
    requests = []
    for name, i in instances:
        service = config.services[name]
        origin = layered.origin(("services", name, "port"))
        if name in apps:
            # The host serves every app on one port: the first app's (fixed or automatic).
            if name == apps[0]:
                requests.append(PortRequest(hosting.HOST, service.port or "auto", origin))
        elif service.wants_port:
            requests.append(PortRequest(_instance(name, i, service.replicas), service.port or "auto", origin))
    settings = config.launcher
    ports = hosting.hosted_ports(
        assign_ports(requests, (settings.ports[0], settings.ports[1]), is_taken), apps
    )
    urls = {
        name: f"http://{LOCALHOST}:{port}" + (_mount(config.services[name], name) if name in apps else "")
        for name, port in ports.items()
    }

    stack_env = _stack_env(loaded, ordered, ports, urls, environ, problems)
    specs = []
    for name, replica in instances:
        spec = _spec(loaded, name, replica, ports, urls, stack_env, environ, python, problems)
        if name in hosted:
            spec = hosting.hosted(spec, keep_probe=config.services[name].probe is not None)
        specs.append(spec)
    if hosted:
        specs.insert(
            0,
            hosting.host_spec(
                [s for s in specs if s.host is not None],
                root=loaded.root,
                stack_env=stack_env,
                python=python,
                port=ports.get(hosting.HOST),
                start_timeout=settings.start_timeout,
                stop_timeout=settings.stop_timeout,
                origin=layered.origin,
                problems=problems,
            ),
        )
    if problems:
        raise ConfigError(problems)
    return Plan(
        stack=loaded.stack_name,
        profile=loaded.profile,
        mode="shared" if hosted else "multi",
        mode_reason=mode_reason,
        root=loaded.root,
        config_path=loaded.path,
        specs=tuple(specs),
        port_range=(settings.ports[0], settings.ports[1]),
        env=stack_env,
        start_timeout=settings.start_timeout,
        stop_timeout=settings.stop_timeout,
        watch=loaded.watch,
        api=settings.api,
    )


def _selection(loaded: Loaded, words: Sequence[str], no_deps: bool, problems: list[Diagnostic]) -> set[str]:
    config = loaded.config
    if loaded.select is not None:
        problems.extend(check_selection(config, loaded.select, loaded.select_origin, "profile"))
        chosen = [n for n in loaded.select if n in config.services]
    else:
        chosen = [n for n, s in config.services.items() if s.enabled]
    edges = {n: list(s.dependencies()) for n, s in config.services.items()}
    if words:
        problems.extend(check_selection(config, words, Origin("command line"), "command line"))
        if loaded.select is not None:
            allowed = {n for n in graph.closure(chosen, edges) if n in config.services}
            problems.extend(check_narrowing(words, allowed, loaded.profile, config))
        chosen = [n for n in words if n in config.services]
    if no_deps:
        return set(chosen)
    return {n for n in graph.closure(chosen, edges) if n in config.services}


def _replicas(service: Service) -> range:
    return range(1, service.replicas + 1)


def _instance(name: str, replica: int, replicas: int | None = None) -> str:
    return name if replica == 1 and replicas in (None, 1) else f"{name}.{replica}"


def _stack_env(
    loaded: Loaded,
    ordered: list[str],
    ports: Mapping[str, int],
    urls: Mapping[str, str],
    environ: Mapping[str, str],
    problems: list[Diagnostic],
) -> dict[str, str]:
    """What every service and `run -- CMD` get: .env, [env], LAUNCHER_STACK, X_PORT, X_URL."""
    injected = {"LAUNCHER_STACK": loaded.stack_name}
    for name in ordered:
        service = loaded.config.services[name]
        first = _instance(name, 1, service.replicas)
        port = ports.get(first)
        if port is not None:
            injected[f"{env_name(name)}_PORT"] = str(port)
            injected[f"{env_name(name)}_URL"] = urls[first]
    env = dict(loaded.dotenv)
    context = {**environ, **env, **injected}
    for key, value in loaded.config.env.items():
        env[key] = context[key] = _interpolated(
            _text(value), context, loaded.layered.origin(("env", key)), problems
        )
    env.update(injected)
    return env


def _spec(
    loaded: Loaded,
    name: str,
    replica: int,
    ports: Mapping[str, int],
    urls: Mapping[str, str],
    stack_env: Mapping[str, str],
    environ: Mapping[str, str],
    python: str,
    problems: list[Diagnostic],
) -> ProcessSpec:
    config = loaded.config
    service = config.services[name]
    where = ("services", name)
    origin = loaded.layered.origin
    instance = _instance(name, replica, service.replicas)
    port = ports.get(instance)

    env = {**stack_env, **loaded.service_env_files.get(name, {})}
    injected = {"LAUNCHER_SERVICE": instance}
    if port is not None:
        injected["PORT"] = str(port)
    context = {**environ, **env, **injected}
    for key, value in service.env.items():
        env[key] = context[key] = _interpolated(_text(value), context, origin((*where, "env", key)), problems)
    env.update(injected)
    if "PYTHONUNBUFFERED" not in context:
        env["PYTHONUNBUFFERED"] = "1"
    context = {**environ, **env}

    def expand(text: str, key: tuple[str, ...]) -> str:
        return _interpolated(text, context, origin((*where, *key)), problems)

    def split(text: str, key: tuple[str, ...]) -> list[str]:
        try:
            return split_words(text)
        except (ValueError, InterpolationError) as exc:
            problems.append(
                Diagnostic(
                    "LCH-1027",
                    f"cannot split {'.'.join(key)} into words: {exc}",
                    origin((*where, *key)),
                    "balance the quotes, or give the command as a list of words",
                )
            )
            return []

    cwd = loaded.root / expand(service.cwd, ("cwd",)) if service.cwd else loaded.root
    url = urls.get(instance)
    argv = _argv(service, port, python, expand, split)
    probe = _probe(service.probe, url, expand, split, ("probe",)) if service.probe else None
    if probe is None and not service.oneshot:
        probe = _default_probe(service, port, url)
    settings = config.launcher
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
        url=url,
        listen=(Listen(LOCALHOST, port, "UVICORN_FD"),)
        if service.app is not None and port is not None
        else (),
        mount=_mount(service, name),
        import_path=service.app or service.task,
        probe=probe,
        liveness=_probe(service.liveness, url, expand, split, ("liveness",)) if service.liveness else None,
        depends_on=_dependencies(service, config.services),
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
        watch=tuple(loaded.root / w for w in service.watch)
        if service.watch is not None
        else _default_watch(service, cwd),
        watch_ignore=tuple(service.watch_ignore),
        tags=tuple(service.tags),
        image=service.image or settings.image,
        description=service.description,
        workers=service.workers,
    )


Expand = Callable[[str, tuple[str, ...]], str]
Split = Callable[[str, tuple[str, ...]], list[str]]


def _argv(service: Service, port: int | None, python: str, expand: Expand, split: Split) -> tuple[str, ...]:
    if service.command is not None:
        if service.shell:
            text = service.command if isinstance(service.command, str) else shlex.join(service.command)
            return ("/bin/sh", "-c", expand(text, ("command",)))
        words = split(service.command, ("command",)) if isinstance(service.command, str) else service.command
        return tuple(expand(w, ("command",)) for w in words)
    if service.app is not None:
        argv = [python, "-m", "uvicorn", "--app-dir", ".", "--host", LOCALHOST, "--port", str(port)]
        argv += ["--timeout-graceful-shutdown", str(REQUEST_GRACE)]
        if service.workers:
            argv += ["--workers", str(service.workers)]
        return (*argv, service.app)
    if service.task is not None:
        return (python, "-m", "launcher.child.task_runner", "--app-dir", ".", service.task)
    return ()


def _mount(service: Service, name: str) -> str:
    return service.mount or f"/{name}"


def _probe(probe: Probe, url: str | None, expand: Expand, split: Split, key: tuple[str, ...]) -> ProbeSpec:
    kind = probe.kind
    raw = getattr(probe, kind)
    argv: tuple[str, ...] = ()
    if kind == "cmd":
        words = split(raw, (*key, kind)) if isinstance(raw, str) else raw
        argv = tuple(expand(w, (*key, kind)) for w in words)
        target = shlex.join(argv)
    else:
        target = expand(raw, (*key, kind))
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
        target = services[name]
        condition = dep.condition or default_condition(target)
        for replica in _replicas(target):
            out.append(DependencySpec(_instance(name, replica, target.replicas), condition, dep.restart))
    return tuple(out)


def default_condition(target: Service) -> Condition:
    """`completed` for a oneshot, `ready` with a probe or a port, `started` otherwise."""
    if target.oneshot:
        return "completed"
    if target.probe is not None or target.wants_port:
        return "ready"
    return "started"


def _default_watch(service: Service, cwd: Path) -> tuple[Path, ...]:
    path = service.app or service.task
    if path is None:
        return ()
    return (cwd / path.split(":")[0].split(".")[0],)


def _interpolated(text: str, context: Mapping[str, str], origin: Origin, problems: list[Diagnostic]) -> str:
    try:
        return interpolate(text, context)
    except InterpolationError as exc:
        code = "LCH-1013" if exc.variable else "LCH-1022"
        hint = (
            f"set {exc.variable} in the environment, .env or [env]"
            if exc.variable
            else "write ${NAME}, ${NAME:-default} or ${NAME:?message}; $$ for a literal $"
        )
        problems.append(Diagnostic(code, str(exc), origin, hint))
        return text


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
