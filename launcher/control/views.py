"""What the control API answers: the objects of docs/api.md#objects, the masking of secrets in
them, and the feeds that its streams (events, logs that follow) send from."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import deque
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from launcher.core import masking
from launcher.plan.spec import Plan, ProcessSpec
from launcher.runtime.states import StateChange
from launcher.runtime.status import ServiceStatus, StackStatus

T = TypeVar("T")
FEED_LIMIT = 1000  # batches a stream may fall behind its client before it is ended
MIN_SECRET = 6  # shorter secret values are not searched for in text: they would mask words
MASKED_KEPT = 4096  # strings whose masked form is remembered, of at most MASKED_LENGTH
MASKED_LENGTH = 200


def stack(status: StackStatus) -> dict[str, Any]:
    return {
        "stack": status.stack,
        "state": str(status.state),
        "profile": status.profile,
        "mode": status.mode,
        "pid": status.pid,
        "started_at": status.started_at,
        "services": [service(s) for s in status.services],
    }


def service(status: ServiceStatus) -> dict[str, Any]:
    probe = status.last_probe
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
    }


def detail(status: ServiceStatus, spec: ProcessSpec) -> dict[str, Any]:
    """A service with what it runs: its argv, its env (secret values masked), its dependencies."""
    return {
        **service(status),
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
