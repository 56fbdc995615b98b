"""The client commands (`status`, `logs`, `start`, `stop`, `restart`, `down`) against a real
stack: `python -m launcher run` in the background, the commands as subprocesses of their own,
talking to it over the control API's unix socket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    Events,
    Launch,
    LauncherRun,
    ProjectFactory,
    alive,
    cli,
    following,
    service,
    stack_project,
    wait_until,
)

pytestmark = pytest.mark.integration

NAMES = ["web", "worker", "job"]


@dataclass
class Running:
    root: Path
    launcher: LauncherRun
    events: Events

    def state(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.root / ".launcher" / "state.json").read_text())
        except (OSError, ValueError):
            return None
        return data

    def pid(self, name: str) -> int | None:
        services = json.loads(cli(self.root, "status", "--json").stdout)["services"]
        pid: int | None = next(s["pid"] for s in services if s["name"] == name)
        return pid


@pytest.fixture
def running(project: ProjectFactory, launch: Launch) -> Running:
    """A stack of three: an HTTP server with a probe, a worker after it, a oneshot; all settled,
    and the state file naming the API socket."""
    stack = stack_project(project)
    stack.write(
        f"""
[services.web]
command = {service("web", stack.events, "--listen", "--http", "--lines", "5")}
port = "auto"
probe = {{ http = "/" }}

[services.worker]
command = {service("worker", stack.events, "--lines", "3")}
depends_on = ["web"]
start_retries = 0

