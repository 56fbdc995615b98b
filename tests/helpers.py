"""Helpers shared by the tests: `from helpers import wait_until` (tests/ is on pytest's pythonpath).

Tests wait on conditions with deadlines, never with bare sleeps: a condition that holds early
ends the wait early, and one that never holds fails with a message saying what was awaited.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, TypeVar

import psutil

T = TypeVar("T")

PROGRAMS = Path(__file__).parent / "programs"
REPO = Path(__file__).parents[1]


class ProjectFactory(Protocol):
    """The type of the `project` fixture (tests/conftest.py)."""

    def __call__(
        self,
        config: str | None = "",
        files: Mapping[str, str | bytes] | None = None,
        *,
        name: str | None = None,
    ) -> Path: ...


def program(name: str, *args: str) -> list[str]:
    """The argv that runs tests/programs/<name>.py with this interpreter: `program("sleeper")`."""
    return [sys.executable, str(PROGRAMS / f"{name}.py"), *args]


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str | Callable[[], str] | None = None,
) -> T:
    """Call `predicate` until it returns something truthy, and return that; raise on the deadline.

    `message` says what was awaited (a callable is evaluated only on failure, so that it can
    show the state at that moment, such as a process's output so far).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            what = message() if callable(message) else message
            name = getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"timed out after {timeout} s waiting for {what or name}")
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01, message: str = ""
) -> None:
    """wait_until() on an event loop: the loop runs on (the stack, a dashboard) while it waits."""
    import asyncio

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            name = getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"timed out after {timeout} s waiting for {message or name}")
        await asyncio.sleep(interval)


def free_port_block(size: int = 20) -> tuple[int, int]:
    """A range of `size` ports of 127.0.0.1 that were all free a moment ago, at a random place.

    For `[launcher] ports`: a fixed range would be shared with whatever else runs on the machine
    (another test session included), and the launcher's choice of a port races with them.
    """
    rng = random.Random()
    for _ in range(200):
        low = rng.randrange(20000, 30000 - size)
        if all(_port_free(p) for p in range(low, low + size)):
            return low, low + size - 1
    raise RuntimeError(f"no {size} free consecutive ports found in 20000-30000")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie is not: it has exited, only unreaped)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def toml_list(words: Sequence[object]) -> str:
    """A TOML array of strings: `command = {toml_list(program("sleeper"))}`."""
    return "[" + ", ".join(json.dumps(str(w)) for w in words) + "]"


class Events:
    """The lines that tests/programs append to an events file: `NAME EVENT [WORDS...]`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[list[str]]:
        try:
            return [line.split() for line in self.path.read_text().splitlines() if line.strip()]
        except FileNotFoundError:
            return []

    def pairs(self) -> list[tuple[str, str]]:
        return [(words[0], words[1]) for words in self.lines() if len(words) >= 2]

    def count(self, name: str, event: str) -> int:
        return self.pairs().count((name, event))

    def names(self, event: str) -> list[str]:
        """Who had `event`, in the order of the file."""
        return [name for name, what in self.pairs() if what == event]

    def pids(self, name: str, event: str = "started") -> list[int]:
        return [int(w[2]) for w in self.lines() if w[:2] == [name, event] and len(w) > 2]

    def times(self, name: str, event: str) -> list[float]:
        """CLOCK_MONOTONIC stamps (the last word of each line) of `event`s of `name`."""
        return [float(w[-1]) for w in self.lines() if w[:2] == [name, event]]


@dataclass(frozen=True)
class StackProject:
    """A project of tests/programs services: its root, the events file they append to, and a
    block of free ports (`low` to `high`) for its `[launcher] ports`."""

    root: Path
    events: Events
    low: int
    high: int

    def write(self, services: str, launcher: str = "") -> None:
        """Write launcher.toml: `[launcher]` with `ports` (the block) and the lines `launcher`
        adds to it (`'name = "shop"'`), then `services` (the tables after it); both dedented."""
        extra = textwrap.dedent(launcher).strip()
        head = f"\n[launcher]\nports = [{self.low}, {self.high}]\n" + (f"{extra}\n" if extra else "")
        (self.root / "launcher.toml").write_text(head + textwrap.dedent(services))


def stack_project(
    project: ProjectFactory,
    size: int = 20,
    files: Mapping[str, str | bytes] | None = None,
    name: str | None = None,
) -> StackProject:
    """A new project (`files` in it, `name` its directory) with its events file and a block of
    `size` free ports; `.write(services)` writes its launcher.toml."""
    low, high = free_port_block(size)
    root = project(files=files, name=name)
    return StackProject(root, Events(root / "events"), low, high)


def web_stack(
    project: ProjectFactory,
    follower: str = "worker",
    command: Sequence[str] | None = None,
    extra: str = "",
    files: Mapping[str, str | bytes] | None = None,
    name: str | None = None,
) -> Path:
    """A project of a small stack, as `up -d` tests bring up: web (tests/programs/http_ok, ready
    on /health) and `follower` after it (running `command`, the sleeper by default), stopped
    within 5 s; `extra` adds tables to its launcher.toml."""
    stack = stack_project(project, 10, files, name)
    stack.write(
        f"""
