"""`launcher run` end to end: real launcher processes running real services."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

PROGRAM = Path(__file__).parents[1] / "programs" / "stack_service.py"
pytestmark = pytest.mark.integration


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def service(name: str, events: Path, *flags: str) -> str:
    words = [sys.executable, str(PROGRAM), name, "--events", str(events), *flags]
    return "[" + ", ".join(f'"{w}"' for w in words) + "]"


class Launcher:
    """A `python -m launcher run ...` in its own session, its output in a file."""

    def __init__(self, project: Path, *args: str) -> None:
        self.project = project
        self.output_path = project / "launcher.out"
        self.output_file = self.output_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "launcher", "run", *args],
            cwd=project,
            stdout=self.output_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "NO_COLOR": "1"},
        )

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_output(self, text: str, timeout: float = 30.0) -> None:
        wait_for(lambda: text in self.output, timeout, f"{text!r} in the launcher's output:\n{self.output}")

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.output_file.close()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Launcher]]:
    started: list[Launcher] = []

    def start(config: str, *args: str) -> Launcher:
        (tmp_path / "launcher.toml").write_text(config)
        launcher = Launcher(tmp_path, *args)
        started.append(launcher)
        return launcher

    yield start
    for launcher in started:
        launcher.close()


def events(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(line.split()[:2]) for line in path.read_text().splitlines()]  # type: ignore[misc]


def stack(events_file: Path) -> str:
    return f"""
[launcher]
name = "t"
ports = [18100, 18140]
stop_timeout = 5

[services.db]
command = {service("db", events_file, "--listen", "--delay", "0.3")}
port = "auto"

[services.api]
command = {service("api", events_file, "--listen", "--http", "--stop-delay", "0.2")}
port = "auto"
depends_on = ["db"]
probe = {{ http = "/" }}

[services.worker]
command = {service("worker", events_file)}
depends_on = {{ api = "ready" }}
"""


def test_starts_in_dependency_order_and_ctrl_c_stops_in_reverse(
    run: Callable[..., Launcher], tmp_path: Path
) -> None:
    log = tmp_path / "events"
    launcher = run(stack(log))
    launcher.wait_output("3/3 services ready")
    # The worker has no probe: it counts as ready once spawned, perhaps before its first line.
    wait_for(lambda: ("worker", "started") in events(log), 10, "the worker's first line")
    order = events(log)
    assert order.index(("db", "ready")) < order.index(("api", "started"))
    assert order.index(("api", "ready")) < order.index(("worker", "started"))
    assert re.search(r"^\d\d:\d\d:\d\d db +\| db starting$", launcher.output, re.M)

    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    stops = [name for name, what in events(log) if what == "stopping"]
    assert stops == ["worker", "api", "db"]
    assert not (tmp_path / ".launcher" / "state.json").exists()


def test_sigterm_and_sighup_stop_gracefully_with_128_plus_n(
    run: Callable[..., Launcher], tmp_path: Path
) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        log = tmp_path / f"events-{sig}"
        launcher = run(stack(log))
        launcher.wait_output("3/3 services ready")
        wait_for(lambda log=log: ("worker", "started") in events(log), 10, "the worker's first line")
        launcher.signal(sig)
        assert launcher.wait() == 128 + sig
        assert [n for n, what in events(log) if what == "stopping"] == ["worker", "api", "db"]


def test_run_command_gets_the_stack_environment_and_its_exit_code(
    run: Callable[..., Launcher], tmp_path: Path
) -> None:
    log = tmp_path / "events"
    script = (
        "import os, sys, time, urllib.request; "
        "body = urllib.request.urlopen(os.environ['API_URL']).read().decode(); "
        "print('got', body, os.environ['LAUNCHER_STACK']); "
        # Wait (bounded) for the worker's first line, so that it is up when the stack stops.
        f"deadline = time.monotonic() + 10\n"
        f"while 'worker started' not in open({str(log)!r}).read() and time.monotonic() < deadline: "
        "time.sleep(0.01)\n"
        "sys.exit(7)"
    )
    launcher = run(stack(log), "--", sys.executable, "-c", script)
    assert launcher.wait() == 7
    assert "got api t" in launcher.output
    assert [n for n, what in events(log) if what == "stopping"] == ["worker", "api", "db"]


def test_a_failed_start_rolls_back_and_names_the_service_reason_and_output(
    run: Callable[..., Launcher], tmp_path: Path
) -> None:
    log = tmp_path / "events"
    config = f"""
