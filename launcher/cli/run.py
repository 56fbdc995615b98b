"""`launcher run [PROFILE] [SERVICE...] [--no-deps] [--keep-going] [--watch] [--tui] [-- CMD ...]`:
the stack in the foreground. With --watch (or `watch = true` in the profile), once it has
started, a change of a service's files restarts that service (launcher/runtime/reload.py). With
--tui, the dashboard of `launcher attach` is in front (launcher/cli/attach.py's Front) and the
launcher's own lines go to `.launcher/logs/launcher.log`; closing the dashboard stops the stack.

Signals: the first SIGINT, SIGTERM or SIGHUP starts a graceful stop; a second SIGINT kills every
service at once. With `-- CMD`, CMD runs in the launcher's own process group, so Ctrl-C reaches
it as it would from a shell; the launcher waits for CMD, then tears the stack down and exits
with CMD's code.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import os
import signal
import sys

from launcher.cli.options import add_run_options
from launcher.cli.report import print_error

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Iterator, Sequence
    from typing import TextIO

    from launcher.cli.attach import Front
    from launcher.cli.planning import Planning
    from launcher.control.lazy import LazyApi
    from launcher.control.listening import ApiSockets
    from launcher.core.errors import LauncherError
    from launcher.plan.spec import Plan
    from launcher.runtime.firstspawn import FirstSpawns
    from launcher.runtime.orchestrator import Orchestrator
    from launcher.runtime.output import Sink
    from launcher.runtime.reload import Reloader

# How long a thread that wants the interpreter waits for the one that has it (Python's
# default: 5 ms). The output's writer thread waits that long at each of its steps while the
# loop relays a flood, and fell behind it; so did the loop behind the import of the control API.
SWITCH_INTERVAL = 0.001
STDOUT_PIPE = 1024 * 1024  # see _grow_pipe()


EXAMPLES = """\
examples:
  launcher run                      the default profile (or every enabled service)
  launcher run minimal              the profile minimal
  launcher run api worker           these services, with what they depend on
  launcher run --watch              restart a service when its files change
  launcher run --debug api          api under debugpy (attach to 127.0.0.1:5678)
  launcher run --tui                the stack with a live dashboard in front (q stops it)
  launcher run ci -- pytest -x      start the profile ci, run pytest against it, stop the
                                    stack; exit with pytest's code
