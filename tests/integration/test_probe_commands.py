"""Probes as check commands (what exports write into healthchecks and waits), run for real
against real servers and faithful fakes: each must say ready exactly when launcher's own
probe would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from helpers import program, wait_until

from launcher.exports.probecommands import check_argv, wait_script
from launcher.plan.spec import ProbeSpec

pytestmark = pytest.mark.integration


def ready(probe: ProbeSpec) -> bool:
    argv = check_argv(probe, python=sys.executable)
    assert argv is not None
    return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0


@contextmanager
def serving(name: str, port: int, *args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        program(name, "--port", str(port), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        wait_until(lambda: "listening" in process.stdout.readline(), 10, message=f"{name} to listen")
        yield process
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_http_checks_compare_the_status_as_launcher_does(free_port: int) -> None:
    url = f"http://127.0.0.1:{free_port}"
    assert not ready(ProbeSpec("http", f"{url}/health"))  # nothing listens yet
    with serving("http_ok", free_port):
        assert ready(ProbeSpec("http", f"{url}/health"))
        assert not ready(ProbeSpec("http", f"{url}/missing"))  # 404, expect 200
        assert ready(ProbeSpec("http", f"{url}/missing", expect=404))
        assert ready(ProbeSpec("http", f"{url}/missing?x=1", expect=0))  # any answer at all


def test_tcp_checks_connect(free_port: int) -> None:
    assert not ready(ProbeSpec("tcp", f"127.0.0.1:{free_port}"))
    with serving("http_ok", free_port):
        assert ready(ProbeSpec("tcp", f"127.0.0.1:{free_port}"))


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_check_is_not_ready_while_the_server_loads(free_port: int) -> None:
    with serving("fake_redis_loading", free_port, "--loading", "2"):
        probe = ProbeSpec("redis", f"127.0.0.1:{free_port}")
        assert not ready(probe)  # it answers, with LOADING: redis-cli exits 0 on that
        wait_until(lambda: ready(probe), 10, interval=0.2, message="PONG after loading")


@pytest.mark.skipif(shutil.which("pg_isready") is None, reason="pg_isready is not installed")
def test_pg_isready_check_is_not_ready_while_the_server_starts_up(free_port: int) -> None:
    with serving("fake_postgres", free_port, "--starting", "2"):
        probe = ProbeSpec("postgres", f"postgresql://postgres@127.0.0.1:{free_port}/postgres")
        assert not ready(probe)
        wait_until(lambda: ready(probe), 10, interval=0.2, message="accepting connections")


def test_wait_script_waits_for_the_check_then_gives_up_with_a_message(free_port: int) -> None:
    argv = check_argv(ProbeSpec("tcp", f"127.0.0.1:{free_port}"), python=sys.executable)
    assert argv is not None
    given_up = subprocess.run(
        ["sh", "-c", wait_script(argv, "api", 1)], capture_output=True, text=True, timeout=20
    )
    assert given_up.returncode == 1
    assert given_up.stderr.strip() == "api is not ready after 1 s"
    with serving("http_ok", free_port):
        waited = subprocess.run(["sh", "-c", wait_script(argv, "api", 10)], capture_output=True, timeout=20)
    assert waited.returncode == 0
