"""A stack for the dashboard's tests that needs no launcher: a fake of launcher/tui/source.py's
Source with fixed pids, ports and times, so that the screens it gives are the same on every run.

    source = FakeSource()
    app = Dashboard(source, source.stack, project="/srv/shop", clock=lambda: NOW)
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

NOW = 1_764_700_100.0  # the fake clock: every time below is a few seconds or minutes before it


def service(name: str, state: str = "ready", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "state": state,
        "pid": None,
        "port": None,
        "url": None,
        "restarts": 0,
        "exit_code": None,
        "started_at": None,
        "ready_at": None,
        "reason": "",
        "last_probe": None,
        "cpu": None,
        "rss": None,
    }
    return {**base, **fields}


def shop() -> dict[str, Any]:
    """A stack of five services in every kind of state the table colours."""
    probe = {"ok": True, "detail": "HTTP 200", "latency": 0.002, "at": NOW - 3}
    return {
        "stack": "shop",
        "state": "running",
        "profile": "full",
        "mode": "multi",
        "pid": 4242,
        "started_at": NOW - 185,
        "services": [
            service("migrate", "completed", exit_code=0, started_at=NOW - 184),
            service(
                "api",
                pid=4250,
                port=8000,
                url="http://127.0.0.1:8000",
                started_at=NOW - 183,
                ready_at=NOW - 182,
                last_probe=probe,
                cpu=2.5,
                rss=52_428_800,
            ),
            service("worker", pid=4260, started_at=NOW - 65, restarts=2, cpu=0.4, rss=31_457_280),
            service(
                "cache",
                "unhealthy",
                pid=4270,
                port=8001,
                started_at=NOW - 180,
                last_probe={"ok": False, "detail": "connection refused", "latency": 0.0, "at": NOW - 1},
                cpu=0.1,
                rss=8_388_608,
            ),
            service("mailer", "failed", exit_code=3, reason="exited with code 3"),
        ],
    }


DEPENDS_ON = {
    "migrate": [],
    "api": [{"name": "migrate", "condition": "completed"}, {"name": "cache", "condition": "started"}],
    "worker": [{"name": "api", "condition": "ready"}],
    "cache": [],
    "mailer": [{"name": "api", "condition": "ready"}],
}

LINES = [
    {"service": "migrate", "line": "applied migration 1"},
    {"service": "migrate", "line": "schema at version 2"},
    {"service": "api", "line": "INFO:     Uvicorn running on http://127.0.0.1:8000", "ts": NOW - 182},
    {"service": "worker", "line": "worker: waiting for jobs", "ts": NOW - 64.5},
    {"service": "api", "line": 'INFO:     "GET /health HTTP/1.1" 200 OK', "ts": NOW - 3},
    {"service": "mailer", "line": "Traceback (most recent call last):", "ts": NOW - 2.5},
    {
        "service": "mailer",
        "line": "ConnectionRefusedError: [Errno 111] smtp at 127.0.0.1:25",
        "ts": NOW - 2.5,
    },
    {"service": "worker", "line": "worker: job 17 done in 0.4s", "ts": NOW - 1.2},
]

CHANGES = [
    {"service": "worker", "old": "ready", "new": "backoff", "time": NOW - 66, "reason": "exited with code 1"},
    {"service": "worker", "old": "backoff", "new": "starting", "time": NOW - 65, "reason": ""},
    {"service": "worker", "old": "starting", "new": "ready", "time": NOW - 64, "reason": ""},
    {
        "service": "mailer",
        "old": "starting",
        "new": "failed",
        "time": NOW - 2,
        "reason": "exited with code 3",
    },
]


class FakeSource:
    """The stack above; the streams send what they are given and then stay open, as the API's
    do while the stack runs: what is put in `more_lines` and `more_changes` comes next. `acts`
    records the starts, stops and restarts asked for."""

    def __init__(
        self,
        stack: dict[str, Any] | None = None,
        lines: list[dict[str, Any]] | None = None,
        changes: list[dict[str, Any]] | None = None,
    ) -> None:
        self.stack = stack if stack is not None else shop()
        self.lines = list(LINES if lines is None else lines)
        self.changes = list(CHANGES if changes is None else changes)
        self.acts: list[tuple[str, str]] = []
        self.more_lines: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        self.more_changes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def status(self) -> Any:
        return copy.deepcopy(self.stack)

    async def detail(self, name: str) -> dict[str, Any]:
        return {
            **next(s for s in self.stack["services"] if s["name"] == name),
            "depends_on": DEPENDS_ON.get(name, []),
        }

    async def act(self, name: str, action: str) -> Any:
        self.acts.append((name, action))
        return next(s for s in self.stack["services"] if s["name"] == name)

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        yield "snapshot", copy.deepcopy(self.stack)
        for change in self.changes:
            yield "state", change
        while True:
            change = await self.more_changes.get()
            for service in self.stack["services"]:  # as the status answers from then on
                if service["name"] == change["service"]:
                    service["state"] = change["new"]
            yield "state", change

    async def logs(self, tail: int, every: float) -> AsyncIterator[list[dict[str, Any]]]:
        yield self.lines
        while True:
            yield await self.more_lines.get()
