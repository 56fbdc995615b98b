"""`launcher run [PROFILE] [SERVICE...] [--no-deps] [--keep-going] [--watch] [-- CMD ...]`: the
stack in the foreground. With --watch (or `watch = true` in the profile), once it has started,
a change of a service's files restarts that service (launcher/runtime/reload.py).

Signals: the first SIGINT, SIGTERM or SIGHUP starts a graceful stop; a second SIGINT kills every
service at once. With `-- CMD`, CMD runs in the launcher's own process group, so Ctrl-C reaches
it as it would from a shell; the launcher waits for CMD, then tears the stack down and exits
with CMD's code.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import signal
import sys

from launcher.cli.options import add_run_options
from launcher.cli.report import print_error
from launcher.core.codes import Code

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Sequence

    from launcher.control.server import ApiServer
    from launcher.core.errors import LauncherError
    from launcher.plan.spec import Plan
    from launcher.runtime.orchestrator import Orchestrator
    from launcher.runtime.output import Sink
    from launcher.runtime.reload import Reloader
    from launcher.runtime.states import StateChange

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


EXAMPLES = """\
examples:
  launcher run                      the default profile (or every enabled service)
  launcher run minimal              the profile minimal
  launcher run api worker           these services, with what they depend on
  launcher run --watch              restart a service when its files change
  launcher run --debug api          api under debugpy (attach to 127.0.0.1:5678)
  launcher run ci -- pytest -x      start the profile ci, run pytest against it, stop the
                                    stack; exit with pytest's code
