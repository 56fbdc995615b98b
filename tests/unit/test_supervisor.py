"""One service's life, driven by scripted fake processes and a virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from launcher.library.testing import FakeClock, FakeProber, FakeSpawner, RecordingSink, Script
from launcher.plan.spec import BackoffSpec, DependencySpec, ProbeSpec, ProcessSpec
from launcher.runtime.context import Context
from launcher.runtime.history import History
from launcher.runtime.states import ServiceState, StateChange
from launcher.runtime.supervisor import Supervisor

S = ServiceState


def make_spec(name: str, *, probe: bool = True, **fields: Any) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        service=name,
        kind="command",
        argv=(name,),
        cwd=Path("."),
        env={},
        probe=ProbeSpec(kind="tcp", target=name) if probe else None,
        backoff=BackoffSpec(initial=0.5, max=15, multiplier=2),
        **fields,
    )


class Harness:
    def __init__(self, scripts: dict[str, Sequence[Script]]) -> None:
        self.clock = FakeClock()
        self.spawner = FakeSpawner(scripts)
        self.prober = FakeProber(self.spawner)
        self.sink = RecordingSink()
        self.changes: list[StateChange] = []
        self._changed: asyncio.Event | None = None
        self.context = Context(
            spawner=self.spawner,
            prober=self.prober,
            wait_ready=self.prober.wait_ready,
            watch_liveness=self.prober.watch_liveness,
            sink=self.sink,
            history=History(),
            clock=self.clock,
            environ={},
            on_change=self._record,
            on_spawn=lambda name, handle: None,
            on_exit=lambda name, handle: None,
        )

    def _record(self, change: StateChange) -> None:
        self.changes.append(change)
        if self._changed is not None:
            self._changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait (up to 5 s) until a state change makes `predicate` true."""
        async with asyncio.timeout(5):
            while not predicate():
                self._changed = asyncio.Event()
                await self._changed.wait()

    def supervisor(self, spec: ProcessSpec) -> Supervisor:
        return Supervisor(spec, self.context)

    def path(self, name: str) -> list[ServiceState]:
        states = [c.new for c in self.changes if c.service == name]
        return [S.PENDING, *states]


async def settle(*supervisors: Supervisor) -> None:
    async with asyncio.timeout(5):
        await asyncio.gather(*(s.settled() for s in supervisors))


async def test_starts_and_becomes_ready() -> None:
    h = Harness({"api": [Script(output=["hello"])]})
    api = h.supervisor(make_spec("api"))
    api.launch([])
    await settle(api)
    assert h.path("api") == [S.PENDING, S.STARTING, S.READY]
    assert h.sink.received == [("api", "stdout", "hello")]
    await api.stop()
    assert api.state is S.STOPPED
    assert h.spawner.by_name["api"][0].signals == [15]


async def test_failed_attempts_back_off_then_fail_after_all_retries() -> None:
    h = Harness({"api": [Script(exit_code=1, ready=False, output=["boom"])]})
    api = h.supervisor(make_spec("api", start_retries=2))
    api.launch([])
    await settle(api)
    assert api.state is S.FAILED
    assert "exited with code 1 before it was ready (after 3 attempts)" in api.reason
    assert len(h.spawner.by_name["api"]) == 3
    assert h.clock.sleeps == [0.5, 1.0]
    assert h.path("api") == [S.PENDING, S.STARTING, S.BACKOFF, S.STARTING, S.BACKOFF, S.STARTING, S.FAILED]
    assert api.output() == ["boom", "boom", "boom"]


async def test_a_retry_that_succeeds_ends_ready() -> None:
    h = Harness({"api": [Script(exit_code=1, ready=False), Script()]})
    api = h.supervisor(make_spec("api"))
    api.launch([])
    await settle(api)
    assert api.state is S.READY
    await api.stop()


@pytest.mark.parametrize(("code", "state"), [(0, S.COMPLETED), (3, S.FAILED)])
async def test_oneshot_completes_on_a_success_code(code: int, state: ServiceState) -> None:
    h = Harness({"migrate": [Script(exit_code=code, after=3)]})
    migrate = h.supervisor(make_spec("migrate", probe=False, oneshot=True, start_retries=0))
    migrate.launch([])
    await settle(migrate)
    assert migrate.state is state


