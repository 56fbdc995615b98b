"""The log streams of the control API (GET /v1/logs and /v1/services/NAME/logs with
`follow`): a service's lines as they come, as ndjson, whole or sampled (docs/api.md), and the
query parameters that shape them. launcher/control/server.py routes to them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence

from aiohttp import web

from launcher.control.guard import Refused
from launcher.control.views import Feed, Masker, Sample, Sampler

Lines = tuple[str, Sequence[str]]  # a service's batch of new lines

KEEPALIVE = 15.0  # seconds of silence after which a stream gets a comment line, or a check
DEFAULT_TAIL = 100
SAMPLE_RANGE = (0.05, 60.0)  # seconds between the batches of a sampled log stream


class LogStreams:
    """The open log streams of one API server: put() hands each new batch of a service's lines
    to those that follow it; close() ends them all."""

    def __init__(self, mask: Masker, stopped: Callable[[], bool]) -> None:
        self._mask = mask
        self._stopped = stopped  # the stack has stopped: streams end
        self._feeds: dict[Feed[Lines] | Sampler, str | None] = {}  # each to its service (None: all)

    def put(self, service: str, lines: Sequence[str]) -> None:
        """New lines of `service` (on the loop, from the runtime: nothing here may block)."""
        for feed, wanted in self._feeds.items():
            if wanted is None or wanted == service:
                feed.put((service, lines))

    def __len__(self) -> int:
        """How many streams are open."""
        return len(self._feeds)

    def close(self) -> None:
        for feed in self._feeds:
            feed.close()

    async def stream(
        self,
        request: web.Request,
        service: str | None,
        backlog: list[tuple[str, str]],
        keep: int,
        every: float | None,
    ) -> web.StreamResponse:
        """`backlog`, then the new lines of `service` (None: all) until the stack stops or the
        client goes away; sampled every `every` seconds when given."""
        if every is not None:
            return await self._samples(request, service, backlog, keep, every)
        return await self._lines(request, service, backlog)

    async def _lines(
        self, request: web.Request, service: str | None, tail: list[tuple[str, str]]
    ) -> web.StreamResponse:
        """`tail`, then new lines as they come, as ndjson: one {"service", "line"} a line.
        Subscribed in the same step as `tail` was read, so no line falls between the two."""
        feed: Feed[Lines] = Feed()
        self._feeds[feed] = service
        try:
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await response.prepare(request)
            batches: list[Lines] | None = [(s, [line]) for s, line in tail]
            while batches is not None:
                if batches:
                    await response.write(self._ndjson(batches))
                if self._stopped():
                    break
                batches = await feed.take(KEEPALIVE)
            await response.write_eof()
            return response
        finally:
            del self._feeds[feed]

    async def _samples(
        self,
        request: web.Request,
        service: str | None,
        backlog: list[tuple[str, str]],
        keep: int,
        every: float,
    ) -> web.StreamResponse:
        """As _stream_lines, but at most one batch every `every` seconds, which holds the
        newest `keep` lines of each service since the last one, each with `ts` (when the
        launcher read it), and before a service's first a {"service", "skipped"} when older
        lines were left out. What the launcher encodes is bounded by that, however fast the
        services write: a dashboard follows a flood without slowing the stack (docs/api.md)."""
        feed = Sampler(keep)
        self._feeds[feed] = service
        try:
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await response.prepare(request)
            samples: list[Sample] | None = [Sample(s, [line]) for s, line in backlog]
            sent = float("-inf")
            while samples is not None:
                if samples:
                    await response.write(self._sampled_ndjson(samples))
                    sent = time.monotonic()
                if self._stopped():
                    break
                await asyncio.sleep(max(0.0, sent + every - time.monotonic()))
                samples = await feed.take(KEEPALIVE)
            await response.write_eof()
            return response
        finally:
            del self._feeds[feed]

    def _sampled_ndjson(self, samples: list[Sample]) -> bytes:
        objects: list[str] = []
        for sample in samples:
            if sample.skipped:
                objects.append(json.dumps({"service": sample.service, "skipped": sample.skipped}))
            stamp = {} if sample.at is None else {"ts": round(sample.at, 3)}
            objects.extend(
                json.dumps({"service": sample.service, "line": self._mask.text(line), **stamp})
                for line in sample.lines
            )
        return ("\n".join(objects) + "\n").encode() if objects else b""

    def _ndjson(self, batches: list[Lines]) -> bytes:
        return "".join(
            json.dumps({"service": service, "line": self._mask.text(line)}) + "\n"
            for service, lines in batches
            for line in lines
        ).encode()


def tail_of(request: web.Request) -> int:
    raw = request.query.get("tail")
    if raw is None:
        return DEFAULT_TAIL
    try:
        tail = int(raw)
    except ValueError:
        tail = -1
    if tail < 0:
        raise Refused(400, f"tail must be a whole number of lines, not {raw!r}")
    return tail


def sampling(request: web.Request) -> float | None:
    raw = request.query.get("sample")
    if raw is None:
        return None
    low, high = SAMPLE_RANGE
    try:
        every = float(raw)
    except ValueError:
        every = -1.0
    if not low <= every <= high:
        raise Refused(400, f"sample must be a number of seconds from {low} to {high:g}, not {raw!r}")
    return every


def follows(request: web.Request) -> bool:
    raw = request.query.get("follow", "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise Refused(400, f"follow must be true or false, not {raw!r}")
    return raw in ("true", "1")
