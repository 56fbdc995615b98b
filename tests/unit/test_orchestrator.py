"""A whole stack's start, rollback, restarts and stop, driven by scripted fake processes, a fake
prober and a virtual clock: no process runs and no real second passes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from launcher.core.errors import (
    LauncherError,
    ReadinessTimeout,
    SpawnError,
    StackNotAccepting,
    StartFailed,
    UnknownService,
)
from launcher.core.vocabulary import Condition
from launcher.library.testing import FakeClock, FakeProber, FakeSpawner, RecordingSink, Script
from launcher.plan.spec import BackoffSpec, DependencySpec, Plan, ProbeSpec, ProcessSpec
from launcher.runtime.context import ProbeUse
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.policy import followers
from launcher.runtime.probes import ProbeResult
from launcher.runtime.readiness import FIRST_DELAY
from launcher.runtime.states import ServiceState, StateChange
from launcher.runtime.status import StackState

S = ServiceState


def make_spec(name: str, *needs: DependencySpec, probe: bool = True, **fields: Any) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        service=name,
        kind="command",
        argv=(name,),
        cwd=Path("."),
        env={},
        probe=ProbeSpec(kind="tcp", target=name) if probe else None,
        backoff=BackoffSpec(initial=0.5, max=15, multiplier=2),
        depends_on=needs,
        **fields,
    )


def on(name: str, condition: Condition = "ready", *, restart: bool = False) -> DependencySpec:
    return DependencySpec(name, condition, restart)


class Harness:
    """An orchestrator over fakes, and every state change it announced."""

    def __init__(
        self, scripts: dict[str, Sequence[Script]], *specs: ProcessSpec, keep_going: bool = False
    ) -> None:
        self.clock = FakeClock()
        self.spawner = FakeSpawner(scripts)
        self.sink = RecordingSink()
        plan = Plan(
            stack="test",
            profile=None,
            mode="multi",
            root=Path("."),
            config_path=Path("launcher.toml"),
            specs=specs,
            port_range=(20000, 20100),
            env={},
        )
        self.orchestrator = Orchestrator(
            plan,
            sink=self.sink,
            clock=self.clock,
            spawner=self.spawner,
            prober=FakeProber(self.spawner),
            environ={},
            keep_going=keep_going,
            state_file=False,
            reaper=False,
        )
        self.changes: list[StateChange] = []
        self._changed = asyncio.Event()
        self.orchestrator.subscribe(self._record)

    def _record(self, change: StateChange) -> None:
        self.changes.append(change)
        self._changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait (up to 5 s) until a state change makes `predicate` true."""
        async with asyncio.timeout(5):
            while not predicate():
                self._changed = asyncio.Event()
                await self._changed.wait()

    async def start(self) -> None:
        async with asyncio.timeout(5):
            await self.orchestrator.start()

    async def stop(self) -> None:
        async with asyncio.timeout(5):
            await self.orchestrator.stop()

    def state(self, name: str) -> ServiceState:
        return self.orchestrator.snapshot().service(name).state

    def path(self, name: str) -> list[ServiceState]:
        return [S.PENDING, *(c.new for c in self.changes if c.service == name)]

    def at(self, name: str, state: ServiceState, nth: int = 1) -> int:
        """Where `name`'s `nth` change to `state` comes among all changes."""
        found = [i for i, c in enumerate(self.changes) if (c.service, c.new) == (name, state)]
        return found[nth - 1]

    def spawns(self, name: str) -> int:
        return len(self.spawner.by_name.get(name, []))

    def launcher_events(self) -> list[str]:
        return [text for service, text in self.sink.events if service == "launcher"]


def backoffs(clock: FakeClock) -> list[float]:
    """The clock's sleeps without the readiness polls between probe checks."""
    return [s for s in clock.sleeps if s != FIRST_DELAY]


# -- start order -------------------------------------------------------------------------


