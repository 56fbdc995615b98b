"""A client of a running stack's control API (docs/api.md), over its unix socket.

    stack = connect(args.file)                  # this project's running stack, or NoStackRunning
    stack.get("/v1/status")                     # the decoded JSON; an API error is raised
    for line in stack.stream("/v1/logs?follow=true"):
        ...

The client commands must answer within 40 ms of a bare interpreter (`status` especially), of
which argparse and `python -m` take 20. On the development machine importing http.client alone
costs 22 ms (it imports email's parser and ssl), so this module speaks the little HTTP/1.1 it
needs itself (one request a connection; the answer's head read by launcher.runtime.http1), over
`_socket`, the C module behind socket (whose enum conversions and selectors cost 3 ms more). For
the same reason it finds the project with launcher.config.discovery rather than the loader
(pydantic), and reads `.launcher/state.json` as plain JSON (launcher.runtime.statejson) rather
than through launcher.runtime.statefile (dataclasses, tempfile, pathlib: 18 ms); the error
classes, statefile and leftovers (psutil) are imported only on the paths that raise or reap.
Figures in benchmarks/README.md, "Client command figures".
"""

from __future__ import annotations

import _socket  # socket's C module, which CPython and PyPy both have (see above)
import io
import json
import os

from launcher.config import discovery
from launcher.runtime import http1, statejson
from launcher.version import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs ~6 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from io import BufferedReader
    from typing import Any, NoReturn, NotRequired, TypedDict

    from _typeshed import WriteableBuffer

    # The objects of docs/api.md, for the type checker only (typing is not imported at run time).
    class ProbeJson(TypedDict):
        ok: bool
        detail: str
        latency: float
        at: float

    class ServiceJson(TypedDict):
        name: str
        state: str
        pid: int | None
        port: int | None
        url: str | None
        restarts: int
        exit_code: int | None
        started_at: float | None
        ready_at: float | None
        reason: str
        last_probe: ProbeJson | None
        cpu: float | None
        rss: int | None

    class StackJson(TypedDict):
        stack: str
        state: str
        profile: str | None
        mode: str
        pid: int
        started_at: float
        services: list[ServiceJson]

    class LineJson(TypedDict):
        service: str
        line: str

    class EnvJson(TypedDict):  # GET /v1/env; a service's adds its name and cwd
        env: dict[str, str]
        service: NotRequired[str]
        cwd: NotRequired[str]


# For requests that answer at once; start, stop and restart answer when the service has
# started or stopped, which takes as long as its start_timeout or stop_timeout.
TIMEOUT = 30.0
MAX_LINE = 65536  # of the status line and of each header line


class Unreachable(Exception):
    """Nothing accepted a connection on the socket (internal: StackClient turns it into an error)."""


def project_root(file: str | None, cwd: str | None = None) -> str:
    """The project a client command acts on: the directory of `-f FILE`; else the nearest
    directory from `cwd` up that holds `.launcher/state.json` (a running stack, whose state
    records its configuration: after `launcher -f Procfile up -d` no -f is needed again); else
    the per-user registry's stack whose project holds `cwd`; else the directory of the
    configuration found walking up (a stack that is not running, or the last run's logs)."""
    cwd = cwd or os.getcwd()
    if file:
        path = os.path.join(cwd, file)
        if not os.path.isfile(path):
            _no_file(file, cwd)
        return os.path.dirname(os.path.abspath(path))
    running = statejson.find_state(cwd) or _registered_root(cwd)
    if running is not None:
        return running
    found = discovery.find_config(cwd)
    if found is None:
        raise discovery.not_found(cwd, "run launcher from the project, or name its file with -f FILE")
    return os.path.dirname(found)


def _registered_root(cwd: str) -> str | None:
    """The project of the running stack in the per-user registry (the one `launcher ls` lists)
    whose project holds `cwd`, for a stack whose `.launcher/` is not on the way up from `cwd`
    (its path through a symbolic link, say). Imported here only: no stack was found on the way."""
    from launcher.runtime import registry

    entry = registry.containing(cwd)
    return None if entry is None else entry["root"]