"""
# What main.py appends to the usage line: the words after `--`, which it takes off first.
USAGE_TAIL = "[-- CMD ...]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)  # in options.py, since `up` declares them too
    parser.add_argument(
        "--tui",
        action="store_true",
        help="a live dashboard in front (`launcher attach`); closing it stops the stack",
    )


def main(args: argparse.Namespace) -> int:
    from launcher.cli.planning import Planning

    if args.tui and (problem := _tui_problem(args)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    planning = Planning.start(args)  # pydantic stays out of this long-running process
    sys.setswitchinterval(SWITCH_INTERVAL)  # this process is the launcher's own
    _grow_pipe(sys.stdout)
    first = _spawn_first(planning)
    # Meanwhile, on the other core: what runs the stack.
    import asyncio

    import launcher.runtime.orchestrator  # noqa: F401 (imported by _run, now in parallel)
    from launcher.runtime.output import make_sink

    outcome = planning.outcome()
    if isinstance(outcome, int):
        return outcome  # the child said why it could not plan
    plan, log_format = outcome
    log_dir = plan.root / ".launcher" / "logs"
    stream = sys.stdout
    if args.tui:  # the terminal is the dashboard's: the launcher's lines go where `up -d` puts them
        log_dir.mkdir(parents=True, exist_ok=True)
        stream = open(log_dir / "launcher.log", "a")  # noqa: SIM115 (closed after the sink, below)
    sink = make_sink(
        stream,
        log_format=log_format,
        color=False if args.no_color or args.tui else None,
        names=[*plan.names, "launcher"],
        log_dir=log_dir,
        echo=not (args.detached or args.tui),
    )
    try:
        watch = args.watch or plan.watch
        report = functools.partial(print_error, log_format=log_format, no_color=args.no_color)
        with _pidfd_child_watcher():
            return asyncio.run(
                _run(
                    plan,
                    sink,
                    args.command_argv,
                    keep_going=args.keep_going,
                    first=first,
                    watch=watch,
                    report=report,
                    tui=args.tui,
                )
            )
    finally:
        sink.close()
        if stream is not sys.stdout:
            stream.close()


def _spawn_first(planning: Planning) -> FirstSpawns | None:
    """With a plan from the cache (no child to wait for), the services that need nothing are
    spawned now, before asyncio and the runtime are imported (about as long again); the
    orchestrator adopts them (launcher/runtime/firstspawn.py)."""
    if planning.cached is None:
        return None
    from launcher.runtime.firstspawn import spawn_first

    cached = planning.cached
    return spawn_first(cached.root, cached.python, cached.first)


def _grow_pipe(stream: TextIO) -> None:
    """A pipe as stdout (`launcher run | ...`, a supervisor's log collector) takes STDOUT_PIPE
    bytes at a time instead of Linux's 64 KiB: a flood of output then crosses to the reader in
    few large writes, not one thread switch per 64 KiB."""
    import fcntl
    import stat

    with contextlib.suppress(OSError, ValueError, AttributeError):  # not a pipe; not Linux; the limit
        fd = stream.fileno()
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, STDOUT_PIPE)


@contextlib.contextmanager
def _pidfd_child_watcher() -> Iterator[None]:
    """While the stack runs, children are watched through pidfds, on the event loop.

    Python 3.11's default child watcher starts a thread per child, each parked in waitpid() for
    the child's life (a thread per service, and one per cmd probe while it runs). The watcher is
    the event loop policy's, so it is set for the CLI's own run only and put back afterwards;
    from 3.12 on, asyncio picks the pidfd watcher by itself.
    """
    import asyncio

    from launcher.runtime.firstspawn import has_pidfd

    if sys.version_info >= (3, 12) or not has_pidfd():
        yield
        return
    policy = asyncio.get_event_loop_policy()
    previous = policy.get_child_watcher()
    watcher = asyncio.PidfdChildWatcher()  # installs no signal handler
    policy.set_child_watcher(watcher)
    try:
        yield
    finally:
        policy.set_child_watcher(previous)


def _tui_problem(args: argparse.Namespace) -> str | None:
    """Why `--tui` cannot be: with `-- CMD` or `--log-format json`, or without a terminal."""
    from launcher.cli.attach import terminal_problem

    if args.command_argv:
        return "--tui and `-- CMD` exclude each other (CMD's output would go under the dashboard)"
    if args.log_format == "json":
        return "--tui and --log-format json exclude each other (the dashboard is for a terminal)"
    problem = terminal_problem("launcher run --tui")
    return None if problem is None else problem[0]


async def _run(
    plan: Plan,
    sink: Sink,
    command: Sequence[str],
    *,
    keep_going: bool,
    watch: bool,
    report: Callable[[LauncherError], None],
    first: FirstSpawns | None = None,
    tui: bool = False,
) -> int:
    import asyncio

    from launcher.cli.runsignals import STOP_SIGNALS, Signals
    from launcher.cli.serving import run_command, say_where, serve
    from launcher.core.errors import LauncherError
    from launcher.runtime.orchestrator import Orchestrator

    loop = asyncio.get_running_loop()
    watching: Reloader | None = None
    signals = Signals(sink)
    orchestrator = Orchestrator(plan, sink=sink, keep_going=keep_going, first=first)
    orchestrator.claim()  # before the API's socket: that of a running launcher is not ours
    try:
        sockets, token = _bind_api(plan)
    except BaseException:
        await orchestrator.stop()  # nothing started: this releases the claim
        raise
    if orchestrator.run_state is not None:
        orchestrator.run_state.api = str(sockets.path)  # listening: a client waits to be served
    signals.install(loop)
    signals.orchestrator = orchestrator
    api = _open_api(orchestrator, sockets, token, signals.stop_requested)  # counts probes from now
    front: Front | None = None
    # The stack runs (and says so) only once its API answers.
    api_opened: asyncio.Future[None] = loop.create_future()
    starting = asyncio.ensure_future(orchestrator.start(before_running=api_opened))
    try:
        # The first services are spawned first: a client that comes meanwhile waits in the
        # backlog rather than have the API imported (aiohttp: 100 ms and more) on their way.
        spawns = asyncio.ensure_future(orchestrator.first_spawns())
        await asyncio.wait({spawns, starting}, return_when=asyncio.FIRST_COMPLETED)
        spawns.cancel()
        if not starting.done():
            api.listen()  # answers from now on: the first client has it imported and built
            api_opened.set_result(None)
        if tui:
            from launcher.cli.attach import Front
            from launcher.runtime import rundir

            front = await Front.start(rundir.socket_path(plan.root), plan.root, signals.dashboard_closed)
        stopping = asyncio.ensure_future(signals.stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return signals.exit_code or 1
        try:
            starting.result()
        except LauncherError as exc:
            if front is not None:
                await front.close()  # the report is for the terminal, which it gives back
            report(exc)
            return exc.exit_code
        say_where(orchestrator)
        # What start-up allocated (the configuration, the plan, imported modules) lives as long
        # as the stack: out of the collector's sight, a full collection no longer stalls the
        # loop for 20-40 ms, which made probes late under API load (benchmarks/api.py).
        gc.freeze()
        if watch:
            from launcher.runtime.reload import Reloader  # imports watchdog: only when watching

            watching = await Reloader(orchestrator).start()
        if command:
            return await run_command(plan, command, signals)
        return await serve(orchestrator, signals, watching=watching is not None)
    finally:
        if not starting.done():  # the API could not listen
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        if watching is not None:
            await watching.aclose()  # no reload may start a service the stop is taking down
        await orchestrator.stop()
        await api.aclose()
        if front is not None:
            await front.close()  # the API's streams ended with the stack: it is ending already
        # Everything is stopped: a late signal must not turn the exit into a traceback.
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)


def _bind_api(plan: Plan) -> tuple[ApiSockets, str | None]:
    """The control API's sockets, on the project's unix socket and on TCP when `[launcher] api`
    asks, and the token TCP requires: bound before anything starts (LCH-4004 otherwise)."""
    from launcher.control.listening import bind_api
    from launcher.core.errors import ApiUnavailable
    from launcher.runtime import rundir

    tcp: tuple[str, int] | None = None
    token: str | None = None
    if plan.api is not None:
        host, _, port = plan.api.rpartition(":")
        tcp, token = (host.strip("[]"), int(port)), rundir.api_token(plan.root)
    try:
        return bind_api(rundir.socket_path(plan.root), tcp), token
    except OSError as exc:  # its message names the address
        raise ApiUnavailable(str(exc)) from None


def _open_api(
    orchestrator: Orchestrator, sockets: ApiSockets, token: str | None, on_stop: Callable[[], None]
) -> LazyApi:
    """The control API on `sockets`, imported and built when its first client connects (an idle
    stack that nobody asks does without aiohttp); the probe checks are counted from now."""
    from launcher.control.lazy import LazyApi

    return LazyApi(orchestrator, sockets, token=token, on_stop=on_stop)
