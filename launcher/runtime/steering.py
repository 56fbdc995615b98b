"""Start, stop and restart of single services of a running stack: the one implementation of
each, behind the orchestrator's front door (launcher/runtime/orchestrator.py), for the CLI, the
control API, the library and hot reload alike.

One operation at a time per service (two starts at once would spawn it twice); none while the
stack is not running (StackNotAccepting). Every restart of a service, by its policy or on
request, restarts the services that declare `restart = true` on it once it is ready again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from launcher.core.errors import LauncherError, ReadinessTimeout, StackNotAccepting, StartFailed
from launcher.core.vocabulary import Condition
from launcher.plan.spec import Plan, ProcessSpec
from launcher.runtime import policy
from launcher.runtime.output import Sink
from launcher.runtime.policy import RestartBudget
from launcher.runtime.states import ENDED, HEALTHY
from launcher.runtime.status import StackState
from launcher.runtime.supervisor import Supervisor
from launcher.runtime.tasks import TaskScope


class Steering:
    def __init__(
        self,
        plan: Plan,
        supervisors: dict[str, Supervisor],
        state: Callable[[], StackState],
        spec: Callable[[str], ProcessSpec],
        sink: Sink,
    ) -> None:
        self._plan = plan
        self._supervisors = supervisors  # the orchestrator's, filled when the stack starts
        self._state = state
        self._spec = spec  # UnknownService for a name the plan does not have
        self._sink = sink
        self._locks: dict[str, asyncio.Lock] = {}
        self.scope = TaskScope()  # restarts of followers, in the background

    async def start(self, name: str) -> None:
        async with self._lock(name):
            self._refuse_unless_running()
            await self._start_one(name)

    async def stop(self, name: str) -> None:
        async with self._lock(name):
            self._refuse_unless_running()
            await self._stop_one(name)

    async def restart(self, name: str) -> None:
        async with self._lock(name):
            self._refuse_unless_running()
            await self._stop_one(name)
            # No await from the check to the spawn: the stack's stop cannot begin in between.
            self._refuse_unless_running()
            await self._start_one(name)
        await self._restart_followers(name)

    async def restart_together(self, names: Sequence[str]) -> dict[str, bool]:
        """Stop `names` followers first, start them in order; whether each became ready."""
        supervisors = [self._supervisor(n) for n in names]
        for supervisor in supervisors:
            # Held: `run` ends once no service is left running, and for a moment none may be.
            supervisor.held = True
        for supervisor in reversed(supervisors):
            await supervisor.stop()
        for supervisor in supervisors:
            # A change is a new start: a crash loop that the change may fix starts afresh.
            supervisor.budget = RestartBudget(supervisor.spec.max_restarts, supervisor.spec.restart_window)
            if not supervisor.idle:  # the control API started it meanwhile
                supervisor.held = False
                continue
            supervisor.launch(self.dependencies(supervisor.spec))
        ready = await asyncio.gather(*(s.reached("ready") for s in supervisors))
        return dict(zip(names, ready, strict=True))

    async def wait(self, name: str, timeout: float) -> None:
        supervisor = self._supervisor(name)
        try:
            async with asyncio.timeout(timeout):
                if not await supervisor.reached("ready"):
                    raise LauncherError(f"service '{name}' is {supervisor.state}: {supervisor.reason}")
        except TimeoutError:
            raise ReadinessTimeout(
                name, f"was not ready within {timeout:g}s (state: {supervisor.state})", supervisor.output(20)
            ) from None

    def restarted(self, name: str) -> None:
        """A restart by policy is done: the followers restart, in the background."""
        if policy.followers(self._plan.specs, [name]):
            self.scope.spawn(self._restart_followers(name))

    def dependencies(self, spec: ProcessSpec) -> list[tuple[Supervisor, Condition]]:
        supervisors = self._supervisors
        return [(supervisors[d.name], d.condition) for d in spec.depends_on if d.name in supervisors]

    async def _restart_followers(self, name: str) -> None:
        followers = policy.followers(self._plan.specs, [name])
        if followers and self._state() is StackState.RUNNING:
            self._sink.event(
                "launcher", f"{name} restarted: restarting {', '.join(followers)} (restart = true)"
            )
            await self.restart_together(followers)

    def _supervisor(self, name: str) -> Supervisor:
        self._spec(name)
        supervisor = self._supervisors.get(name)
        if supervisor is None:
            raise StackNotAccepting("starting: its services are not started yet")
        return supervisor

    def _lock(self, name: str) -> asyncio.Lock:
        self._spec(name)
        return self._locks.setdefault(name, asyncio.Lock())

    def _refuse_unless_running(self) -> None:
        state = self._state()
        if state is not StackState.RUNNING and not (state is StackState.STARTING and self._supervisors):
            raise StackNotAccepting(str(state))

    async def _start_one(self, name: str) -> None:
        supervisor = self._supervisor(name)
        if supervisor.idle and supervisor.state in ENDED:
            supervisor.launch([])  # otherwise it is starting, or running, already: wait for it
        # A service without a probe is ready at once, but an exit in its first second still
        # fails its start (DESIGN.md 10): wait until the start is decided.
        await supervisor.start_over()
        state = supervisor.state
        if state not in HEALTHY and (state in ENDED or not await supervisor.reached("ready")):
            raise StartFailed(name, f"failed to start: {supervisor.reason}", supervisor.output(20))

    async def _stop_one(self, name: str) -> None:
        supervisor = self._supervisor(name)
        supervisor.held = True
        await supervisor.stop()