async def test_independent_services_start_at_once_and_a_dependent_waits_until_ready() -> None:
    h = Harness(
        {"db": [Script(ready=False)], "cache": [Script()], "api": [Script()]},
        make_spec("db"),
        make_spec("cache"),
        make_spec("api", on("db")),
    )
    starting = asyncio.create_task(h.orchestrator.start())
    await h.until(lambda: h.state("cache") is S.READY and h.state("api") is S.WAITING)
    assert h.state("db") is S.STARTING
    assert h.spawns("api") == 0
    with pytest.raises(ReadinessTimeout):
        await h.orchestrator.wait_service("db", 0.01)
    h.spawner.by_name["db"][0].script = Script()  # its probe passes from now on
    async with asyncio.timeout(5):
        await starting
    assert h.at("db", S.READY) < h.at("api", S.STARTING)
    await h.stop()


async def test_first_spawns_returns_once_the_independent_services_are_spawned() -> None:
    h = Harness(
        {"db": [Script(ready=False)], "cache": [Script(ready=False)], "api": [Script()]},
        make_spec("db"),
        make_spec("cache"),
        make_spec("api", on("db")),
    )
    starting = asyncio.create_task(h.orchestrator.start())
    async with asyncio.timeout(5):
        await h.orchestrator.first_spawns()
    assert (h.spawns("db"), h.spawns("cache"), h.spawns("api")) == (1, 1, 0)
    assert h.state("db") is S.STARTING  # not ready: only spawned
    starting.cancel()
    await asyncio.gather(starting, return_exceptions=True)
    await h.stop()


async def test_the_stack_runs_only_once_before_running_is_done() -> None:
    h = Harness({"api": [Script()]}, make_spec("api"))
    api_opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    starting = asyncio.create_task(h.orchestrator.start(before_running=api_opened))
    await h.until(lambda: h.state("api") is S.READY)
    await asyncio.sleep(0.01)
    assert h.orchestrator.snapshot().state is StackState.STARTING
    assert not any("services ready" in event for event in h.launcher_events())
    api_opened.set_result(None)
    async with asyncio.timeout(5):
        await starting
    assert h.orchestrator.snapshot().state is StackState.RUNNING
    assert any("1/1 services ready" in event for event in h.launcher_events())
    await h.stop()


async def test_a_dependent_on_started_runs_while_its_dependency_is_not_ready() -> None:
    h = Harness(
        {"db": [Script(ready=False)], "worker": [Script()]},
        make_spec("db"),
        make_spec("worker", on("db", "started")),
    )
    starting = asyncio.create_task(h.orchestrator.start())
    await h.until(lambda: h.state("worker") is S.READY)
    assert h.state("db") is S.STARTING
    h.spawner.by_name["db"][0].script = Script()
    async with asyncio.timeout(5):
        await starting
    await h.stop()


async def test_after_start_every_service_is_ready_or_completed_and_the_stack_running() -> None:
    h = Harness(
        {
            "db": [Script()],
            "migrate": [Script(exit_code=0, after=20)],
            "api": [Script()],
            "worker": [Script()],
        },
        make_spec("db"),
        make_spec("migrate", on("db"), probe=False, oneshot=True),
        make_spec("api", on("migrate", "completed")),
        make_spec("worker", probe=False),
    )
    await h.start()
    snapshot = h.orchestrator.snapshot()
    assert snapshot.state is StackState.RUNNING
    assert [(s.name, s.state) for s in snapshot.services] == [
        ("db", S.READY),
        ("migrate", S.COMPLETED),
        ("api", S.READY),
        ("worker", S.READY),
    ]
    assert h.at("migrate", S.COMPLETED) < h.at("api", S.STARTING)
    assert h.launcher_events()[-1].startswith("4/4 services ready in ")
    await h.stop()


# -- a failure and its rollback --------------------------------------------------------------


def failing_stack(**harness: Any) -> Harness:
    """db fails every attempt; api needs db; web needs cache, which starts fine."""
    return Harness(
        {
            "db": [Script(exit_code=1, ready=False, output=["boom"])],
            "cache": [Script()],
            "web": [Script()],
            "api": [Script()],
        },
        make_spec("db", start_retries=2),
        make_spec("cache"),
        make_spec("web", on("cache")),
        make_spec("api", on("db")),
        **harness,
    )


