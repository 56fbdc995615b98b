"""What the control API answers: the objects of docs/api.md#objects, the masking of secrets in
them, and the feeds that its streams (events, logs that follow) send from."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from launcher.core import masking
from launcher.plan.spec import Plan, ProcessSpec
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.probes import ProbeResult
from launcher.runtime.states import ServiceState, StateChange
from launcher.runtime.supervisor import Supervisor

T = TypeVar("T")
FEED_LIMIT = 1000  # batches a stream may fall behind its client before it is ended
MIN_SECRET = 6  # shorter secret values are not searched for in text: they would mask words
MASKED_KEPT = 4096  # strings whose masked form is remembered, of at most MASKED_LENGTH
MASKED_LENGTH = 200

Probes = Mapping[str, tuple[ProbeResult, float]]  # each service's last check, and when


def stack(orchestrator: Orchestrator, probes: Probes) -> dict[str, Any]:
    plan = orchestrator.plan
    return {
        "stack": plan.stack,
        "state": orchestrator.state,
        "profile": plan.profile,
        "mode": plan.mode,
        "pid": os.getpid(),
        "started_at": orchestrator.started_at,
        "services": [service(orchestrator, spec, probes) for spec in plan.specs],
    }


def service(orchestrator: Orchestrator, spec: ProcessSpec, probes: Probes) -> dict[str, Any]:
    supervisor = orchestrator.supervisors.get(spec.name)
    if supervisor is None:  # the stack has not got to it yet
        return _pending(spec)
    handle = supervisor.handle
    return {
        "name": spec.name,
        "state": str(supervisor.state),
        "pid": handle.pid if handle is not None and handle.returncode is None else None,
        "port": spec.port,
        "url": spec.url,
        "restarts": supervisor.restarts,
        "exit_code": supervisor.exit_code,
        "started_at": supervisor.started_at,
        "ready_at": supervisor.ready_at,
        "reason": supervisor.reason,
        "last_probe": _last_probe(supervisor, probes),
    }


def detail(orchestrator: Orchestrator, spec: ProcessSpec, probes: Probes) -> dict[str, Any]:
    """A service with what it runs: its argv, its env (secret values masked), its dependencies."""
    return {
        **service(orchestrator, spec, probes),
        "argv": list(spec.argv),
        "env": masking.mask_env(spec.env),
        "depends_on": [{"name": d.name, "condition": d.condition} for d in spec.depends_on],
    }


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


def _pending(spec: ProcessSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "state": str(ServiceState.PENDING),
        "pid": None,
        "port": spec.port,
        "url": spec.url,
        "restarts": 0,
        "exit_code": None,
        "started_at": None,
        "ready_at": None,
        "reason": "",
        "last_probe": None,
    }


def _last_probe(supervisor: Supervisor, probes: Probes) -> dict[str, Any] | None:
    if supervisor.spec.probe is None and supervisor.spec.liveness is None:
        return None
    seen = probes.get(supervisor.name)
    if seen is None and supervisor.last_probe is not None:
        # A log probe waits for a line instead of checking: its one result, from when it was ready.
        seen = (supervisor.last_probe, supervisor.ready_at or time.time())
    if seen is None:
        return None
    result, at = seen
    return {"ok": result.ok, "detail": result.detail, "latency": result.latency, "at": at}


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
