"""What the control API answers: the objects of docs/api.md#objects, the masking of secrets in
them, and the feeds that its streams (events, logs that follow) send from."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from launcher.control.usage import Usage
from launcher.core import masking
from launcher.plan.spec import Plan, ProcessSpec
from launcher.runtime.states import StateChange
from launcher.runtime.status import ServiceStatus, StackStatus

T = TypeVar("T")
FEED_LIMIT = 1000  # batches a stream may fall behind its client before it is ended
MIN_SECRET = 6  # shorter secret values are not searched for in text: they would mask words
MASKED_KEPT = 4096  # strings whose masked form is remembered, of at most MASKED_LENGTH
MASKED_LENGTH = 200


def stack(status: StackStatus, usage: Mapping[str, Usage] | None = None) -> dict[str, Any]:
    """The stack with each service; `usage`: the last figures of launcher/control/usage.py."""
    return {
        "stack": status.stack,
        "state": str(status.state),
        "profile": status.profile,
        "mode": status.mode,
        "pid": status.pid,
        "started_at": status.started_at,
        "services": [service(s, usage) for s in status.services],
    }


def service(status: ServiceStatus, usage: Mapping[str, Usage] | None = None) -> dict[str, Any]:
    probe = status.last_probe
    figures = (usage or {}).get(status.name)
    if figures is not None and figures.pid != status.pid:
        figures = None  # sampled before the service was restarted or stopped
    return {
        "name": status.name,
        "state": str(status.state),
        "pid": status.pid,
        "port": status.port,
        "url": status.url,
        "restarts": status.restarts,
        "exit_code": status.exit_code,
        "started_at": status.started_at,
        "ready_at": status.ready_at,
        "reason": status.reason,
        "port_note": status.port_note,
        "last_probe": None
        if probe is None
        else {"ok": probe.ok, "detail": probe.detail, "latency": probe.latency, "at": probe.at},
        "cpu": None if figures is None else figures.cpu,
        "rss": None if figures is None else figures.rss,
    }


def detail(
    status: ServiceStatus, spec: ProcessSpec, usage: Mapping[str, Usage] | None = None
) -> dict[str, Any]:
    """A service with what it runs: its argv, its env (secret values masked), its dependencies."""
    return {
        **service(status, usage),
        "argv": list(spec.argv),
        "env": masking.mask_env(spec.env),
        "depends_on": [{"name": d.name, "condition": d.condition} for d in spec.depends_on],
    }


def environment(env: Mapping[str, str], spec: ProcessSpec | None = None) -> dict[str, Any]:
    """The stack's environment, or a service's with its cwd: values in clear, for `launcher
    exec` and `env`. Not for Masker: its routes are the unix socket's alone (guard.unix_only)."""
    if spec is None:
        return {"env": dict(env)}
    return {"service": spec.name, "cwd": str(spec.cwd), "env": dict(env)}


def change(event: StateChange) -> dict[str, Any]:
    return {
        "service": event.service,
        "old": str(event.old),
        "new": str(event.new),
        "time": event.at,
        "reason": event.reason,
    }


def sse(event: str, data: Any) -> bytes:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class Masker:
    """Masks secrets in everything the API answers: passwords in URLs, and the values of the
    stack's secret-looking variables wherever they appear (a service may print its own)."""

    def __init__(self, plan: Plan, environ: Mapping[str, str]) -> None:
        """`environ`: what the services inherit besides their own variables."""
        values = {
            value
            for env in (environ, plan.env, *(spec.env for spec in plan.specs))
            for key, value in env.items()
            if masking.is_secret_key(key) and len(value) >= MIN_SECRET
        }
        # Longest first: a secret that contains another is masked whole.
        ordered = sorted(values, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        # The same strings come back in every status (names, states, reasons, URLs): masking
        # each once halves the cost of answering /v1/status.
        self._masked: dict[str, str] = {}

    def text(self, text: str) -> str:
        masked = self._masked.get(text)
        if masked is None:
            masked = masking.mask_text(text)
            if self._values is not None:
                masked = self._values.sub(masking.MASK, masked)
            if len(text) <= MASKED_LENGTH:  # not a long line of output: that would not come back
                if len(self._masked) >= MASKED_KEPT:
                    self._masked.clear()
                self._masked[text] = masked
        return masked

    def deep(self, value: Any) -> Any:
        """Every string inside `value` (dicts, lists) masked; keys are names, left as they are."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.deep(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.deep(item) for item in value]
        return value


class Feed(Generic[T]):
    """What one open stream has still to send: put() by a listener, taken by the stream's
    handler. A stream FEED_LIMIT batches behind its client is ended (the client may come
    back) rather than kept in memory without bound."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._wake = asyncio.Event()
        self.closed = False

    def put(self, item: T) -> None:
        if self.closed:
            return
        if len(self._items) >= FEED_LIMIT:
            self.close()
            return
        self._items.append(item)
        self._wake.set()

    def close(self) -> None:
        """End the stream, once what is already in it has been taken."""
        self.closed = True
        self._wake.set()

    async def take(self, timeout: float | None = None) -> list[T] | None:
        """What came since the last take; [] when `timeout` passed without any; None at the end."""
        if not self._items and not self.closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
        self._wake.clear()
        items = list(self._items)
        self._items.clear()
        return None if self.closed and not items else items


class Sampler:
    """What a sampled log stream (`follow=true&sample=S`) has still to send: the newest `keep`
    lines of each service since the last take, in the order they came, and how many older ones
    it skipped. Bounded however fast the services write, and cheap for them: put() keeps a
    reference to each batch, stamped with the time it came (the newest `keep` batches of a
    service hold at least its newest `keep` lines), so that only what is sent is encoded."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._batches: dict[str, deque[tuple[int, float, Sequence[str]]]] = {}
        self._counts: dict[str, int] = {}  # lines put since the last take, by service
        self._numbers = itertools.count()  # batches in the order they came, across services
        self._wake = asyncio.Event()
        self.closed = False

    def put(self, item: tuple[str, Sequence[str]]) -> None:
        service, lines = item
        batches = self._batches.get(service)
        if batches is None:
            batches = self._batches[service] = deque(maxlen=self._keep)
        batches.append((next(self._numbers), time.time(), lines))
        self._counts[service] = self._counts.get(service, 0) + len(lines)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def take(self, timeout: float | None = None) -> list[Sample] | None:
        """A Sample for each batch kept since the last take, in the order they came (a
        service's first says how many of its lines were left out before it); [] when
        `timeout` passed without any; None at the end."""
        if not self._batches and not self.closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
        self._wake.clear()
        taken: list[tuple[int, Sample]] = []
        for service, batches in self._batches.items():
            kept: list[tuple[int, float, Sequence[str]]] = []  # newest first
            count = 0
            for number, at, lines in reversed(batches):
                if count >= self._keep:
                    break
                newest = lines[count - self._keep :]
                kept.append((number, at, newest))
                count += len(newest)
            skipped = self._counts[service] - count
            for number, at, lines in reversed(kept):
                taken.append((number, Sample(service, lines, skipped, at)))
                skipped = 0  # said once, before the service's first line
        self._batches.clear()
        self._counts.clear()
        if self.closed and not taken:
            return None
        return [sample for _, sample in sorted(taken, key=lambda pair: pair[0])]


@dataclass(frozen=True)
class Sample:
    """A batch of a service's lines in a sampled log stream: `skipped` lines of it were left
    out before these; `at`: when the launcher read them (None: lines it had before the stream)."""

    service: str
    lines: Sequence[str]
    skipped: int = 0
    at: float | None = None