def _no_file(file: str, where: str) -> NoReturn:
    from launcher.core.codes import Code
    from launcher.core.diagnostics import Diagnostic, Origin
    from launcher.core.errors import ConfigError

    message = f"configuration file {file} does not exist"
    raise ConfigError([Diagnostic(Code.NO_CONFIG, message, Origin(where), "check the path given with -f")])


def connect(file: str | None = None) -> StackClient:
    """The running stack of the project named by `-f FILE` (or found from the working
    directory); NoStackRunning when none has a state file. Whether its launcher is alive is
    found out by the first request (see StackClient)."""
    root = project_root(file)
    state = statejson.read_json(root)
    if state is None:
        from launcher.core.errors import NoStackRunning

        raise NoStackRunning(statejson.state_path(root))
    return StackClient(root, state)


class StackClient:
    """One project's running stack, reached through the API socket its state file names.

    A request that finds nothing listening looks at the launcher itself: when it died, what it
    left running is ended (pid and start time checked, see launcher.leftovers) and
    NoStackRunning says so; when it lives, ApiError. An answer with an error status raises the
    error of its code: UnknownService (LCH-4003), a ServiceError (a failed start, with the
    service's last lines), or ApiError.
    """

    def __init__(self, root: str, state: dict[str, Any]) -> None:
        self.root = root
        self.state = state
        self.socket: str | None = state.get("api")
        self.pid: int = state.get("pid", 0)
        self.create_time: float = state.get("create_time", 0.0)

    def get(self, target: str, *, service: str | None = None, timeout: float | None = TIMEOUT) -> Any:
        return self._json("GET", target, service, timeout)

    def post(self, target: str, *, service: str | None = None, timeout: float | None = None) -> Any:
        return self._json("POST", target, service, timeout)

    def stream(self, target: str, *, service: str | None = None) -> Iterator[Any]:
        """The objects of an ndjson answer, as they come, until the server ends it."""
        status, headers, reader = self._send("GET", target, None)
        with reader:
            if status >= 400:
                raise self._error(status, self._read(reader, status, headers), service)
            try:
                for line in _lines(_body(reader, status, headers)):
                    if line.strip():
                        yield json.loads(line)
            except ConnectionError:
                return  # the launcher went away mid-stream: its stack has stopped

    def _json(self, method: str, target: str, service: str | None, timeout: float | None) -> Any:
        status, headers, reader = self._send(method, target, timeout)
        with reader:
            body = self._read(reader, status, headers)
        if status >= 400:
            raise self._error(status, body, service)
        return json.loads(body) if body.strip() else None

    def _read(self, reader: BufferedReader[Connection], status: int, headers: dict[str, str]) -> bytes:
        try:
            return b"".join(_body(reader, status, headers))
        except OSError as exc:
            raise self._broken(exc) from None

    def _send(
        self, method: str, target: str, timeout: float | None
    ) -> tuple[int, dict[str, str], BufferedReader[Connection]]:
        if not self.socket:
            self._unreachable("its state file names no API socket")
        try:
            connection = Connection(self.socket, timeout)
        except Unreachable as exc:
            self._unreachable(str(exc.__cause__))
        reader = io.BufferedReader(connection)  # closing it closes the connection
        try:
            connection.send(_request(method, target))
            status, headers = _head(reader)
        except OSError as exc:
            reader.close()
            raise self._broken(exc) from None
        return status, headers, reader

    def _unreachable(self, reason: str) -> NoReturn:
        from pathlib import Path

        from launcher.core.errors import ApiError, NoStackRunning
        from launcher.runtime import leftovers, statefile

        state_file = statejson.state_path(self.root)
        record = statefile.read(Path(self.root))
        if record is None:  # it stopped meanwhile
            raise NoStackRunning(state_file)
        if not leftovers.launcher_alive(record):
            raise NoStackRunning(state_file, note=leftovers.reap_dead_stack(Path(self.root), record))
        raise ApiError(
            f"the launcher of this project (pid {record.pid}) runs, but its control API does not "
            f"answer at {record.api}: {reason}",
            hint=f"stop it with Ctrl-C in its terminal, or `kill {record.pid}`",
        )

    def _broken(self, exc: OSError) -> Exception:
        from launcher.core.errors import ApiError

        return ApiError(f"the control API at {self.socket} broke off its answer: {exc}")

    def _error(self, status: int, body: bytes, service: str | None) -> Exception:
        from launcher.core import errors
        from launcher.core.codes import Code

        data = error_answer(status, body)
        code, message = data.get("code"), str(data.get("error", f"HTTP {status}"))
        if code == Code.UNKNOWN_SERVICE and service is not None:
            known = [s["name"] for s in self.get("/v1/status")["services"]]
            return errors.UnknownService(service, known)
        if code in errors.SERVICE_ERRORS:
            name = data.get("service") or service or "?"
            error = errors.SERVICE_ERRORS[code]
            return error(name, _reason(message, name), data.get("output") or ())
        return errors.ApiError(message, code=code, status=status)


