"""A real stack with its control API, for the API's tests: `with serve(root) as served:`.

The stack's orchestrator and the ApiServer run on a background event loop (launcher.loopthread,
as the library's start() does); the test talks to the API from its own thread, over the unix
socket or TCP, with the standard library's HTTP client, as the client commands do.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import launcher
from launcher.control.server import ApiServer
from launcher.library.loopthread import LoopThread
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.output import make_sink

TOKEN = "test-token-0123456789"


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket; `Host: localhost`, as curl --unix-socket sends."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Served:
    orchestrator: Orchestrator
    server: ApiServer
    thread: LoopThread
    socket_path: Path
    stops: list[str] = field(default_factory=list)  # one entry per call of on_stop

    @property
    def tcp_port(self) -> int:
        port = self.server.tcp_port
        assert port is not None, "started without TCP"
        return port

    def unix(self, timeout: float = 10.0) -> UnixConnection:
        return UnixConnection(self.socket_path, timeout)

    def tcp(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.tcp_port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        connection: http.client.HTTPConnection | None = None,
    ) -> Answer:
        """One request (over the unix socket unless `connection` is given), answered in full."""
        conn = connection or self.unix()
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            conn.close()

    def get(self, path: str, **options: Any) -> Answer:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> Answer:
        return self.request("POST", path, **options)

    def call(self, coroutine: Any, timeout: float = 30.0) -> Any:
        """Run `coroutine` on the stack's loop."""
        return self.thread.run(coroutine, timeout)


@contextlib.contextmanager
def serve(root: Path, *, tcp: bool = False, socket_dir: Path | None = None) -> Iterator[Served]:
    """Start the stack of `root`/launcher.toml with its API (on TCP too, with TOKEN, when asked);
    stop both when the block ends. The socket goes into `socket_dir`, else a short temporary
    directory (a pytest tmp_path is too long a path for a unix socket)."""
    stack = launcher.load(root / "launcher.toml")
    plan = stack.plan()
    sink = make_sink(io.StringIO(), names=[*plan.names, "launcher"], environ={})
    own_dir = socket_dir is None
    directory = Path(tempfile.mkdtemp(prefix="lch-api-")) if socket_dir is None else socket_dir
    thread = LoopThread()
    orchestrator = Orchestrator(plan, sink=sink, state_file=False)
    stops: list[str] = []
    server = ApiServer(orchestrator, on_stop=lambda: stops.append("stop"), token=TOKEN)
    served = Served(orchestrator, server, thread, directory / "api.sock", stops)
    try:
        thread.run(server.start(served.socket_path, ("127.0.0.1", 0) if tcp else None), 10)
        thread.run(orchestrator.start(), 60)
        yield served
    finally:
        try:
            thread.run(orchestrator.stop(), 60)
            thread.run(server.aclose(), 10)
        finally:
            thread.close()
            sink.close()
            if own_dir:
                shutil.rmtree(directory, ignore_errors=True)


def read_events(response: http.client.HTTPResponse) -> Iterator[tuple[str, Any]]:
    """The server-sent events of a response as (event, data); comments as ("", text)."""
    event = ""
    while True:
        raw = response.readline()
        if not raw:
            return
        line = raw.decode().rstrip("\n")
        if line.startswith(":"):
            yield "", line[1:].strip()
        elif line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            yield event, json.loads(line[len("data: ") :])
