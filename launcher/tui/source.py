"""What the dashboard reads from a running stack and asks of it: its control API over the unix
socket (ApiSource), or a fake in the tests (tests/unit/test_attach_snapshots.py).

    source = ApiSource(socket_path)
    stack = await source.status()                       # GET /v1/status
    async for kind, data in source.events(): ...        # ("snapshot", stack) | ("state", change)
    async for objects in source.logs(tail=200, every=0.25): ...  # sampled batches, see docs/api.md
    await source.act("api", "restart")                  # answers once it is ready again

asyncio all the way, on textual's own loop: the streams are tasks that end with the app, and
nothing waits on a thread. One connection a request, as launcher/control/client.py does; that
module's synchronous client stays the quick commands' (the dashboard pays for asyncio anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote

from launcher.control.client import error_answer
from launcher.core.errors import ApiError
from launcher.runtime import http1
from launcher.version import __version__

if TYPE_CHECKING:  # the API's objects, typed for the checker alone
    from launcher.control.client import ServiceJson, StackJson

Action = Literal["start", "stop", "restart"]
LIMIT = 1 << 20  # the longest line a stream may hold: a service's line may be long


class StackGone(Exception):
    """Nothing answers on the stack's socket any more: its launcher has stopped."""


class Source(Protocol):
    async def status(self) -> StackJson: ...

    async def detail(self, service: str) -> dict[str, Any]: ...

    async def act(self, service: str, action: Action) -> ServiceJson: ...

    def events(self) -> AsyncGenerator[tuple[str, Any], None]: ...

    def logs(self, tail: int, every: float) -> AsyncGenerator[list[dict[str, Any]], None]: ...


class ApiSource:
    """The control API of one stack, at `socket` (the path its state file records)."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    async def status(self) -> StackJson:
        answer: StackJson = await self._json("GET", "/v1/status")
        return answer

    async def detail(self, service: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._json("GET", f"/v1/services/{quote(service, safe='')}")
        return answer

    async def act(self, service: str, action: Action) -> ServiceJson:
        answer: ServiceJson = await self._json("POST", f"/v1/services/{quote(service, safe='')}/{action}")
        return answer

    async def events(self) -> AsyncGenerator[tuple[str, Any], None]:
        """The server-sent events: ("snapshot", the stack), then ("state", a change) each."""
        pending = b""
        async with contextlib.aclosing(self._stream("/v1/events")) as chunks:
            async for chunk in chunks:
                *blocks, pending = (pending + chunk).split(b"\n\n")
                for block in blocks:
                    fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
                    if b"event" in fields and b"data" in fields:
                        yield fields[b"event"].decode(), json.loads(fields[b"data"])

    async def logs(self, tail: int, every: float) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The lines of every service, sampled (docs/api.md): each batch as it comes, a list of
        {"service", "line"} and {"service", "skipped"} objects."""
        pending = b""
        target = f"/v1/logs?follow=true&tail={tail}&sample={every}"
        async with contextlib.aclosing(self._stream(target)) as chunks:
            async for chunk in chunks:
                *lines, pending = (pending + chunk).split(b"\n")
                if lines:
                    yield [json.loads(line) for line in lines if line.strip()]

    async def _json(self, method: str, target: str) -> Any:
        status, headers, reader, writer = await self._open(method, target)
        try:
            body = b"".join([chunk async for chunk in _body(reader, status, headers)])
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise StackGone(str(exc)) from None
        finally:
            await _close(writer)
        if status >= 400:
            raise _error(status, body)
        return json.loads(body) if body.strip() else None

    async def _stream(self, target: str) -> AsyncGenerator[bytes, None]:
        """The body of a streamed answer, chunk by chunk, until the server ends it (or breaks
        off: its stack stopped)."""
        status, headers, reader, writer = await self._open("GET", target)
        try:
            if status >= 400:
                raise _error(status, b"".join([chunk async for chunk in _body(reader, status, headers)]))
            async for chunk in _body(reader, status, headers):
                yield chunk
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            await _close(writer)

    async def _open(
        self, method: str, target: str
    ) -> tuple[int, dict[str, str], asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket, limit=LIMIT)
        except OSError as exc:  # no such socket, or nothing listens on it any more
            raise StackGone(str(exc)) from None
        try:
            writer.write(_request(method, target))
            status = http1.status_code(await reader.readline())
            lines = []
            while (line := await reader.readline()).strip():
                lines.append(line)
        except (OSError, ValueError) as exc:
            await _close(writer)
            raise StackGone(str(exc)) from None
        except BaseException:  # cancelled (the app ends): closed without waiting
            writer.close()
            raise
        return status, http1.header_fields(lines), reader, writer


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close the connection, and wait until it is (not at the loop's end, in a warning)."""
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _request(method: str, target: str) -> bytes:
    # As launcher/control/client.py's: the unix socket's allowed Host is `localhost`, and a
    # POST without a body is accepted (docs/api.md, Safety).
    return (
        f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: launcher-attach/{__version__}\r\n"
        + ("Content-Length: 0\r\n" if method == "POST" else "")
        + "Connection: close\r\n\r\n"
    ).encode()


async def _body(reader: asyncio.StreamReader, status: int, headers: dict[str, str]) -> AsyncIterator[bytes]:
    length, chunked = http1.framing(status, headers)
    if chunked:
        while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
            yield await reader.readexactly(size)
            await reader.readline()  # the CRLF after the chunk
    elif length is not None:
        yield await reader.readexactly(length)
    else:
        while data := await reader.read(65536):
            yield data


def _error(status: int, body: bytes) -> ApiError:
    data = error_answer(status, body)
    # The first line: the API's message of a failed start goes on with the service's last lines.
    message = str(data.get("error", f"HTTP {status}")).splitlines()[0]
    return ApiError(message, code=data.get("code"), status=status)
