"""The supervisor of one service: wait for its dependencies, start it (with retries), keep it
running by its restart policy, and stop it.

    run():  WAITING -> (dependencies met) -> attempt: STARTING -> READY | COMPLETED
                                             failed attempt -> BACKOFF -> STARTING ... -> FAILED
            READY -> exit -> policy: restart (BACKOFF -> attempt) | STOPPED | FAILED
    stop(): cancels run(), then stop signal to the process group, SIGKILL after stop_timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential

from launcher.child import task_ready as taskready
from launcher.core.errors import LauncherError
from launcher.plan.spec import Condition, ProbeSpec, ProcessSpec
from launcher.runtime import leftovers
from launcher.runtime.clock import Clock
from launcher.runtime.history import History
from launcher.runtime.output import Sink
from launcher.runtime.policy import RestartBudget, after_exit
from launcher.runtime.probes import LogWatch, ProbeResult
from launcher.runtime.process import Handle, ReadyPipe
from launcher.runtime.sockets import port_holder, port_is_free
from launcher.runtime.states import ServiceState, StateChange, check_transition

S = ServiceState
# A service without a probe that exits this soon after spawning has failed to start.
EARLY_EXIT = 1.0


class Spawner(Protocol):
    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_output: Callable[[str, list[str]], None],
        pass_fds: Sequence[int] = (),
    ) -> Awaitable[Handle]: ...


class ProberLike(Protocol):
    async def check(self, probe: ProbeSpec, *, log: LogWatch | None = None) -> ProbeResult: ...


ProbeUse = Literal["readiness", "liveness"]
# Told of every probe check a supervisor makes: its service, what the probe was for, the result
# (the control API's last probe and its metrics). Called on the loop: it must not block.
ProbeObserver = Callable[[str, ProbeUse, ProbeResult], None]


def _unobserved(service: str, use: ProbeUse, result: ProbeResult) -> None:
    pass


@dataclass
class Context:
    """What every supervisor of a stack shares."""

    spawner: Spawner
    prober: ProberLike
    wait_ready: Callable[..., Awaitable[ProbeResult]]
    watch_liveness: Callable[..., Awaitable[ProbeResult]]
    sink: Sink
    history: History
    clock: Clock
    environ: Mapping[str, str]
    on_change: Callable[[StateChange], None]
    on_spawn: Callable[[str, Handle], None]
    on_exit: Callable[[str, Handle], None]
    on_probe: ProbeObserver = _unobserved


class _ObservedProber:
    """The stack's prober, reporting each check's result to the context's observer."""

    def __init__(self, prober: ProberLike, report: Callable[[ProbeResult], None]) -> None:
        self._prober, self._report = prober, report

    async def check(self, probe: ProbeSpec, *, log: LogWatch | None = None) -> ProbeResult:
        result = await self._prober.check(probe, log=log)
        self._report(result)
        return result


Failure = Literal["spawn", "timeout", "exit"]


class _AttemptFailed(Exception):
    """One start attempt failed; `kind` says how (a program that cannot run is not retried)."""

    def __init__(self, reason: str, kind: Failure = "exit") -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, kind


