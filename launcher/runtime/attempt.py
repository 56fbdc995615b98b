"""One start of a service: spawn it, then wait until it is ready (or, a oneshot, completed).

    await Attempt(supervisor).run()    # READY or COMPLETED is set; else AttemptFailed

An attempt that fails stops what is left of its process before it raises; the supervisor
decides about retries (tenacity) and gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from launcher.child import task_ready
from launcher.core.errors import LauncherError
from launcher.core.masking import mask_text
from launcher.plan.spec import ProbeSpec
from launcher.runtime import listeners
from launcher.runtime.environment import child_environment
from launcher.runtime.process import Handle, ReadyPipe
from launcher.runtime.states import ServiceState
from launcher.runtime.tasks import first

if TYPE_CHECKING:
    from launcher.runtime.supervisor import Supervisor

S = ServiceState
# A service without a probe that exits this soon after spawning has failed to start.
EARLY_EXIT = 1.0
ONESHOT_HINT = "; a one-off step? mark it `oneshot = true` (a daemon? run it in the foreground)"

Failure = Literal["spawn", "timeout", "exit"]


class AttemptFailed(Exception):
    """One start attempt failed; `kind` says how (a program that cannot run is not retried)."""

    def __init__(self, reason: str, kind: Failure = "exit") -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, kind


class Attempt:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.spec = supervisor.spec
        self.ctx = supervisor.ctx

    async def run(self) -> None:
        spec = self.spec
        self.supervisor.log.reset()
        self.supervisor.set_state(S.STARTING)
        if spec.kind == "external":
            await self._probe_external()
            return
        if spec.kind == "command" and spec.port is not None:
            # Another program may have taken the port since the stack was planned: its probe
            # would then pass against that program while the service itself cannot bind.
            taken = await listeners.conflict(spec.port)
            if taken is not None:
                raise AttemptFailed(taken)
        # A task's runner says when the task is ready (at once, or when it calls ready()).
        pipe = ReadyPipe() if spec.kind == "task" and spec.host is None else None
        try:
            handle = await self._spawn(pipe)
        except LauncherError as exc:
            if pipe is not None:
                pipe.close()
            raise AttemptFailed(str(getattr(exc, "reason", exc)), "spawn") from None
        try:
            async with asyncio.timeout(spec.start_timeout):
                await self._until_started(handle, pipe)
        except TimeoutError:
            await self._end(handle)
            raise await self._not_ready() from None
        except AttemptFailed:
            await self._end(handle)
            raise
        finally:
            if pipe is not None:
                pipe.close()

    async def _until_started(self, handle: Handle, pipe: ReadyPipe | None) -> None:
        spec = self.spec
        if spec.host is not None or spec.kind == "host":
            await self._confirmed(handle)
        elif pipe is not None:
            await pipe.said_ready()  # EOF too: an early exit is seen below
        if spec.oneshot:
            code = await handle.wait()
            if code not in spec.success_codes:
                raise AttemptFailed(f"exited with code {code}")
            await self.supervisor.closed(handle)  # its exit code and last lines, recorded
            self.supervisor.set_state(S.COMPLETED, f"exited with code {code}")
        elif spec.probe is None:
            self.supervisor.set_state(S.READY, "started (no probe)")
            if not spec.confirms_start:
                await self._early_exit(handle)
        else:
            await self._until_ready(handle, spec.probe)

    async def _spawn(self, pipe: ReadyPipe | None) -> Handle:
        spec, supervisor = self.spec, self.supervisor
        passed, fds = self.ctx.inherited(spec.name)
        if pipe is not None:
            passed = {**passed, task_ready.READY_FD: str(pipe.write_fd)}
            fds = (*fds, pipe.write_fd)

        # Only a `log` probe reads the lines back: a flood of lines is not kept for nothing.
        watched = any(probe is not None and probe.kind == "log" for probe in (spec.probe, spec.liveness))

        def on_output(stream: str, lines: Sequence[str]) -> None:
            self.ctx.sink.lines(spec.name, stream, lines)
            self.ctx.history.extend(spec.name, lines)
            if watched:
                supervisor.log.feed_many(lines)

        env = child_environment(self.ctx.environ, spec.env, passed)
        try:
            handle = await self.ctx.spawner(
                spec.argv, cwd=spec.cwd, env=env, on_output=on_output, pass_fds=fds
            )
        finally:
            if pipe is not None:
                pipe.spawned()
        supervisor.spawned(handle)
        return handle

    async def _probe_external(self) -> None:
        """An external service is started elsewhere: it is only probed, never spawned."""
        probe = self.spec.probe
        assert probe is not None  # the configuration requires one (LCH-1020)
        try:
            async with asyncio.timeout(self.spec.start_timeout):
                result = await self.ctx.wait_ready(
                    self.supervisor.prober("readiness"), probe, log=self.supervisor.log, clock=self.ctx.clock
                )
        except TimeoutError:
            raise await self._not_ready() from None
        self.supervisor.ready_by(result)

    async def _confirmed(self, handle: Handle) -> None:
        """In shared mode: wait for the host to say that it serves, or that this service started."""
        await handle.wait_started()
        if handle.returncode is not None:
            raise AttemptFailed(f"exited with code {handle.returncode} before it started")

    async def _early_exit(self, handle: Handle) -> None:
        winner, code = await first(handle.wait(), self.ctx.clock.sleep(EARLY_EXIT))
        if winner == 1:
            return
        # Exit 0 at once is most often a one-off step (a migration) not marked as one; less
        # often a program that forked into the background and left.
        hint = ONESHOT_HINT if code == 0 else ""
        raise AttemptFailed(f"exited with code {code} within its first second{hint}")

    async def _until_ready(self, handle: Handle, probe: ProbeSpec) -> None:
        ready = self.ctx.wait_ready(
            self.supervisor.prober("readiness"), probe, log=self.supervisor.log, clock=self.ctx.clock
        )
        winner, result = await first(ready, handle.wait())
        if winner == 1:
            raise AttemptFailed(f"exited with code {result} before it was ready")
        self.supervisor.ready_by(result)

    async def _not_ready(self) -> AttemptFailed:
        """The failure of an attempt that outlived start_timeout, with the last probe's answer."""
        return AttemptFailed(
            f"was not ready within {self.spec.start_timeout:g}s{await self._probe_detail()}", "timeout"
        )

    async def _probe_detail(self) -> str:
        if self.spec.probe is None:
            return ""
        where = probe_address(self.spec.probe)
        with contextlib.suppress(Exception):
            result = await self.supervisor.prober("readiness").check(self.spec.probe, log=self.supervisor.log)
            return f" (last probe of {where}: {result.detail})"
        return f" (probe of {where})"

    async def _end(self, handle: Handle) -> None:
        """Stop what is left of a failed attempt and record how it ended."""
        if handle.returncode is None:
            await handle.stop(int(signal.Signals[self.spec.stop_signal]), self.spec.stop_timeout)
        await self.supervisor.closed(handle)


def probe_address(probe: ProbeSpec) -> str:
    """What a probe tries, as a failure report names it (a password in a URL masked)."""
    if probe.kind == "cmd":
        return f"`{' '.join(probe.argv) or probe.target}`"
    if probe.kind == "log":
        return f"the output, for /{probe.target}/"
    return mask_text(probe.target)