[services.job]
command = "true"
oneshot = true
""",
        launcher='name = "shop"',
    )
    running = Running(stack.root, launch(stack.root), stack.events)
    running.launcher.wait_output("3/3 services ready")
    wait_until(lambda: (running.state() or {}).get("api"), 10, message="the API socket in the state file")
    return running


def test_status_prints_the_stack_then_a_row_per_service(running: Running) -> None:
    result = cli(running.root, "status")
    assert result.returncode == 0, result.stderr
    head, columns, *rows = result.stdout.splitlines()
    assert head.startswith(
        f"stack shop (no profile, mode multi): running, launcher pid {running.launcher.process.pid}"
    )
    assert columns.split() == ["SERVICE", "STATE", "PID", "URL", "UPTIME", "RESTARTS", "LAST", "PROBE"]
    table = {row.split()[0]: row.split() for row in rows}
    assert sorted(table) == sorted(NAMES)
    assert table["web"][1:3] == ["ready", str(running.events.pids("web")[-1])]
    assert table["web"][-5:-2] == ["ok:", "HTTP", "200,"]
    assert table["worker"][1] == "ready"
    assert table["job"][1:3] == ["completed", "(exit"]
    # From another directory, with -f naming the configuration.
    elsewhere = cli(running.root.parent, "-f", str(running.root / "launcher.toml"), "status")
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert elsewhere.stdout.startswith("stack shop (no profile, mode multi): running")
    assert len(elsewhere.stdout.splitlines()) == 2 + len(NAMES)


def test_status_json_is_the_apis_stack_object(running: Running) -> None:
    result = cli(running.root, "status", "--json")
    assert result.returncode == 0, result.stderr
    stack = json.loads(result.stdout)
    assert (stack["stack"], stack["state"], stack["mode"], stack["profile"]) == (
        "shop",
        "running",
        "multi",
        None,
    )
    assert stack["pid"] == running.launcher.process.pid
    services = {s["name"]: s for s in stack["services"]}
    assert sorted(services) == sorted(NAMES)
    assert services["web"]["pid"] == running.events.pids("web")[-1]
    assert services["web"]["url"] == f"http://127.0.0.1:{services['web']['port']}"
    assert services["web"]["last_probe"]["ok"] is True
    assert services["job"]["exit_code"] == 0


def test_logs_prints_the_last_lines_of_one_service_or_of_all(running: Running) -> None:
    one = cli(running.root, "logs", "web", "-n", "2")
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines() == ["web      | web line 4", "web      | web line 5"]
    every = cli(running.root, "logs", "--tail", "1")
    assert every.returncode == 0, every.stderr
    assert every.stdout.splitlines() == ["web      | web line 5", "worker   | worker line 3"]
    default = cli(running.root, "logs", "worker", "--no-prefix")
    assert default.stdout.splitlines() == ["worker starting", *(f"worker line {n}" for n in (1, 2, 3))]


def test_logs_follow_prints_new_lines_then_ends_when_the_stack_stops(running: Running) -> None:
    with following(running.root, "-n", "1") as output:
        wait_until(lambda: "worker   | worker line 3" in output.read_text(), 10, message="the tail")
        assert cli(running.root, "restart", "worker").returncode == 0
        wait_until(lambda: "worker   | worker starting" in output.read_text(), 10, message="the new line")
        running.launcher.signal(signal.SIGTERM)
    assert output.read_text().splitlines()[:2] == ["web      | web line 5", "worker   | worker line 3"]
    assert running.launcher.wait() == 143


def test_ctrl_c_ends_logs_follow_with_exit_code_0(running: Running) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "launcher", "logs", "web", "-f", "--no-prefix"],
        cwd=running.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    # Its whole tail, so that the interrupt comes while it waits for new lines.
    tail = [follower.stdout.readline() for _ in range(6)]
    assert tail == ["web starting\n", *(f"web line {n}\n" for n in range(1, 6))]
    follower.send_signal(signal.SIGINT)
    assert follower.wait(10) == 0
    assert follower.stderr is not None
    with follower.stdout, follower.stderr:
        assert follower.stdout.read() == ""
        assert "Traceback" not in follower.stderr.read()


def test_stop_start_and_restart_one_service(running: Running) -> None:
    first = running.pid("worker")
    assert first is not None
    stopped = cli(running.root, "stop", "worker")
    assert (stopped.returncode, stopped.stdout) == (0, "stopped worker\n")
    assert not alive(first)
    assert running.pid("worker") is None
    row = next(r for r in cli(running.root, "status").stdout.splitlines() if r.startswith("worker "))
    assert row.split()[1:3] == ["stopped", "(exit"]

    started = cli(running.root, "start", "worker")
    assert started.returncode == 0, started.stderr
    second = running.pid("worker")
    assert second is not None
    assert second != first
    assert started.stdout == f"started worker: ready, pid {second}\n"

    restarted = cli(running.root, "restart", "worker")
    assert restarted.returncode == 0, restarted.stderr
    third = running.pid("worker")
    assert third not in (None, second)
    assert restarted.stdout == f"restarted worker: ready, pid {third}\n"
    assert not alive(second)
    assert running.events.pids("worker") == [first, second, third]


def test_a_start_that_fails_says_why_with_the_services_last_lines(
    project: ProjectFactory, launch: Launch
) -> None:
    # It runs until a file named `fail` appears in the project (its working directory). `keep`
    # keeps the stack running while flaky is stopped: `run` ends when no service is left.
    root = project("""
        [services.keep]
        command = "sleep 300"

        [services.flaky]
        command = "sh -c 'if [ -e fail ]; then echo flaky is broken; exit 3; fi; exec sleep 300'"
        start_retries = 0
    """)
    stack = Running(root, launch(root), Events(root / "events"))
    stack.launcher.wait_output("2/2 services ready")
    wait_until(lambda: (stack.state() or {}).get("api"), 10, message="the API socket in the state file")
    assert cli(root, "stop", "flaky").returncode == 0
    (root / "fail").write_text("")
    result = cli(root, "start", "flaky")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error[LCH-2002]: service 'flaky' failed to start")
    assert "    | flaky is broken\n" in result.stderr
    assert "  hint: " in result.stderr


@pytest.mark.parametrize("args", [["start", "nope"], ["stop", "nope"], ["restart", "nope"], ["logs", "nope"]])
def test_an_unknown_service_is_lch_4003_naming_the_stacks_services(running: Running, args: list[str]) -> None:
    result = cli(running.root, *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "error[LCH-4003]: no service 'nope' in this stack (it has: web, job, worker)"
    )


def test_down_stops_the_stack_and_returns_once_everything_is_gone(running: Running) -> None:
    processes = running.launcher.services()
    assert len(processes) == 2  # web and worker (job has completed)
    result = cli(running.root, "down")
    assert (result.returncode, result.stdout) == (0, "stopped\n"), result.stderr
    assert running.launcher.process.poll() is not None  # exited: only its exit code is left
    assert not [p.pid for p in processes if alive(p.pid)]
    assert running.state() is None
    assert "stop requested through the control API" in running.launcher.output
    again = cli(running.root, "down")
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout.startswith("nothing to stop: no stack of this project is running")


@pytest.mark.parametrize(
    "args",
    [
        ["start", "web"],
        ["stop", "web"],
        ["restart"],
        ["exec", "--", "true"],
        ["exec", "web", "--", "true"],
        ["env"],
        ["env", "web", "--json"],
    ],
)
def test_with_no_stack_running_every_client_command_is_lch_4001(
    project: ProjectFactory, args: list[str]
) -> None:
    root = project('[services.web]\ncommand = "sleep 300"\n')
    result = cli(root, *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error[LCH-4001]: no stack of this project is running\n"
        f"  --> {root / '.launcher' / 'state.json'}\n"
        "  hint: start one with `launcher up -d` (in the background) or `launcher run`\n"
    )


def test_outside_any_project_the_client_commands_are_lch_1015(tmp_path: Path) -> None:
    result = cli(tmp_path, "status")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error[LCH-1015]: no launcher.toml found in {tmp_path}")


def test_status_after_the_launcher_died_ends_its_leftovers_and_removes_its_state(running: Running) -> None:
    left = running.launcher.services()
    assert len(left) == 2
    # Kill its reaper first, then the launcher: nothing cleans up on its own.
    for child in running.launcher.children():
        if child not in left:
            child.kill()
    os.kill(running.launcher.process.pid, signal.SIGKILL)
    running.launcher.wait()
    assert all(alive(p.pid) for p in left)

    result = cli(running.root, "status")
    assert result.returncode == 3
    [note] = result.stderr.splitlines()
    pid = running.launcher.process.pid
    assert note.startswith(f"found the state of a launcher that died (pid {pid}): ended ")
    assert "web (pid" in note
    assert "worker (pid" in note
    assert result.stdout.startswith("stopped: no stack of this project is running")
    assert not [p.pid for p in left if alive(p.pid)]
    assert running.state() is None
    # Reaped once: the next command finds no stack, and nothing dead.
    again = cli(running.root, "status")
    assert (again.returncode, again.stderr) == (3, "")


def test_a_live_launcher_whose_socket_is_gone_is_an_api_error(running: Running) -> None:
    state = running.state()
    assert state is not None
    Path(state["api"]).unlink()
    result = cli(running.root, "status")
    assert result.returncode == 1
    pid = running.launcher.process.pid
    assert result.stderr.startswith(
        f"error: the launcher of this project (pid {pid}) runs, but its control API does not answer at"
    )
    assert alive(pid)
