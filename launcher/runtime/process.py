"""Child processes: spawn one in its own session, read its output, see it exit, stop its group.

Three traps of asyncio's subprocess API are avoided here (see docs/running.md):
- `Process.wait()` also waits for the pipes to close, so a grandchild that inherited stdout
  would hide the exit for as long as it lives; the exit is taken from `process_exited()`.
- The same wait hides in the clean-up of a `subprocess_exec()` cancelled before its pipes were
  connected; a spawn is therefore never cancelled half-way (see spawn()).
- `StreamReader.readline()` drops lines over its limit; output is read in chunks and split by
  our own LineSplitter instead.

A service that writes faster than it is read gets its pipe read in fewer, larger chunks (see
BATCH_BYTES): the cost of relaying output is mostly per chunk, not per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import psutil

from launcher.core.errors import SpawnError
from launcher.runtime import backlog, reaper
from launcher.runtime.lines import LineSplitter

# After the leader exited, how long its pipes may take to reach EOF before they are closed.
DRAIN = 0.5
STREAMS = {1: "stdout", 2: "stderr"}
# Reading a busy pipe in few, large chunks: the cost of relaying output is mostly per chunk.
# A read that fills the pipe means the service writes faster than it is read: its pipe grows
# to FLOOD_PIPE (once; asyncio reads at most that much at a time) and is read again at once. A
# read of BATCH_BYTES or more that does not fill it, or a read that follows the one before by
# less than BATCH_PAUSE (a service writing line by line, unbuffered), means a busy service:
# its pipe rests for BATCH_PAUSE, so that the next read takes what came meanwhile instead of
# one chunk per write of the service. A service that writes a line now and then is read at
# once, as always. While the launcher's output is behind its reader (launcher/runtime/backlog.py),
# a full pipe rests too: reading it sooner would only move its lines into the spill file.
BATCH_BYTES = 4 * 1024
BATCH_PAUSE = 0.005
PIPE = 64 * 1024  # Linux's default pipe capacity
PAGE = 4096
FLOOD_PIPE = 256 * 1024  # a user's pipes share a limit (pipe(7)): only a flooded one grows
# A batch of lines of one stream (a launcher/runtime/lines.py Lines, or a list).
OnOutput = Callable[[str, Sequence[str]], None]


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, on_output: OnOutput) -> None:
        self.on_output = on_output
        self.splitters = {fd: LineSplitter() for fd in STREAMS}
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()
        self._transport: asyncio.SubprocessTransport | None = None
        self._capacity: dict[int, int] = {}  # of each pipe once it was found full
        self._read_at: dict[int, float] = {}  # each pipe's last read (time.monotonic())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        lines = self.splitters[fd].feed(data)
        if lines:
            self.on_output(STREAMS[fd], lines)
        now = time.monotonic()
        soon = now - self._read_at.get(fd, -BATCH_PAUSE) < BATCH_PAUSE
        self._read_at[fd] = now
        # Full within a page: a pipe holds pages, and writes that do not fill their last one
        # (Python's buffered stdout writes 8,160 bytes of 80-byte lines) leave it short.
        full = len(data) > min(self._capacity.get(fd, PIPE), FLOOD_PIPE) - PAGE
        if full:
            self._grow(fd)
        if backlog.behind() or (not full and (soon or len(data) >= BATCH_BYTES)):
            self._rest(fd)

    def _pipe(self, fd: int) -> asyncio.ReadTransport | None:
        pipe = self._transport.get_pipe_transport(fd) if self._transport is not None else None
        return pipe if isinstance(pipe, asyncio.ReadTransport) else None

    def _grow(self, fd: int) -> None:
        pipe = self._pipe(fd)
        if fd in self._capacity or pipe is None:
            return
        self._capacity[fd] = PIPE
        with contextlib.suppress(OSError, AttributeError):  # the users' limit reached; not Linux
            pipe_fd = pipe.get_extra_info("pipe").fileno()
            self._capacity[fd] = fcntl.fcntl(pipe_fd, fcntl.F_SETPIPE_SZ, FLOOD_PIPE)

    def _rest(self, fd: int) -> None:
        pipe = self._pipe(fd)
        if pipe is not None and pipe.is_reading():
            pipe.pause_reading()
            # resume_reading() once closed does nothing: no need to cancel this.
            asyncio.get_running_loop().call_later(BATCH_PAUSE, pipe.resume_reading)

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


class Handle(Protocol):
    """What a supervisor runs: a child process, or (shared mode) a service inside the host."""

    pid: int
    pgid: int
    create_time: float

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    async def wait_started(self) -> None: ...

    async def stop(self, sig: int, timeout: float) -> int: ...

    def kill(self) -> None: ...

    async def aclose(self) -> None: ...


class Spawner(Protocol):
    """Starts a process (`spawn` below; the shared host's link; a fake in unit tests)."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_output: OnOutput,
        pass_fds: Sequence[int] = (),
    ) -> Awaitable[Handle]: ...


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

    async def wait_started(self) -> None:
        """A process has started once it is spawned (the shared host's handles wait for more)."""

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
    creating = asyncio.ensure_future(
        loop.subprocess_exec(
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
    )
    try:
        transport, protocol = await asyncio.shield(creating)
    except asyncio.CancelledError:
        # Cancelled half-way (a stop while a restart spawns). asyncio's own clean-up of a
        # cancelled subprocess_exec kills the leader only, then waits for EOF on pipes that a
        # grandchild may hold for as long as it lives: the stop hung. Let the spawn finish
        # instead, end its whole group, and only then give in.
        await asyncio.shield(asyncio.ensure_future(_discard(creating)))
        raise
    except OSError as exc:
        what = exc.strerror or str(exc)
        missing_cwd = isinstance(exc, FileNotFoundError) and not os.path.isdir(cwd)  # noqa: ASYNC240
        where = f" (no such directory: {cwd})" if missing_cwd else ""
        raise SpawnError(argv[0] if argv else "?", f"cannot run {argv[0]!r}: {what}{where}") from None
    return ProcessHandle(transport, protocol)


async def _discard(creating: asyncio.Future[tuple[asyncio.SubprocessTransport, _Protocol]]) -> None:
    """Wait for a spawn nobody wants any more, then kill its process group and close it."""
    await asyncio.wait({creating})
    if creating.cancelled() or creating.exception() is not None:
        return
    handle = ProcessHandle(*creating.result())
    handle.kill()
    await handle.aclose()


async def adopt(process: subprocess.Popen[bytes], on_output: OnOutput) -> ProcessHandle:
    """A process spawned before the event loop ran (launcher/runtime/firstspawn.py), from now
    on read and watched as one that spawn() started: the same protocol reads its pipes (what
    it wrote meanwhile waited in them), its exit is seen through a pidfd."""
    protocol = _Protocol(on_output)
    transport = _Adopted(process, protocol)
    await transport.connect()
    return ProcessHandle(transport, protocol)


class _Adopted(asyncio.SubprocessTransport):
    """The subprocess transport of an adopted process: what asyncio's own does for a process
    it spawns (its pipes as read transports, the exit reaped and told, then the end), for a
    process it did not."""

    def __init__(self, process: subprocess.Popen[bytes], protocol: _Protocol) -> None:
        super().__init__()
        self._process = process
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._pipes: dict[int, asyncio.ReadTransport] = {}
        self._open: set[int] = set()  # the pipes not at EOF yet
        self._returncode: int | None = None
        self._pidfd = -1
        self._closed = False

    async def connect(self) -> None:
        self._protocol.connection_made(self)
        for fd, pipe in ((1, self._process.stdout), (2, self._process.stderr)):
            if pipe is None:
                continue
            transport, _ = await self._loop.connect_read_pipe(functools.partial(_AdoptedPipe, self, fd), pipe)
            assert isinstance(transport, asyncio.ReadTransport)
            self._pipes[fd] = transport
            self._open.add(fd)
        self._pidfd = os.pidfd_open(self._process.pid)
        self._loop.add_reader(self._pidfd, self._exited)

    def _exited(self) -> None:
        self._unwatch()
        try:
            _, status = os.waitpid(self._process.pid, 0)
            self._returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped elsewhere: its code is lost
            self._returncode = 255
        self._process.returncode = self._returncode  # Popen knows: nothing to wait for
        self._protocol.process_exited()
        self._maybe_lost()

    def _unwatch(self) -> None:
        if self._pidfd >= 0:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1

    def pipe_data(self, fd: int, data: bytes) -> None:
        self._protocol.pipe_data_received(fd, data)

    def pipe_lost(self, fd: int, exc: Exception | None) -> None:
        self._protocol.pipe_connection_lost(fd, exc)
        self._open.discard(fd)
        self._maybe_lost()

    def _maybe_lost(self) -> None:
        if not self._open and self._returncode is not None and not self._closed:
            self._closed = True
            self._protocol.connection_lost(None)

    def get_pid(self) -> int:
        return self._process.pid

    def get_returncode(self) -> int | None:
        return self._returncode

    def get_pipe_transport(self, fd: int) -> asyncio.BaseTransport | None:
        return self._pipes.get(fd)

    def send_signal(self, sig: int) -> None:
        # Not Popen's: its poll() would reap an exited process, whose code _exited() then
        # could not read. Unreaped until then, the pid is still this process's (a zombie).
        if self._returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        """As asyncio's: the pipes closed, the process killed if it still runs."""
        for pipe in self._pipes.values():
            pipe.close()
        self.kill()  # (if it still runs)
        if self._pidfd >= 0 and self._returncode is None:
            return  # its exit is still to be reaped, by _exited()
        self._unwatch()
        if not self._closed:
            self._closed = True
            self._protocol.connection_lost(None)


class _AdoptedPipe(asyncio.Protocol):
    """One output pipe of an adopted process, told to its subprocess protocol as asyncio's
    own subprocess transport tells it."""

    def __init__(self, owner: _Adopted, fd: int) -> None:
        self._owner = owner
        self._fd = fd

    def data_received(self, data: bytes) -> None:
        self._owner.pipe_data(self._fd, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.pipe_lost(self._fd, exc)


class ReadyPipe:
    """The pipe on which a multi-mode task's runner says that the task is ready
    (launcher/child/task_ready.py): the runner gets its write end, the launcher reads the other."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_inheritable(self.write_fd, True)

    def spawned(self) -> None:
        """The child has its copy of the write end (or never will): close ours, so that the
        read end sees EOF once the child's copy is closed too."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    async def said_ready(self) -> bool:
        """True once the runner said so; False at EOF (it exited first, or does not speak)."""
        self.spawned()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(self.read_fd, "rb", buffering=0)
        self.read_fd = -1
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        try:
            return bool(await reader.readline())
        finally:
            transport.close()

    def close(self) -> None:
        self.spawned()
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1


class Reaper:
    """The launcher's side of `launcher.runtime.reaper`: register groups; a clean close kills nothing."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._closed = False

    @classmethod
    def start(cls, run_id: str) -> Reaper:
        """Start the reaper (reaper.launch(): nothing here waits for it to run; aclose() waits
        for its exit)."""
        return cls(reaper.launch(run_id))

    def _send(self, line: str) -> None:
        # A blocking write, but of a few bytes into a pipe the reaper drains as they come: the
        # 64 KiB of the pipe would take thousands of registrations to fill.
        stdin = self._process.stdin
        if stdin is None or self._closed:
            return
        try:
            stdin.write(line.encode() + b"\n")
        except OSError:  # the reaper is gone (someone killed it): nothing to tell any more
            self._closed = True

    def add(self, handle: Handle) -> None:
        self._send(f"add {handle.pgid}")

    def remove(self, handle: Handle) -> None:
        self._send(f"del {handle.pgid}")

    async def aclose(self) -> None:
        self._send("exit")
        self._closed = True
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        # It exits at once on "exit"; wait for that (and reap it) off the event loop.
        await asyncio.to_thread(self._wait)

    def _wait(self) -> None:
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
