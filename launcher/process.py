"""Child processes: spawn one in its own session, read its output, see it exit, stop its group.

Two traps of asyncio's subprocess API are avoided here (see docs/processes.md):
- `Process.wait()` also waits for the pipes to close, so a grandchild that inherited stdout
  would hide the exit for as long as it lives; the exit is taken from `process_exited()`.
- `StreamReader.readline()` drops lines over its limit; output is read in chunks and split by
  our own LineSplitter instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from launcher.errors import SpawnError
from launcher.lines import LineSplitter

# After the leader exited, how long its pipes may take to reach EOF before they are closed.
DRAIN = 0.5
STREAMS = {1: "stdout", 2: "stderr"}
OnOutput = Callable[[str, list[str]], None]


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, on_output: OnOutput) -> None:
        self.on_output = on_output
        self.splitters = {fd: LineSplitter() for fd in STREAMS}
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        lines = self.splitters[fd].feed(data)
        if lines:
            self.on_output(STREAMS[fd], lines)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        splitter = self.splitters.get(fd)
        if splitter is not None:
            lines = splitter.flush()
            if lines:
                self.on_output(STREAMS[fd], lines)

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


class ProcessHandle:
    """One running child: its own session and process group (pgid == pid)."""

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.pid: int = transport.get_pid()
        self.pgid = self.pid
        try:
            self.create_time = psutil.Process(self.pid).create_time()
        except psutil.Error:
            self.create_time = 0.0
        self._group_gone = False

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    async def wait(self) -> int:
        """The leader's exit code, as soon as it exits (pipes held open by others or not)."""
        await self._protocol.exited.wait()
        code = self.returncode
        return code if code is not None else -1

    async def stop(self, sig: int, timeout: float) -> int:
        """Signal the group; SIGKILL it after `timeout`; end what is left once the leader is gone."""
        if self.returncode is None:
            self._killpg(sig)
            try:
                async with asyncio.timeout(timeout):
                    await self._protocol.exited.wait()
            except TimeoutError:
                self._killpg(signal.SIGKILL)
                await self._protocol.exited.wait()
        self._end_group()
        return await self.wait()

    def kill(self) -> None:
        self._killpg(signal.SIGKILL)

    async def aclose(self) -> None:
        """After the exit: end stragglers of the group, flush the output, close the pipes."""
        await self._protocol.exited.wait()
        self._end_group()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN):
                await self._protocol.closed.wait()
        self._transport.close()

    def _end_group(self) -> None:
        # Grandchildren still in the group (one may hold our pipes open): the group id stays
        # valid while any member lives, so this reaches only them. Once it fails, never again.
        if not self._group_gone:
            self._killpg(signal.SIGKILL)
            self._group_gone = True

    def _killpg(self, sig: int) -> None:
        if self._group_gone:
            return
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            self._group_gone = self.returncode is not None
        except PermissionError:
            pass


async def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_output: OnOutput,
    pass_fds: Sequence[int] = (),
) -> ProcessHandle:
    """Start `argv` (no shell) in a new session, stdin from /dev/null, output piped to us."""
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _Protocol(on_output),
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        what = exc.strerror or str(exc)
        missing_cwd = isinstance(exc, FileNotFoundError) and not os.path.isdir(cwd)  # noqa: ASYNC240
        where = f" (no such directory: {cwd})" if missing_cwd else ""
        raise SpawnError(argv[0] if argv else "?", f"cannot run {argv[0]!r}: {what}{where}") from None
    return ProcessHandle(transport, protocol)


class Reaper:
    """The launcher's side of `launcher.reaper`: register groups; a clean close kills nothing."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, run_id: str) -> Reaper:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "launcher.reaper",
            run_id,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        return cls(process)

    def _send(self, line: str) -> None:
        stdin = self._process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.write(line.encode() + b"\n")

    def add(self, handle: ProcessHandle) -> None:
        self._send(f"add {handle.pgid}")

    def remove(self, handle: ProcessHandle) -> None:
        self._send(f"del {handle.pgid}")

    async def aclose(self) -> None:
        self._send("exit")
        stdin = self._process.stdin
        if stdin is not None:
            stdin.close()
            with contextlib.suppress(OSError):
                await stdin.wait_closed()
        try:
            async with asyncio.timeout(5):
                await self._process.wait()
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
