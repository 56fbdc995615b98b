"""The control API's safety rules (docs/api.md#safety) and its error answers (its sockets:
launcher/control/listening.py).

Middleware, outermost first: `errors` turns every refusal into docs/api.md's JSON error;
`guard(token)` refuses, in this order, a foreign Host or Origin (DNS rebinding, a web page:
403), a TCP request without the bearer token (401), and a POST body that is not JSON (the
cross-site forms and text/plain a page can send without a preflight: 415). A route wrapped in
`unix_only` is then refused on TCP (403).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


class Refused(Exception):
    """A request answered with an error: {"error", "code"} (and "output") with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        output: Sequence[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.output, self.headers = output, headers or {}

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.output is not None:
            body["output"] = list(self.output)
        return web.json_response(body, status=self.status, headers=self.headers)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as JSON, aiohttp's own too (no such route, a method the route has not)."""
    try:
        return await handler(request)
    except Refused as refused:
        return refused.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return Refused(exc.status, f"{exc.reason}: {request.method} {request.path}", headers=allow).response()


def guard(token: str | None) -> Middleware:
    """The safety rules; `token` is what the TCP listener requires (the unix socket none)."""

    @web.middleware
    async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        hosts = _own_hosts(request)
        host = request.headers.get("Host", "").lower()
        if host not in hosts:
            raise Refused(403, f"Host {host!r} is not this API's own (it answers {', '.join(hosts)})")
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{h}" for h in hosts}:
            raise Refused(403, f"requests from the web page of {origin!r} are refused")
        if _on_tcp(request) and not _authorized(request, token):
            raise Refused(401, "a bearer token is required on TCP", headers={"WWW-Authenticate": "Bearer"})
        if request.method == "POST" and not _json_or_none(request.headers.get("Content-Type")):
            raise Refused(415, "a request body must be application/json")
        return await handler(request)

    return guarded


def unix_only(handler: Handler) -> Handler:
    """A route served on the unix socket alone, whose permissions are its guard: the TCP
    listener refuses it (403) even with the token, which a program other than the user's may
    hold (the environment routes answer secrets in clear)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if _on_tcp(request):
            raise Refused(403, f"{request.path} is served on the unix socket only, not on TCP")
        return await handler(request)

    return handle


def _listener(request: web.Request) -> Any:
    """The address of the listener a request came in on: (host, port) on TCP, a unix path."""
    transport = request.transport
    return transport.get_extra_info("sockname") if transport is not None else None


def _on_tcp(request: web.Request) -> bool:
    return not isinstance(_listener(request), str)  # a connection gone counts as TCP: stricter


def _own_hosts(request: web.Request) -> tuple[str, ...]:
    address = _listener(request)
    if isinstance(address, str):
        return LOOPBACK  # the unix socket: no port
    if isinstance(address, tuple):
        return tuple(f"{host}:{address[1]}" for host in LOOPBACK)
    return ()


def _authorized(request: web.Request, token: str | None) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token is None or scheme.lower() != "bearer":
        return False
    # In constant time. aiohttp decodes headers with surrogateescape: any bytes compare.
    return hmac.compare_digest(given.strip().encode(errors="surrogateescape"), token.encode())


def _json_or_none(content_type: str | None) -> bool:
    return content_type is None or content_type.split(";")[0].strip().lower() == "application/json"
