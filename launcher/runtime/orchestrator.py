"""The orchestrator of a stack: start every service the moment its own dependencies allow,
roll back a failed start, and stop in reverse dependency order.

    orchestrator = Orchestrator(plan, sink=sink)
    await orchestrator.start()        # returns when every service is ready or completed
    ...                               # services run; restarts follow their policies
    await orchestrator.stop()         # dependents first, independent services in parallel

The orchestrator installs no signal handlers: the CLI (or the library's caller) decides when to
call stop() and kill().
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil

from launcher.core.diagnostics import Diagnostic
from launcher.core.errors import (
    DependencyFailed,
    LauncherError,
    PortTaken,
    ReadinessTimeout,
    SpawnError,
    StackAlreadyRunning,
    StartFailed,
)
from launcher.plan import shared_mode as hosting
from launcher.plan.spec import Plan, ProcessSpec
from launcher.runtime import leftovers, statefile
from launcher.runtime.clock import Clock, SystemClock
from launcher.runtime.history import History
from launcher.runtime.host_process import HostLink
from launcher.runtime.output import ProgressRow, Sink
from launcher.runtime.probes import Prober, ProbeResult
from launcher.runtime.process import Handle, Reaper, spawn
from launcher.runtime.readiness import wait_ready, watch_liveness
from launcher.runtime.sockets import bind_port, port_holder, port_is_free
from launcher.runtime.states import ServiceState, StateChange
from launcher.runtime.supervisor import Context, ProbeObserver, ProbeUse, Spawner, Supervisor

S = ServiceState
PROGRESS_TICK = 0.25  # seconds between redraws of the live progress block
# State changes come in bursts (a level of services turning ready, then its dependents
# starting): the state file is rewritten at most once per this many seconds, off the path from
# one service's readiness to its dependents' spawn. Each write costs about a millisecond and more
# (an ext4 rename over a file flushes its data), so writing on every change delayed each level
# by several. start() and stop() end with a write of their own; the reaper, not this file,
# covers a launcher killed in between.
STATE_WRITE_DELAY = 0.05


class Orchestrator:
    def __init__(
        self,
        plan: Plan,
        *,
        sink: Sink,
        clock: Clock | None = None,
        spawner: Spawner = spawn,
        environ: Mapping[str, str] | None = None,
        keep_going: bool = False,
        state_file: bool = True,
        reaper: bool = True,
        on_change: Callable[[StateChange], None] | None = None,
    ) -> None:
        self.plan = plan
        self.sink = sink
        self.clock = clock or SystemClock()
        self.spawner = spawner
        self.environ = dict(os.environ if environ is None else environ)
        self.keep_going = keep_going
        self.use_state_file = state_file
        self.use_reaper = reaper
        self.listeners: list[Callable[[StateChange], None]] = [on_change] if on_change else []
        self.probe_listeners: list[ProbeObserver] = []  # told of every probe check (the API)
        self.run_id = uuid.uuid4().hex[:12]
        self.history = History()
        self.supervisors: dict[str, Supervisor] = {}
        self.started_at = time.time()
        self.state = "starting"
        self.api: str | None = None  # the control API's unix socket, for the state file
        self._sockets: list[socket.socket] = []
        self._prober: Prober | None = None
        self._reaper: Reaper | None = None
        self._host: HostLink | None = None
        self._state_write: asyncio.TimerHandle | None = None
        self._state_unwritable = False  # said once: the state file could not be written
        self._lock: int | None = None  # the project's launcher lock (statefile.lock)
        self._progress = True
        self._start_clock = self.clock.now()
        self._me = psutil.Process()

    # -- start ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the stack; return when every service is ready or completed.

        On a failed start (unless keep_going) everything already started is stopped again
        and the error of the first service that failed is raised.
        """
        self.claim()
        if self.plan.mode_reason:
            self.sink.event("launcher", self.plan.mode_reason)
        for note in self.plan.notes:
            self.sink.event("launcher", note)
        specs = self.plan.specs
        argv_fds = self._bind_ports(specs)
        self._prober = Prober()
        await self._prober.__aenter__()
        if self.use_reaper:
            self._reaper = Reaper.start(self.run_id)
        context = Context(
            spawner=self.spawner,
            prober=self._prober,
            wait_ready=wait_ready,
            watch_liveness=watch_liveness,
            sink=self.sink,
            history=self.history,
            clock=self.clock,
            environ={**self._base_env(), "LAUNCHER_RUN": self.run_id},
            on_change=self._changed,
            on_spawn=self._spawned,
            on_exit=self._exited,
            on_probe=self._probed,
        )
        for spec in specs:
            argv, fds = argv_fds.get(spec.name, (None, ()))
            ctx = self._context_of(spec, context)
            self.supervisors[spec.name] = Supervisor(spec, ctx, argv=argv, pass_fds=fds)
        self._write_state()
        for spec in specs:
            dependencies = [
                (self.supervisors[d.name], d.condition) for d in spec.depends_on if d.name in self.supervisors
            ]
            self.supervisors[spec.name].launch(dependencies)
        ticker = asyncio.ensure_future(self._tick_progress())
        try:
            await asyncio.gather(*(s.start_over() for s in self.supervisors.values()))
        finally:
            ticker.cancel()
        self._progress = False
        self.sink.end_progress()
        failed = [s for s in self.supervisors.values() if s.state is S.FAILED]
        if failed and not self.keep_going:
            first = failed[0]
            self.sink.event("launcher", f"'{first.name}' failed to start: rolling back")
            await self.stop()
            raise self._start_error(first)
        self.state = "running"
        self._write_state()
        ready = sum(1 for s in self.supervisors.values() if s.state in (S.READY, S.COMPLETED))
        self.sink.event(
            "launcher",
            f"{ready}/{len(self.supervisors)} services ready in {self.clock.now() - self._start_clock:.2f}s",
        )

    def _context_of(self, spec: ProcessSpec, context: Context) -> Context:
        """Shared mode: the host is spawned with its control socket, and the hosted services
        are started through it (they are no processes the reaper should know of)."""
        if spec.kind == "host":
            self._host = HostLink(self.spawner)
            return dataclasses.replace(context, spawner=self._host.spawn_host)
        if spec.host is not None and self._host is not None:
            return dataclasses.replace(
                context,
                spawner=self._host.unit_spawner(spec.name, spec.start_timeout),
                on_spawn=_ignore,
                on_exit=_ignore,
            )
        return context

    def _start_error(self, supervisor: Supervisor) -> LauncherError:
        errors = {"spawn": SpawnError, "timeout": ReadinessTimeout}
        error = errors.get(supervisor.failure or "exit", StartFailed)
        return error(supervisor.name, f"failed to start: {supervisor.reason}", supervisor.output(20))

    def skipped_error(self, name: str) -> DependencyFailed:
        supervisor = self.supervisors[name]
        return DependencyFailed(name, f"was skipped: {supervisor.reason}")

    def _base_env(self) -> dict[str, str]:
        env = dict(self.environ)
        # Commands that say `python` mean the interpreter running the launcher (as npm puts
        # node_modules/.bin first): put its directory first on PATH.
        bindir = str(Path(sys.executable).parent)
        path = env.get("PATH", "")
        if path.split(os.pathsep)[0] != bindir:
            env["PATH"] = bindir + (os.pathsep + path if path else "")
        return env

    def _bind_ports(
        self, specs: tuple[ProcessSpec, ...]
    ) -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
        """Bind every app's port now (passed to uvicorn as --fd) and check the others are free."""
        rewritten: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {}
        try:
            for spec in specs:
                if spec.port is None or spec.kind == "external" or spec.host is not None:
                    continue  # a hosted app answers on the host's socket
                if spec.kind in ("app", "host"):
                    try:
                        sock = bind_port(spec.port)
                    except OSError:
                        raise self._port_taken(spec) from None
                    self._sockets.append(sock)
                    rewritten[spec.name] = (_with_fd(spec.argv, sock.fileno()), (sock.fileno(),))
                elif not port_is_free(spec.port):
                    raise self._port_taken(spec)
        except LauncherError:
            self._close_sockets()
            raise
        return rewritten

    def _port_taken(self, spec: ProcessSpec) -> PortTaken:
        holder = port_holder(spec.port) if spec.port else None
        who = f" by pid {holder[0]} ({holder[1]})" if holder else ""
        return PortTaken(
            [
                Diagnostic(
                    "LCH-3002",
                    f"port {spec.port} of service '{spec.name}' is already in use{who}",
                    None,
                    'stop that program, or give the service another port (or port = "auto")',
                )
            ],
            service=spec.name,
        )

    # -- events --------------------------------------------------------------------------

    def _changed(self, change: StateChange) -> None:
        if change.service == hosting.HOST and self._host is not None and change.new in (S.FAILED, S.STOPPED):
            self._host.host_ended()
        if self._progress:
            self.sink.progress(self._rows())
        else:
            text = f"{change.old} -> {change.new}"
            self.sink.event(change.service, f"{text}: {change.reason}" if change.reason else text)
        for listener in self.listeners:
            listener(change)
        self._write_state_soon()

    async def _tick_progress(self) -> None:
        """Redraw the progress block while starting, so that its seconds count up between
        state changes (real time: it is for a person watching; the clock may be a fake)."""
        while self._progress:
            await asyncio.sleep(PROGRESS_TICK)
            self.sink.progress(self._rows())

    def _rows(self) -> list[ProgressRow]:
        return [
            ProgressRow(s.name, str(s.state), _elapsed(s, time.time()), s.reason)
            for s in self.supervisors.values()
        ]

    def _probed(self, service: str, use: ProbeUse, result: ProbeResult) -> None:
        for listener in self.probe_listeners:
            listener(service, use, result)

    def _spawned(self, name: str, handle: Handle) -> None:
        if self._reaper is not None:
            self._reaper.add(handle)

    def _exited(self, name: str, handle: Handle) -> None:
        if self._reaper is not None:
            self._reaper.remove(handle)

    # -- stop ----------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop every service: each after everything that depends on it, in parallel otherwise."""
        self.state = "stopping"
        self._progress = False
        for supervisor in self.supervisors.values():
            supervisor.prepare_stop()  # restart policies are off while stopping
        self._write_state_soon()
        dependents: dict[str, list[str]] = {name: [] for name in self.supervisors}
        for supervisor in self.supervisors.values():
            for dep in supervisor.spec.depends_on:
                if dep.name in dependents:
                    dependents[dep.name].append(supervisor.name)
        stopping: dict[str, asyncio.Task[None]] = {}

        async def stop_one(name: str) -> None:
            await asyncio.gather(*(stopping[d] for d in dependents[name]))
            await self.supervisors[name].stop(sweep=False)

        for name in reversed(list(self.supervisors)):
            stopping[name] = asyncio.ensure_future(stop_one(name))
        try:
            await asyncio.gather(*stopping.values())
        finally:
            await self._release()

    def kill(self) -> None:
        """SIGKILL every service's process group at once (the second Ctrl-C)."""
        for supervisor in self.supervisors.values():
            supervisor.kill()

    async def _release(self) -> None:
        self.state = "stopped"
        self._cancel_state_write()
        self._close_sockets()
        if self._host is not None:
            await self._host.aclose()
        if self._prober is not None:
            await self._prober.__aexit__(None, None, None)
            self._prober = None
        # Daemons that left their groups (setsid, double fork) still carry the run's marker.
        note = await leftovers.end_escaped(self.run_id)
        if note:
            self.sink.event("launcher", note)
        if self._reaper is not None:
            await self._reaper.aclose()
            self._reaper = None
        if self.use_state_file:
            statefile.remove(self.plan.root)
        if self._lock is not None:
            os.close(self._lock)  # last: the next launcher may start once the state is gone
            self._lock = None

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()

    # -- state file ----------------------------------------------------------------------

    def claim(self) -> None:
        """Refuse to run twice; reap what a crashed launcher of this project left behind.
        start() does it first; the CLI does it earlier, before it opens the control API."""
        if not self.use_state_file or self._lock is not None:
            return
        self._lock = statefile.lock(self.plan.root)
        previous = statefile.read(self.plan.root)
        if self._lock is None:
            raise StackAlreadyRunning(
                statefile.state_dir(self.plan.root) / statefile.STATE_FILE, previous.pid if previous else None
            )
        if previous is not None:
            self.sink.event("launcher", leftovers.reap_dead_stack(self.plan.root, previous))

    def record(self) -> statefile.StackRecord:
        services = []
        for s in self.supervisors.values():
            handle = s.handle
            alive = handle is not None and handle.returncode is None
            services.append(
                statefile.ServiceRecord(
                    name=s.name,
                    state=str(s.state),
                    pid=handle.pid if alive and handle else None,
                    pgid=handle.pgid if alive and handle else None,
                    create_time=handle.create_time if alive and handle else None,
                    port=s.spec.port,
                    url=s.spec.url,
                    restarts=s.restarts,
                    exit_code=s.exit_code,
                    started_at=s.started_at,
                    ready_at=s.ready_at,
                )
            )
        return statefile.StackRecord(
            stack=self.plan.stack,
            state=self.state,
            pid=os.getpid(),
            create_time=self._me.create_time(),
            run_id=self.run_id,
            profile=self.plan.profile,
            mode=self.plan.mode,
            started_at=self.started_at,
            api=self.api,
            services=services,
        )

    def _write_state(self) -> None:
        """Write the state file now (and drop a pending delayed write: this one covers it)."""
        self._cancel_state_write()
        if self.use_state_file and self.state != "stopped":
            try:
                statefile.write(self.plan.root, self.record())
            except OSError as exc:
                # The stack runs on; but `status` and the next run's clean-up after a crash
                # need this file, so say once that it is missing.
                if not self._state_unwritable:
                    self._state_unwritable = True
                    self.sink.event(
                        "launcher",
                        f"cannot write {statefile.state_dir(self.plan.root) / statefile.STATE_FILE}: "
                        f"{exc.strerror or exc}; `launcher status` will not find this stack",
                    )
            else:
                self._state_unwritable = False

    def _write_state_soon(self) -> None:
        """Write the state file within STATE_WRITE_DELAY, once for every change until then."""
        if self._state_write is None and self.use_state_file and self.state != "stopped":
            loop = asyncio.get_running_loop()
            self._state_write = loop.call_later(STATE_WRITE_DELAY, self._write_state)

    def _cancel_state_write(self) -> None:
        if self._state_write is not None:
            self._state_write.cancel()
            self._state_write = None


def _elapsed(supervisor: Supervisor, now: float) -> float:
    """Seconds shown beside a service while the stack starts: counting up while it starts,
    then frozen at the time it took to become ready (as docker compose shows them)."""
    started, ready = supervisor.started_at, supervisor.ready_at
    if started is None:
        return 0.0
    if supervisor.state is S.READY and ready is not None and ready >= started:
        return ready - started
    return now - started if supervisor.state.running else 0.0


def _ignore(name: str, handle: Handle) -> None:
    pass


def _with_fd(argv: tuple[str, ...], fd: int) -> tuple[str, ...]:
    """uvicorn argv with `--host H --port P` replaced by `--fd N` (the socket we bound)."""
    out: list[str] = []
    skip = 0
    for word in argv:
        if skip:
            skip -= 1
            continue
        if word in ("--host", "--port"):
            skip = 1
            continue
        out.append(word)
    module_at = out.index("uvicorn") + 1 if "uvicorn" in out else len(out)
    return (*out[:module_at], "--fd", str(fd), *out[module_at:])
