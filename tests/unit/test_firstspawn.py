"""The first services of a cached plan, spawned before the runtime (launcher/runtime/firstspawn.py)
and adopted by the orchestrator (process.adopt()): on real processes, in this process. The
adopted process is the one spawned ahead; what it wrote before the loop read it is relayed; its
exit, stop and restart are seen as a spawned one's; one that is not adopted is killed; the
reaper knows each from its spawn; a project already locked spawns nothing ahead."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path

import psutil
from helpers import wait_until_async

from launcher.library.testing import RecordingSink
from launcher.plan.spec import Plan, ProcessSpec
from launcher.runtime import statefile
from launcher.runtime.firstspawn import FirstSpawns, ahead, spawn_first
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.states import ServiceState

PRINTS = (
    "import sys, time; print('hello 1'); print('hello 2', file=sys.stderr); sys.stdout.flush(); "
    "time.sleep(60)"
)


def _plan(root: Path, *specs: ProcessSpec) -> Plan:
    return Plan(
        stack="t",
        profile=None,
        mode="multi",
        root=root,
        config_path=root / "launcher.toml",
        specs=specs,
        port_range=(20000, 20100),
        env={},
    )


def _spec(name: str, code: str, **fields: object) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        service=name,
        kind="command",
        argv=(sys.executable, "-c", code),
        cwd=Path.cwd(),
        env={"GREETING": name},
        **fields,  # type: ignore[arg-type]
    )


def _first(plan: Plan) -> FirstSpawns:
    statefile.make_state_dir(plan.root)  # the plan cache's directory: there on a cache hit
    first = spawn_first(str(plan.root), plan.python, ahead(plan))
    assert first is not None
    return first


def test_only_plain_commands_without_dependencies_or_ports_are_spawned_ahead(tmp_path: Path) -> None:
    from launcher.plan.spec import DependencySpec

    plan = _plan(
        tmp_path,
        _spec("plain", "pass"),
        _spec("needs", "pass", depends_on=(DependencySpec("plain", "ready"),)),
        _spec("ported", "pass", port=20001),
    )
    assert [argv for argv, _, _ in ahead(plan)] == [list(plan.specs[0].argv)]


def test_the_orchestrator_adopts_the_process_spawned_ahead_and_relays_what_it_wrote(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _spec("api", PRINTS, restart="always"))
    first = _first(plan)
    [(_, _, _, process)] = first._processes
    sink = RecordingSink()

    async def run() -> None:
        orchestrator = Orchestrator(plan, sink=sink, first=first)
        await orchestrator.start()
        [status] = orchestrator.snapshot().services
        assert status.pid == process.pid  # adopted, not spawned again
        assert (psutil.Process(process.pid).environ()["LAUNCHER_RUN"]) == orchestrator.run_id
        await wait_until_async(lambda: len(sink.received) >= 2, message="both lines relayed")
        assert sorted(sink.received) == [("api", "stderr", "hello 2"), ("api", "stdout", "hello 1")]
        # Its exit is seen, and the restart policy applies.
        os.kill(process.pid, signal.SIGKILL)

        def restarted() -> bool:
            [status] = orchestrator.snapshot().services
            return status.pid not in (None, process.pid) and status.state is ServiceState.READY

        await wait_until_async(restarted, message="the restart by policy")
        [status] = orchestrator.snapshot().services
        assert status.pid != process.pid
        assert status.restarts == 1
        await orchestrator.stop()
        [status] = orchestrator.snapshot().services
        assert status.state is ServiceState.STOPPED

    asyncio.run(run())
    assert process.returncode == -signal.SIGKILL
    assert not os.path.exists(tmp_path / ".launcher" / "state.json")


def test_a_process_not_adopted_is_killed_at_the_stop(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _spec("api", PRINTS))
    first = _first(plan)
    [(_, _, _, process)] = first._processes
    other = _plan(tmp_path, _spec("api", PRINTS.replace("hello", "bye")))  # another spawn: no match

    async def run() -> None:
        orchestrator = Orchestrator(other, sink=RecordingSink(), first=first)
        await orchestrator.start()
        assert orchestrator.snapshot().services[0].pid != process.pid
        await orchestrator.stop()

    asyncio.run(run())
    assert process.returncode == -signal.SIGKILL


def test_a_process_spawned_ahead_with_another_environment_is_killed_before_the_runtime_spawns(
    tmp_path: Path,
) -> None:
    """The same command, but not as the runtime runs it: never two copies of a service."""
    plan = _plan(tmp_path, _spec("api", PRINTS))
    first = _first(plan)
    [(_, _, _, process)] = first._processes
    other = _plan(tmp_path, dataclasses.replace(_spec("api", PRINTS), env={"GREETING": "changed"}))

    async def run() -> None:
        orchestrator = Orchestrator(other, sink=RecordingSink(), first=first)
        await orchestrator.start()
        # Killed when the runtime spawned its own, not left running beside it until the stop.
        assert process.returncode == -signal.SIGKILL
        assert orchestrator.snapshot().services[0].pid != process.pid
        await orchestrator.stop()

    asyncio.run(run())


def test_the_reaper_ends_processes_spawned_ahead_when_the_launcher_is_gone(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _spec("api", PRINTS))
    first = _first(plan)
    [(_, _, _, process)] = first._processes
    assert first.reaper.stdin is not None
    first.reaper.stdin.close()  # EOF without "exit": as when the launcher is SIGKILLed
    first.reaper.wait(timeout=10)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGTERM  # the reaper's
    first.discard()  # closes its pipes
    os.close(first.lock)


def test_nothing_is_spawned_ahead_where_another_launcher_holds_the_lock(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _spec("api", PRINTS))
    held = statefile.lock(tmp_path)
    assert held is not None
    try:
        assert spawn_first(str(tmp_path), "", ahead(plan)) is None
    finally:
        os.close(held)


def test_nothing_is_spawned_ahead_where_a_state_file_is_left(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _spec("api", PRINTS))
    statefile.make_state_dir(tmp_path)
    (tmp_path / ".launcher" / "state.json").write_text("{}")
    assert spawn_first(str(tmp_path), "", ahead(plan)) is None


def test_an_adopted_process_signalled_after_it_exited_keeps_its_exit_code() -> None:
    """Signalling or closing the transport of a process that exited (unreaped: the loop has not
    seen it yet) must not reap it on the way, as Popen's send_signal() and poll() would: its
    code would be lost."""
    import subprocess

    from launcher.runtime.process import adopt

    process = subprocess.Popen(
        [sys.executable, "-c", "raise SystemExit(3)"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie

    async def run() -> int:
        handle = await adopt(process, lambda stream, lines: None)
        transport = handle._transport
        transport.send_signal(signal.SIGTERM)  # before the loop has read the pidfd
        transport.close()  # kills what still runs (asyncio's transports do)
        return await handle.wait()

    assert asyncio.run(run()) == 3
