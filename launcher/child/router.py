"""The shared host's ASGI side: one router over the hosted apps, and each app's lifespan.

Every app is served at the root of its own port, as in multi mode: the host listens on each
app's port and the router picks the app by the port a connection arrived on (the ASGI scope's
`server`), so an app sees the same paths, `root_path` and URLs in both modes.

Routed apps' lifespans do not run by themselves (the router is served with lifespan off):
`Lifespan` drives one app's lifespan protocol as a server would, with a state dict of that app's
own, which the router hands (as a shallow copy, as uvicorn does) to each of its requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from . import tagged_output as hostio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Route:
    """One hosted app and the port it is served on (its app None until it is loaded)."""

    name: str
    port: int
    app: ASGIApp | None = None
    state: dict[str, Any] = field(default_factory=dict)
    serving: bool = False


class Router:
    """Dispatch each request to the app served on the port it arrived on."""

    def __init__(self) -> None:
        self._routes: dict[int, Route] = {}

    def add(self, route: Route) -> None:
        self._routes[route.port] = route

    def find(self, port: int) -> Route | None:
        return self._routes.get(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        server = scope.get("server")
        route = self._routes.get(server[1]) if server else None
        if route is None:
            await _plain(scope, send, 404, "no app is served on this port\n")
            return
        # Set, not reset: uvicorn runs each request in a task of its own, and its access log
        # and "Exception in ASGI application" come after the app returns, in that task.
        hostio.current.set(route.name)
        if not route.serving or route.app is None:
            await _plain(scope, send, 503, f"service '{route.name}' is not running\n")
            return
        # The scope is this request's own (the server builds one per request): only its state,
        # the server's empty one (lifespan off), becomes the app's.
        scope["state"] = dict(route.state)
        await route.app(scope, receive, send)


async def _plain(scope: Scope, send: Send, status: int, text: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013 if status == 503 else 1000})
        return
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LifespanFailed(Exception):
    pass


class Lifespan:
    """One app's lifespan: startup() before it serves, shutdown() after it stopped serving.

    An app that raises before answering the startup message does not support lifespans
    (uvicorn's `lifespan = "auto"` treats it so too): it starts without one.
    """

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._answers: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.supported = True

    async def startup(self) -> None:
        """Run the startup half; raise LifespanFailed (with the app's message) when it fails."""
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self._state}
        self._task = asyncio.ensure_future(self._app(scope, self._inbox.get, self._answers.put))
        await self._inbox.put({"type": "lifespan.startup"})
        try:
            answer = await self._answer()
        except BaseException:
            await self._end()
            raise
        if answer is None:
            self.supported = False
            if not self._task.cancelled():
                self._task.exception()  # retrieved: what it raised meant "no lifespan here"
            return
        if answer["type"] == "lifespan.startup.failed":
            await self._end()
            raise LifespanFailed(answer.get("message") or "lifespan startup failed")

    async def shutdown(self, timeout: float) -> None:
        """Run the shutdown half within `timeout`; raise LifespanFailed when it fails."""
        task = self._task
        if not self.supported or task is None or task.done():
            return
        try:
            answer = await asyncio.wait_for(self._shutdown_answer(), timeout)
        except asyncio.TimeoutError:
            raise LifespanFailed(f"lifespan shutdown did not finish within {timeout:g}s") from None
        finally:
            await self._end()
        if answer is not None and answer["type"] == "lifespan.shutdown.failed":
            raise LifespanFailed(answer.get("message") or "lifespan shutdown failed")
        error = None if answer is not None or task.cancelled() else task.exception()
        if error is not None:
            raise LifespanFailed("".join(traceback.format_exception(type(error), error, error.__traceback__)))

    async def _shutdown_answer(self) -> Message | None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        return await self._answer()

    async def _answer(self) -> Message | None:
        """The app's next lifespan message; None if the app ended (returned or raised) instead."""
        assert self._task is not None
        answer = asyncio.ensure_future(self._answers.get())
        try:
            await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not answer.done():
                answer.cancel()
        return answer.result() if answer.done() and not answer.cancelled() else None

    async def _end(self) -> None:
        """The app's lifespan call is over: cancelled if it still runs, and what it raised
        retrieved (its message, the traceback, was reported already)."""
        task = self._task
        if task is None:
            return
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task
