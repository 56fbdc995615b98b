"""The library API: a whole stack in a `with` block.

    stack = launcher.load("launcher.toml", profile="minimal")
    with stack.start(timeout=60) as running:      # returns when every service is ready
        running.url("api_gateway")
    # every service is stopped here, also when the block raised

    async with stack.astart() as running: ...      # the same, inside an event loop

The library installs no signal handlers and never exits the interpreter; it raises the errors
of `launcher.core.errors`, which carry the service's name and its last lines of output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from launcher.config.loader import Loaded
from launcher.config.loader import load as load_config
from launcher.core.errors import LauncherError, ReadinessTimeout
from launcher.library.loopthread import LoopThread
from launcher.plan.compiler import build_plan
from launcher.plan.modes import Mode, decide_mode
from launcher.plan.spec import Plan
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.output import Sink, make_sink
from launcher.runtime.sockets import port_is_free
from launcher.runtime.status import ServiceStatus


class Stack:
    """A loaded configuration, ready to start (any number of times, one at a time)."""

    def __init__(
        self,
        loaded: Loaded,
        *,
        services: Sequence[str] = (),
        no_deps: bool = False,
        environ: Mapping[str, str] | None = None,
        output: TextIO | None = None,
    ) -> None:
        self.loaded = loaded
        self.services = tuple(services)
        self.no_deps = no_deps
        self.environ = dict(os.environ if environ is None else environ)
        self.output = output

    @property
    def name(self) -> str:
        return self.loaded.stack_name

    def plan(self) -> Plan:
        """The plan a start would run now (ports chosen against the machine as it is).

        `mode = "auto"` decides as the CLI does, with `output` as the terminal: a stack whose
        output goes nowhere (a test's) runs multi unless asked for shared.
        """
        terminal = self.output is not None and self.output.isatty()
        choice = decide_mode(self.loaded.config.launcher.mode, self.environ, terminal)
        return build_plan(
            self.loaded,
            services=self.services,
            no_deps=self.no_deps,
            mode=choice.mode,
            mode_reason=choice.reason,
            environ=self.environ,
            is_taken=lambda port: not port_is_free(port),
        )

    @contextlib.contextmanager
    def _sink(self, plan: Plan) -> Iterator[Sink]:
        """The output of one start: to `output`, or nowhere (the per-service log files and
        `logs()` still get every line); closed when the stack has stopped."""
        with contextlib.ExitStack() as owned:
            stream = self.output if self.output is not None else owned.enter_context(open(os.devnull, "w"))
            sink = make_sink(
                stream,
                names=[*plan.names, "launcher"],
                log_dir=plan.root / ".launcher" / "logs",
                environ=self.environ,
            )
            try:
                yield sink
            finally:
                sink.close()

    def _orchestrator(self, plan: Plan, sink: Sink) -> Orchestrator:
        # A library stack leaves the project's .launcher/state.json alone: a test suite starts
        # several stacks of one project, also beside a developer's `launcher run`. Its reaper
        # still ends its processes if the interpreter dies.
        return Orchestrator(plan, sink=sink, environ=self.environ, state_file=False)

    @contextlib.contextmanager
    def start(self, timeout: float | None = None) -> Iterator[RunningStack]:
        """Start the stack on a background event loop; stop it when the block ends."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise LauncherError(
                "stack.start() cannot run inside a running event loop: "
                "use `async with stack.astart() as running:` there"
            )
        plan = self.plan()
        with self._sink(plan) as sink:
            thread = LoopThread()
            orchestrator = self._orchestrator(plan, sink)
            try:
                thread.run(_start(orchestrator, timeout))
                yield RunningStack(orchestrator, thread)
            finally:
                try:
                    thread.run(orchestrator.stop())
                finally:
                    thread.close()

    @contextlib.asynccontextmanager
    async def astart(self, timeout: float | None = None) -> AsyncIterator[AsyncRunningStack]:
        """`start()` for code that already runs an event loop."""
        plan = self.plan()
        with self._sink(plan) as sink:
            orchestrator = self._orchestrator(plan, sink)
            try:
                await _start(orchestrator, timeout)
                yield AsyncRunningStack(orchestrator)
            finally:
                await asyncio.shield(orchestrator.stop())


async def _start(orchestrator: Orchestrator, timeout: float | None) -> None:
    try:
        async with asyncio.timeout(timeout):
            await orchestrator.start()
    except TimeoutError:
        services = orchestrator.snapshot().services
        waiting = [s for s in services if not s.state.settled]
        await orchestrator.stop()
        first = waiting[0] if waiting else services[0]
        raise ReadinessTimeout(
            first.name,
            f"was not ready within the stack's start timeout of {timeout:g}s (state: {first.state})",
            orchestrator.output(first.name, 20),
        ) from None


