"""The library API with real processes: `launcher.load(...).start()` and `astart()`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
import urllib.request
from pathlib import Path

import psutil
import pytest
from helpers import PROGRAMS, ProjectFactory, free_port_block, wait_until

import launcher

pytestmark = pytest.mark.integration
# A block of ports of its own for this session: a fixed range would be shared with
# whatever else runs on the machine (another test session included).
PORTS = free_port_block(20)

PY = sys.executable
STACK = f"""
[launcher]
ports = [{PORTS[0]}, {PORTS[1]}]

[services.setup]
command = ["{PY}", "-c", "print('setup done')"]
oneshot = true

[services.api]
command = ["{PY}", "{PROGRAMS / "http_ok.py"}", "--delay", "0.1"]
port = "auto"
probe = {{ http = "/health" }}
depends_on = ["setup"]

[services.worker]
command = ["{PY}", "-c", "import time; print('worker up', flush=True); time.sleep(300)"]
depends_on = {{ api = "ready" }}
env = {{ API = "${{API_URL}}" }}
"""


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        status: int = response.status
    return status


def _alive(pid: int | None) -> bool:
    try:
        return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_start_serves_the_stack_and_the_block_end_stops_it(project: ProjectFactory) -> None:
    root = project(STACK)
    stack = launcher.load(root / "launcher.toml")
    with stack.start(timeout=30) as running:
        assert running.url("api") == f"http://127.0.0.1:{running.port('api')}"
        assert _get(running.url("api") + "/health") == 200
        assert running.env["API_URL"] == running.url("api")
        assert running.env["LAUNCHER_STACK"] == stack.name
        states = {s.name: s.state for s in running.status()}
        assert states == {"setup": "completed", "api": "ready", "worker": "ready"}
        wait_until(lambda: "worker up" in running.logs("worker"), message="the worker's banner")
        pids = [s.pid for s in running.status() if s.pid is not None]
        assert len(pids) == 2
    assert not any(_alive(p) for p in pids)
    # The library leaves the project's state file to `launcher run` / `up`.
    assert not (root / ".launcher" / "state.json").exists()


def test_the_block_raising_still_stops_everything(project: ProjectFactory) -> None:
    stack = launcher.load(project(STACK) / "launcher.toml")
    pids: list[int | None] = []

    def body() -> None:
        with stack.start(timeout=30) as running:
            pids.extend(s.pid for s in running.status())
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        body()
    assert pids
    assert not any(_alive(p) for p in pids)


def test_stop_start_and_restart_one_service(project: ProjectFactory) -> None:
    stack = launcher.load(project(STACK) / "launcher.toml")
    with stack.start(timeout=30) as running:
        first = {s.name: s.pid for s in running.status()}["api"]
        running.restart("api")
        second = {s.name: s.pid for s in running.status()}["api"]
        assert second != first
        assert not _alive(first)
        assert _get(running.url("api") + "/health") == 200  # ready when restart returns
        running.stop("worker")
        assert {s.name: s.state for s in running.status()}["worker"] == "stopped"
        running.start("worker")
        running.wait_ready("worker", timeout=10)
        assert {s.name: s.state for s in running.status()}["worker"] == "ready"


def test_unknown_service_names_the_known_ones(project: ProjectFactory) -> None:
    stack = launcher.load(project(STACK) / "launcher.toml")
    with stack.start(timeout=30) as running, pytest.raises(launcher.LauncherError, match="it has: setup"):
        running.url("apx")


def test_a_failed_start_raises_with_the_service_its_reason_and_output(project: ProjectFactory) -> None:
    root = project(
        f"""
        [services.db]
        command = ["{PY}", "-c", "import sys; print('FATAL: bad config', flush=True); sys.exit(4)"]
        port = "auto"
        start_retries = 0
        [services.app]
        command = ["{PY}", "-c", "import time; time.sleep(300)"]
        depends_on = ["db"]
        """
    )
    with pytest.raises(launcher.StartFailed) as failure, launcher.load(root / "launcher.toml").start():
        pytest.fail("the stack should not have started")
    error = failure.value
    assert error.service == "db"
    assert "exited with code 4" in error.reason
    assert "FATAL: bad config" in error.output
    assert "LCH-2002" in str(error)
    assert "FATAL: bad config" in str(error)


def test_a_stack_timeout_names_the_service_still_starting(project: ProjectFactory) -> None:
    root = project(
        f"""
        [services.slow]
        command = ["{PY}", "{PROGRAMS / "http_ok.py"}", "--delay", "30"]
        port = "auto"
        """
    )
    with pytest.raises(launcher.ReadinessTimeout, match=r"'slow'.*within the stack's start timeout of 0\.5s"):  # noqa: SIM117
        with launcher.load(root / "launcher.toml").start(timeout=0.5):
            pass


def test_configuration_errors_are_raised_before_anything_starts(project: ProjectFactory) -> None:
    root = project("[services.a]\ncommand = 'true'\ndepends_on = ['b']\n")
    with pytest.raises(launcher.ConfigError) as failure:
        launcher.load(root / "launcher.toml")
    assert failure.value.codes == ["LCH-1005"]


def test_start_inside_a_running_loop_points_to_astart(project: ProjectFactory) -> None:
    stack = launcher.load(project(STACK) / "launcher.toml")

    async def inside() -> None:
        with stack.start():
            pass

    with pytest.raises(launcher.LauncherError, match="astart"):
        asyncio.run(inside())


def test_astart_in_an_event_loop(project: ProjectFactory) -> None:
    stack = launcher.load(project(STACK) / "launcher.toml")

    async def main() -> list[int | None]:
        async with stack.astart(timeout=30) as running:
            status = await asyncio.to_thread(_get, running.url("api") + "/health")
            assert status == 200
            await running.restart("worker")
            return [s.pid for s in running.status()]

    pids = asyncio.run(main())
    assert pids
    assert not any(_alive(p) for p in pids)


def test_started_from_a_thread_that_ends_the_services_live_on(project: ProjectFactory) -> None:
    """A parent-death signal follows the thread that forked: a stack started from a worker
    thread must not lose its services when that thread ends (pitfalls T1.4)."""
    stack = launcher.load(project(STACK) / "launcher.toml")
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        context = stack.start(timeout=30)
        running = pool.submit(context.__enter__).result()
    # The pool's thread has ended here.
    try:
        assert not any(t.name.startswith("ThreadPoolExecutor") for t in threading.enumerate())
        pid = {s.name: s.pid for s in running.status()}["api"]
        assert _alive(pid)
        assert _get(running.url("api") + "/health") == 200
    finally:
        context.__exit__(None, None, None)
    assert not _alive(pid)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_many_sequential_stacks_leak_no_threads_fds_or_children(tmp_path: Path) -> None:
    """The fixture facade used by 30 tests in a row (pitfalls T9.4)."""
    root = tmp_path / "p"
    root.mkdir()
    # A log probe: a service without a probe would hold each start for its first second.
    (root / "launcher.toml").write_text(
        f'[services.a]\ncommand = ["{PY}", "-c", "import time; print(\'up\', flush=True); time.sleep(300)"]\n'
        'probe = { log = "up" }\n'
    )
    stack = launcher.load(root / "launcher.toml")
    with stack.start(timeout=30):
        pass  # the first start pays for imports and caches
    threads, fds = threading.active_count(), _fds()
    for _ in range(30):
        with stack.start(timeout=30) as running:
            assert running.status()[0].state == "ready"
    assert threading.active_count() <= threads
    assert _fds() <= fds
    assert not psutil.Process().children()


def test_service_words_narrow_the_profiles_selection(project: ProjectFactory) -> None:
    root = project(
        """
        [services.db]
        command = "sleep 300"
        [services.api]
        command = "sleep 300"
        depends_on = ["db"]
        [services.admin]
        command = "sleep 300"
        [profiles.web]
        select = ["api"]
        """
    )
    assert launcher.load(root / "launcher.toml", profile="web", services=["api"]).plan().names == [
        "db",
        "api",
    ]
    with pytest.raises(launcher.ConfigError) as failure:
        launcher.load(root / "launcher.toml", profile="web", services=["admin"])
    assert failure.value.codes == ["LCH-1025"]
    assert "not part of profile 'web'" in str(failure.value)
