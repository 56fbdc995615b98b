"""The shared host's pure parts: tagged output lines and the prefix router."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from launcher.child import tagged_output as hostio
from launcher.child.router import Mount, Router


def test_lines_are_tagged_with_the_service_writing_them_and_never_mixed() -> None:
    raw = io.StringIO()
    stream = hostio.TaggedStream(raw)
    stream.write("host ")  # a partial line of the host waits for its newline
    token = hostio.current.set("api")
    stream.write("half")
    hostio.current.reset(token)
    stream.write("line\n")
    token = hostio.current.set("api")
    stream.write(" done\nnext\n")
    hostio.current.reset(token)
    stream.close()
    # split on "\n" only: str.splitlines() also splits on the tag's own \x1e and \x1f
    lines = [hostio.split_tag(line) for line in raw.getvalue().rstrip("\n").split("\n")]
    assert lines == [(None, "host line"), ("api", "half done"), ("api", "next")]


def test_an_untagged_line_is_the_hosts() -> None:
    assert hostio.split_tag("plain") == (None, "plain")
    assert hostio.split_tag("\x1eapi\x1fx") == ("api", "x")


def test_the_longest_prefix_wins_and_a_stopped_app_answers_503() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    router = Router()
    router.mount(Mount("api", "/api", app, serving=True))
    router.mount(Mount("admin", "/api/admin", app, {"k": 1}, serving=False))
    assert router.find("/api/x") is not None
    assert router.find("/api/admin/y").name == "admin"  # type: ignore[union-attr]
    assert router.find("/apix") is None

    async def call(path: str) -> int:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await asyncio.create_task(router({"type": "http", "path": path, "root_path": ""}, None, send))  # type: ignore[arg-type]
        return int(sent[0]["status"])

    assert asyncio.run(call("/api/items")) == 200
    assert seen[0]["root_path"] == "/api"
    assert seen[0]["path"] == "/api/items"
    assert asyncio.run(call("/api/admin/z")) == 503
    assert asyncio.run(call("/elsewhere")) == 404