def error_answer(status: int, body: bytes) -> dict[str, Any]:
    """The JSON object of an error answer (docs/api.md: `error`, `code`, ...); for a body that
    is not one (a proxy's page, say), its text as the `error`."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {"error": body.decode(errors="replace").strip() or f"HTTP {status}"}
    return data


def _reason(message: str, service: str) -> str:
    """ServiceError's `reason` from the API's message: its first line, without the
    `error[CODE]: service 'x' ` that ServiceError puts back."""
    first = message.splitlines()[0] if message else "failed"
    if first.startswith("error[") and "]: " in first:
        first = first.split("]: ", 1)[1]
    return first.removeprefix(f"service '{service}' ")


class Connection(io.RawIOBase):
    """A connection to a unix socket as a raw stream, for io.BufferedReader: socket.SocketIO,
    without the socket module."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self._sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except OSError as exc:  # no such file, or nothing listens there any more
            self._sock.close()
            raise Unreachable from exc

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._sock.recv_into(buffer)

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close(self) -> None:
        self._sock.close()
        super().close()


def _request(method: str, target: str) -> bytes:
    # No body: the API accepts a POST without one (docs/api.md, Safety). The unix socket's
    # allowed Host is `localhost` without a port.
    return (
        f"{method} {target} HTTP/1.1\r\n"
        "Host: localhost\r\n"
        f"User-Agent: launcher/{__version__}\r\n"
        "Accept: application/json\r\n"
        + ("Content-Length: 0\r\n" if method == "POST" else "")
        + "Connection: close\r\n\r\n"
    ).encode()


def _head(reader: BufferedReader[Connection]) -> tuple[int, dict[str, str]]:
    """The status code and the headers (names in lower case) of an answer."""
    try:
        # Checked before the headers are read: a server of another protocol may say one line
        # and then wait for us.
        status = http1.status_code(reader.readline(MAX_LINE))
    except ValueError as exc:
        raise ConnectionError(str(exc)) from None  # as an answer broken off (see StackClient._send)
    lines = []
    while (line := reader.readline(MAX_LINE)).strip():
        lines.append(line)
    return status, http1.header_fields(lines)


def _body(reader: BufferedReader[Connection], status: int, headers: dict[str, str]) -> Iterator[bytes]:
    """The body's bytes as they arrive: chunked (a stream), by Content-Length, or to the end."""
    length, chunked = http1.framing(status, headers)
    if chunked:
        while size := int(reader.readline(MAX_LINE).split(b";")[0] or b"0", 16):
            yield _exactly(reader, size)
            reader.readline(MAX_LINE)  # the CRLF after the chunk
    elif length is not None:
        yield _exactly(reader, length)
    else:
        while data := reader.read1(65536):
            yield data


def _exactly(reader: BufferedReader[Connection], size: int) -> bytes:
    data = reader.read(size)
    if len(data) < size:
        raise ConnectionError(f"the answer ended {size - len(data)} bytes early")
    return data


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        *complete, pending = (pending + chunk).split(b"\n")
        yield from complete
    if pending:
        yield pending
