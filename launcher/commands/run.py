"""`launcher run [PROFILE] [SERVICE...] [--no-deps] [--keep-going] [-- CMD ...]`: the stack in
the foreground.

Signals: the first SIGINT, SIGTERM or SIGHUP starts a graceful stop; a second SIGINT kills every
service at once. With `-- CMD`, CMD runs in the launcher's own process group, so Ctrl-C reaches
it as it would from a shell; the launcher waits for CMD, then tears the stack down and exits
with CMD's code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from launcher.commands.project import load_run_args
from launcher.errors import LauncherError
from launcher.orchestrator import Orchestrator
from launcher.output import Sink, make_sink
from launcher.spec import Plan
from launcher.state import ServiceState

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main(args: argparse.Namespace) -> int:
    loaded, plan = load_run_args(args)
    sink = make_sink(
        sys.stdout,
        log_format=args.log_format or loaded.config.launcher.log_format,
        color=False if args.no_color else None,
        names=[*plan.names, "launcher"],
        log_dir=plan.root / ".launcher" / "logs",
    )
    try:
        return asyncio.run(_run(plan, sink, args.command_argv, keep_going=args.keep_going))
    finally:
        sink.close()


class _Signals:
    """Records stop signals on the loop; the run loop decides what they mean."""

    def __init__(self, sink: Sink) -> None:
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

    @property
    def exit_code(self) -> int | None:
        return 128 + self.received[0] if self.received else None


async def _run(plan: Plan, sink: Sink, command: Sequence[str], *, keep_going: bool) -> int:
    loop = asyncio.get_running_loop()
    signals = _Signals(sink)
    signals.install(loop)
    orchestrator = Orchestrator(plan, sink=sink, keep_going=keep_going)
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
            print(exc, file=sys.stderr)
            return exc.exit_code
        if command:
            return await _run_command(plan, command, signals)
        return await _serve(orchestrator, signals)
    finally:
        await orchestrator.stop()
        # Everything is stopped: a late signal must not turn the exit into a traceback.
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)


async def _serve(orchestrator: Orchestrator, signals: _Signals) -> int:
    """Run until a stop signal, or until no service is left running."""
    while not signals.stop.is_set():
        running = [
            s
            for s in orchestrator.supervisors.values()
            if s.state
            not in (ServiceState.STOPPED, ServiceState.COMPLETED, ServiceState.FAILED, ServiceState.SKIPPED)
        ]
        if not running:
            failed = any(s.state is ServiceState.FAILED for s in orchestrator.supervisors.values())
            orchestrator.sink.event("launcher", "no service is left running")
            return 1 if failed else 0
        changed = asyncio.ensure_future(_any_change(orchestrator))
        stop = asyncio.ensure_future(signals.stop.wait())
        await asyncio.wait({changed, stop}, return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        stop.cancel()
    return signals.exit_code or 0


async def _any_change(orchestrator: Orchestrator) -> None:
    changed = asyncio.Event()
    orchestrator.listeners.append(lambda _: changed.set())
    try:
        await changed.wait()
    finally:
        orchestrator.listeners.pop()


async def _run_command(plan: Plan, command: Sequence[str], signals: _Signals) -> int:
    env = {**os.environ, **plan.env}
    try:
        process = await asyncio.create_subprocess_exec(*command, env=env)
    except OSError as exc:
        print(f"error[LCH-2001]: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    signals.command = process
    code = await process.wait()
    signals.command = None
    return 128 - code if code < 0 else code
