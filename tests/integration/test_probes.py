"""Probes against real servers: HTTP, TCP, cmd, log, a real redis-server, the machine's
PostgreSQL, faithful fakes that accept TCP before they are ready, and a dead proxy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import program

from launcher.plan.spec import ProbeSpec
from launcher.runtime.probes import LogWatch, Prober
from launcher.runtime.readiness import wait_ready, watch_liveness

pytestmark = pytest.mark.integration


def probe(kind: str, target: str, **fields: object) -> ProbeSpec:
    return ProbeSpec(kind=kind, target=target, **fields)  # type: ignore[arg-type]


class Server:
    """A program from tests/programs in its own session, stopped by its group at the end."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )

    def wait_line(self, text: str, timeout: float = 10) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline().decode()
            if text in line:
                return
        raise AssertionError(f"no {text!r} from {self.process.args}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


async def test_http_probe_waits_for_the_expected_status(free_port: int, servers: list[Server]) -> None:
    servers.append(Server(program("http_ok", "--port", str(free_port), "--delay", "0.3")))
    async with Prober() as p:
        http = probe("http", f"http://127.0.0.1:{free_port}/health")
        assert not (await p.check(http)).ok
        result = await asyncio.wait_for(wait_ready(p, http), 10)
        assert result.ok
        assert result.detail == "HTTP 200"
        missing = await p.check(probe("http", f"http://127.0.0.1:{free_port}/nope"))
        assert not missing.ok
        assert missing.detail.startswith("HTTP 4")
        assert (await p.check(probe("http", f"http://127.0.0.1:{free_port}/nope", expect=0))).ok


ANSWERS = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "no-content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "status-only": b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy",
}