async def test_no_probe_exit_in_the_first_second_is_a_failed_start_with_a_daemon_hint() -> None:
    h = Harness({"daemon": [Script(exit_code=0)]})
    daemon = h.supervisor(make_spec("daemon", probe=False, start_retries=0))
    daemon.launch([])
    await settle(daemon)
    await asyncio.sleep(0)
    for _ in range(10):
        if daemon.state is S.FAILED:
            break
        await asyncio.sleep(0)
    assert daemon.state is S.FAILED
    assert "mark it `oneshot = true`" in daemon.reason
    assert "a daemon? run it in the foreground" in daemon.reason


async def test_exit_after_ready_restarts_on_failure() -> None:
    h = Harness({"api": [Script(exit_code=1, after=5), Script()]})
    api = h.supervisor(make_spec("api", restart="on-failure"))
    api.launch([])
    await h.until(lambda: api.restarts > 0 and api.state is S.READY)
    assert h.path("api")[-3:] == [S.BACKOFF, S.STARTING, S.READY]
    assert h.clock.sleeps == [0.5]
    await api.stop()


async def test_a_crash_loop_ends_failed_after_max_restarts() -> None:
    h = Harness({"api": [Script(exit_code=1, after=5)]})
    api = h.supervisor(make_spec("api", restart="always", max_restarts=3, restart_window=60))
    api.launch([])
    await h.until(lambda: api.state is S.FAILED)
    assert api.restarts == 3
    assert "restarted 3 times within 60s" in api.reason
    assert h.clock.sleeps == [0.5, 1.0, 2.0]


async def test_exit_with_restart_no_is_stopped_or_failed_by_code() -> None:
    h = Harness({"ok": [Script(exit_code=0, after=5)], "bad": [Script(exit_code=2, after=5)]})
    ok, bad = h.supervisor(make_spec("ok")), h.supervisor(make_spec("bad"))
    ok.launch([])
    bad.launch([])
    await h.until(lambda: ok.state is S.STOPPED and bad.state is S.FAILED)
    assert bad.reason == "exited with code 2"


async def test_dependents_wait_for_the_condition_and_are_skipped_when_it_fails() -> None:
    h = Harness({"db": [Script(exit_code=1, ready=False)], "api": [Script()]})
    db = h.supervisor(make_spec("db", start_retries=0))
    api = h.supervisor(make_spec("api", depends_on=(DependencySpec("db", "ready"),)))
    api.launch([(db, "ready")])
    db.launch([])
    await settle(db, api)
    assert db.state is S.FAILED
    assert api.state is S.SKIPPED
    assert h.path("api") == [S.PENDING, S.WAITING, S.SKIPPED]
    assert "api" not in h.spawner.by_name


async def test_a_dependent_starts_only_after_its_dependency_completed() -> None:
    h = Harness({"migrate": [Script(exit_code=0, after=20)], "api": [Script()]})
    migrate = h.supervisor(make_spec("migrate", probe=False, oneshot=True))
    api = h.supervisor(make_spec("api"))
    api.launch([(migrate, "completed")])
    migrate.launch([])
    await settle(migrate, api)
    order = [(c.service, c.new) for c in h.changes]
    assert order.index(("migrate", S.COMPLETED)) < order.index(("api", S.STARTING))
    await api.stop()


async def test_stop_kills_a_process_that_ignores_the_stop_signal() -> None:
    h = Harness({"stubborn": [Script(ignores_stop=True)]})
    stubborn = h.supervisor(make_spec("stubborn"))
    stubborn.launch([])
    await settle(stubborn)
    await stubborn.stop()
    assert h.spawner.by_name["stubborn"][0].signals == [15, 9]
    assert h.path("stubborn")[-2:] == [S.STOPPING, S.STOPPED]


async def test_stop_while_waiting_for_a_dependency_never_spawns() -> None:
    h = Harness({"db": [Script(ready=False)], "api": [Script()]})
    db, api = h.supervisor(make_spec("db")), h.supervisor(make_spec("api"))
    db.launch([])
    api.launch([(db, "ready")])
    for _ in range(5):
        await asyncio.sleep(0)
    await api.stop()
    await db.stop()
    assert api.state is S.STOPPED
    assert "api" not in h.spawner.by_name


