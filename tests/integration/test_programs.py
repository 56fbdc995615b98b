"""The tiny programs under tests/programs/ do what their docstrings promise.

Other tests rely on them to stand in for real services, so each behaviour they are used for is
checked here once, against the real program.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import program, wait_until

pytestmark = pytest.mark.integration

Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a program in its own session, output piped; killed (group and all) at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str, **options: Any) -> subprocess.Popen[bytes]:
        options.setdefault("stdout", subprocess.PIPE)
        options.setdefault("stdin", subprocess.DEVNULL)
        process = subprocess.Popen(program(name, *args), start_new_session=True, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        # The group too: a grandchild may outlive its parent (forks_child.py).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
        if process.stdout:
            process.stdout.close()


def first_line(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().decode().strip()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_sleeper_prints_its_banner_and_exits_0_on_sigterm(spawn: Spawn) -> None:
    sleeper = spawn("sleeper", "--banner", "hello")
    assert first_line(sleeper) == "hello"
    sleeper.terminate()
    assert sleeper.wait(5) == 0


def test_http_ok_is_unhealthy_then_healthy_and_404_elsewhere(spawn: Spawn, free_port: int) -> None:
    server = spawn("http_ok", "--unhealthy-for", "0.3", env={**os.environ, "PORT": str(free_port)})
    assert first_line(server) == f"listening on 127.0.0.1:{free_port}"

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{free_port}{path}", timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status("/health") == 503
    wait_until(lambda: status("/health") == 200, 5, message="/health to answer 200")
    assert status("/other") == 404
    server.terminate()
    assert server.wait(5) == 0


def test_ignores_sigterm_records_it_and_lives_on(spawn: Spawn, tmp_path: Path) -> None:
    record = tmp_path / "record"
    stubborn = spawn("ignores_sigterm", "--record", str(record))
    assert first_line(stubborn).startswith("ignoring SIGTERM")
    stubborn.terminate()
    wait_until(record.exists, 5, message="the SIGTERM to be recorded")
    assert stubborn.poll() is None


def test_forks_child_leaves_a_grandchild_holding_stdout(spawn: Spawn, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    parent = spawn("forks_child", "--code", "4", "--pidfile", str(pidfile))
    assert parent.wait(5) == 4
    grandchild = int(pidfile.read_text())
    assert first_line(parent) == f"parent {parent.pid} child {grandchild}"
    assert not gone(grandchild)
    os.kill(grandchild, signal.SIGKILL)
    assert parent.stdout is not None
    assert parent.stdout.read() == b""  # EOF only now that the grandchild is gone


def test_crashes_prints_then_exits_with_its_code(spawn: Spawn) -> None:
    crash = spawn("crashes", "--code", "3", "--lines", "2", stderr=subprocess.PIPE)
    out, err = crash.communicate(timeout=5)
    assert crash.returncode == 3
    assert out.decode().splitlines() == ["line 1", "line 2"]
    assert err.decode().strip() == "crashing with code 3"


def test_daemonizes_leaves_a_daemon_in_another_session(spawn: Spawn, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    starter = spawn("daemonizes", "--pidfile", str(pidfile))
    assert starter.wait(5) == 0
    daemon = int(pidfile.read_text())
    assert first_line(starter) == f"daemon {daemon}"
    try:
        assert os.getsid(daemon) not in (os.getsid(0), starter.pid)
        assert daemon not in [p.pid for p in psutil.Process().children(recursive=True)]
    finally:
        os.kill(daemon, signal.SIGKILL)
    wait_until(lambda: gone(daemon), 5, message="the daemon to die")


def test_flood_writes_every_line_whole_and_in_order(spawn: Spawn) -> None:
    flood = spawn("flood", "--lines", "2000", "--length", "50", "--stream", "both", stderr=subprocess.PIPE)
    out, err = flood.communicate(timeout=10)
    assert flood.returncode == 0
    lines = out.decode().splitlines()
    assert lines[-1] == "done 2000"
    assert [int(line[:8]) for line in lines[:-1]] == list(range(0, 2000, 2))
    assert [int(line[:8]) for line in err.decode().splitlines()] == list(range(1, 2000, 2))
    assert {len(line) for line in lines[:-1]} == {50}


def test_longline_writes_a_long_line_then_invalid_utf8_then_ok(spawn: Spawn) -> None:
    out, _ = spawn("longline", "--bytes", "200000").communicate(timeout=10)
    assert out == b"a" * 200000 + b"\nbad \xff\xfe utf-8\nok\n"


def postgres_startup(port: int, ssl_first: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if ssl_first:
            sock.sendall(struct.pack("!II", 8, 80877103))
            assert sock.recv(1) == b"N"
        body = struct.pack("!I", 196608) + b"user\0postgres\0\0"
        sock.sendall(struct.pack("!I", len(body) + 4) + body)
        return sock.recv(4096)


def test_fake_postgres_is_starting_up_then_ready(spawn: Spawn, free_port: int) -> None:
    server = spawn("fake_postgres", "--port", str(free_port), "--starting", "0.5")
    assert first_line(server) == f"listening on 127.0.0.1:{free_port}"
    answer = postgres_startup(free_port, ssl_first=True)
    assert answer[:1] == b"E"
    assert b"C57P03\0" in answer
    assert b"the database system is starting up" in answer

    def authenticated() -> bytes | None:
        reply = postgres_startup(free_port)
        return reply if reply[:1] == b"R" else None

    ready = wait_until(authenticated, 5, message="AuthenticationOk")
    assert ready[:9] == b"R" + struct.pack("!II", 8, 0)
    assert ready.endswith(b"Z\0\0\0\x05I")


def test_fake_redis_is_loading_then_answers_pong(spawn: Spawn, free_port: int) -> None:
    server = spawn("fake_redis_loading", "--port", str(free_port), "--loading", "0.5")
    assert first_line(server) == f"listening on 127.0.0.1:{free_port}"
    with socket.create_connection(("127.0.0.1", free_port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert sock.recv(100) == b"-LOADING Redis is loading the dataset in memory\r\n"

        def pong() -> bool:
            sock.sendall(b"PING\r\n")
            return sock.recv(100) == b"+PONG\r\n"

        wait_until(pong, 5, interval=0.05, message="PONG")
        sock.sendall(b"*1\r\n$4\r\nQUIT\r\n")
        assert sock.recv(100) == b"+OK\r\n"


def test_writes_on_signal_records_signals_and_exits_on_term(spawn: Spawn, tmp_path: Path) -> None:
    record = tmp_path / "signals"
    writer = spawn("writes_on_signal", str(record), "--name", "w", "--code", "5")
    assert first_line(writer) == f"w ready {writer.pid}"
    writer.send_signal(signal.SIGUSR1)
    wait_until(lambda: "SIGUSR1" in record.read_text(), 5, message="SIGUSR1 recorded")
    writer.terminate()
    assert writer.wait(5) == 5
    events = [line.split() for line in record.read_text().splitlines()]
    assert [e[:3] for e in events] == [
        [name, event, str(writer.pid)]
        for name, event in (("w", "ready"), ("w", "SIGUSR1"), ("w", "SIGTERM"), ("w", "exit"))
    ]
    times = [float(e[3]) for e in events]
    assert times == sorted(times)


def test_introspect_reports_how_it_was_started(spawn: Spawn, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    process = spawn("introspect", str(out), "a b", "$X", env={**os.environ, "MINE": "1"}, cwd=tmp_path)
    assert first_line(process) == "introspect ready"
    report = json.loads(out.read_text())
    assert report["argv"] == ["a b", "$X"]
    assert report["cwd"] == str(tmp_path)
    assert report["pid"] == report["pgid"] == report["sid"] == process.pid
    assert report["stdin"] == "/dev/null"
    assert report["env"]["MINE"] == "1"
    process.terminate()
    assert process.wait(5) == 0


def test_stack_service_fails_its_first_runs_then_starts(spawn: Spawn, tmp_path: Path) -> None:
    events, counter = tmp_path / "events", tmp_path / "counter"
    flags = ("--events", str(events), "--fail-times", "2", "--counter", str(counter))
    for run in (1, 2):
        failing = spawn("stack_service", "s", *flags)
        assert first_line(failing) == f"s failing run {run}"
        assert failing.wait(5) == 1
    started = spawn("stack_service", "s", *flags, "--lines", "2")
    assert first_line(started) == "s starting"
    assert [first_line(started), first_line(started)] == ["s line 1", "s line 2"]
    assert [line.split()[1] for line in events.read_text().splitlines()] == ["failed", "failed", "started"]
    started.terminate()
    assert started.wait(5) == 0


def test_stack_service_exits_when_the_text_appears_and_leaves_a_daemon(spawn: Spawn, tmp_path: Path) -> None:
    events, pidfile = tmp_path / "events", tmp_path / "daemon"
    service = spawn(
        "stack_service", "s", "--events", str(events), "--exit", "5", "--exit-when", "go now",
        "--daemon", str(pidfile),
    )  # fmt: skip
    assert first_line(service) == "s starting"
    wait_until(pidfile.exists, 5, message="the daemon's pid file")
    daemon = int(pidfile.read_text())
    try:
        assert os.getsid(daemon) != os.getsid(service.pid)
        assert service.poll() is None
        with events.open("a") as file:
            file.write("go now\n")
        assert service.wait(5) == 5
    finally:
        os.kill(daemon, signal.SIGKILL)
    wait_until(lambda: gone(daemon), 5, message="the daemon to die")
