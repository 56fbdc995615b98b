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
from pathlib import Path

import psutil

from launcher.runtime import statefile
from launcher.runtime.reaper import marked

GRACE = 1.0


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    pgid: int
    create_time: float


def alive(pid: int, create_time: float) -> bool:
    """Whether `pid` is still the process that started at `create_time` (and not a zombie)."""
    return _same(ProcessRecord("", pid, pid, create_time)) is not None


def launcher_alive(record: statefile.StackRecord) -> bool:
    return alive(record.pid, record.create_time)


def reap_dead_stack(root: Path, record: statefile.StackRecord) -> str:
    """End what the dead launcher of `record` left running, remove its state; the line that
    says so."""
    records = [
        ProcessRecord(name=s.name, pid=s.pid, pgid=s.pgid or s.pid, create_time=s.create_time)
        for s in record.services
        if s.pid is not None and s.create_time is not None
    ]
    killed = reap(records) + sweep_marker(record.run_id)
    statefile.remove(root)
    if record.api is not None:
        with contextlib.suppress(OSError):
            Path(record.api).unlink()  # its socket, left behind
    note = f": ended {', '.join(killed)}" if killed else ": nothing was left running"
    return f"found the state of a launcher that died (pid {record.pid}){note}"


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
