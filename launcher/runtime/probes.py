"""Readiness and liveness checks: one small async function per kind of probe (the kinds are
the table of launcher/core/probekinds.py), in a registry keyed by kind.

Every check is one attempt bounded by the probe's timeout and answers a ProbeResult. Plain HTTP
to an address is one GET on the loop's own socket calls; HTTPS and host names go through the
one aiohttp session of the Prober, made with trust_env=False. Either way probes go to the
address given, never through a proxy from the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import signal
import socket
import struct
import subprocess
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from launcher.core.probekinds import ProbeKind
from launcher.plan.spec import ProbeSpec
from launcher.runtime import http1
from launcher.runtime.environment import child_environment

HTTP_HEAD_LIMIT = 65536  # bytes of an answer's head, at most
HTTP_BODY_LIMIT = 1 << 20  # bytes of a body read to its end; the rest is not waited for


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str
    latency: float


class LogWatch:
    """A service's recent lines, for `log` probes: fed by the supervisor, awaited by probes."""

    def __init__(self, keep: int = 2000) -> None:
        self._recent: deque[str] = deque(maxlen=keep)
        self._waiting: list[tuple[re.Pattern[str], asyncio.Future[str]]] = []

    def feed(self, line: str) -> None:
        self.feed_many([line])

    def feed_many(self, lines: Sequence[str]) -> None:
        self._recent.extend(lines[-(self._recent.maxlen or 0) :])
        if not self._waiting:
            return
        for pattern, future in list(self._waiting):
            match = next((line for line in lines if pattern.search(line)), None)
            if match is not None and not future.done():
                future.set_result(match)
                self._waiting.remove((pattern, future))

    def reset(self) -> None:
        self._recent.clear()

    def seen(self, regex: str) -> str | None:
        pattern = re.compile(regex)
        return next((line for line in self._recent if pattern.search(line)), None)

    async def wait(self, regex: str) -> str:
        """The first line matching `regex`: one already fed since the last reset, or the next."""
        found = self.seen(regex)
        if found is not None:
            return found
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        entry = (re.compile(regex), future)
        self._waiting.append(entry)
        try:
            return await future
        finally:
            if entry in self._waiting:
                self._waiting.remove(entry)


Check = Callable[["Prober", ProbeSpec, "LogWatch | None"], Awaitable[tuple[bool, str]]]