async def test_a_failed_start_is_retried_then_rolled_back_dependents_first() -> None:
    h = failing_stack()
    with pytest.raises(StartFailed) as caught:
        await h.start()
    assert type(caught.value) is StartFailed
    assert caught.value.service == "db"
    assert caught.value.output == ("boom", "boom", "boom")
    assert h.spawns("db") == 3
    assert backoffs(h.clock) == [0.5, 1.0]
    assert h.path("api") == [S.PENDING, S.WAITING, S.SKIPPED]
    assert "'db' failed to start: rolling back" in h.launcher_events()
    assert h.at("web", S.STOPPED) < h.at("cache", S.STOPPING)
    assert h.orchestrator.state is StackState.STOPPED
    states = {s.name: s.state for s in h.orchestrator.snapshot().services}
    assert states == {"db": S.FAILED, "cache": S.STOPPED, "web": S.STOPPED, "api": S.SKIPPED}


async def test_a_start_that_times_out_raises_readiness_timeout() -> None:
    h = Harness({"db": [Script(ready=False)]}, make_spec("db", start_retries=0, start_timeout=0.05))
    with pytest.raises(ReadinessTimeout, match=r"was not ready within 0\.05s"):
        await h.start()
    assert h.spawner.by_name["db"][0].signals == [15]
    assert h.orchestrator.state is StackState.STOPPED


async def test_a_program_that_cannot_run_raises_spawn_error_without_retries() -> None:
    h = Harness({}, make_spec("db", start_retries=2))
    with pytest.raises(SpawnError, match="cannot run 'db'"):
        await h.start()
    assert h.path("db") == [S.PENDING, S.STARTING, S.FAILED]
    assert h.orchestrator.state is StackState.STOPPED


async def test_with_keep_going_the_others_stay_up() -> None:
    h = failing_stack(keep_going=True)
    await h.start()
    assert h.orchestrator.state is StackState.RUNNING
    assert (h.state("db"), h.state("api")) == (S.FAILED, S.SKIPPED)
    assert (h.state("cache"), h.state("web")) == (S.READY, S.READY)
    assert h.launcher_events()[-1].startswith("2/4 services ready in ")
    with pytest.raises(LauncherError, match="service 'db' is failed"):
        await h.orchestrator.wait_service("db", 1)
    await h.orchestrator.wait_service("web", 1)
    await h.stop()


# -- restarts and their followers ------------------------------------------------------------


def following_stack() -> Harness:
    """api and web (through api) follow db; worker only needs it."""
    return Harness(
        {name: [Script()] for name in ("db", "api", "web", "worker")},
        make_spec("db", restart="on-failure"),
        make_spec("api", on("db", restart=True)),
        make_spec("web", on("api", restart=True)),
        make_spec("worker", on("db")),
    )


def test_followers_are_transitive_and_in_plan_order() -> None:
    specs = following_stack().orchestrator.plan.specs
    assert followers(specs, ["db"]) == ["api", "web"]
    assert followers(specs, ["api"]) == ["web"]
    assert followers(specs, ["web", "api"]) == []
    assert followers(specs, ["worker"]) == []


async def test_a_restart_by_policy_restarts_the_followers_once_ready_again() -> None:
    h = following_stack()
    await h.start()
    h.spawner.by_name["db"][0].exit(1)
    await h.until(lambda: h.spawns("web") == 2 and h.state("web") is S.READY)
    assert (h.spawns("db"), h.spawns("api"), h.spawns("worker")) == (2, 2, 1)
    assert h.orchestrator.snapshot().service("db").restarts == 1
    assert h.path("db")[-3:] == [S.BACKOFF, S.STARTING, S.READY]
    assert h.at("db", S.READY, nth=2) < h.at("web", S.STOPPING)
    assert "db restarted: restarting api, web (restart = true)" in h.launcher_events()
    await h.stop()