[services.web]
command = {toml_list(program("http_ok"))}
port = "auto"
probe = {{ http = "/health" }}

[services.{follower}]
command = {toml_list(command or program("sleeper"))}
depends_on = ["web"]
"""
        + textwrap.dedent(extra),
        launcher="stop_timeout = 5",
    )
    return stack.root


class LauncherRun:
    """`python -m launcher run ARGS` in `project`, in its own session (so that signals sent to
    it reach it alone, as a terminal's would reach a foreground job).

    Its stdout and stderr go to a file, or with `tty=True` to a pseudo-terminal that a thread
    drains. `close()` kills whatever is left of it.
    """

    def __init__(
        self, project: Path, *args: str, env: Mapping[str, str | None] | None = None, tty: bool = False
    ) -> None:
        self.project = project
        self.output_path = project / "launcher.out"
        self._file = self.output_path.open("wb")
        self._master: int | None = None
        self._reader: threading.Thread | None = None
        # NO_COLOR unless told otherwise (a None value removes a variable).
        overrides = {"NO_COLOR": "1", **(env or {})}
        environ = {k: v for k, v in {**os.environ, **overrides}.items() if v is not None}
        stdout: int | IO[bytes] = self._file
        if tty:
            self._master, slave = os.openpty()
            stdout = slave
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "launcher", "run", *args],
                cwd=project,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=environ,
            )
        finally:
            if tty:
                os.close(slave)
        if self._master is not None:
            self._reader = threading.Thread(target=self._drain, args=(self._master,), daemon=True)
            self._reader.start()
        self.started = time.monotonic()

    def _drain(self, master: int) -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                return
            if not data:
                return
            self._file.write(data)
            self._file.flush()

    @property
    def output(self) -> str:
        return self.output_path.read_bytes().decode(errors="replace")

    def wait_output(self, text: str, timeout: float = 30.0) -> None:
        wait_until(
            lambda: text in self.output,
            timeout,
            interval=0.02,
            message=lambda: f"{text!r} in the launcher's output:\n{self.output}",
        )

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the launcher did not exit within {timeout} s; its output:\n{self.output}"
            ) from None

    def children(self) -> list[psutil.Process]:
        """The launcher's descendants now (services, their children, the reaper)."""
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def services(self) -> list[psutil.Process]:
        """The launcher's descendants but its reaper: the services and their children."""
        found = []
        for process in self.children():
            try:
                if not any(
                    word.endswith(("reaper.py", "launcher.runtime.reaper")) for word in process.cmdline()
                ):
                    found.append(process)
            except psutil.Error:
                continue
        return found

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        if self._master is not None:
            os.close(self._master)
        self._file.close()


Launch = Callable[..., LauncherRun]  # the type of the `launch` fixture (tests/conftest.py)


def service(name: str, events: Events, *flags: str) -> str:
    """The TOML `command` of tests/programs/stack_service.py NAME, writing to `events`."""
    return toml_list(program("stack_service", name, "--events", str(events.path), *flags))


def asgi_app(body: str) -> str:
    """The source of a module whose `app` is an ASGI app that goes through its lifespan and
    answers every request with `body` (a Python expression of bytes: `'b"ok"'`)."""
    return f"""
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            elif message["type"] == "lifespan.shutdown":
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": {body}}})
"""


def cli(cwd: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`python -m launcher ARGS` in `cwd`, without colour, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def following(root: Path, *args: str) -> Iterator[Path]:
    """`launcher logs -f ARGS` in `root`, without colour, writing to root/follow.out (given to
    the block); the block ends the stack, and the follower must then end by itself: exit code 0,
    nothing on stderr (killed if it did not)."""
    output = root / "follow.out"
    with output.open("w") as sink:
        follower = subprocess.Popen(
            [sys.executable, "-m", "launcher", "--no-color", "logs", "-f", *args],
            cwd=root,
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        yield output
        assert follower.wait(10) == 0
        assert follower.stderr is not None
        assert follower.stderr.read() == ""
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        if follower.stderr is not None:
            follower.stderr.close()


def copy_demo(root: Path) -> Path:
    """The repository's demo project (launcher.toml, profiles/, examples/) copied into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("launcher.toml", "profiles", "examples"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", ".launcher"))
        else:
            shutil.copy(source, root / name)
    return root