class Prober:
    """Runs checks; owns the HTTP session of one running stack.

    `environ` is what a `cmd` probe's environment starts from, as a service's does: the
    launcher's own (launcher/runtime/environment.py), the probe's service's on top.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._session: Any = None
        self.environ = os.environ if environ is None else environ

    async def __aenter__(self) -> Prober:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def session(self) -> Any:
        if self._session is None:
            import aiohttp  # lazily: quick commands must not import it

            # force_close: a restarted service must not look up through a pooled connection.
            connector = aiohttp.TCPConnector(force_close=True, limit=0)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    async def check(self, probe: ProbeSpec, *, log: LogWatch | None = None) -> ProbeResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(probe.timeout):
                ok, detail = await PROBES[probe.kind](self, probe, log)
        except TimeoutError:
            ok, detail = False, f"no answer within {probe.timeout:g}s"
        except OSError as exc:
            # asyncio words a refused connection "Connect call failed (...)": use the errno's name.
            text = os.strerror(exc.errno) if exc.errno else (exc.strerror or str(exc) or type(exc).__name__)
            ok, detail = False, text.lower()
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"[:200]
        return ProbeResult(ok, detail, time.perf_counter() - started)


async def _http(prober: Prober, probe: ProbeSpec, log: LogWatch | None) -> tuple[bool, str]:
    url = urlsplit(probe.target)
    if url.scheme == "http" and _is_address(url.hostname):
        status = await _plain_get(url)
    else:  # https, or a name to resolve: aiohttp's session does it all
        async with prober.session().get(probe.target) as response:
            await response.read()
            status = response.status
    return probe.expect == 0 or status == probe.expect, f"HTTP {status}"


def _is_address(host: str | None) -> bool:
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True


async def _plain_get(url: SplitResult) -> int:
    """One `GET` over a fresh connection (Connection: close), its status, its answer read to
    the end (a server cut off mid-answer would log an error of its own).

    The common probe, plain HTTP to an address (most often a service on 127.0.0.1), written
    on the loop's socket calls: steady probing of a large stack (200 services at 5 Hz) spent
    twice the CPU through aiohttp's client. Never through a proxy, as every probe.
    """
    loop = asyncio.get_running_loop()
    host = url.hostname or "127.0.0.1"
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (host, url.port or 80))
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        request = f"GET {path} HTTP/1.1\r\nHost: {url.netloc.rpartition('@')[2]}\r\n"
        await loop.sock_sendall(
            sock, (request + "User-Agent: launcher-probe\r\nConnection: close\r\n\r\n").encode()
        )
        answer = bytearray()
        while b"\r\n\r\n" not in answer:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk or len(answer) > HTTP_HEAD_LIMIT:
                raise ConnectionError(
                    "the connection closed before an HTTP answer" if not chunk else "no HTTP answer"
                )
            answer += chunk
        head, _, body = bytes(answer).partition(b"\r\n\r\n")
        status, fields = http1.parse_head(head)
        length, chunked = http1.framing(status, fields)
        # Read the body as the head says it ends: its length, the last chunk, or the close.
        while (
            (length is None or len(body) < length)
            and not (chunked and body.endswith(b"0\r\n\r\n"))
            and len(body) < HTTP_BODY_LIMIT
        ):
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                break
            body += chunk
        return status
    finally:
        sock.close()


def _host_port(target: str, default_port: int) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    if not host:
        return target, default_port
    return host.strip("[]"), int(port)


async def _tcp(prober: Prober, probe: ProbeSpec, log: LogWatch | None) -> tuple[bool, str]:
    host, port = _host_port(probe.target, 0)
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, "connected"


async def _cmd(prober: Prober, probe: ProbeSpec, log: LogWatch | None) -> tuple[bool, str]:
    # Where its service runs: `test -f ready.flag`, `./healthcheck`, `python -m app.ping` mean
    # the service's files, variables and interpreter.
    process = await asyncio.create_subprocess_exec(
        *probe.argv,
        cwd=probe.cwd,
        env=child_environment(prober.environ, probe.env or {}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = await process.wait()
    finally:
        if process.returncode is None:  # timed out: end the check's whole group
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.shield(process.wait())
    return code == 0, f"exit code {code}"


async def _log(prober: Prober, probe: ProbeSpec, log: LogWatch | None) -> tuple[bool, str]:
    line = log.seen(probe.target) if log is not None else None
    return (True, f"matched: {line[:80]}") if line is not None else (False, "no matching line yet")


async def _redis(prober: Prober, probe: ProbeSpec, log: LogWatch | None) -> tuple[bool, str]:
    target, password = probe.target, None
    if "://" in target:
        url = urlsplit(target)
        target, password = f"{url.hostname or '127.0.0.1'}:{url.port or 6379}", url.password
    host, port = _host_port(target, 6379)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        if password:
            writer.write(_resp("AUTH", unquote(password)))
            await reader.readline()
        writer.write(_resp("PING"))
        answer = (await reader.readline()).decode(errors="replace").strip()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if answer == "+PONG":
        return True, "PONG"
    if answer.startswith("-NOAUTH"):
        return True, "NOAUTH (the server answers)"
    return False, (answer.lstrip("-").split(" ", 1)[0] or "no answer") if answer.startswith("-") else answer


def _resp(*words: str) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


async def _postgres(prober: Prober, probe: ProbeSpec, log: LogWatch | None) -> tuple[bool, str]:
    url = urlsplit(probe.target)
    user = unquote(url.username or "postgres")
    database = unquote(url.path.lstrip("/")) or user
    socket_dir = parse_qs(url.query).get("host", [None])[0]
    if socket_dir:
        reader, writer = await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{url.port or 5432}")
    else:
        reader, writer = await asyncio.open_connection(url.hostname or "127.0.0.1", url.port or 5432)
    try:
        body = (
            struct.pack("!i", 196608)
            + b"".join(
                k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", user), ("database", database))
            )
            + b"\0"
        )
        writer.write(struct.pack("!i", len(body) + 4) + body)
        kind = await reader.readexactly(1)
        length = struct.unpack("!i", await reader.readexactly(4))[0]
        payload = await reader.readexactly(max(0, length - 4))
        with contextlib.suppress(OSError):
            writer.write(b"X" + struct.pack("!i", 4))
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if kind != b"E":
        return True, "accepting connections"
    fields = {f[:1]: f[1:].decode(errors="replace") for f in payload.split(b"\0") if f}
    if fields.get(b"C") == "57P03":
        return False, f"starting up ({fields.get(b'M', '')})"
    return True, f"accepting connections ({fields.get(b'M', 'error')})"


PROBES: dict[ProbeKind, Check] = {
    "http": _http,
    "tcp": _tcp,
    "cmd": _cmd,
    "log": _log,
    "redis": _redis,
    "postgres": _postgres,
}