@pytest.mark.parametrize(("answer", "status"), [("length", 200), ("chunked", 200), ("no-content", 204)])
async def test_plain_http_reads_an_answer_to_its_end_without_waiting_for_a_close(
    answer: str, status: int
) -> None:
    """The server keeps the connection open after its answer: the check must not wait for a
    close that never comes (the body says where it ends)."""
    requests: list[bytes] = []
    served = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            requests.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(ANSWERS[answer])
            await writer.drain()
            await reader.read()  # until the client hangs up
        finally:
            await _hang_up(writer)
            served.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Prober() as p:
            result = await p.check(probe("http", f"http://127.0.0.1:{port}/h?x=1", expect=status, timeout=2))
        await asyncio.wait_for(served.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()
    assert result.ok, result
    assert result.detail == f"HTTP {status}"  # within its timeout: it did not wait for a close
    assert requests[0].startswith(b"GET /h?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Connection: close" in requests[0]


async def _hang_up(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def test_plain_http_reads_to_the_close_without_a_length_and_refuses_what_is_not_http() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            writer.write(ANSWERS["status-only"] if b"GET /ok" in request else b"SSH-2.0-OpenSSH\r\n\r\n")
            await writer.drain()
        finally:
            await _hang_up(writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Prober() as p:
            unavailable = await p.check(probe("http", f"http://127.0.0.1:{port}/ok", timeout=2))
            anything = await p.check(probe("http", f"http://127.0.0.1:{port}/ok", expect=0, timeout=2))
            other = await p.check(probe("http", f"http://127.0.0.1:{port}/ssh", expect=0, timeout=2))
    finally:
        server.close()
        await server.wait_closed()
    assert (unavailable.ok, unavailable.detail) == (False, "HTTP 503")
    assert anything.ok
    assert not other.ok
    assert "not an HTTP answer" in other.detail


async def test_tcp_probe_notices_a_port_within_tens_of_milliseconds(free_port: int) -> None:
    async with Prober() as p:
        tcp = probe("tcp", f"127.0.0.1:{free_port}")
        assert (await p.check(tcp)).detail == "connection refused"
        waiting = asyncio.ensure_future(wait_ready(p, tcp))
        await asyncio.sleep(0.2)
        listener = socket.create_server(("127.0.0.1", free_port))
        listened = time.monotonic()
        try:
            await asyncio.wait_for(waiting, 5)
            # Not a timing assertion on the machine: a bound on the polling schedule (5 ms).
            assert time.monotonic() - listened < 1.0
        finally:
            listener.close()


async def test_cmd_probe_exit_codes_and_a_timeout_leaves_nothing(tmp_path: Path) -> None:
    async with Prober() as p:
        assert (await p.check(probe("cmd", "true", argv=("true",)))).ok
        failed = await p.check(probe("cmd", "false", argv=("false",)))
        assert (failed.ok, failed.detail) == (False, "exit code 1")
        marker = tmp_path / "slept"
        slow = probe("cmd", "", argv=("sh", "-c", f"sleep 30; touch {marker}"), timeout=0.2)
        result = await p.check(slow)
        assert not result.ok
        assert "no answer within 0.2s" in result.detail


async def test_log_probe_is_event_driven_and_counts_earlier_lines() -> None:
    watch = LogWatch()
    watch.feed("booting")
    ready = probe("log", r"listening on \d+")
    waiting = asyncio.ensure_future(wait_ready(Prober(), ready, log=watch))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    watch.feed_many(["still booting", "listening on 8080"])
    result = await asyncio.wait_for(waiting, 1)
    assert "listening on 8080" in result.detail
    watch.reset()
    watch.feed("listening on 9090")
    assert (await asyncio.wait_for(wait_ready(Prober(), ready, log=watch), 1)).ok


async def test_real_redis_server(free_port: int, servers: list[Server], tmp_path: Path) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed on this machine")
    servers.append(
        Server(
            [
                binary,
                "--port",
                str(free_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ]
        )
    )
    async with Prober() as p:
        result = await asyncio.wait_for(wait_ready(p, probe("redis", f"127.0.0.1:{free_port}")), 10)
        assert result.detail == "PONG"
        url = await p.check(probe("redis", f"redis://127.0.0.1:{free_port}/0"))
        assert url.ok


async def test_a_redis_that_is_loading_is_not_ready(free_port: int, servers: list[Server]) -> None:
    servers.append(Server(program("fake_redis_loading", "--port", str(free_port), "--loading", "0.8")))
    servers[-1].wait_line("listening")
    async with Prober() as p:
        redis = probe("redis", f"127.0.0.1:{free_port}")
        first = await p.check(redis)
        assert (first.ok, first.detail) == (False, "LOADING")
        started = time.monotonic()
        assert (await asyncio.wait_for(wait_ready(p, redis), 10)).detail == "PONG"
        assert time.monotonic() - started > 0.3  # it really waited for the loading to end


async def test_the_machines_postgresql() -> None:
    with socket.socket() as check:
        if check.connect_ex(("127.0.0.1", 5432)) != 0:
            pytest.skip("no PostgreSQL listens on 127.0.0.1:5432 here")
    async with Prober() as p:
        result = await p.check(probe("postgres", "postgresql://postgres@127.0.0.1:5432/postgres"))
        assert result.ok, result.detail


async def test_a_postgresql_that_is_starting_up_is_not_ready(free_port: int, servers: list[Server]) -> None:
    servers.append(Server(program("fake_postgres", "--port", str(free_port), "--starting", "0.8")))
    servers[-1].wait_line("listening")
    async with Prober() as p:
        pg = probe("postgres", f"postgresql://app@127.0.0.1:{free_port}/app")
        first = await p.check(pg)
        assert not first.ok
        assert first.detail.startswith("starting up")
        assert (await asyncio.wait_for(wait_ready(p, pg), 10)).ok


async def test_probes_ignore_a_dead_proxy_in_the_environment(
    free_port: int, servers: list[Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{dead_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    servers.append(Server(program("http_ok", "--port", str(free_port))))
    async with Prober() as p:
        result = await asyncio.wait_for(
            wait_ready(p, probe("http", f"http://127.0.0.1:{free_port}/health")), 10
        )
        assert result.detail == "HTTP 200"


async def test_liveness_reports_after_the_failure_threshold(free_port: int) -> None:
    listener = socket.create_server(("127.0.0.1", free_port))
    async with Prober() as p:
        live = probe("tcp", f"127.0.0.1:{free_port}", interval=0.02, failure_threshold=3)
        watching = asyncio.ensure_future(watch_liveness(p, live))
        await asyncio.sleep(0.15)
        assert not watching.done()
        listener.close()
        result = await asyncio.wait_for(watching, 5)
        assert not result.ok
