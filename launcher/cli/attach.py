"""`launcher attach`: a live dashboard of this project's running stack, in the terminal
(launcher/tui/). Quitting it leaves the stack running. `launcher run --tui` starts the stack
with one in front (Front, below): quitting that one stops the stack.

It needs a terminal (`attach | cat`: exit 2) of MIN_SIZE at least (exit 1), and a running stack
(LCH-4001, exit 1); each is said in one line, before textual is even imported.
"""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from pathlib import Path

    from launcher.control.client import StackClient, StackJson
    from launcher.core.errors import LauncherError

# The columns and lines the dashboard needs (its table, two lines of logs, the footer).
MIN_SIZE = (60, 16)
NO_TERMINAL = 2  # as a usage error: run it in a terminal
FRONT_GRACE = 5.0  # seconds the dashboard of `run --tui` may take to end once told to
NICENESS = 19  # the lowest: it yields the CPU to anything else that wants it


EXAMPLES = """\
examples:
  launcher attach                   the dashboard of this project's running stack
  launcher up -d && launcher attach start the stack in the background, then watch it
  launcher run --tui                start the stack with the dashboard in front
keys (also in its footer): r restart, s start, x stop the selected service; enter its logs,
  a all logs; / search, f filter, p pause, t timestamps; 1 logs, 2 events, 3 dependencies;
  z zoom; q quit (the stack goes on)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Set by `run --tui` on the dashboard it starts: the API socket of that launcher (its state
    # file may not name it yet), and that quitting stops the stack.
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--front", action="store_true", help=argparse.SUPPRESS)


def main(args: argparse.Namespace) -> int:
    problem = terminal_problem("launcher attach")
    if problem is not None:
        message, code = problem
        print(f"error: {message}", file=sys.stderr)
        return code
    try:
        stack, root, socket = _stack(args)
    except Exception as exc:
        from launcher.core.errors import LauncherError

        if not isinstance(exc, LauncherError):
            raise
        print(_one_line(exc), file=sys.stderr)
        return exc.exit_code
    from launcher.tui.app import Dashboard, FrontDashboard
    from launcher.tui.source import ApiSource

    if args.front:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher in front of it takes Ctrl-C
    # Below the stack it shows: on a busy machine, the services and the launcher come first,
    # and the dashboard shows less often (it skips lines, never holds them up).
    os.nice(NICENESS)
    kind = FrontDashboard if args.front else Dashboard
    app = kind(ApiSource(socket), stack, project=root)
    app.run()
    if app.farewell:
        print(app.farewell, file=sys.stderr)
    return app.return_code or 0


def terminal_problem(command: str) -> tuple[str, int] | None:
    """Why the dashboard cannot run here, and the exit code; None when it can."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return f"{command} needs a terminal (its input or output is not one)", NO_TERMINAL
    columns, lines = os.get_terminal_size(sys.stdout.fileno())
    if columns < MIN_SIZE[0] or lines < MIN_SIZE[1]:
        need = f"{MIN_SIZE[0]}x{MIN_SIZE[1]}"
        return f"the terminal is too small for {command}: {columns}x{lines}, it needs {need}", 1
    return None


def _stack(args: argparse.Namespace) -> tuple[StackJson, str, str]:
    """The stack's status, its project's directory and its API socket."""
    from launcher.control import client

    running: StackClient
    if args.api:  # `run --tui`'s own stack
        root = client.project_root(args.file)
        running = client.StackClient(root, {"api": args.api, "pid": os.getppid()})
    else:
        running = client.connect(args.file)
    stack: StackJson = running.get("/v1/status")
    assert running.socket is not None  # the request above went through it
    return stack, running.root, running.socket


def _one_line(error: LauncherError) -> str:
    from launcher.core.codes import Code
    from launcher.core.errors import NoStackRunning

    if isinstance(error, NoStackRunning):
        note = f"{error.note}\n" if error.note else ""  # a dead launcher's leftovers, just ended
        return (
            f"{note}error[{Code.NO_STACK_RUNNING}]: no stack of this project is running "
            f"({error.state_file}); start one with `launcher up -d` or `launcher run`"
        )
    return str(error).splitlines()[0]


class Front:
    """The dashboard of `run --tui`: `launcher attach --front` in a process of its own on this
    terminal, so that a slow or paused dashboard never holds up the stack it shows.
    `on_close(code)` is called once it has ended by itself (130: Ctrl-C in it)."""

    def __init__(self, process: asyncio.subprocess.Process, on_close: Callable[[int], None]) -> None:
        import asyncio

        self.process = process
        self._watch = asyncio.ensure_future(self._wait(on_close))

    @classmethod
    async def start(cls, socket: Path, root: Path, on_close: Callable[[int], None]) -> Front:
        import asyncio

        argv = [sys.executable, "-m", "launcher", "attach", "--api", str(socket), "--front"]
        return cls(await asyncio.create_subprocess_exec(*argv, cwd=root), on_close)

    async def _wait(self, on_close: Callable[[int], None]) -> None:
        on_close(await self.process.wait())

    async def close(self) -> None:
        """End it (SIGTERM: it gives the terminal back) and wait for it."""
        import asyncio
        import contextlib

        self._watch.cancel()
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), FRONT_GRACE)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
