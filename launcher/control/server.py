"""The control API of a running stack (docs/api.md): aiohttp on the project's unix socket and,
opt-in, on a loopback TCP port that then requires a bearer token.

    server = ApiServer(orchestrator, on_stop=request_stop, token=token)
    await server.start(socket_path, ("127.0.0.1", 7070))   # or start(..., bound=sockets)
    ...
    await server.aclose()       # ends open streams at once, removes the socket

routes() lists every route. Handlers read the orchestrator's snapshots and steer services
through its front door, never processes directly. The safety rules are launcher/control/guard.py's, the
objects answered (masked, but for the environment that the unix socket alone serves)
launcher/control/views.py's. `launcher run` builds it at its first client's connection
(launcher/control/lazy.py), with the probe checks counted since the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from launcher.control import views as apiviews
from launcher.control.guard import Refused, errors, guard, unix_only
from launcher.control.listening import ApiSockets, bind_api
from launcher.control.logstreams import KEEPALIVE, LogStreams, follows, sampling, tail_of
from launcher.control.metrics import StackMetrics
from launcher.control.openapi import DOCUMENT
from launcher.control.probe_counts import ProbeCounts
from launcher.control.usage import UsageSampler
from launcher.control.views import Feed, Masker, sse
from launcher.core.codes import Code
from launcher.core.errors import ServiceError, StackNotAccepting
from launcher.plan.spec import ProcessSpec
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.states import HEALTHY, StateChange
from launcher.runtime.status import StackState
from launcher.runtime.tasks import TaskScope

Action = Literal["start", "stop", "restart"]

SHUTDOWN_GRACE = 1.0  # aclose(): how long a request still in progress may take to finish
# GET /v1/status answers from an answer this recent, unless a state changed since: only the
# `last_probe` figures may be older, by at most this. (Under 200 requests a second on a stack
# of 200 services, building each answer anew took a third of a core.)
STATUS_FRESH = 0.1


def routes(api: ApiServer) -> list[web.RouteDef]:
    """Every route of the API (docs/api.md)."""
    return [
        web.get("/v1/status", api.status, allow_head=False),
        web.get("/v1/services/{name}", api.service, allow_head=False),
        web.post("/v1/services/{name}/start", api.start_service),
        web.post("/v1/services/{name}/stop", api.stop_service),
        web.post("/v1/services/{name}/restart", api.restart_service),
        web.get("/v1/services/{name}/logs", api.service_logs, allow_head=False),
        web.get("/v1/services/{name}/env", unix_only(api.service_env), allow_head=False),
        web.get("/v1/env", unix_only(api.env), allow_head=False),
        web.get("/v1/logs", api.logs, allow_head=False),
        web.get("/v1/events", api.events, allow_head=False),
        web.post("/v1/stop", api.stop_stack),
        web.get("/healthz", api.healthz, allow_head=False),
        web.get("/metrics", api.metrics, allow_head=False),
        web.get("/v1/openapi.json", api.openapi, allow_head=False),
    ]


class ApiServer:
    """The API of one orchestrator's stack. start() subscribes it to the stack's state changes,
    output lines and probe checks (for the streams and the metrics: unless `probes` is given,
    counted since the start by whoever observes them); aclose() ends every stream and
    unsubscribes."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        on_stop: Callable[[], None],
        token: str | None = None,
        probes: ProbeCounts | None = None,
    ) -> None:
        self._orchestrator = orchestrator
        self._on_stop = on_stop
        self._token = token
        self._mask = Masker(orchestrator.plan, orchestrator.environ)
        self._counting = probes is None  # the probe checks are this server's to observe
        self._metrics = StackMetrics(orchestrator, probes)
        self._usage = UsageSampler(orchestrator)
        self._unsubscribe: list[Callable[[], None]] = []
        self._state_feeds: set[Feed[StateChange]] = set()
        self._logs = LogStreams(self._mask, self._stopped)
        self._operations = TaskScope()  # starts, stops and restarts asked for
        self._runner: web.AppRunner | None = None
        self._socket: tuple[Path, int] | None = None  # its path and inode, to remove it
        self._openapi = json.dumps(DOCUMENT).encode()
        self._changes = 0  # state changes seen: what a cached status answer must not miss
        # key (state changes seen, the stack's state, usage samples taken), made at, body
        self._status: tuple[tuple[int, str, int], float, bytes] | None = None

    # -- listening -----------------------------------------------------------------------

    async def start(
        self, socket_path: Path, tcp: tuple[str, int] | None = None, *, bound: ApiSockets | None = None
    ) -> None:
        """Listen on the unix socket and, when `tcp` is given, on that loopback address (which
        then requires the token); or serve the sockets `bound` already (`launcher run` binds
        them before its first spawns)."""
        if (tcp is not None or (bound is not None and bound.tcp)) and not self._token:
            raise ValueError("the TCP listener of the control API needs a token")
        self._attach()
        app = web.Application(middlewares=[errors, guard(self._token)])
        app.add_routes(routes(self))
        # handler_cancellation: a client that goes away ends its stream's handler at once.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_GRACE
        )
        await self._runner.setup()
        sockets = bound if bound is not None else bind_api(socket_path, tcp)
        self._socket = (sockets.path, os.stat(sockets.path).st_ino)
        for sock in (sockets.unix, *sockets.tcp):
            await web.SockSite(self._runner, sock).start()

    @property
    def tcp_port(self) -> int | None:
        """The TCP listener's port (the one the system chose, when started with port 0)."""
        for address in self._runner.addresses if self._runner else []:
            if isinstance(address, tuple):
                return int(address[1])
        return None

    async def aclose(self) -> None:
        """Stop listening, end open event and log streams, remove the socket file."""
        for feed in self._state_feeds:
            feed.close()
        self._logs.close()
        self._detach()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        # What is left waits on services that the stopped stack will not bring back.
        await self._operations.aclose()
        await self._usage.aclose()
        if self._socket is not None:
            path, inode = self._socket
            self._socket = None
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == inode:  # not one that a later launcher bound since
                    path.unlink()

    def _attach(self) -> None:
        orchestrator = self._orchestrator
        self._unsubscribe = [
            orchestrator.subscribe(self._changed),
            orchestrator.follow_output(self._logs.put),
        ]
        if self._counting:
            self._unsubscribe.append(orchestrator.observe_probes(self._metrics.observe))

    def _detach(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    # -- what the stack tells (on the loop, from the runtime: nothing here may block) --------

    def _changed(self, change: StateChange) -> None:
        self._changes += 1
        for feed in self._state_feeds:
            feed.put(change)

    # -- routes: reading -----------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        usage = self._usage.latest()
        key = (self._changes, self._orchestrator.state, self._usage.generation)
        now = time.monotonic()
        cached = self._status
        if cached is None or cached[0] != key or now - cached[1] > STATUS_FRESH:
            answer = self._mask.deep(apiviews.stack(self._orchestrator.snapshot(), usage))
            cached = self._status = (key, now, json.dumps(answer).encode())
        return web.Response(body=cached[2], content_type="application/json")

    async def service(self, request: web.Request) -> web.Response:
        spec = self._spec(request)
        status = self._orchestrator.snapshot().service(spec.name)
        return self._json(apiviews.detail(status, spec, self._usage.latest()))

    async def env(self, request: web.Request) -> web.Response:
        # In clear, past the masking of _json: the unix socket alone serves it (unix_only).
        return web.json_response(apiviews.environment(self._orchestrator.environment()))

    async def service_env(self, request: web.Request) -> web.Response:
        spec = self._spec(request)
        return web.json_response(apiviews.environment(self._orchestrator.environment(spec.name), spec))

    async def healthz(self, request: web.Request) -> web.Response:
        not_ready = [s.name for s in self._orchestrator.snapshot().services if s.state not in HEALTHY]
        return self._json({"healthy": not not_ready, "not_ready": not_ready}, 503 if not_ready else 200)

    async def metrics(self, request: web.Request) -> web.Response:
        body = await self._metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=self._openapi, content_type="application/json")

    async def service_logs(self, request: web.Request) -> web.StreamResponse:
        name = self._spec(request).name
        tail, follow, every = tail_of(request), follows(request), sampling(request)
        lines = self._orchestrator.output(name, tail)
        if not follow:
            return self._json({"service": name, "lines": lines})
        return await self._logs.stream(request, name, [(name, line) for line in lines], tail, every)

    async def logs(self, request: web.Request) -> web.StreamResponse:
        tail, follow, every = tail_of(request), follows(request), sampling(request)
        lines = self._orchestrator.merged_output(tail)
        if not follow:
            return self._json({"lines": [{"service": s, "line": line} for s, line in lines]})
        return await self._logs.stream(request, None, lines, tail, every)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: a snapshot of the stack, then each change of state."""
        feed: Feed[StateChange] = Feed()
        self._state_feeds.add(feed)
        try:
            # Taken in the same step as the subscription: no change is missed or told twice.
            stack = apiviews.stack(self._orchestrator.snapshot(), self._usage.latest())
            snapshot = sse("snapshot", self._mask.deep(stack))
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            await response.write(snapshot)
            while (changes := await feed.take(KEEPALIVE)) is not None:
                events = [sse("state", self._mask.deep(apiviews.change(c))) for c in changes]
                await response.write(b"".join(events) if events else b": keep-alive\n\n")
                if self._stopped():
                    break
            await response.write_eof()
            return response
        finally:
            self._state_feeds.discard(feed)

    # -- routes: steering ----------------------------------------------------------------

    async def start_service(self, request: web.Request) -> web.Response:
        return await self._control(request, "start")

    async def stop_service(self, request: web.Request) -> web.Response:
        return await self._control(request, "stop")

    async def restart_service(self, request: web.Request) -> web.Response:
        return await self._control(request, "restart")

    async def stop_stack(self, request: web.Request) -> web.Response:
        self._on_stop()
        return self._json({"state": "stopping"}, 202)

    async def _control(self, request: web.Request, action: Action) -> web.Response:
        spec = self._spec(request)
        # A task of its own: a client that goes away must not cut a stop or a start in half.
        task = self._operations.spawn(self._act(spec.name, action), on_done=_retrieved)
        try:
            await asyncio.shield(task)
        except ServiceError as exc:
            output = [self._mask.text(line) for line in exc.output]
            raise Refused(409, f"service '{spec.name}' {exc.reason}", exc.code, output) from None
        except StackNotAccepting as exc:
            raise Refused(409, str(exc)) from None
        status = self._orchestrator.snapshot().service(spec.name)
        return self._json(apiviews.service(status, self._usage.latest()))

    async def _act(self, name: str, action: Action) -> None:
        if action == "start":
            await self._orchestrator.start_service(name)
        elif action == "stop":
            await self._orchestrator.stop_service(name)
        else:
            await self._orchestrator.restart_service(name)

    def _stopped(self) -> bool:
        """The stack has stopped: streams end (aclose() ends them at once; a library stack
        stopped without it, within KEEPALIVE)."""
        return self._orchestrator.state is StackState.STOPPED

    # -- answers -------------------------------------------------------------------------

    def _json(self, data: Any, status: int = 200) -> web.Response:
        return web.json_response(self._mask.deep(data), status=status)

    def _spec(self, request: web.Request) -> ProcessSpec:
        name = request.match_info["name"]
        plan = self._orchestrator.plan
        try:
            return plan.spec(name)
        except KeyError:
            known = ", ".join(plan.names)
            raise Refused(
                404, f"no service '{name}' in this stack (it has: {known})", Code.UNKNOWN_SERVICE
            ) from None


def _retrieved(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved here too, for when its client went away
