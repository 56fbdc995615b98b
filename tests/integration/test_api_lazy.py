"""`launcher run` serves its control API from the first client on (launcher/control/lazy.py):
until one connects, the launcher's process holds no aiohttp (its compiled modules are not mapped
in /proc/PID/maps); the first request is answered as every later one, and the probe checks made
before it are counted in the metrics all the same.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from api_helpers import UnixConnection
from helpers import Launch, LauncherRun, ProjectFactory, cli, program, toml_list, wait_until
from prometheus_client.parser import text_string_to_metric_families

import launcher
from launcher.control.lazy import LazyApi
from launcher.control.listening import bind_api
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.output import make_sink

pytestmark = pytest.mark.integration
compiled = pytest.mark.skipif(
    importlib.util.find_spec("aiohttp._http_parser") is None,
    reason="aiohttp without its compiled modules: nothing to see in /proc/PID/maps",
)


def stack(project: ProjectFactory) -> Path:
    """An HTTP service that binds a second after its start (its first readiness checks fail),
    checked for liveness every 0.2 s, and a sleeper."""
    web = toml_list(program("http_ok", "--delay", "1"))
    return project(
        f"""
        [services.web]
        command = {web}
        port = "auto"
        probe = {{ http = "/health" }}
        liveness = {{ http = "/health", interval = 0.2 }}

        [services.worker]
        command = {toml_list(program("sleeper"))}
        """
    )


def started(project: ProjectFactory, launch: Launch) -> tuple[Path, LauncherRun]:
    root = stack(project)
    run = launch(root)
    run.wait_output("2/2 services ready")
    return root, run


def aiohttp_mapped(pid: int) -> bool:
    return "/aiohttp/" in Path(f"/proc/{pid}/maps").read_text()


def socket_path(root: Path) -> Path:
    return Path(json.loads((root / ".launcher" / "state.json").read_text())["api"])


def get(root: Path, path: str) -> tuple[int, bytes]:
    conn = UnixConnection(socket_path(root))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def probe_samples(text: str, name: str, probe: str) -> float:
    families = text_string_to_metric_families(text)
    return next(
        s.value
        for family in families
        for s in family.samples
        if s.name == name and s.labels == {"service": "web", "probe": probe}
    )


@compiled
def test_no_aiohttp_until_the_first_client_whose_status_is_answered(
    project: ProjectFactory, launch: Launch
) -> None:
    root, run = started(project, launch)
    assert not aiohttp_mapped(run.process.pid)
    status = cli(root, "status", "--json")  # the first request
    assert status.returncode == 0, status.stderr
    services: list[dict[str, Any]] = json.loads(status.stdout)["services"]
    assert {s["name"]: s["state"] for s in services} == {"web": "ready", "worker": "ready"}
    assert aiohttp_mapped(run.process.pid)
    assert cli(root, "status").returncode == 0


@compiled
def test_the_first_scrape_counts_the_probe_checks_made_before_it(
    project: ProjectFactory, launch: Launch
) -> None:
    root, run = started(project, launch)
    # Liveness checks go on (every 0.2 s) while nobody has asked: some of them, unscraped.
    wait_until(lambda: run.output.count("GET /health") >= 4, 10, message="liveness checks")
    assert not aiohttp_mapped(run.process.pid)
    code, body = get(root, "/metrics")
    assert code == 200
    text = body.decode()
    # The readiness checks refused before the service bound, a second in: counted from the start.
    readiness = probe_samples(text, "launcher_probe_duration_seconds_count", "readiness")
    refused = probe_samples(text, "launcher_probe_failures_total", "readiness")
    assert refused >= 1
    assert readiness == refused + 1  # then the one that passed
    assert probe_samples(text, "launcher_probe_duration_seconds_count", "liveness") >= 3


@compiled
def test_a_stream_as_the_first_request(project: ProjectFactory, launch: Launch) -> None:
    root, run = started(project, launch)
    assert not aiohttp_mapped(run.process.pid)
    conn = UnixConnection(socket_path(root))
    try:
        conn.request("GET", "/v1/services/web/logs?follow=true&tail=1")
        response = conn.getresponse()
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/x-ndjson"
        # Its tail, then the requests that liveness makes as they come.
        for _ in range(2):
            line = json.loads(response.readline())
            assert line["service"] == "web"
            assert "/health" in line["line"]
    finally:
        conn.close()


@compiled
def test_down_as_the_first_request(project: ProjectFactory, launch: Launch) -> None:
    root, run = started(project, launch)
    assert not aiohttp_mapped(run.process.pid)
    down = cli(root, "down")  # POST /v1/stop, then waits for the stack to be gone
    assert down.returncode == 0, down.stderr
    assert run.wait() == 0
    assert not (root / ".launcher" / "state.json").exists()


async def first_request_then_close(plan: Any, path: Path, *, wait: bool) -> bytes:
    """A LazyApi in this process (whose aiohttp is imported already): a client sends a request
    to it; closed once it has answered (`wait`), else at once, while the API opens."""
    orchestrator = Orchestrator(plan, sink=make_sink(io.StringIO()), state_file=False)
    api = LazyApi(orchestrator, bind_api(path), token=None, on_stop=lambda: None)
    api.listen()
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        if wait:
            return await asyncio.wait_for(reader.read(), 10)
        await asyncio.sleep(0)  # the knock is seen; the API is on its way
        await api.aclose()
        try:
            return await asyncio.wait_for(reader.read(), 10)
        except ConnectionError:
            return b""
    finally:
        writer.close()
        await api.aclose()


@pytest.mark.parametrize("wait", [True, False], ids=["answered", "closed-while-opening"])
def test_the_lazy_api_answers_its_first_client_and_closes_clean(project: ProjectFactory, wait: bool) -> None:
    plan = launcher.load(stack(project) / "launcher.toml").plan()
    with tempfile.TemporaryDirectory(prefix="lch-") as short:  # a unix socket's path is short
        path = Path(short) / "api.sock"
        answer = asyncio.run(first_request_then_close(plan, path, wait=wait))
        assert not path.exists()
    if wait:  # nothing started: no service is ready
        assert answer.startswith(b"HTTP/1.1 503")
        assert b'"not_ready": ["web", "worker"]' in answer
    else:
        assert answer == b""  # the stack stopped before its API answered: the client is let go
    assert not [t for t in threading.enumerate() if t.name == "launcher-import"]