[launcher]
ports = [18100, 18140]
[services.db]
command = {service("db", log, "--listen")}
port = "auto"
[services.api]
command = {service("api", log, "--exit", "3")}
port = "auto"
depends_on = ["db"]
start_retries = 1
backoff = {{ initial = 0.05 }}
"""
    launcher = run(config)
    assert launcher.wait() == 1
    output = launcher.output
    assert "error[LCH-2002]: service 'api' failed to start: exited with code 3 before it was ready" in output
    assert "(after 2 attempts)" in output
    assert "| api exiting with 3" in output
    assert ("db", "stopping") in events(log)


def test_a_taken_fixed_port_is_an_error_before_anything_starts(
    run: Callable[..., Launcher], tmp_path: Path
) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    log = tmp_path / "events"
    try:
        launcher = run(f"""
[services.first]
command = {service("first", log)}
[services.web]
command = {service("web", log, "--listen")}
port = {port}
depends_on = ["first"]
""")
        assert launcher.wait() == 1
        assert (
            f"error[LCH-3002]: port {port} of service 'web' is already in use by pid {os.getpid()}"
            in launcher.output
        )
        assert not log.exists()
    finally:
        holder.close()


def test_sigkill_of_the_launcher_leaves_no_process_behind(
    run: Callable[..., Launcher], tmp_path: Path
) -> None:
    log = tmp_path / "events"
    config = f"""
[launcher]
ports = [18100, 18140]
[services.a]
command = {service("a", log, "--grandchild")}
[services.b]
command = "sh -c 'sleep 300 & exec sleep 301'"
[services.c]
command = {service("c", log, "--listen")}
port = "auto"
"""
    launcher = run(config)
    launcher.wait_output("3/3 services ready")
    tree = psutil.Process(launcher.process.pid).children(recursive=True)
    assert len(tree) >= 5  # three services, two grandchildren (and the reaper)
    os.kill(launcher.process.pid, signal.SIGKILL)
    launcher.wait()

    def all_gone() -> bool:
        return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)

    wait_for(all_gone, 2.0, "every service process and grandchild to be gone")


def test_a_second_ctrl_c_kills_at_once(run: Callable[..., Launcher], tmp_path: Path) -> None:
    log = tmp_path / "events"
    launcher = run(f"""
[services.stubborn]
command = {service("stubborn", log, "--ignore-term")}
stop_timeout = 60
""")
    launcher.wait_output("1/1 services ready")
    wait_for(lambda: ("stubborn", "started") in events(log), 10, "the service's first line")
    launcher.signal(signal.SIGINT)
    launcher.wait_output("stopping (Ctrl-C again")
    launcher.signal(signal.SIGINT)
    assert launcher.wait(timeout=5) == 130


def test_exit_with_a_grandchild_holding_the_pipe_is_seen_and_restarted(
    run: Callable[..., Launcher], tmp_path: Path
) -> None:
    log = tmp_path / "events"
    launcher = run(f"""
[services.flaky]
command = ["sh", "-c", "echo started >> {log}; sleep 60 & sleep 1.2; exit 3"]
restart = "on-failure"
backoff = {{ initial = 0.1 }}
""")
    wait_for(lambda: len(events(log)) >= 2, 10, "a restart while the grandchild still holds the pipe")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


def test_the_next_run_reaps_what_a_dead_launcher_left(run: Callable[..., Launcher], tmp_path: Path) -> None:
    log = tmp_path / "events"
    config = f"""
[services.orphan]
command = {service("orphan", log)}
"""
    first = run(config)
    first.wait_output("1/1 services ready")
    wait_for(lambda: ("orphan", "started") in events(log), 10, "the service's first line")
    orphan = psutil.Process(_pid_of("orphan", log))
    # Kill the reaper first, then the launcher, so that nothing cleans up on its own.
    reapers = [
        child
        for child in psutil.Process(first.process.pid).children()
        if any(word.endswith(("reaper.py", "launcher.reaper")) for word in child.cmdline())
    ]
    assert len(reapers) == 1, "the launcher's reaper was not found"
    reapers[0].kill()
    os.kill(first.process.pid, signal.SIGKILL)
    first.wait()
    assert orphan.is_running()

    second = run(config)
    second.wait_output("found the state of a launcher that died")
    wait_for(
        lambda: not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE, 5, "the orphan reaped"
    )
    second.wait_output("1/1 services ready")
    second.signal(signal.SIGINT)
    assert second.wait() == 130


def _pid_of(name: str, log: Path) -> int:
    for line in log.read_text().splitlines():
        words = line.split()
        if words[:2] == [name, "started"]:
            return int(words[2])
    raise AssertionError(f"{name} never started")
