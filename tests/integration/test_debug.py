"""`run --debug SERVICE`: a real stack whose app runs under debugpy, and a real DAP client.

The client speaks the Debug Adapter Protocol as an editor does: `Content-Length: N\\r\\n\\r\\n`
then N bytes of JSON, over TCP to 127.0.0.1:PORT.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import Launch, ProjectFactory, asgi_app, cli, free_port_block, wait_until

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("debugpy") is None,
    reason="debugpy is not installed (pip install 'launcher[debug]')",
)

APP = asgi_app('b"ok"')


class Dap:
    """A minimal DAP client: send requests, read messages until the one awaited."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.seq = 0
        self.seen: list[dict[str, Any]] = []

    def send(self, command: str, arguments: dict[str, Any] | None = None) -> int:
        self.seq += 1
        body = json.dumps(
            {"seq": self.seq, "type": "request", "command": command, "arguments": arguments or {}}
        ).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def response(self, seq: int, timeout: float = 15.0) -> dict[str, Any]:
        return self.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq, timeout)

    def wait(self, matches: Any, timeout: float = 15.0) -> dict[str, Any]:
        for message in self.seen:
            if matches(message):
                return message
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read(deadline)
            self.seen.append(message)
            if matches(message):
                return message
        raise AssertionError(f"no such DAP message within {timeout} s; seen: {self.seen}")

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill(deadline)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        length = int(dict(line.split(b": ", 1) for line in head.split(b"\r\n"))[b"Content-Length"])
        while len(self.buffer) < length:
            self._fill(deadline)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        message: dict[str, Any] = json.loads(body)
        return message

    def _fill(self, deadline: float) -> None:
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"the debug adapter sent nothing more in time; seen: {self.seen}") from None
        if not data:
            raise AssertionError(f"the debug adapter closed the connection; seen: {self.seen}")
        self.buffer += data

    def initialize(self) -> dict[str, Any]:
        return self.response(
            self.send(
                "initialize", {"clientID": "launcher-tests", "adapterID": "debugpy", "linesStartAt1": True}
            )
        )

    def close(self) -> None:
        disconnect = self.send("disconnect", {"terminateDebuggee": False})
        self.response(disconnect)
        self.sock.close()


def _stack(project: ProjectFactory) -> tuple[Path, int, int]:
    low, high = free_port_block()
    root = project(
        f"""
        [launcher]
        ports = [{low}, {high - 2}]

        [services.web]
        app = "app:app"
        port = "auto"
        """,
        {"app.py": APP},
    )
    return root, high - 1, low


def _connect(port: int) -> Dap | None:
    """A client, once debugpy's port accepts. (No separate probe connection: the adapter
    serves the first client that connects, and a probe that hung up would be that client.)"""
    try:
        return Dap(port)
    except OSError:
        return None


def _answers(port: int, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_an_app_under_debugpy_answers_a_dap_client(project: ProjectFactory, launch: Launch) -> None:
    root, debug_port, _ = _stack(project)
    run = launch(root, "--mode", "multi", "--debug", "web", "--debug-port", str(debug_port))
    run.wait_output("1/1 services ready")
    assert f"[web] debugpy listens on 127.0.0.1:{debug_port}" in run.output
    client = wait_until(lambda: _connect(debug_port), 15, message="debugpy's port to accept")
    answer = client.initialize()
    assert answer["success"] is True, answer
    assert answer["command"] == "initialize"
    assert "supportsConfigurationDoneRequest" in answer["body"]
    client.close()

    run.signal(signal.SIGINT)
    assert run.wait() == 130, run.output


def test_debug_wait_holds_the_service_until_a_client_attaches(
    project: ProjectFactory, launch: Launch
) -> None:
    root, debug_port, app_port = _stack(project)
    run = launch(root, "--mode", "multi", "--debug", "web", "--debug-port", str(debug_port), "--debug-wait")
    client = wait_until(
        lambda: _connect(debug_port), 15, message=lambda: f"debugpy's port to accept:\n{run.output}"
    )
    assert "waits for a debugger" in run.output
    # The launcher holds the app's socket, but nothing serves it until the debugger attaches.
    assert not _answers(app_port, timeout=1.0)
    assert "services ready" not in run.output

    assert client.initialize()["success"] is True
    attach = client.send("attach", {"justMyCode": True})
    client.wait(lambda m: m.get("type") == "event" and m.get("event") == "initialized")
    assert client.response(client.send("configurationDone"))["success"] is True
    assert client.response(attach)["success"] is True

    run.wait_output("1/1 services ready")
    assert _answers(app_port, timeout=5.0)
    client.close()
    run.signal(signal.SIGINT)
    assert run.wait() == 130, run.output


def test_a_taken_debug_port_or_a_service_that_is_not_python_starts_nothing(project: ProjectFactory) -> None:
    root, debug_port, _ = _stack(project)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", debug_port))
        holder.listen()
        taken = cli(root, "run", "--mode", "multi", "--debug", "web", "--debug-port", str(debug_port))
    assert taken.returncode == 1, taken.stderr
    assert f"error[LCH-3002]: debug port {debug_port} is already in use" in taken.stderr
    assert "services ready" not in taken.stdout

    (root / "launcher.toml").write_text(
        (root / "launcher.toml").read_text() + '\n[services.shell]\ncommand = "sleep 60"\n'
    )
    refused = cli(root, "run", "--debug", "shell")
    assert refused.returncode == 2, refused.stderr
    assert "error[LCH-1031]: cannot debug: service 'shell' does not run Python" in refused.stderr
    assert refused.stdout == ""


def test_a_profile_names_the_service_to_debug(project: ProjectFactory, launch: Launch) -> None:
    root, debug_port, _ = _stack(project)
    config = root / "launcher.toml"
    config.write_text(
        config.read_text() + '\n[profiles.dbg]\ndebug = "web"\n\n[profiles.wrong]\ndebug = "nope"\n'
    )
    wrong_line = config.read_text().splitlines().index('debug = "nope"') + 1
    refused = cli(root, "run", "wrong", "--mode", "multi")
    assert refused.returncode == 2, refused.stderr
    assert "error[LCH-1031]: cannot debug: service 'nope' is not in this run" in refused.stderr
    assert f"launcher.toml:{wrong_line}" in refused.stderr
    assert refused.stdout == ""

    run = launch(root, "dbg", "--mode", "multi", "--debug-port", str(debug_port))
    run.wait_output("1/1 services ready")
    assert f"[web] debugpy listens on 127.0.0.1:{debug_port}" in run.output
    client = wait_until(lambda: _connect(debug_port), 15, message="debugpy's port to accept")
    assert client.initialize()["success"] is True
    client.close()
    run.signal(signal.SIGINT)
    assert run.wait() == 130, run.output
