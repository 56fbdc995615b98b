"""`launcher up -d [--wait]` and `down`: a stack in the background, steered from other commands.

Each test ends with `down` (or checks that nothing is left); the leak guard catches a detached
launcher left running, as it catches services.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers import ProjectFactory, cli, copy_demo, free_port_block, program, toml_list, wait_until, web_stack

pytestmark = pytest.mark.integration


def state(root: Path) -> dict[str, object] | None:
    try:
        data: dict[str, object] = json.loads((root / ".launcher" / "state.json").read_text())
    except FileNotFoundError:
        return None
    return data


def state_file(root: Path) -> Path:
    return root / ".launcher" / "state.json"


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def unix_get(path: str, target: str) -> tuple[int, bytes]:
    """A GET over the API's unix socket, as `curl --unix-socket PATH http://localhost/...`."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture
def down_after() -> Iterator[list[Path]]:
    """Projects to bring down at the end, whatever the test did."""
    roots: list[Path] = []
    yield roots
    for root in roots:
        if state(root) is not None:
            cli(root, "down")


def test_the_demo_stack_up_status_logs_restart_metrics_down(tmp_path: Path, down_after: list[Path]) -> None:
    root = copy_demo(tmp_path / "repo")
    down_after.append(root)
    up = cli(root, "up", "full", "-d", "--wait", "--timeout", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "4/4 services ready" in up.stdout

    status = cli(root, "status")
    assert status.returncode == 0, status.stderr
    rows = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()[2:] if line.strip()}
    assert rows == {
        "migrate": "completed",
        "api_gateway": "ready",
        "writer_agent": "ready",
        "reviewer_agent": "ready",
    }

    # The agents poll the gateway, which logs every request: soon it has 20 lines and more.
    logs = wait_until(
        lambda: (out := cli(root, "logs", "api_gateway", "-n", "20").stdout).count("\n") >= 20 and out,
        timeout=30,
    )
    assert len(logs.splitlines()) == 20
    assert "HTTP/1.1" in logs

    before = json.loads(cli(root, "status", "--json").stdout)
    writer = next(s for s in before["services"] if s["name"] == "writer_agent")
    restart = cli(root, "restart", "writer_agent")
    assert restart.returncode == 0, restart.stderr
    after = json.loads(cli(root, "status", "--json").stdout)
    writer_again = next(s for s in after["services"] if s["name"] == "writer_agent")
    assert writer_again["state"] == "ready"
    assert writer_again["pid"] != writer["pid"]

    record = state(root)
    assert record is not None
    code, metrics = unix_get(str(record["api"]), "/metrics")
    assert code == 200
    assert b'launcher_service_state{service="api_gateway",state="ready"} 1.0' in metrics

    launcher_pid = int(str(record["pid"]))
    service_pids = [s["pid"] for s in after["services"] if s["pid"]]
    down = cli(root, "down")
    assert down.returncode == 0, down.stderr
    assert gone(launcher_pid)
    assert all(gone(pid) for pid in service_pids)
    assert state(root) is None
    # Each service's output went to its own log file, the launcher's events to its own.
    logs = root / ".launcher" / "logs"
    assert "gateway" in (logs / "api_gateway.log").read_text()
    assert "ready -> stopping" in (logs / "launcher.log").read_text()


def test_an_up_of_another_stack_is_refused_while_one_runs_and_two_projects_run_side_by_side(
    project: ProjectFactory, down_after: list[Path]
) -> None:
    one, two = web_stack(project, name="one"), web_stack(project, name="two")
    down_after += [one, two]
    assert cli(one, "up", "-d", "--wait").returncode == 0
    again = cli(one, "up", "web", "-d")  # web alone: not the stack that runs
    assert again.returncode == 1
    assert "LCH-4002" in again.stderr
    assert cli(two, "up", "-d", "--wait").returncode == 0
    for root in (one, two):
        status = json.loads(cli(root, "status", "--json").stdout)
        assert {s["name"]: s["state"] for s in status["services"]} == {"web": "ready", "worker": "ready"}
    assert state(one)["api"] != state(two)["api"]  # type: ignore[index]
    assert cli(one, "down").returncode == 0
    assert json.loads(cli(two, "status", "--json").stdout)["state"] == "running"  # untouched
    assert cli(two, "down").returncode == 0


def test_a_killed_launcher_is_noticed_and_its_stack_reaped_by_the_next_status(
    project: ProjectFactory, down_after: list[Path]
) -> None:
    root = web_stack(project)
    down_after.append(root)
    assert cli(root, "up", "-d", "--wait").returncode == 0
    record = state(root)
    assert record is not None
    pids = [int(str(s["pid"])) for s in record["services"] if s["pid"]]  # type: ignore[attr-defined]
    os.kill(int(str(record["pid"])), signal.SIGKILL)
    wait_until(lambda: gone(int(str(record["pid"]))), timeout=10)
    status = cli(root, "status")
    assert status.returncode == 3
    assert "found the state of a launcher that died" in status.stderr
    assert status.stdout.startswith("stopped: no stack of this project is running")
    wait_until(lambda: all(gone(pid) for pid in pids), timeout=10)
    assert state(root) is None
    # And the project can be brought up again at once.
    assert cli(root, "up", "-d", "--wait").returncode == 0
    assert cli(root, "down").returncode == 0