class AsyncRunningStack:
    """A started stack (async API): addresses, environment, status and control of services."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._orchestrator = orchestrator

    def _spec(self, name: str) -> Any:
        try:
            return self._orchestrator.plan.spec(name)
        except KeyError:
            known = ", ".join(self._orchestrator.plan.names)
            raise LauncherError(f"no service '{name}' in this stack (it has: {known})") from None

    def url(self, name: str) -> str:
        spec = self._spec(name)
        if spec.url is None:
            raise LauncherError(f"service '{name}' has no port, so no URL")
        return str(spec.url)

    def port(self, name: str) -> int:
        spec = self._spec(name)
        if spec.port is None:
            raise LauncherError(f"service '{name}' has no port")
        return int(spec.port)

    @property
    def env(self) -> dict[str, str]:
        """What `launcher run -- CMD` gives CMD: every X_PORT/X_URL, LAUNCHER_STACK, [env]."""
        return dict(self._orchestrator.plan.env)

    def status(self) -> list[ServiceStatus]:
        return list(self._orchestrator.snapshot().services)

    def logs(self, name: str, tail: int = 50) -> list[str]:
        self._spec(name)
        return self._orchestrator.output(name, tail)

    async def stop(self, name: str) -> None:
        self._spec(name)
        await self._orchestrator.stop_service(name)

    async def start(self, name: str) -> None:
        """Start a stopped service again; return once it is ready (or completed)."""
        self._spec(name)
        await self._orchestrator.start_service(name)

    async def restart(self, name: str) -> None:
        """Stop the service and start it again; return once it is ready (or completed)."""
        self._spec(name)
        await self._orchestrator.restart_service(name)

    async def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        self._spec(name)
        await self._orchestrator.wait_service(name, timeout)


class RunningStack:
    """A started stack (sync API): the AsyncRunningStack's methods, run on the stack's loop."""

    def __init__(self, orchestrator: Orchestrator, thread: LoopThread) -> None:
        self._async = AsyncRunningStack(orchestrator)
        self._thread = thread

    def url(self, name: str) -> str:
        return self._async.url(name)

    def port(self, name: str) -> int:
        return self._async.port(name)

    @property
    def env(self) -> dict[str, str]:
        return self._async.env

    def status(self) -> list[ServiceStatus]:
        return self._thread.run(_call(self._async.status))

    def logs(self, name: str, tail: int = 50) -> list[str]:
        return self._thread.run(_call(lambda: self._async.logs(name, tail)))

    def stop(self, name: str) -> None:
        self._thread.run(self._async.stop(name))

    def start(self, name: str) -> None:
        self._thread.run(self._async.start(name))

    def restart(self, name: str) -> None:
        self._thread.run(self._async.restart(name))

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        self._thread.run(self._async.wait_ready(name, timeout))


async def _call(function: Any) -> Any:
    return function()


def load(
    path: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    mode: str | None = None,
    services: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    output: TextIO | None = None,
) -> Stack:
    """Load a stack definition; raise ConfigError listing every problem found.

    `path` is a launcher.toml, a pyproject.toml with [tool.launcher] or a Procfile (default:
    found by walking up from `cwd`); `overrides` are laid over every file, as command-line
    flags are (e.g. `{"launcher": {"ports": [9000, 9010]}}`); `output` receives the
    launcher's and the services' lines (default: nowhere; `logs()` has them all the same).
    """
    layers: dict[str, Any] = {
        k: dict(v) if isinstance(v, Mapping) else v for k, v in (overrides or {}).items()
    }
    if mode is not None:
        layers.setdefault("launcher", {})["mode"] = mode
    loaded = load_config(
        Path(path) if path is not None else None,
        profile=profile,
        cwd=Path(cwd) if cwd is not None else None,
        environ=environ,
        overrides=layers,
    )
    stack = Stack(loaded, services=services or (), environ=environ, output=output)
    # The cross-service rules (dependencies, cycles, interpolation) are checked by planning;
    # plan once now so that every configuration problem is raised here, as `check` reports it
    # (a stack that may run shared is held to shared mode's stricter rules).
    strictest: Mode = "multi" if loaded.config.launcher.mode == "multi" else "shared"
    build_plan(loaded, services=stack.services, mode=strictest, environ=stack.environ)
    return stack


__all__ = ["AsyncRunningStack", "RunningStack", "ServiceStatus", "Stack", "load"]
