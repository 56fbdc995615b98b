"""The orchestrator of a stack, and the runtime's one front door.

    orchestrator = Orchestrator(plan, sink=sink)
    await orchestrator.start()        # returns when every service is ready or completed
    orchestrator.snapshot()           # a StackStatus: what every interface renders
    await orchestrator.restart_service("api")
    unsubscribe = orchestrator.subscribe(on_change)
    await orchestrator.stop()         # dependents first, independent services in parallel

It starts every service the moment its own dependencies allow, rolls back a failed start, and
stops in reverse dependency order. Its supervisors are its own: the CLI, the control API, the
library, the metrics and hot reload read snapshots and steer services through the methods
below, never through a supervisor. It installs no signal handlers: its caller decides when to
call stop() and kill().
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace

from launcher.core.errors import (
    UnknownService,
)
from launcher.plan.spec import Plan, ProcessSpec
from launcher.runtime import childpath, leftovers
from launcher.runtime.clock import Clock, SystemClock
from launcher.runtime.context import Context, ProbeObserver, ProberLike, ProbeUse
from launcher.runtime.environment import child_environment, launcher_environment
from launcher.runtime.events import Subscribers
from launcher.runtime.history import History, LinesListener
from launcher.runtime.host_process import HostLink, context_of
from launcher.runtime.listeners import Listeners, held_by
from launcher.runtime.output import Sink
from launcher.runtime.probes import Prober, ProbeResult
from launcher.runtime.process import Handle, OnOutput, Reaper, Spawner, adopt, spawn
from launcher.runtime.progress import Progress
from launcher.runtime.readiness import wait_ready, watch_liveness
from launcher.runtime.runstate import RunState
from launcher.runtime.startreport import start_report
from launcher.runtime.states import HEALTHY, LEVELS, ServiceState, StateChange
from launcher.runtime.status import ServiceStatus, StackState, StackStatus
from launcher.runtime.steering import Steering
from launcher.runtime.supervisor import Supervisor
from launcher.runtime.tasks import first

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from pathlib import Path

    from launcher.runtime.firstspawn import FirstSpawns

S = ServiceState
Listener = Callable[[StateChange], None]


class Orchestrator:
    def __init__(
        self,
        plan: Plan,
        *,
        sink: Sink,
        clock: Clock | None = None,
        spawner: Spawner = spawn,
        prober: ProberLike | None = None,
        environ: Mapping[str, str] | None = None,
        keep_going: bool = False,
        state_file: bool = True,
        reaper: bool = True,
        first: FirstSpawns | None = None,
    ) -> None:
        """`first`: the lock, the reaper and the processes `run` started before the runtime was
        imported (launcher/runtime/firstspawn.py), which this orchestrator takes over."""
        self.plan = plan
        self.sink = sink
        self.clock = clock or SystemClock()
        self._first = first
        self.spawner = spawner if first is None else self._adopting(spawner)
        self.environ = dict(os.environ if environ is None else environ)
        self.keep_going = keep_going
        # 48 random bits, as uuid4().hex[:12] gave, without importing uuid on the way to the first spawn.
        self.run_id = first.run_id if first is not None else os.urandom(6).hex()
        self.started_at = time.time()
        self.state = StackState.STARTING
        self.run_state = (
            RunState(plan.root, sink, self.run_id, plan.config_path, lock=first.lock if first else None)
            if state_file
            else None
        )
        self._use_reaper = reaper
        self._history = History()
        self._supervisors: dict[str, Supervisor] = {}
        self._changes: Subscribers[[StateChange]] = Subscribers()
        self._probe_checks: Subscribers[[str, ProbeUse, ProbeResult]] = Subscribers()
        self._prober = prober
        self._own_prober: Prober | None = None
        self._reaper: Reaper | None = None
        self._host: HostLink | None = None
        self._sockets = Listeners()
        self._progress = Progress(sink, self.snapshot)
        self._steering = Steering(plan, self._supervisors, lambda: self.state, self._spec, sink)
        self._port_notes: dict[str, str] = {}
        self._start_clock = self.clock.now()
        self._progressed = asyncio.Event()  # a spawn or a change of state (first_spawns())

    # -- the front door: reading -----------------------------------------------------------

    def snapshot(self) -> StackStatus:
        """The stack now: its state and every service's, in plan order (pending until started)."""
        pending = ServiceStatus.pending
        services = [
            s.status() if (s := self._supervisors.get(spec.name)) else pending(spec)
            for spec in self.plan.specs
        ]
        if self._port_notes:
            notes = self._port_notes
            services = [replace(s, port_note=notes[s.name]) if s.name in notes else s for s in services]
        return StackStatus(
            stack=self.plan.stack,
            state=self.state,
            profile=self.plan.profile,
            mode=self.plan.mode,
            pid=os.getpid(),
            started_at=self.started_at,
            services=tuple(services),
            at=time.time(),
        )

    def output(self, name: str, n: int = 20) -> list[str]:
        """The last `n` lines of a service's output (of every service merged: `merged()`)."""
        self._spec(name)
        return self._history.tail(name, n)

    def merged_output(self, n: int = 100) -> list[tuple[str, str]]:
        return self._history.merged(n)

    def environment(self, name: str | None = None) -> dict[str, str]:
        """The stack's environment (the plan's over the launcher's, as `run -- CMD` gets it),
        or with `name` the one that service's process gets. Without LAUNCHER_RUN, the mark by
        which the reaper ends a stack's processes: a command run with it (`launcher exec`, a
        shell that evaluated `launcher env`) is not the stack's to end."""
        declared = self.plan.env if name is None else self._spec(name).env
        return child_environment(launcher_environment(self.environ, self.plan.python), declared)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every state change (on the loop: it must not block); returns the
        call that unsubscribes it."""
        return self._changes.subscribe(listener)

    def observe_probes(self, observer: ProbeObserver) -> Callable[[], None]:
        """Call `observer` with every probe check; returns the call that unsubscribes it."""
        return self._probe_checks.subscribe(observer)

    def follow_output(self, listener: LinesListener) -> Callable[[], None]:
        """Call `listener(service, lines)` with every batch of output; returns the unsubscribe."""
        return self._history.listeners.subscribe(listener)

    # -- the front door: steering services (launcher/runtime/steering.py) -------------------

    async def start_service(self, name: str) -> None:
        """Start a service that has ended; return once its start is decided and it is ready or
        completed (StartFailed otherwise). One at a time per service."""
        await self._steering.start(name)

    async def stop_service(self, name: str) -> None:
        """Stop a service; it stays stopped (held) until it is started again."""
        await self._steering.stop(name)

    async def restart_service(self, name: str) -> None:
        """Stop a service and start it again; return once it is ready (StartFailed otherwise)
        and the services that declare `restart = true` on it have been restarted too."""
        await self._steering.restart(name)

    async def restart_services(self, names: Sequence[str]) -> dict[str, bool]:
        """Restart `names` (in dependency order, followers included) together; return for each
        whether it became ready (hot reload)."""
        return await self._steering.restart_together(names)

    async def wait_service(self, name: str, timeout: float) -> None:
        """Wait until a service is ready; LauncherError when it cannot be, ReadinessTimeout when
        `timeout` passes first."""
        await self._steering.wait(name, timeout)

    def _spec(self, name: str) -> ProcessSpec:
        try:
            return self.plan.spec(name)
        except KeyError:
            raise UnknownService(name, self.plan.names) from None

    # -- start -------------------------------------------------------------------------------

    async def start(self, *, before_running: Awaitable[object] | None = None) -> None:
        """Start the stack; return when every service is ready or completed.

        On a failed start (unless keep_going) everything already started is stopped again
        and the error of the first service that failed is raised. `before_running` is awaited
        once every service has started, before the stack says it runs: the CLI's control API,
        opened meanwhile (see first_spawns()).
        """
        if self.plan.child_dir is not None:  # launcher's programs for the project's interpreter
            childpath.ensure(self.plan.child_dir)
        self.claim()
        for note in (self.plan.mode_reason, *self.plan.notes):
            if note:
                self.sink.event("launcher", note)
        self._sockets = Listeners.bind(self.plan.specs)
        self._note_moved_ports()
        if self._prober is None:
            # A cmd probe's environment starts where a service's does.
            self._own_prober = self._prober = Prober(launcher_environment(self.environ, self.plan.python))
            await self._own_prober.__aenter__()
        if self._first is not None:
            self._reaper = Reaper(self._first.reaper)  # told of the first processes already
        elif self._use_reaper:
            self._reaper = Reaper.start(self.run_id)
        context = self._context()
        if any(spec.kind == "host" for spec in self.plan.specs):
            self._host = HostLink(self.spawner)
        for spec in self.plan.specs:
            self._supervisors[spec.name] = Supervisor(spec, context_of(spec, context, self._host))
        self._write_state()
        for supervisor in self._supervisors.values():
            supervisor.launch(self._steering.dependencies(supervisor.spec))
        await self._until_started()
        failed = [s for s in self._supervisors.values() if s.state is S.FAILED]
        if failed and not self.keep_going:
            error = start_report(
                [(s.name, s.failure) for s in failed], self.snapshot(), self.plan, self._history.tail
            )
            names = ", ".join(f"'{s.name}'" for s in failed)
            self.sink.event("launcher", f"{names} failed to start: rolling back", level="error")
            await self.stop()
            raise error
        if before_running is not None:
            await before_running
        self.state = StackState.RUNNING
        self._write_state()
        took = self.clock.now() - self._start_clock
        # The shared host is infrastructure: the count is of the configured services.
        services = [s for s in self.snapshot().services if self.plan.spec(s.name).kind != "host"]
        ready = sum(1 for s in services if s.state in HEALTHY)
        self.sink.event("launcher", f"{ready}/{len(services)} services ready in {took:.2f}s", level="ok")

    async def first_spawns(self) -> None:
        """Return once every service without dependencies (but external ones, which are only
        probed) has been spawned or is past its start: what may come a little later (the CLI's
        control API) does not delay the stack's first processes. start() must be under way."""
        first = [s.name for s in self.plan.specs if not s.depends_on and s.kind != "external"]

        def spawned(name: str) -> bool:
            supervisor = self._supervisors.get(name)
            return supervisor is not None and (
                supervisor.handle is not None or supervisor.state not in (S.PENDING, S.WAITING, S.STARTING)
            )

        while not all(spawned(name) for name in first):
            self._progressed.clear()
            await self._progressed.wait()

    async def _until_started(self) -> None:
        """Wait until every service's start is decided, or (unless keep_going) until one has
        failed for good: the rollback then begins at once, not after the others' retries."""
        failed = asyncio.Event()

        def watch(change: StateChange) -> None:
            if change.new is S.FAILED and not self.keep_going:
                failed.set()

        unsubscribe = self._changes.subscribe(watch)
        self._progress.begin()
        try:
            await first(asyncio.gather(*(s.start_over() for s in self._supervisors.values())), failed.wait())
        finally:
            unsubscribe()
            await self._progress.end()

    def _note_moved_ports(self) -> None:
        """Say which automatic ports had to move, and who holds the usual one."""
        for spec in self.plan.specs:
            if spec.moved_from is not None and spec.port is not None:
                note = f"{spec.moved_from} was held{held_by(spec.moved_from) or ' by another program'}"
                self._port_notes[spec.name] = note
                self.sink.event("launcher", f"{note}: {spec.name} got {spec.port}", level="warning")

    def _context(self) -> Context:
        assert self._prober is not None
        return Context(
            spawner=self.spawner,
            prober=self._prober,
            wait_ready=wait_ready,
            watch_liveness=watch_liveness,
            sink=self.sink,
            history=self._history,
            clock=self.clock,
            environ={**launcher_environment(self.environ, self.plan.python), "LAUNCHER_RUN": self.run_id},
            on_change=self._changed,
            on_spawn=self._spawned,
            on_exit=self._exited,
            on_probe=self._probe_checks.tell,
            inherited=lambda name: self._sockets.inherited(self.plan.spec(name)),
            on_restarted=self._steering.restarted,
        )

    def _adopting(self, spawner: Spawner) -> Spawner:
        """`spawner`, but for a spawn that `run` made already (the first processes): that
        process, adopted."""
        first = self._first
        assert first is not None

        async def spawn_or_adopt(
            argv: Sequence[str],
            *,
            cwd: Path,
            env: Mapping[str, str],
            on_output: OnOutput,
            pass_fds: Sequence[int] = (),
        ) -> Handle:
            process = first.take(argv, cwd, env, pass_fds)
            if process is not None:
                return await adopt(process, on_output)
            return await spawner(argv, cwd=cwd, env=env, on_output=on_output, pass_fds=pass_fds)

        return spawn_or_adopt

    # -- events ------------------------------------------------------------------------------

    def _changed(self, change: StateChange) -> None:
        if (
            self._host is not None
            and change.new in (S.FAILED, S.STOPPED)
            and self.plan.spec(change.service).kind == "host"
        ):
            self._host.host_ended()
        if self._progress.active:
            self._progress.draw()
        else:
            text = f"{change.old} -> {change.new}"
            self.sink.event(
                change.service,
                f"{text}: {change.reason}" if change.reason else text,
                level=LEVELS.get(change.new, "info"),
                **{"from": str(change.old), "to": str(change.new), "reason": change.reason},
            )
        self._changes.tell(change)
        self._progressed.set()
        if self.run_state is not None and self.state is not StackState.STOPPED:
            self.run_state.write_soon(self.snapshot)

    def _spawned(self, name: str, handle: Handle) -> None:
        self._progressed.set()
        if self._reaper is not None:
            self._reaper.add(handle)

    def _exited(self, name: str, handle: Handle) -> None:
        if self._reaper is not None:
            self._reaper.remove(handle)

    # -- stop --------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop every service: each after everything that depends on it, in parallel otherwise."""
        self.state = StackState.STOPPING
        await self._steering.scope.aclose()  # no follower restarts while the stack stops
        await self._progress.end()
        for supervisor in self._supervisors.values():
            supervisor.prepare_stop()  # restart policies are off while stopping
        if self.run_state is not None:
            self.run_state.write_soon(self.snapshot)
        dependents: dict[str, list[str]] = {name: [] for name in self._supervisors}
        for supervisor in self._supervisors.values():
            for dep in supervisor.spec.depends_on:
                if dep.name in dependents:
                    dependents[dep.name].append(supervisor.name)
        stopped = {name: asyncio.Event() for name in self._supervisors}

        async def stop_one(name: str) -> None:
            for dependent in dependents[name]:
                await stopped[dependent].wait()
            try:
                await self._supervisors[name].stop(sweep=False)
            except Exception as exc:  # a bug of ours: say it, and stop the others all the same
                self.sink.event(name, f"internal error of the launcher while stopping: {exc!r}")
            finally:
                stopped[name].set()

        try:
            async with asyncio.TaskGroup() as group:
                for name in reversed(list(self._supervisors)):
                    group.create_task(stop_one(name))
        finally:
            await self._release()

    def kill(self) -> None:
        """SIGKILL every service's process group at once (the second Ctrl-C)."""
        for supervisor in self._supervisors.values():
            supervisor.kill()

    async def _release(self) -> None:
        self.state = StackState.STOPPED
        if self._first is not None:
            self._first.discard()  # spawned ahead, never adopted (the start ended first)
        for supervisor in self._supervisors.values():
            await supervisor.aclose()
        self._sockets.close()
        if self._host is not None:
            await self._host.aclose()
        if self._own_prober is not None:
            await self._own_prober.__aexit__(None, None, None)
            self._own_prober = self._prober = None
        # Daemons that left their groups (setsid, double fork) still carry the run's marker.
        note = await leftovers.end_escaped(self.run_id)
        if note:
            self.sink.event("launcher", note)
        if self._reaper is not None:
            await self._reaper.aclose()
            self._reaper = None
        if self.run_state is not None:
            self.run_state.release()

    # -- run state ---------------------------------------------------------------------------

    def claim(self) -> None:
        """Refuse to run twice; reap what a crashed launcher of this project left behind.
        start() does it first; the CLI does it earlier, before it opens the control API."""
        if self.run_state is not None:
            self.run_state.claim()

    def _write_state(self) -> None:
        if self.run_state is not None:
            self.run_state.write(self.snapshot())