def test_up_wait_fails_with_the_failing_service_and_its_last_lines(
    project: ProjectFactory, down_after: list[Path]
) -> None:
    root = web_stack(
        project,
        extra=f"""
        [services.broken]
        command = {toml_list(program("crashes", "--code", "4", "--message", "cannot reach the queue"))}
        start_retries = 0
        """,
    )
    down_after.append(root)
    up = cli(root, "up", "-d", "--wait", "--timeout", "60")
    assert up.returncode == 1
    assert "broken" in up.stderr
    assert "cannot reach the queue" in up.stderr
    wait_until(lambda: state(root) is None, timeout=30)  # rolled back: nothing left


def test_up_wait_timeout_leaves_the_stack_running(project: ProjectFactory, down_after: list[Path]) -> None:
    root = web_stack(
        project,
        extra=f"""
        [services.slow]
        command = {toml_list(program("http_ok", "--delay", "30"))}
        port = "auto"
        """,
    )
    down_after.append(root)
    up = cli(root, "up", "-d", "--wait", "--timeout", "2")
    assert up.returncode == 1
    assert "'slow' was not ready within 2s" in up.stderr
    assert "launcher down" in up.stderr
    assert json.loads(cli(root, "status", "--json").stdout)["state"] == "starting"
    assert cli(root, "down").returncode == 0


def test_a_bad_configuration_is_reported_by_up_and_nothing_starts(project: ProjectFactory) -> None:
    root = project(
        """
        [services.web]
        comand = "python -m http.server"
        """
    )
    up = cli(root, "up", "-d")
    assert up.returncode == 2
    assert "LCH-1002" in up.stderr
    assert state(root) is None
    assert not (root / ".launcher" / "logs" / "launcher.log").exists()


def test_down_without_a_stack_says_so_and_exits_0(project: ProjectFactory) -> None:
    root = web_stack(project)
    down = cli(root, "down")
    assert (down.returncode, down.stderr) == (0, "")
    assert down.stdout == f"nothing to stop: no stack of this project is running ({state_file(root)})\n"


def test_stopping_every_service_on_request_keeps_the_stack_for_their_start(
    project: ProjectFactory, down_after: list[Path]
) -> None:
    root = web_stack(project)
    down_after.append(root)
    assert cli(root, "up", "-d", "--wait").returncode == 0
    for name in ("worker", "web"):
        assert cli(root, "stop", name).returncode == 0
    status = json.loads(cli(root, "status", "--json").stdout)
    assert status["state"] == "running"
    assert {s["name"]: s["state"] for s in status["services"]} == {"web": "stopped", "worker": "stopped"}
    assert cli(root, "start", "web").returncode == 0
    assert cli(root, "start", "worker").returncode == 0
    status = json.loads(cli(root, "status", "--json").stdout)
    assert {s["name"]: s["state"] for s in status["services"]} == {"web": "ready", "worker": "ready"}
    assert cli(root, "down").returncode == 0


def tcp_get(port: int, target: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", target, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_opt_in_tcp_listener_wants_the_generated_token(
    project: ProjectFactory, down_after: list[Path]
) -> None:
    api_port = free_port_block(1)[0]
    root = web_stack(project)
    config = root / "launcher.toml"
    config.write_text(
        config.read_text().replace("stop_timeout = 5", f'stop_timeout = 5\napi = "127.0.0.1:{api_port}"')
    )
    down_after.append(root)
    env_token = {k: v for k, v in os.environ.items() if k != "LAUNCHER_API_TOKEN"}
    up = subprocess.run(
        [sys.executable, "-m", "launcher", "up", "-d", "--wait"],
        cwd=root,
        env=env_token,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert up.returncode == 0, up.stderr
    token_file = root / ".launcher" / "run" / "api.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert tcp_get(api_port, "/v1/status") == 401
    assert tcp_get(api_port, "/v1/status", "wrong") == 401
    assert tcp_get(api_port, "/v1/status", token) == 200
    assert cli(root, "down").returncode == 0


def test_a_taken_api_address_is_lch_4004_and_nothing_starts(project: ProjectFactory) -> None:
    root = web_stack(project)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = root / "launcher.toml"
        config.write_text(
            config.read_text().replace("stop_timeout = 5", f'stop_timeout = 5\napi = "127.0.0.1:{port}"')
        )
        run = cli(root, "run")
    assert run.returncode == 1
    assert "LCH-4004" in run.stderr
    assert "web" not in run.stdout.replace("[launcher]", "")  # no service started
    assert state(root) is None