"""
# What main.py appends to the usage line: the words after `--`, which it takes off first.
USAGE_TAIL = "[-- CMD ...]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)  # in options.py, since `up` declares them too


def main(args: argparse.Namespace) -> int:
    import asyncio

    from launcher.cli.project import load_run_args
    from launcher.runtime.output import make_sink

    loaded, plan = load_run_args(args)
    log_format = args.log_format or loaded.config.launcher.log_format
    sink = make_sink(
        sys.stdout,
        log_format=log_format,
        color=False if args.no_color else None,
        names=[*plan.names, "launcher"],
        log_dir=plan.root / ".launcher" / "logs",
        echo=not args.detached,
    )
    try:
        watch = args.watch or plan.watch
        report = functools.partial(print_error, log_format=log_format, no_color=args.no_color)
        return asyncio.run(
            _run(plan, sink, args.command_argv, keep_going=args.keep_going, watch=watch, report=report)
        )
    finally:
        sink.close()


class _Signals:
    """Records stop signals on the loop; the run loop decides what they mean."""

    def __init__(self, sink: Sink) -> None:
        import asyncio

        self.sink = sink
        self.received: list[int] = []
        self.stop = asyncio.Event()
        self.orchestrator: Orchestrator | None = None
        self.command: asyncio.subprocess.Process | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: int) -> None:
        self.received.append(sig)
        name = signal.Signals(sig).name
        if self.command is not None and self.command.returncode is None:
            # CMD shares our process group: the terminal's SIGINT reached it already. Pass
            # SIGTERM/SIGHUP on; the stack comes down once CMD has exited.
            if sig != signal.SIGINT:
                self.command.send_signal(sig)
            return
        if len(self.received) == 1 or self.orchestrator is None:
            self.sink.event("launcher", f"{name}: stopping (Ctrl-C again to kill everything now)")
            self.stop.set()
        elif sig == signal.SIGINT:
            self.sink.event("launcher", f"{name} again: killing every service now")
            self.orchestrator.kill()

    def stop_requested(self) -> None:
        """POST /v1/stop (`launcher down`): a graceful stop, as on the first signal."""
        if not self.stop.is_set():
            self.sink.event("launcher", "stop requested through the control API: stopping")
            self.stop.set()

    @property
    def exit_code(self) -> int | None:
        return 128 + self.received[0] if self.received else None


async def _run(
    plan: Plan,
    sink: Sink,
    command: Sequence[str],
    *,
    keep_going: bool,
    watch: bool,
    report: Callable[[LauncherError], None],
) -> int:
    import asyncio

    from launcher.core.errors import LauncherError
    from launcher.runtime.orchestrator import Orchestrator

    loop = asyncio.get_running_loop()
    watching: Reloader | None = None
    signals = _Signals(sink)
    orchestrator = Orchestrator(plan, sink=sink, keep_going=keep_going)
    orchestrator.claim()  # before the API's socket: that of a running launcher is not ours
    try:
        api = await _open_api(plan, orchestrator, signals.stop_requested)
    except BaseException:
        await orchestrator.stop()  # nothing started: this releases the claim
        raise
    signals.install(loop)
    signals.orchestrator = orchestrator
    try:
        starting = asyncio.ensure_future(orchestrator.start())
        stopping = asyncio.ensure_future(signals.stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return signals.exit_code or 1
        try:
            starting.result()
        except LauncherError as exc:
            report(exc)
            return exc.exit_code
        _say_where(orchestrator)
        # What start-up allocated (the configuration, the plan, imported modules) lives as long
        # as the stack: out of the collector's sight, a full collection no longer stalls the
        # loop for 20-40 ms, which made probes late under API load (benchmarks/api.py).
        gc.freeze()
        if watch:
            from launcher.runtime.reload import Reloader  # imports watchdog: only when watching

            watching = await Reloader(orchestrator).start()
        if command:
            return await _run_command(plan, command, signals)
        return await _serve(orchestrator, signals, watching=watching is not None)
    finally:
        if watching is not None:
            await watching.aclose()  # no reload may start a service the stop is taking down
        await orchestrator.stop()
        await api.aclose()
        # Everything is stopped: a late signal must not turn the exit into a traceback.
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)


def _say_where(orchestrator: Orchestrator) -> None:
    """Once ready: where each service is (its URL, or its port)."""
    import dataclasses

    from launcher.cli.where import where_lines

    for line in where_lines(dataclasses.asdict(s) for s in orchestrator.snapshot().services):
        orchestrator.sink.event("launcher", line)


async def _serve(orchestrator: Orchestrator, signals: _Signals, *, watching: bool = False) -> int:
    """Run until a stop signal, or until no service is left running (one stopped on request
    through the control API does not count: it waits there for a start; nor does an external
    one, which runs elsewhere: `run prestart` of a oneshot and an external ends once the oneshot
    is done). With --watch, only until a stop signal: the next change of their files starts the
    services again."""
    import asyncio

    from launcher.runtime.states import ENDED, ServiceState

    external = {s.name for s in orchestrator.plan.specs if s.kind == "external"}
    said = False
    while not signals.stop.is_set():
        services = orchestrator.snapshot().services
        running = [s for s in services if s.state not in ENDED and s.name not in external]
        # A service stopped on request (held) waits for its start: the stack is not over.
        idle = not running and not any(s.held for s in services)
        if idle and not watching:
            failed = any(s.state is ServiceState.FAILED for s in services)
            orchestrator.sink.event("launcher", "no service is left running")
            return 1 if failed else 0
        if idle and not said:
            orchestrator.sink.event("launcher", "no service is left running; waiting for a change (--watch)")
        said = idle
        changed = asyncio.ensure_future(_any_change(orchestrator))
        stop = asyncio.ensure_future(signals.stop.wait())
        await asyncio.wait({changed, stop}, return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        stop.cancel()
    return signals.exit_code or 0


async def _any_change(orchestrator: Orchestrator) -> None:
    import asyncio

    changed = asyncio.Event()

    def listener(_: StateChange) -> None:
        changed.set()

    unsubscribe = orchestrator.subscribe(listener)
    try:
        await changed.wait()
    finally:
        unsubscribe()


async def _run_command(plan: Plan, command: Sequence[str], signals: _Signals) -> int:
    import asyncio

    from launcher.runtime.environment import child_environment, launcher_environment

    env = child_environment(launcher_environment(os.environ, plan.python), plan.env)
    try:
        process = await asyncio.create_subprocess_exec(*command, env=env)
    except OSError as exc:
        print(f"error[{Code.CANNOT_EXECUTE}]: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    signals.command = process
    code = await process.wait()
    signals.command = None
    return 128 - code if code < 0 else code


async def _open_api(plan: Plan, orchestrator: Orchestrator, on_stop: Callable[[], None]) -> ApiServer:
    """The control API on the project's unix socket, and on TCP when `[launcher] api` asks."""
    from launcher.control.server import ApiServer
    from launcher.core.errors import ApiUnavailable
    from launcher.runtime import rundir

    tcp: tuple[str, int] | None = None
    token: str | None = None
    if plan.api is not None:
        host, _, port = plan.api.rpartition(":")
        tcp, token = (host.strip("[]"), int(port)), rundir.api_token(plan.root)
    server = ApiServer(orchestrator, on_stop=on_stop, token=token)
    path = rundir.socket_path(plan.root)
    try:
        await server.start(path, tcp)
    except OSError as exc:  # its message names the address
        await server.aclose()
        raise ApiUnavailable(str(exc)) from None
    if orchestrator.run_state is not None:
        orchestrator.run_state.api = str(path)
    return server