async def test_failing_liveness_restarts_the_service() -> None:
    h = Harness({"api": [Script(), Script()]})
    spec = make_spec("api", restart="on-failure", liveness=ProbeSpec(kind="tcp", target="api"))
    api = h.supervisor(spec)
    api.launch([])
    await settle(api)
    h.spawner.by_name["api"][0].script = Script(ready=False)  # it stops answering
    await h.until(lambda: api.restarts > 0 and api.state is S.READY)
    assert S.UNHEALTHY in h.path("api")
    assert h.spawner.by_name["api"][0].signals == [15]
    await api.stop()


async def test_once_the_stack_is_stopping_an_exit_is_not_restarted() -> None:
    h = Harness({"db": [Script(exit_code=1, after=50), Script()]})
    db = h.supervisor(make_spec("db", restart="always"))
    db.launch([])
    await settle(db)
    db.prepare_stop()  # the stack's stop has begun; db's own turn comes later, and it crashes
    await h.until(lambda: db.state is S.STOPPED)
    assert len(h.spawner.by_name["db"]) == 1
    assert db.reason == "exited with code 1 while the stack was stopping; not restarted"
    await db.stop()
    assert db.state is S.STOPPED


async def test_once_the_stack_is_stopping_a_failed_start_is_not_retried() -> None:
    h = Harness({"api": [Script(exit_code=1, after=5, ready=False), Script()]})
    api = h.supervisor(make_spec("api", start_retries=3))
    api.launch([])
    api.prepare_stop()
    await settle(api)
    assert api.state is S.FAILED
    assert len(h.spawner.by_name["api"]) == 1


async def test_no_probe_running_past_its_first_second_has_started() -> None:
    h = Harness({"worker": [Script()]})
    worker = h.supervisor(make_spec("worker", probe=False))
    worker.launch([])
    async with asyncio.timeout(5):
        assert await worker.start_over() is S.READY
    assert h.clock.sleeps == [1.0]
    await worker.stop()
    assert h.path("worker") == [S.PENDING, S.STARTING, S.READY, S.STOPPING, S.STOPPED]


async def test_after_kill_a_process_spawned_meanwhile_is_killed_without_grace() -> None:
    h = Harness({"api": [Script()]})
    api = h.supervisor(make_spec("api", stop_timeout=60))
    api.launch([])
    api.kill()  # the second Ctrl-C, before the spawn was done
    await h.until(lambda: api.state is S.READY)
    await api.stop()
    assert h.spawner.by_name["api"][0].signals == [9]
    assert api.state is S.STOPPED


async def test_two_stops_at_once_share_one_stop() -> None:
    h = Harness({"api": [Script(ignores_stop=True)]})
    api = h.supervisor(make_spec("api"))
    api.launch([])
    await settle(api)
    # The API's stop of one service, then the whole stack's, before the first is over.
    await asyncio.gather(api.stop(), api.stop())
    assert h.spawner.by_name["api"][0].signals == [15, 9]
    assert h.path("api")[-2:] == [S.STOPPING, S.STOPPED]


async def test_stops_and_starts_leave_no_liveness_watch_behind() -> None:
    h = Harness({"api": [Script() for _ in range(4)]})
    api = h.supervisor(make_spec("api", liveness=ProbeSpec(kind="tcp", target="api")))
    api.launch([])
    await settle(api)
    for _ in range(5):
        await asyncio.sleep(0)
    tasks = len(asyncio.all_tasks())
    for _ in range(3):
        await api.stop()
        api.launch([])
        await h.until(lambda: api.state is S.READY)
        for _ in range(5):
            await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == tasks
    await api.stop()


async def test_waiting_for_ready_ends_when_the_service_stopped_by_itself() -> None:
    h = Harness({"job": [Script(exit_code=0, after=50)]})
    job = h.supervisor(make_spec("job", restart="no"))
    job.launch([])
    await settle(job)
    await h.until(lambda: job.state is S.STOPPED)
    async with asyncio.timeout(5):
        assert await job.reached("ready") is False