async def test_restart_service_restarts_its_followers_too() -> None:
    h = following_stack()
    await h.start()
    async with asyncio.timeout(5):
        await h.orchestrator.restart_service("db")
    assert (h.spawns("db"), h.spawns("api"), h.spawns("web"), h.spawns("worker")) == (2, 2, 2, 1)
    assert all(s.state is S.READY for s in h.orchestrator.snapshot().services)
    assert h.at("web", S.STOPPING) < h.at("api", S.STOPPING)
    assert "db restarted: restarting api, web (restart = true)" in h.launcher_events()
    await h.stop()


# -- stop --------------------------------------------------------------------------------


async def test_stop_stops_dependents_first_and_independent_services_in_parallel() -> None:
    slow = [Script(stop_turns=3)]
    h = Harness(
        {"db": slow, "cache": slow, "api": [Script()], "web": [Script()]},
        make_spec("db"),
        make_spec("cache"),
        make_spec("api", on("db"), on("cache")),
        make_spec("web", on("api")),
    )
    await h.start()
    await h.stop()
    assert h.at("web", S.STOPPED) < h.at("api", S.STOPPING)
    assert h.at("api", S.STOPPED) < min(h.at("db", S.STOPPING), h.at("cache", S.STOPPING))
    # Both db and cache are stopping before either has stopped.
    assert max(h.at("db", S.STOPPING), h.at("cache", S.STOPPING)) < min(
        h.at("db", S.STOPPED), h.at("cache", S.STOPPED)
    )
    assert all(p.signals == [15] for p in h.spawner.spawned)
    assert h.orchestrator.state is StackState.STOPPED


async def test_kill_sends_sigkill_and_the_stop_after_it_gives_no_grace() -> None:
    h = Harness({"db": [Script()], "api": [Script()]}, make_spec("db"), make_spec("api", on("db")))
    await h.start()
    h.orchestrator.kill()
    assert all(p.signals == [9] for p in h.spawner.spawned)
    await h.stop()
    assert all(p.signals == [9] for p in h.spawner.spawned)
    assert h.orchestrator.state is StackState.STOPPED


async def test_stop_service_holds_it_and_start_service_starts_it_again() -> None:
    h = Harness({"api": [Script()]}, make_spec("api"))
    await h.start()
    async with asyncio.timeout(5):
        await h.orchestrator.stop_service("api")
        assert h.orchestrator.snapshot().service("api").held
        assert h.state("api") is S.STOPPED
        await h.orchestrator.start_service("api")
    assert (h.state("api"), h.spawns("api")) == (S.READY, 2)
    await h.stop()


async def test_services_are_steered_only_while_the_stack_runs_and_only_by_known_names() -> None:
    h = Harness({"api": [Script()]}, make_spec("api"))
    with pytest.raises(StackNotAccepting):
        await h.orchestrator.start_service("api")  # not started yet
    await h.start()
    with pytest.raises(UnknownService):
        await h.orchestrator.restart_service("nope")
    with pytest.raises(UnknownService):
        h.orchestrator.output("nope")
    await h.stop()
    for steer in (h.orchestrator.start_service, h.orchestrator.stop_service, h.orchestrator.restart_service):
        with pytest.raises(StackNotAccepting, match="the stack is stopped"):
            await steer("api")


# -- listeners ---------------------------------------------------------------------------


async def test_unsubscribed_listeners_hear_nothing_and_probe_observers_see_checks() -> None:
    h = Harness({"api": [Script()]}, make_spec("api"))
    unheard: list[StateChange] = []
    unsubscribe = h.orchestrator.subscribe(unheard.append)
    unsubscribe()
    unsubscribe()  # twice is harmless
    checks: list[tuple[str, ProbeUse, bool]] = []

    def observe(service: str, use: ProbeUse, result: ProbeResult) -> None:
        checks.append((service, use, result.ok))

    unobserve = h.orchestrator.observe_probes(observe)
    await h.start()
    assert unheard == []
    assert h.changes
    assert checks[-1] == ("api", "readiness", True)
    unobserve()
    seen = len(checks)
    async with asyncio.timeout(5):
        await h.orchestrator.restart_service("api")
    assert len(checks) == seen
    await h.stop()
