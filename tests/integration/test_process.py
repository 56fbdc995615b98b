"""`launcher.runtime.process` on real programs: the exit of a service is seen at once even while a
grandchild holds its pipes, a stop never waits for such a grandchild (not even a stop that lands
in the middle of a spawn), and output comes out in whole lines whatever their length or bytes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
import pytest
from helpers import alive, program, wait_until, wait_until_async

from launcher.runtime.process import DRAIN, ProcessHandle, spawn

pytestmark = pytest.mark.integration


class Output:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, stream: str, lines: list[str]) -> None:
        self.lines.extend((stream, line) for line in lines)

    def text(self, stream: str = "stdout") -> list[str]:
        return [line for s, line in self.lines if s == stream]


async def start(argv: list[str], output: Output | None = None) -> ProcessHandle:
    return await spawn(argv, cwd=Path.cwd(), env=dict(os.environ), on_output=output or Output())


async def test_a_spawn_cancelled_half_way_ends_its_group_without_waiting_for_the_pipes() -> None:
    # The root cause of a flaky test: a stop (Ctrl-C) that cancelled the spawn of a restart.
    # asyncio's clean-up of a cancelled subprocess_exec kills the leader only and then waits
    # for EOF on the pipes, which the grandchild (`sleep 60`) held for its whole life.
    spawning = asyncio.ensure_future(start(["sh", "-c", "sleep 60 & exec sleep 61"]))
    # Cancel just after the fork and exec, before asyncio has connected the child's pipes: a
    # loop turn at a time, as nothing else tells when the child exists.
    while not psutil.Process().children():  # noqa: ASYNC110
        await asyncio.sleep(0)
    started = time.monotonic()
    spawning.cancel()
    with pytest.raises(asyncio.CancelledError):
        await spawning
    assert time.monotonic() - started < DRAIN + 1.0
    # Nothing of it is left: the whole group was killed, the grandchild included.
    children = [p for p in _descendants() if p.cmdline()[:1] == ["sleep"]]
    assert not children, f"left running: {children}"


async def test_the_exit_is_seen_at_once_while_a_grandchild_holds_the_pipes(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild"
    output = Output()
    handle = await start(program("forks_child", "--code", "3", "--pidfile", str(pidfile)), output)
    started = time.monotonic()
    code = await asyncio.wait_for(handle.wait(), 10)
    assert code == 3
    assert time.monotonic() - started < 5.0  # the grandchild sleeps an hour
    grandchild = int(pidfile.read_text())
    assert alive(grandchild), "the grandchild should still hold the pipe here"
    # Closing ends the rest of the group and does not wait for the grandchild's EOF.
    closing = time.monotonic()
    await handle.aclose()
    assert time.monotonic() - closing < DRAIN + 1.0
    wait_until(lambda: not alive(grandchild), 5, message="the grandchild killed")
    assert output.text()[0].startswith("parent ")


async def test_stop_signals_the_group_then_kills_it_after_the_timeout(tmp_path: Path) -> None:
    record = tmp_path / "sigterms"
    output = Output()
    handle = await start(program("ignores_sigterm", "--record", str(record)), output)
    await wait_until_async(lambda: output.text())  # its handler is in place
    started = time.monotonic()
    code = await handle.stop(signal.SIGTERM, 0.5)
    elapsed = time.monotonic() - started
    await handle.aclose()
    assert code == -signal.SIGKILL
    assert 0.5 <= elapsed < 1.5
    assert len(record.read_text().splitlines()) == 1


async def test_output_comes_in_whole_lines_of_any_length_invalid_utf8_replaced() -> None:
    output = Output()
    handle = await start(program("longline", "--bytes", str(3 * 1024 * 1024), "--partial"), output)
    assert await asyncio.wait_for(handle.wait(), 20) == 0
    await handle.aclose()
    # The last line has no newline: it comes out at EOF all the same.
    assert output.text() == ["a" * (3 * 1024 * 1024), "bad \ufffd\ufffd utf-8", "ok"]


async def test_a_flood_is_read_in_large_chunks_every_line_whole_and_in_order() -> None:
    # 200,000 lines of 80 bytes, written 8 KiB at a time: the pipe rests between reads
    # (process.BATCH_PAUSE), or grows to FLOOD_PIPE once found full and is read on at once.
    output = Output()
    chunks: list[int] = []

    def on_output(stream: str, lines: Sequence[str]) -> None:
        chunks.append(len(lines))
        output(stream, list(lines))

    count = 200_000
    flood = f"import sys\nfor i in range({count}): sys.stdout.write(f'{{i:09d}} {{\"x\" * 70}}\\n')"
    handle = await spawn(
        [sys.executable, "-c", flood], cwd=Path.cwd(), env=dict(os.environ), on_output=on_output
    )
    assert await asyncio.wait_for(handle.wait(), 60) == 0
    await handle.aclose()
    assert output.text() == [f"{i:09d} {'x' * 70}" for i in range(count)]
    # Far fewer chunks than the 1,954 writes of 8 KiB: the relay's cost is per chunk.
    assert len(chunks) < count * 80 / 8192 / 2


def _descendants() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)
