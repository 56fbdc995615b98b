"""Fixtures for every test: temp projects, free ports, deadline waits, and the process-leak guard.

The leak guard (autouse) fails any test that leaves a process running: a descendant of pytest
that is still alive, or any process of this test session that carries `LAUNCHER_STACK` in its
environment (a service of a stack; it may have been orphaned, so it is no descendant any more)
or is a detached launcher (`run --detached`, which `up -d` starts in a session of its own).
The leaked processes are SIGKILLed, so that later tests are not poisoned by them.

Processes of this session are told apart from other test sessions on the same machine by
`PYTEST_LEAK_GUARD`, which is set here and inherited by whatever a test starts: start
programs with an environment built from `os.environ`, as the launcher does for its services.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import LauncherRun, ProjectFactory, wait_until

SESSION_VARIABLE = "PYTEST_LEAK_GUARD"
os.environ[SESSION_VARIABLE] = f"{os.getpid()}-{secrets.token_hex(4)}"

# A process still alive this long after its test ended is a leak (a launcher that was just
# SIGKILLed may need a moment for its reaper to take the services down).
LEAK_GRACE = 1.0

Identity = tuple[int, float]  # pid and start time: a pid alone may be reused


@pytest.fixture
def project(tmp_path: Path) -> ProjectFactory:
    """A factory of temporary projects: `project(toml, files={"profiles/dev.toml": "..."})`.

    Writes `launcher.toml` (dedented; None writes none) and each extra file (str values
    dedented, bytes as they are) into a new directory under tmp_path and returns it. Each call
    makes another directory (`project`, `project-2`, ...) unless `name` is given.
    """
    made: list[Path] = []

    def make(
        config: str | None = "",
        files: Mapping[str, str | bytes] | None = None,
        *,
        name: str | None = None,
    ) -> Path:
        root = tmp_path / (name or ("project" if not made else f"project-{len(made) + 1}"))
        root.mkdir(parents=True)
        made.append(root)
        if config is not None:
            (root / "launcher.toml").write_text(textwrap.dedent(config))
        for relative, content in (files or {}).items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content))
        return root

    return make


@pytest.fixture
def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago (bound to port 0, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., object]:
    """`wait_until(predicate, timeout=10, interval=0.01, message=None)`, see tests/helpers.py."""
    return wait_until


# The leak guard.


def _stack_processes() -> set[Identity]:
    """Processes of this user and test session whose environment holds LAUNCHER_STACK."""
    marker = f"{SESSION_VARIABLE}={os.environ[SESSION_VARIABLE]}".encode()
    uid, me = os.getuid(), os.getpid()
    found: set[Identity] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            with open(f"/proc/{entry.name}/environ", "rb") as file:
                environ = file.read().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if marker in environ and (
            any(item.startswith(b"LAUNCHER_STACK=") for item in environ) or _detached(entry.name)
        ):
            identity = _identity(int(entry.name))
            if identity is not None:
                found.add(identity)
    return found


def _detached(pid: str) -> bool:
    """A launcher that `up -d` started: no descendant of pytest, and no LAUNCHER_STACK."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            argv = file.read().split(b"\0")
    except OSError:
        return False
    return b"launcher" in argv and b"--detached" in argv


def _identity(pid: int) -> Identity | None:
    try:
        return pid, psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _descendants() -> set[Identity]:
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            found.add((child.pid, child.create_time()))
        except psutil.Error:
            continue
    return found


def _snapshot() -> set[Identity]:
    return _stack_processes() | _descendants()


def _alive(identities: set[Identity]) -> list[psutil.Process]:
    alive = []
    for pid, started in identities:
        try:
            process = psutil.Process(pid)
            if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.Error:
            continue
    return alive


def _describe(process: psutil.Process) -> str:
    try:
        command = " ".join(process.cmdline()) or process.name()
    except psutil.Error:
        command = "?"
    return f"pid {process.pid}: {command}"


def _kill(processes: list[psutil.Process]) -> None:
    own_group = os.getpgrp()
    for process in processes:
        try:
            # A leader of its own group takes its group along (never pytest's own group).
            if os.getpgid(process.pid) == process.pid != own_group:
                os.killpg(process.pid, signal.SIGKILL)
            process.kill()
        except (OSError, psutil.Error):
            continue
    psutil.wait_procs(processes, timeout=5)


def _leaks(before: set[Identity]) -> str | None:
    """Kill what was started since `before` and is still running; describe it (None: nothing)."""
    new = _snapshot() - before
    if not new:
        return None
    deadline = time.monotonic() + LEAK_GRACE
    leaked = _alive(new)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.02)
        leaked = _alive(new)
    if not leaked:
        return None
    described = [_describe(p) for p in leaked]
    _kill(leaked)
    return f"{len(leaked)} process(es) running (killed now):\n  " + "\n  ".join(described)


@pytest.fixture(autouse=True, scope="session")
def _no_leaked_processes_at_session_end() -> Iterator[None]:
    before = _snapshot()
    yield
    leaks = _leaks(before)
    if leaks:
        pytest.fail(f"the session's fixtures left {leaks}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_leaked_processes() -> Iterator[None]:
    before = _snapshot()
    yield
    leaks = _leaks(before)
    if leaks:
        pytest.fail(f"the test left {leaks}", pytrace=False)


@pytest.fixture
def launch() -> Iterator[Callable[..., LauncherRun]]:
    """`launch(project_dir, *run_args, env=None, tty=False)`: a `launcher run` (tests/helpers.py),
    killed with whatever is left of it when the test ends."""
    started: list[LauncherRun] = []

    def start(project: Path, *args: str, **options: Any) -> LauncherRun:
        run = LauncherRun(project, *args, **options)
        started.append(run)
        return run

    yield start
    for run in started:
        run.close()
