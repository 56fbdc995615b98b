"""The shared host's pure parts: tagged output lines and the port router."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

from launcher.child import tagged_output as hostio
from launcher.child.router import Route, Router


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


def test_lines_written_on_the_loop_go_out_in_batches_and_other_threads_at_once() -> None:
    raw = io.StringIO()
    stream = hostio.TaggedStream(raw)

    async def main() -> None:
        stream.batch_on(asyncio.get_running_loop())
        stream.write("one\n")
        stream.flush()  # logging flushes after each record: the batch waits all the same
        stream.write("two\n")
        assert raw.getvalue() == ""
        await asyncio.sleep(hostio.FLUSH_AFTER * 3)
        assert raw.getvalue() == "one\ntwo\n"
        stream.write("three\n")
        writer = threading.Thread(target=stream.write, args=("thread\n",))
        writer.start()
        writer.join()
        assert raw.getvalue() == "one\ntwo\nthree\nthread\n"  # the waiting line first, in order
        stream.write("four\n")
        stream.batch_on(None)  # the host stops serving: what waits goes out
        assert raw.getvalue().endswith("thread\nfour\n")
        stream.write("five\n")
        assert raw.getvalue().endswith("four\nfive\n")

    asyncio.run(main())
    stream.close()


def test_an_untagged_line_is_the_hosts() -> None:
    assert hostio.split_tag("plain") == (None, "plain")
    assert hostio.split_tag("\x1eapi\x1fx") == ("api", "x")


def test_each_app_answers_at_the_root_of_its_own_port_and_a_stopped_one_503() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    router = Router()
    router.add(Route("api", 8000, app, {"owner": "api"}, serving=True))
    router.add(Route("admin", 8001, app, {"k": 1}, serving=False))
    router.add(Route("later", 8003))  # not loaded yet
    assert router.find(8000).name == "api"  # type: ignore[union-attr]
    assert router.find(8002) is None

    async def call(port: int, path: str = "/items") -> int:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "path": path, "root_path": "", "server": ("127.0.0.1", port), "state": {}}
        await asyncio.create_task(router(scope, None, send))  # type: ignore[arg-type]
        return int(sent[0]["status"])

    assert asyncio.run(call(8000)) == 200
    assert (seen[0]["path"], seen[0]["root_path"]) == ("/items", "")  # the app's own paths, unprefixed
    assert seen[0]["state"] == {"owner": "api"}
    assert asyncio.run(call(8000, "/")) == 200
    assert seen[1]["state"] is not seen[0]["state"]  # a copy per request, as uvicorn's
    assert asyncio.run(call(8001)) == 503
    assert asyncio.run(call(8003)) == 503
    assert asyncio.run(call(8002)) == 404
