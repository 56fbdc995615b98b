"""The supervisor of one service: wait for its dependencies, start it (with retries), keep it
running by its restart policy, and stop it.

    run():  WAITING -> (dependencies met) -> attempt: STARTING -> READY | COMPLETED
                                             failed attempt -> BACKOFF -> STARTING ... -> FAILED
            READY -> exit -> policy: restart (BACKOFF -> attempt) | STOPPED | FAILED
    stop(): cancels run(), then stop signal to the process group, SIGKILL after stop_timeout.

Supervisors are the orchestrator's: nothing outside the runtime holds one. One start attempt is
launcher/runtime/attempt.py's; the decisions after an exit are launcher/runtime/policy.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
from collections.abc import Sequence

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from launcher.core.vocabulary import Condition
from launcher.plan.spec import ProcessSpec
from launcher.runtime import leftovers
from launcher.runtime.attempt import Attempt, AttemptFailed, Failure
from launcher.runtime.context import Context, ObservedProber, ProberLike, ProbeUse
from launcher.runtime.policy import RestartBudget, after_exit, backoff_wait, restart_delay
from launcher.runtime.probes import LogWatch, ProbeResult
from launcher.runtime.process import Handle
from launcher.runtime.states import ENDED, MEETS, ServiceState, StateChange, check_transition
from launcher.runtime.status import ProbeReport, ServiceStatus
from launcher.runtime.tasks import TaskScope, first

S = ServiceState


class Supervisor:
    def __init__(self, spec: ProcessSpec, ctx: Context) -> None:
        self.spec = spec
        self.name = spec.name
        self.ctx = ctx
        self.state = S.PENDING
        self.reason = ""
        self.handle: Handle | None = None
        self.log = LogWatch()
        self.restarts = 0
        self.exit_code: int | None = None
        self.started_at: float | None = None
        self.ready_at: float | None = None
        self.last_probe: ProbeReport | None = None
        self.budget = RestartBudget(spec.max_restarts, spec.restart_window)
        self._changed = asyncio.Event()
        self._scope = TaskScope()
        self._task: asyncio.Task[None] | None = None
        self._stop_op: asyncio.Task[None] | None = None
        self._stopping = False
        # Stopped on request (the control API, the library, a reload) rather than by itself: a
        # `run` whose services have all ended keeps going while one of them is held for a start.
        self.held = False
        self._killed = False  # kill() was called: stop() gives no grace
        self._start_over = asyncio.Event()
        self.failure: Failure | None = None  # how the last start failed
        self.crash: BaseException | None = None  # a bug of ours that ended run()

    # -- state ---------------------------------------------------------------------------

    def set_state(self, new: ServiceState, reason: str = "", *, at: float | None = None) -> None:
        """Make a legal transition and tell everyone; `at`: its wall-clock time (default: now)."""
        old = self.state
        check_transition(self.name, old, new)
        at = time.time() if at is None else at
        self.state, self.reason = new, reason
        if new is S.READY:
            self.ready_at = at
        self.ctx.on_change(StateChange(self.name, old, new, at, reason))
        self._notify()

    def _notify(self) -> None:
        # Wake every waiter, then arm a fresh event: an event left set would turn the waits
        # of reached() and settled() into busy loops that starve the event loop.
        self._changed.set()
        self._changed = asyncio.Event()

    def status(self) -> ServiceStatus:
        handle = self.handle
        alive = handle is not None and handle.returncode is None
        return ServiceStatus(
            name=self.name,
            state=self.state,
            pid=handle.pid if alive and handle else None,
            port=self.spec.port,
            url=self.spec.url,
            restarts=self.restarts,
            exit_code=self.exit_code,
            started_at=self.started_at,
            ready_at=self.ready_at,
            reason=self.reason,
            # A stopped service has no probe answer that still means anything.
            last_probe=self.last_probe if self.state.running or self.state is S.BACKOFF else None,
            held=self.held,
            pgid=handle.pgid if alive and handle else None,
            create_time=handle.create_time if alive and handle else None,
        )

    @property
    def idle(self) -> bool:
        """Nothing is running it, nor about to (no start, retry or restart under way)."""
        return self._task is None or self._task.done()

    async def reached(self, condition: Condition) -> bool:
        """Wait until this service meets `condition`; False if it never will (failed, skipped)."""
        wanted = MEETS[condition]
        while True:
            if self.crash is not None:
                raise self.crash
            if self.state in wanted:
                return True
            if self.state in (S.FAILED, S.SKIPPED) or (
                self.state is S.STOPPED and (self._stopping or self.idle)
            ):
                return False
            await self._changed.wait()

    async def settled(self) -> ServiceState:
        """Wait until starting is over for this service: ready, completed, failed, skipped or stopped."""
        while not self.state.settled:
            if self.crash is not None:
                raise self.crash
            await self._changed.wait()
        return self.state

    async def start_over(self) -> ServiceState:
        """Wait until its start is decided: like settled(), and for a service without a probe
        also past its first second (an exit then is still a failed start, DESIGN.md 10)."""
        await self._start_over.wait()
        if self.crash is not None:
            raise self.crash
        return self.state

    def output(self, n: int = 20) -> list[str]:
        return self.ctx.history.tail(self.name, n)

    def prober(self, use: ProbeUse) -> ProberLike:
        return ObservedProber(self.ctx.prober, functools.partial(self._probed, use))

    def _probed(self, use: ProbeUse, result: ProbeResult) -> None:
        self.record_probe(result)
        self.ctx.on_probe(self.name, use, result)

    def record_probe(self, result: ProbeResult, at: float | None = None) -> None:
        self.last_probe = ProbeReport(result.ok, result.detail, result.latency, at or time.time())

    def ready_by(self, result: ProbeResult) -> None:
        """Ready, as the probe's `result` says (kept as its last probe, at the same moment)."""
        now = time.time()
        self.record_probe(result, now)
        self.set_state(S.READY, result.detail, at=now)

    # -- life ----------------------------------------------------------------------------

    def launch(self, dependencies: Sequence[tuple[Supervisor, Condition]]) -> None:
        self._stopping = False
        self.held = False
        self._killed = False
        self._start_over = asyncio.Event()
        self._task = self._scope.spawn(self._run(dependencies), on_done=self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        # An exception here is a bug of the launcher: keep it, so that whoever waits on this
        # service raises it instead of waiting forever for a state that will never come.
        if not task.cancelled() and task.exception() is not None:
            self.crash = task.exception()
            self.ctx.sink.event(self.name, f"internal error of the launcher: {self.crash!r}")
        self._start_over.set()
        self._notify()

    async def _run(self, dependencies: Sequence[tuple[Supervisor, Condition]]) -> None:
        if dependencies:
            self.set_state(S.WAITING, "waiting for " + ", ".join(d.name for d, _ in dependencies))
            for dependency, condition in dependencies:
                if not await dependency.reached(condition):
                    self.set_state(S.SKIPPED, f"dependency '{dependency.name}' {dependency.state}")
                    self._start_over.set()
                    return
        started = await self._start()
        self._start_over.set()
        if started:
            await self._keep_running()

    async def _start(self) -> bool:
        """Start with retries and backoff; True once ready or completed, False when failed."""
        spec = self.spec
        retrying = AsyncRetrying(
            stop=stop_after_attempt(spec.start_retries + 1),
            wait=backoff_wait(spec.backoff),
            retry=retry_if_exception(self._retryable),
            sleep=self.ctx.clock.sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await Attempt(self).run()
        except AttemptFailed as failure:
            tries = 1 if failure.kind == "spawn" else spec.start_retries + 1
            self.failure = failure.kind
            self.set_state(S.FAILED, f"{failure.reason} (after {tries} attempt{'s' if tries > 1 else ''})")
            return False
        self.failure = None
        return True

    def _retryable(self, error: BaseException) -> bool:
        # A program that cannot run fails the same way again; and once the stack is stopping,
        # restart policies (start retries included) are off.
        return isinstance(error, AttemptFailed) and error.kind != "spawn" and not self._stopping

    def _before_retry(self, retry_state: RetryCallState) -> None:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        delay = retry_state.upcoming_sleep
        self.set_state(S.BACKOFF, f"{failure}; retrying in {delay:.1f}s")

    def spawned(self, handle: Handle) -> None:
        """An attempt spawned its process (Attempt calls this)."""
        self.handle = handle
        self.started_at = time.time()
        self.exit_code = None
        self.ctx.on_spawn(self.name, handle)

    async def closed(self, handle: Handle) -> None:
        """The process has exited: close it and record how it ended."""
        await handle.aclose()
        self.exit_code = handle.returncode
        self.ctx.on_exit(self.name, handle)

    async def _keep_running(self) -> None:
        """After ready: watch exits and liveness, apply the restart policy, until stopped."""
        while self.handle is not None and self.state in (S.READY, S.UNHEALTHY):
            handle = self.handle
            code, unhealthy = await self._watch(handle)
            await self.closed(handle)
            what = "was unhealthy and was stopped" if unhealthy else f"exited with code {code}"
            decision = "restart" if unhealthy else after_exit(self.spec, code)
            if decision == "restart" and self._stopping:
                # Often the very stop of the stack made it exit (its dependents went away):
                # no restart, and no failure either.
                self.set_state(S.STOPPED, f"{what} while the stack was stopping; not restarted")
                return
            if decision != "restart":
                self.set_state(S.STOPPED if decision == "stop" else S.FAILED, what)
                return
            now = self.ctx.clock.now()
            if not self.budget.allow(now):
                self.set_state(
                    S.FAILED,
                    f"{what}; restarted {self.spec.max_restarts} times within "
                    f"{self.spec.restart_window:g}s, giving up",
                )
                return
            delay = restart_delay(self.spec.backoff, self.budget.count(now))
            self.restarts += 1
            self.set_state(S.BACKOFF, f"{what}; restarting in {delay:.1f}s")
            await self.ctx.clock.sleep(delay)
            if self._stopping:  # the stack began to stop during the backoff
                self.set_state(S.STOPPED, f"{what}; not restarted, the stack is stopping")
                return
            if not await self._start():
                return
            self.ctx.on_restarted(self.name)

    async def _watch(self, handle: Handle) -> tuple[int, bool]:
        """Wait for the process to exit; with a liveness probe, also for it to turn unhealthy.

        Returns the exit code and whether the launcher stopped it for being unhealthy.
        """
        liveness = self.spec.liveness
        if liveness is None:
            return await handle.wait(), False
        exited = asyncio.ensure_future(handle.wait())
        try:
            while True:
                failing = self.ctx.watch_liveness(
                    self.prober("liveness"), liveness, log=self.log, clock=self.ctx.clock
                )
                winner, result = await first(failing, asyncio.shield(exited))
                if winner == 1:
                    return result, False
                self.set_state(S.UNHEALTHY, f"liveness failing: {result.detail}")
                if self.spec.restart != "no":
                    code = await handle.stop(_signal(self.spec.stop_signal), self.spec.stop_timeout)
                    return code, True
                # With restart = "no" it stays up, unhealthy, until liveness passes again.
                recovered = self.ctx.wait_ready(
                    self.prober("liveness"), liveness, log=self.log, clock=self.ctx.clock
                )
                winner, result = await first(recovered, asyncio.shield(exited))
                if winner == 1:
                    return result, False
                self.set_state(S.READY, "liveness passing again")
        finally:
            # A cancelled watch (a stop, a restart) takes its wait along.
            if not exited.done():
                exited.cancel()

    # -- control -------------------------------------------------------------------------

    async def stop(self, *, sweep: bool = True) -> None:
        """Stop the service and whatever it is doing (waiting, retrying, running).

        With `sweep`, processes that left its group (a daemon that called setsid) but still
        carry its marker are killed too; the orchestrator sweeps once for the whole stack.
        A stop asked for while another is under way (the API's, then the stack's) waits for
        that one; a caller that is cancelled does not cut it short.
        """
        if self._stop_op is None or self._stop_op.done():
            self._stop_op = self._scope.spawn(self._stop(sweep))
        await asyncio.shield(self._stop_op)

    async def _stop(self, sweep: bool) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        handle = self.handle
        if handle is not None and handle.returncode is None:
            # After kill(), a process spawned in the meantime gets no grace either.
            sig, grace = ("SIGKILL", 0.0) if self._killed else (self.spec.stop_signal, self.spec.stop_timeout)
            self.set_state(S.STOPPING, self._stopping_how(sig))
            await handle.stop(_signal(sig), grace)
            await self.closed(handle)
            self.set_state(S.STOPPED, f"exit code {handle.returncode}")
        elif handle is not None:
            await self.closed(handle)
        if self.state is not S.STOPPING and self.state not in ENDED:
            self.set_state(S.STOPPED, self._stopped_how(handle))
        run_id = self.ctx.environ.get("LAUNCHER_RUN")
        if sweep and run_id and handle is not None:
            note = await leftovers.end_escaped(run_id, self.name)
            if note:
                self.ctx.sink.event(self.name, note)
        self._start_over.set()
        self._notify()  # waiters of reached() see _stopping now

    def _stopping_how(self, sig: str) -> str:
        if self.spec.host is not None and not self._killed:
            return "stopping it inside the shared host"
        if self.spec.kind == "host" and not self._killed:
            return f"asking it to shut down (SIGKILL after {self.spec.stop_timeout:g}s)"
        return f"sending {sig}"

    def _stopped_how(self, handle: Handle | None) -> str:
        if handle is not None:
            return "stopped"
        if self.spec.kind == "external" and self.state in (S.READY, S.UNHEALTHY):
            return "no longer watched (it runs elsewhere)"
        return "stopped before it was running"

    def prepare_stop(self) -> None:
        """The stack is stopping: from now on no restart and no start retry (stop() comes later,
        once the services that depend on this one are stopped)."""
        self._stopping = True

    def kill(self) -> None:
        """SIGKILL the process group now (the second Ctrl-C)."""
        self._stopping = self._killed = True
        if self.handle is not None and self.handle.returncode is None:
            self.handle.kill()

    async def aclose(self) -> None:
        """End whatever of this supervisor's is still running (after stop(): nothing)."""
        await self._scope.aclose()


def _signal(name: str) -> int:
    return int(signal.Signals[name])
