"""Ending what a launcher that died left behind, and nothing else.

A record names a process by pid *and* start time: a pid alone may have been reused by an
unrelated program since, and that one must never be signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from launcher.reaper import marked

GRACE = 1.0


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    pgid: int
    create_time: float


def _same(record: ProcessRecord) -> psutil.Process | None:
    try:
        process = psutil.Process(record.pid)
        if abs(process.create_time() - record.create_time) > 0.01:
            return None
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.Error:
        return None


def reap(records: Sequence[ProcessRecord]) -> list[str]:
    """SIGTERM, then SIGKILL, the groups of the recorded processes that are still the same."""
    alive = [(r, p) for r in records if (p := _same(r)) is not None]
    for record, _ in alive:
        _killpg(record.pgid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline and any(_same(r) for r, _ in alive):
        time.sleep(0.02)
    for record, _ in alive:
        if _same(record) is not None:
            _killpg(record.pgid, signal.SIGKILL)
    return [f"{r.name} (pid {r.pid})" for r, _ in alive]


def sweep_marker(run_id: str, service: str | None = None) -> list[str]:
    """SIGKILL every process still marked with this run (and service): escaped daemons."""
    ended = []
    for pid in marked(run_id, service):
        try:
            os.kill(pid, signal.SIGKILL)
            ended.append(f"pid {pid}")
        except OSError:
            continue
    return ended


async def end_escaped(run_id: str, service: str | None = None) -> str | None:
    """Sweep off the event loop (it reads every process's environment); a line saying what was
    killed, or None when nothing had escaped."""
    escaped = await asyncio.to_thread(sweep_marker, run_id, service)
    return f"killed what had left its process group: {', '.join(escaped)}" if escaped else None


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)