class Supervisor:
    def __init__(
        self,
        spec: ProcessSpec,
        ctx: Context,
        *,
        argv: Sequence[str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.ctx = ctx
        self.argv = tuple(argv if argv is not None else spec.argv)
        self.pass_fds = tuple(pass_fds)
        self.state = S.PENDING
        self.reason = ""
        self.handle: Handle | None = None
        self.log = LogWatch()
        self.restarts = 0
        self.exit_code: int | None = None
        self.started_at: float | None = None
        self.ready_at: float | None = None
        self.last_probe: ProbeResult | None = None
        self.budget = RestartBudget(spec.max_restarts, spec.restart_window)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop_op: asyncio.Future[None] | None = None
        self._stopping = False
        # Stopped on request (the control API, the library) rather than by itself: a `run`
        # whose services have all ended keeps going while one of them is held for a start.
        self.held = False
        self._killed = False  # kill() was called: stop() gives no grace
        self._start_over = asyncio.Event()
        self.failure: Failure | None = None  # how the last start failed
        self.crash: BaseException | None = None  # a bug of ours that ended run()

    # -- state ---------------------------------------------------------------------------

    def _set(self, new: ServiceState, reason: str = "") -> None:
        old = self.state
        check_transition(self.name, old, new)
        self.state, self.reason = new, reason
        if new is S.READY:
            self.ready_at = time.time()
        self.ctx.on_change(StateChange(self.name, old, new, time.time(), reason))
        self._notify()

    def _notify(self) -> None:
        # Wake every waiter, then arm a fresh event: an event left set would turn the waits
        # of reached() and settled() into busy loops that starve the event loop.
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def idle(self) -> bool:
        """Nothing is running it, nor about to (no start, retry or restart under way)."""
        return self._task is None or self._task.done()

    async def reached(self, condition: Condition) -> bool:
        """Wait until this service meets `condition`; False if it never will (failed, skipped)."""
        wanted = {
            "started": {S.STARTING, S.READY, S.UNHEALTHY, S.COMPLETED},
            "ready": {S.READY, S.COMPLETED},
            "completed": {S.COMPLETED},
        }[condition]
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

    def _prober(self, use: ProbeUse) -> ProberLike:
        return _ObservedProber(self.ctx.prober, functools.partial(self.ctx.on_probe, self.name, use))

    # -- life ----------------------------------------------------------------------------

    def launch(self, dependencies: Sequence[tuple[Supervisor, Condition]]) -> None:
        self._stopping = False
        self.held = False
        self._killed = False
        self._start_over = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(dependencies))
        self._task.add_done_callback(self._ended)

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
            self._set(S.WAITING, "waiting for " + ", ".join(d.name for d, _ in dependencies))
            for dependency, condition in dependencies:
                if not await dependency.reached(condition):
                    self._set(S.SKIPPED, f"dependency '{dependency.name}' {dependency.state}")
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
            wait=wait_exponential(
                multiplier=spec.backoff.initial, exp_base=spec.backoff.multiplier, max=spec.backoff.max
            ),
            retry=retry_if_exception(self._retryable),
            sleep=self.ctx.clock.sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._attempt()
        except _AttemptFailed as failure:
            tries = 1 if failure.kind == "spawn" else spec.start_retries + 1
            self.failure = failure.kind
            self._set(S.FAILED, f"{failure.reason} (after {tries} attempt{'s' if tries > 1 else ''})")
            return False
        self.failure = None
        return True

    def _retryable(self, error: BaseException) -> bool:
        # A program that cannot run fails the same way again; and once the stack is stopping,
        # restart policies (start retries included) are off.
        return isinstance(error, _AttemptFailed) and error.kind != "spawn" and not self._stopping

    def _before_retry(self, retry_state: RetryCallState) -> None:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        delay = retry_state.upcoming_sleep
        self._set(S.BACKOFF, f"{failure}; retrying in {delay:.1f}s")

    async def _attempt(self) -> None:
        """One start: spawn, then wait for ready (or completion); raise _AttemptFailed."""
        spec = self.spec
        self.log.reset()
        self._set(S.STARTING)
        if spec.kind == "external":
            await self._probe_external(spec)
            return
        await self._check_port(spec)
        # A task's runner says when the task is ready (at once, or when it calls ready()).
        pipe = ReadyPipe() if spec.kind == "task" and spec.host is None else None
        try:
            handle = await self._spawn(pipe)
        except LauncherError as exc:
            if pipe is not None:
                pipe.close()
            raise _AttemptFailed(str(getattr(exc, "reason", exc)), "spawn") from None
        try:
            async with asyncio.timeout(spec.start_timeout):
                if spec.host is not None or spec.kind == "host":
                    await self._confirmed(handle)
                elif pipe is not None:
                    await pipe.said_ready()  # EOF too: an early exit is seen below
                if spec.oneshot:
                    code = await handle.wait()
                    if code not in spec.success_codes:
                        raise _AttemptFailed(f"exited with code {code}")
                    await self._closed(handle)  # its exit code and last lines, recorded
                    self._set(S.COMPLETED, f"exited with code {code}")
                elif spec.probe is None:
                    self._set(S.READY, "started (no probe)")
                    if not spec.confirms_start:
                        await self._early_exit(handle)
                else:
                    await self._until_ready(handle, spec.probe)
        except TimeoutError:
            await self._end_attempt(handle)
            raise await self._not_ready() from None
        except _AttemptFailed:
            await self._end_attempt(handle)
            raise
        finally:
            if pipe is not None:
                pipe.close()

    async def _check_port(self, spec: ProcessSpec) -> None:
        """Refuse to spawn a command whose port another program took since the stack was planned:
        its probe would pass against that program while the service itself cannot bind."""
        if spec.kind != "command" or spec.port is None or port_is_free(spec.port):
            return
        holder = await asyncio.to_thread(port_holder, spec.port)
        who = f" by pid {holder[0]} ({holder[1]})" if holder else ""
        raise _AttemptFailed(f"port {spec.port} is already in use{who}")

    async def _probe_external(self, spec: ProcessSpec) -> None:
        """An external service is started elsewhere: it is only probed, never spawned."""
        assert spec.probe is not None  # the configuration requires one (LCH-1020)
        try:
            async with asyncio.timeout(spec.start_timeout):
                self.last_probe = await self.ctx.wait_ready(
                    self._prober("readiness"), spec.probe, log=self.log
                )
        except TimeoutError:
            raise await self._not_ready() from None
        self._set(S.READY, self.last_probe.detail)

    async def _confirmed(self, handle: Handle) -> None:
        """In shared mode: wait for the host to say that it serves, or that this service started."""
        await handle.wait_started()
        if handle.returncode is not None:
            raise _AttemptFailed(f"exited with code {handle.returncode} before it started")

    async def _early_exit(self, handle: Handle) -> None:
        exited = asyncio.ensure_future(handle.wait())
        grace = asyncio.ensure_future(self.ctx.clock.sleep(EARLY_EXIT))
        try:
            done, _ = await asyncio.wait({exited, grace}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # cancelled too (a stop in the first second): leave no task behind
            grace.cancel()
            if not exited.done():
                exited.cancel()
        if exited not in done:
            return
        code = exited.result()
        hint = "; is it daemonizing? run it in the foreground" if code == 0 else ""
        raise _AttemptFailed(f"exited with code {code} within its first second{hint}")

    async def _until_ready(self, handle: Handle, probe: ProbeSpec) -> None:
        exited = asyncio.ensure_future(handle.wait())
        ready = asyncio.ensure_future(self.ctx.wait_ready(self._prober("readiness"), probe, log=self.log))
        try:
            done, _ = await asyncio.wait({exited, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (exited, ready):
                if not task.done():
                    task.cancel()
        if ready in done and not ready.cancelled():
            self.last_probe = ready.result()
            self._set(S.READY, self.last_probe.detail)
            return
        raise _AttemptFailed(f"exited with code {exited.result()} before it was ready")

    async def _not_ready(self) -> _AttemptFailed:
        """The failure of an attempt that outlived start_timeout, with the last probe's answer."""
        detail = await self._probe_detail()
        return _AttemptFailed(f"was not ready within {self.spec.start_timeout:g}s{detail}", "timeout")

    async def _probe_detail(self) -> str:
        if self.spec.probe is None:
            return ""
        with contextlib.suppress(Exception):
            self.last_probe = await self._prober("readiness").check(self.spec.probe, log=self.log)
            return f" (last probe: {self.last_probe.detail})"
        return ""

    async def _spawn(self, pipe: ReadyPipe | None = None) -> Handle:
        env = dict(self.ctx.environ)
        env.update(self.spec.env)
        fds = self.pass_fds
        if pipe is not None:
            env[taskready.READY_FD] = str(pipe.write_fd)
            fds = (*fds, pipe.write_fd)

        def on_output(stream: str, lines: list[str]) -> None:
            self.ctx.sink.lines(self.name, stream, lines)
            self.ctx.history.extend(self.name, lines)
            self.log.feed_many(lines)

        try:
            handle = await self.ctx.spawner(
                self.argv, cwd=self.spec.cwd, env=env, on_output=on_output, pass_fds=fds
            )
        finally:
            if pipe is not None:
                pipe.spawned()
        self.handle = handle
        self.started_at = time.time()
        self.exit_code = None
        self.ctx.on_spawn(self.name, handle)
        return handle

    async def _end_attempt(self, handle: Handle) -> None:
        """Stop what is left of a failed attempt and record how it ended."""
        if handle.returncode is None:
            await handle.stop(_signal(self.spec.stop_signal), self.spec.stop_timeout)
        await self._closed(handle)

    async def _closed(self, handle: Handle) -> None:
        await handle.aclose()
        self.exit_code = handle.returncode
        self.ctx.on_exit(self.name, handle)

    async def _keep_running(self) -> None:
        """After ready: watch exits and liveness, apply the restart policy, until stopped."""
        while self.handle is not None and self.state in (S.READY, S.UNHEALTHY):
            handle = self.handle
            code, unhealthy = await self._watch(handle)
            await self._closed(handle)
            what = "was unhealthy and was stopped" if unhealthy else f"exited with code {code}"
            decision = "restart" if unhealthy else after_exit(self.spec, code)
            if decision == "restart" and self._stopping:
                # Often the very stop of the stack made it exit (its dependents went away):
                # no restart, and no failure either.
                self._set(S.STOPPED, f"{what} while the stack was stopping; not restarted")
                return
            if decision == "stop":
                self._set(S.STOPPED, what)
                return
            if decision == "fail":
                self._set(S.FAILED, what)
                return
            now = self.ctx.clock.now()
            if not self.budget.allow(now):
                self._set(
                    S.FAILED,
                    f"{what}; restarted {self.spec.max_restarts} times within "
                    f"{self.spec.restart_window:g}s, giving up",
                )
                return
            delay = self.spec.backoff.delay(self.budget.count(now))
            self.restarts += 1
            self._set(S.BACKOFF, f"{what}; restarting in {delay:.1f}s")
            await self.ctx.clock.sleep(delay)
            if self._stopping:  # the stack began to stop during the backoff
                self._set(S.STOPPED, f"{what}; not restarted, the stack is stopping")
                return
            if not await self._start():
                return

    async def _watch(self, handle: Handle) -> tuple[int, bool]:
        """Wait for the process to exit; with a liveness probe, also for it to turn unhealthy.

        Returns the exit code and whether the launcher stopped it for being unhealthy.
        """
        exited = asyncio.ensure_future(handle.wait())
        liveness = self.spec.liveness
        watching: list[asyncio.Future[ProbeResult]] = []  # cancelled with this watch
        try:
            while liveness is not None:
                failing = asyncio.ensure_future(
                    self.ctx.watch_liveness(self._prober("liveness"), liveness, log=self.log)
                )
                watching.append(failing)
                if not await self._first(failing, exited):
                    return exited.result(), False
                self.last_probe = failing.result()
                self._set(S.UNHEALTHY, f"liveness failing: {self.last_probe.detail}")
                if self.spec.restart != "no":
                    code = await handle.stop(_signal(self.spec.stop_signal), self.spec.stop_timeout)
                    return code, True
                # With restart = "no" it stays up, unhealthy, until liveness passes again.
                recovered = asyncio.ensure_future(
                    self.ctx.wait_ready(self._prober("liveness"), liveness, log=self.log)
                )
                watching.append(recovered)
                if not await self._first(recovered, exited):
                    return exited.result(), False
                self._set(S.READY, "liveness passing again")
            return await exited, False
        finally:
            # A cancelled watch (a stop, a restart) must take its probes along: left running,
            # each restart would add one more liveness loop.
            futures: list[asyncio.Future[Any]] = [exited, *watching]
            for future in futures:
                if not future.done():
                    future.cancel()

    @staticmethod
    async def _first(task: asyncio.Future[ProbeResult], exited: asyncio.Future[int]) -> bool:
        """Wait for `task` or the exit; True if `task` finished first (the other is cancelled)."""
        either: list[asyncio.Future[Any]] = [task, exited]
        done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return True
        task.cancel()
        return False

    # -- control -------------------------------------------------------------------------

    async def stop(self, *, sweep: bool = True) -> None:
        """Stop the service and whatever it is doing (waiting, retrying, running).

        With `sweep`, processes that left its group (a daemon that called setsid) but still
        carry its marker are killed too; the orchestrator sweeps once for the whole stack.
        A stop asked for while another is under way (the API's, then the stack's) waits for
        that one; a caller that is cancelled does not cut it short.
        """
        if self._stop_op is None or self._stop_op.done():
            self._stop_op = asyncio.ensure_future(self._stop(sweep))
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
            self._set(S.STOPPING, self._stopping_how(sig))
            await handle.stop(_signal(sig), grace)
            await self._closed(handle)
            self._set(S.STOPPED, f"exit code {handle.returncode}")
        elif handle is not None:
            await self._closed(handle)
        if self.state in (S.PENDING, S.WAITING, S.STARTING, S.READY, S.UNHEALTHY, S.BACKOFF):
            self._set(S.STOPPED, "stopped before it was running" if handle is None else "stopped")
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

    def prepare_stop(self) -> None:
        """The stack is stopping: from now on no restart and no start retry (stop() comes later,
        once the services that depend on this one are stopped)."""
        self._stopping = True

    def kill(self) -> None:
        """SIGKILL the process group now (the second Ctrl-C)."""
        self._stopping = self._killed = True
        if self.handle is not None and self.handle.returncode is None:
            self.handle.kill()


def _signal(name: str) -> int:
    return int(signal.Signals[name])
