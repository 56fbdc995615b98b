"""The shared-mode host: `python -m launcher.child.shared_host --units JSON` (in the project's
interpreter, `python CHILD_DIR shared_host --units JSON`: see launcher/plan/childside.py).

One process for the stack's apps and tasks (DESIGN.md 2). It serves every app at the root of its
own port, with one uvicorn server over the sockets the launcher bound for them (one per app,
$LAUNCHER_LISTEN_FD_<port>), and runs every task as a background task. It starts and stops
nothing by itself: the launcher tells it, over the socket named by LAUNCHER_CONTROL_FD, one JSON
line per command:

    launcher -> host   {"op": "start", "unit": NAME}
                       {"op": "stop", "unit": NAME}
                       {"op": "shutdown"}                  (also: the socket closed)
    host -> launcher   {"event": "serving"}                (the server is up)
                       {"event": "started", "unit": NAME}  (lifespan done / task running, or
                                                            for one marked reports_ready, once
                                                            it called launcher.ready())
                       {"event": "exited", "unit": NAME, "code": N}

Exit codes of a hosted service, as its own process would have had them: 0 it returned or was
stopped, 1 it raised, 2 it could not be loaded (LCH-2005), 3 its lifespan startup failed (as
uvicorn's). The host owns no signals (uvicorn's handlers are not installed): the launcher stops
it through the socket, then by signal like any process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import os
import socket
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from . import tagged_output as hostio
from . import task_ready as taskready
from . import task_runner as runner
from .router import Lifespan, LifespanFailed, Route, Router
from .units import REQUEST_GRACE, HostedUnit, decode_units, listen_variable

Report = Callable[[dict[str, Any]], None]


class Hosted:
    """One hosted service: its loading, start and stop inside the host."""

    def __init__(self, unit: HostedUnit, router: Router, report: Report) -> None:
        self.unit = unit
        self.report = report
        self.context = contextvars.copy_context()
        self.context.run(hostio.current.set, unit.name)
        self.context.run(taskready.notifier.set, self._ready)
        self.target: Any = None
        # An app's port answers from the start: 503 until the app is loaded and started.
        self.route = Route(unit.name, unit.port) if unit.kind == "app" and unit.port is not None else None
        if self.route is not None:
            router.add(self.route)
        self.lifespan: Lifespan | None = None
        self.task: asyncio.Task[Any] | None = None
        self.running = False
        self._awaiting_ready = False  # a task marked reports_ready that has not called ready()
        self._op: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self.running or (self._op is not None and not self._op.done())

    def start(self) -> asyncio.Task[None]:
        return self._after(self._start, cancel=False)

    def stop(self) -> asyncio.Task[None]:
        # A stop cancels a start still under way (a lifespan startup that hangs).
        return self._after(self._stop, cancel=True)

    def _after(self, step: Callable[[], Any], *, cancel: bool) -> asyncio.Task[None]:
        """Run `step` once the previous operation is over, in this service's context, so that
        what it prints is tagged with its name."""
        previous = self._op

        async def run() -> None:
            if previous is not None:
                if cancel:
                    previous.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await previous
            await step()

        # A task started in this context runs in a copy of it (create_task's `context=` is
        # Python 3.11's): a copy is all it needs, since nothing it sets is read back here.
        self._op = self.context.run(asyncio.ensure_future, run())
        return self._op

    def _exited(self, code: int) -> None:
        self.running = False
        self.report({"event": "exited", "unit": self.unit.name, "code": code})

    async def _start(self) -> None:
        if self.running:
            self.report({"event": "started", "unit": self.unit.name})
            return
        try:
            self._load()
        except runner.LoadError as exc:
            print(f"error[LCH-2005]: {exc}", file=sys.stderr)
            self._exited(2)
            return
        except Exception:
            traceback.print_exc()
            print(
                f"error[LCH-2005]: {self.unit.kind} {self.unit.target!r}: importing it raised",
                file=sys.stderr,
            )
            self._exited(2)
            return
        if self.unit.kind == "app":
            await self._start_app()
        else:
            self._start_task()

    def _load(self) -> None:
        if self.target is not None:
            return
        if self.unit.cwd not in sys.path:
            sys.path.insert(0, self.unit.cwd)
        if self.unit.kind == "task":
            self.target = runner.load(self.unit.target)
            return
        app = runner.resolve(self.unit.target, "app")
        if not callable(app):
            raise runner.LoadError(f"app {self.unit.target!r} is not an ASGI application")
        if self.route is None:
            raise runner.LoadError(f"app {self.unit.target!r} has no port to be served on")
        self.target = self.route.app = app

    async def _start_app(self) -> None:
        route, app = self.route, self.target
        assert route is not None
        route.state = {}  # a fresh lifespan state for every start
        lifespan = Lifespan(app, route.state)
        try:
            await lifespan.startup()
        except LifespanFailed as exc:
            print(str(exc).rstrip("\n"), file=sys.stderr)
            print(f"lifespan startup of '{self.unit.name}' failed", file=sys.stderr)
            self._exited(3)
            return
        self.lifespan = lifespan
        route.serving = self.running = True
        self.report({"event": "started", "unit": self.unit.name})

    def _start_task(self) -> None:
        task = asyncio.ensure_future(self.target())
        self.task = task
        self.running = True
        task.add_done_callback(self._task_ended)
        self._awaiting_ready = taskready.reports(self.target)
        if not self._awaiting_ready:
            self.report({"event": "started", "unit": self.unit.name})

    def _ready(self) -> None:
        """`launcher.ready()`, called by this task."""
        if self._awaiting_ready and self.task is not None:
            self._awaiting_ready = False
            self.report({"event": "started", "unit": self.unit.name})

    def _task_ended(self, task: asyncio.Task[Any]) -> None:
        if task is not self.task:
            return
        self.task = None
        self._awaiting_ready = False
        if task.cancelled():
            self._exited(0)
            return
        error = task.exception()
        if error is not None:
            self.context.run(traceback.print_exception, type(error), error, error.__traceback__)
        self._exited(0 if error is None else 1)

    async def _stop(self) -> None:
        timeout = self.unit.stop_timeout
        if self.route is not None and self.lifespan is not None:
            self.route.serving = False
            lifespan, self.lifespan = self.lifespan, None
            try:
                await lifespan.shutdown(timeout)
            except LifespanFailed as exc:
                print(str(exc).rstrip("\n"), file=sys.stderr)
                self._exited(1)
                return
            self._exited(0)
            return
        task = self.task
        if task is None:
            self._exited(0)
            return
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)
        if not task.done():
            print(f"did not end within {timeout:g}s of being cancelled; left behind", file=sys.stderr)
            self.task = None
            self._exited(0)


class _Server:
    """uvicorn's server over the launcher's sockets, without its signal handlers (those of
    uvicorn 0.29 and later, installed by capture_signals, and of earlier ones, by
    install_signal_handlers)."""

    def __init__(self, router: Router, sockets: list[socket.socket]) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

            def install_signal_handlers(self) -> None:
                pass

            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                up.set()

        up = asyncio.Event()
        self.up = up
        config = uvicorn.Config(router, lifespan="off", timeout_graceful_shutdown=REQUEST_GRACE)
        self.server = Server(config)
        self.task: asyncio.Task[None] = asyncio.ensure_future(self.server.serve(sockets=sockets))

    async def started(self) -> bool:
        up = asyncio.ensure_future(self.up.wait())
        await asyncio.wait({up, self.task}, return_when=asyncio.FIRST_COMPLETED)
        up.cancel()
        return self.up.is_set()

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


class Host:
    def __init__(
        self,
        units: list[HostedUnit],
        sockets: list[socket.socket],
        control: socket.socket,
        stdout: hostio.TaggedStream,
    ) -> None:
        self.router = Router()
        self.sockets = sockets
        self.control = control
        self.stdout = stdout
        self.writer: asyncio.StreamWriter | None = None
        self.hosted = {u.name: Hosted(u, self.router, self._report) for u in units}

    def _report(self, message: dict[str, Any]) -> None:
        # What a service printed before an event (its lifespan's lines before "started") is
        # on its way to the launcher before the event is.
        self.stdout.flush_batch()
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(json.dumps(message).encode() + b"\n")

    async def run(self) -> int:
        # What the apps and tasks print (uvicorn's access log: a line per request) goes out in
        # batches; errors (stderr) at once.
        self.stdout.batch_on(asyncio.get_running_loop())
        try:
            return await self._serve()
        finally:
            self.stdout.batch_on(None)

    async def _serve(self) -> int:
        reader, self.writer = await asyncio.open_connection(sock=self.control)
        server = _Server(self.router, self.sockets) if self.sockets else None
        if server is not None and not await server.started():
            return 1
        self._report({"event": "serving"})
        async for line in reader:
            command = json.loads(line)
            if command.get("op") == "shutdown":
                break
            hosted = self.hosted.get(command.get("unit", ""))
            if hosted is not None and command.get("op") == "start":
                hosted.start()
            elif hosted is not None and command.get("op") == "stop":
                hosted.stop()
        await self._stop_all()
        if server is not None:
            await server.stop()
        self.writer.close()
        return 0

    async def _stop_all(self) -> None:
        """Whatever still runs (the launcher went away): stopped in reverse dependency order."""
        for hosted in reversed(list(self.hosted.values())):
            if hosted.busy:
                await hosted.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shared_host")
    parser.add_argument("--units", required=True, help="the hosted services, as JSON")
    args = parser.parse_args(argv)
    control = os.environ.get("LAUNCHER_CONTROL_FD")
    if control is None:
        print("error: the shared host runs under the launcher (launcher run --mode shared)", file=sys.stderr)
        return 2
    sys.stdout = stdout = hostio.TaggedStream(sys.stdout)
    sys.stderr = hostio.TaggedStream(sys.stderr)
    try:
        units = decode_units(args.units)
        ports = [u.port for u in units if u.port is not None]
        missing = [listen_variable(p) for p in ports if listen_variable(p) not in os.environ]
        if missing:
            print(f"error: the launcher passed no socket in {', '.join(missing)}", file=sys.stderr)
            return 2
        sockets = [socket.socket(fileno=int(os.environ[listen_variable(p)])) for p in ports]
        host = Host(units, sockets, socket.socket(fileno=int(control)), stdout)
        return asyncio.run(host.run())
    finally:
        sys.stdout.close()
        sys.stderr.close()


if __name__ == "__main__":
    raise SystemExit(main())
