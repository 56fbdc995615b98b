"""Faults of the launcher itself and of its surroundings, each injected into a real `launcher run`.

One test per fault: the launcher SIGKILLed while the stack starts and while it stops, Ctrl-C
twice, SIGHUP, a full disk and an unwritable directory for `.launcher/logs`, proxy variables
that point at a dead proxy, and a PostgreSQL and a Redis that accept TCP before they are ready
(faithful fakes, a real `postgres` standby that is promoted, a real `redis-server` loading a
large dataset). Each asserts the documented outcome (docs/running.md, DESIGN.md sections 3, 4
and 10) and that nothing is left: no process of the stack (the launcher's whole tree, the
processes carrying the run's `LAUNCHER_RUN` marker, daemons that left their group) and no
listening socket on the stack's ports.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psutil
import pytest
from helpers import (
    Events,
    Launch,
    LauncherRun,
    ProjectFactory,
    cli,
    free_port_block,
    program,
    service,
    toml_list,
    wait_until,
)

pytestmark = pytest.mark.integration

# After a SIGKILL of the launcher its reaper ends every service: SIGTERM, SIGKILL 0.5 s later,
# then the marker sweep. "Within about 2 s" (docs/running.md, No process left behind).
REAPED_WITHIN = 2.0


# What is left of a stack.


def _running(process: psutil.Process) -> bool:
    """Still the same process (pid and start time), and not a zombie."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _marked(run_id: str) -> list[psutil.Process]:
    """Processes whose environment carries `LAUNCHER_RUN=<run_id>` (any user's: root reads all)."""
    needle = f"\0LAUNCHER_RUN={run_id}\0".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as file:
                if needle in b"\0" + file.read():
                    found.append(psutil.Process(int(entry.name)))
        except (OSError, psutil.Error):
            continue
    return [p for p in found if _running(p)]


def _run_id(processes: Iterable[psutil.Process]) -> str:
    for process in processes:
        try:
            value = process.environ().get("LAUNCHER_RUN")
        except psutil.Error:
            continue
        if value:
            return value
    raise AssertionError("no process of the stack carries LAUNCHER_RUN")


def _listening(ports: Iterable[int]) -> set[int]:
    wanted = set(ports)
    return {
        c.laddr.port
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in wanted
    }


def _can_listen(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


class Stack:
    """The processes of one `launcher run` seen so far, and its ports."""

    def __init__(self, launcher: LauncherRun, ports: Iterable[int] = ()) -> None:
        self.launcher = launcher
        self.ports = sorted(ports)
        self.processes: list[psutil.Process] = []
        self.run_id: str | None = None

    def snapshot(self, *extra_pids: int) -> list[psutil.Process]:
        """Remember the launcher's tree now (services, their children, the reaper) and `extra_pids`."""
        tree = self.launcher.children()
        if self.run_id is None:
            self.run_id = _run_id(p for p in tree if "reaper" not in " ".join(_cmdline(p)))
        self.processes += [*tree, *(psutil.Process(pid) for pid in extra_pids)]
        return tree

    def left(self) -> list[str]:
        alive = [p for p in self.processes if _running(p)]
        if self.run_id is not None:
            alive += [p for p in _marked(self.run_id) if p not in alive]
        described = [f"pid {p.pid} {' '.join(_cmdline(p))}" for p in alive]
        described += [f"port {port} listening" for port in sorted(_listening(self.ports))]
        return described

    def assert_reaped(self, killed_at: float, within: float = REAPED_WITHIN) -> None:
        """After a SIGKILL of the launcher at `killed_at`: every process seen is gone within
        `within` seconds (polled cheaply, so that the poll does not skew the time), then nothing
        at all is left (marked processes, listening ports)."""
        self._wait_gone(within + 10)
        took = time.monotonic() - killed_at
        self.assert_nothing_left()
        assert took <= within, f"the reaper took {took:.2f} s to end the stack (more than {within} s)"

    def _wait_gone(self, timeout: float) -> None:
        wait_until(
            lambda: not [p for p in self.processes if _running(p)],
            timeout,
            interval=0.005,
            message=lambda: f"the stack's processes gone; left: {self.left()}\n{self.launcher.output}",
        )

    def assert_nothing_left(self, timeout: float = 5.0) -> None:
        """Every process seen is gone within `timeout` (a cheap poll), and then nothing of the run is
        left at all: no process carrying its marker, no port of the stack listening."""
        self._wait_gone(timeout)
        wait_until(
            lambda: not self.left(),
            2.0,
            interval=0.02,
            message=lambda: f"nothing left of the stack; left: {self.left()}\n{self.launcher.output}",
        )
        assert all(_can_listen(port) for port in self.ports), "a port of the stack cannot be bound again"


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return ["?"]


def _state_file(root: Path) -> Path:
    return root / ".launcher" / "state.json"


# Probing a server from the test, beside the launcher.


def _postgres_answer(port: int) -> bool:
    """One startup message: False on "starting up" (SQLSTATE 57P03), True on any other answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        body = struct.pack("!I", 196608) + b"user\0app\0database\0app\0\0"
        sock.sendall(struct.pack("!I", len(body) + 4) + body)
        head = _read_exact(sock, 5)
        payload = _read_exact(sock, struct.unpack("!I", head[1:])[0] - 4)
    if head[:1] != b"E":
        return True
    return b"\0C57P03\0" not in b"\0" + payload


def _redis_answer(port: int) -> bool:
    """PING: False on -LOADING, True on +PONG."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(256)
            if not chunk:
                break
            reply += chunk
    if reply.startswith(b"-LOADING"):
        return False
    assert reply == b"+PONG\r\n", reply
    return True


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class Watcher:
    """Asks a server, in a thread, until it answers "ready": the CLOCK_MONOTONIC time each
    question was sent, and whether the answer said ready. Connection errors are not answers."""

    def __init__(self, port: int, ask: Callable[[int], bool], timeout: float = 30.0) -> None:
        self.answers: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(port, ask, timeout), daemon=True)
        self._thread.start()

    def _run(self, port: int, ask: Callable[[int], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._stop.is_set() and time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                ready = ask(port)
            except OSError:
                self._stop.wait(0.005)
                continue
            self.answers.append((sent, ready))
            if ready:
                return
            self._stop.wait(0.01)

    def not_ready(self) -> list[float]:
        return [sent for sent, ready in self.answers if not ready]

    def ready(self) -> bool:
        return any(ready for _, ready in self.answers)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    made: list[Watcher] = []
    yield made
    for watcher in made:
        watcher.close()


def _assert_started_only_once_ready(watcher: Watcher, events: Events, dependent: str) -> None:
    """The fault was real (the server answered "not ready" after accepting TCP), and the dependent
    started after the last such answer: its start is later than the question that got it."""
    not_ready = watcher.not_ready()
    assert not_ready, f"the server never answered 'not ready': {watcher.answers}"
    [started] = events.times(dependent, "started")
    assert started > max(not_ready), (
        f"{dependent} started at {started:.3f}, but the server still said it was not ready "
        f"to a question sent at {max(not_ready):.3f}"
    )


# The launcher killed with SIGKILL.


def test_sigkill_of_the_launcher_while_the_stack_starts(project: ProjectFactory, launch: Launch) -> None:
    low, _ = free_port_block(3)
    root = project()
    events = Events(root / "events")
    pidfile = root / "daemon.pid"
    # db is starting (TCP accepted, "starting up") for a minute unless told otherwise; cache is
    # ready, with a grandchild and a daemon; api waits for both.
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {toml_list(program("fake_postgres", "--starting", "${DB_STARTING:-60}"))}
start_timeout = 90
port = {low}
probe = {{ postgres = "postgresql://app@127.0.0.1:${{PORT}}/app" }}
[services.cache]
command = {service("cache", events, "--listen", "--grandchild", "--daemon", str(pidfile))}
port = {low + 1}
[services.api]
command = {service("api", events, "--listen")}
port = {low + 2}
depends_on = ["db", "cache"]
""")
    ports = [low, low + 1, low + 2]
    launcher = launch(root)
    stack = Stack(launcher, ports)
    launcher.wait_output("[cache] ready")
    launcher.wait_output(f"listening on 127.0.0.1:{low}")
    wait_until(pidfile.exists, 10, message="cache's daemon")
    wait_until(lambda: len(launcher.services()) >= 3, 10, message="db, cache and its grandchild")
    assert "[db] ready" not in launcher.output
    stack.snapshot(int(pidfile.read_text()))
    killed_at = time.monotonic()
    os.kill(launcher.process.pid, signal.SIGKILL)
    launcher.wait()
    stack.assert_reaped(killed_at)
    assert not events.count("api", "started"), "api started before db was ready"

    # The next run of the project finds what the dead one recorded, ends nothing twice, and runs.
    second = launch(root, env={"DB_STARTING": "0.2"})
    again = Stack(second, ports)
    second.wait_output("3/3 services ready")
    assert "found the state of a launcher that died" in second.output
    assert "LCH-4002" not in second.output
    again.snapshot()
    second.signal(signal.SIGINT)
    assert second.wait() == 130
    again.assert_nothing_left()
    assert not _state_file(root).exists()


def test_sigkill_of_the_launcher_while_the_stack_stops(project: ProjectFactory, launch: Launch) -> None:
    low, _ = free_port_block(2)
    root = project()
    events = Events(root / "events")
    pidfile = root / "daemon.pid"
    # api ignores SIGTERM (30 s stop_timeout) and has a grandchild and a daemon; db waits for
    # api to be gone before it is told to stop.
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {service("db", events, "--listen")}
port = {low}
[services.api]
command = {service("api", events, "--listen", "--ignore-term", "--grandchild", "--daemon", str(pidfile))}
port = {low + 1}
stop_timeout = 30
depends_on = ["db"]
""")
    launcher = launch(root)
    stack = Stack(launcher, [low, low + 1])
    launcher.wait_output("2/2 services ready")
    wait_until(pidfile.exists, 10, message="api's daemon")
    wait_until(lambda: len(launcher.services()) == 3, 10, message="db, api and api's grandchild")
    stack.snapshot(int(pidfile.read_text()))
    launcher.signal(signal.SIGINT)
    launcher.wait_output("[api] ready -> stopping")
    assert not events.count("db", "stopping"), "db was stopped before its dependent"
    killed_at = time.monotonic()
    os.kill(launcher.process.pid, signal.SIGKILL)
    launcher.wait()
    stack.assert_reaped(killed_at)


# Signals.


def test_a_second_sigint_while_a_start_is_rolled_back_kills_at_once(
    project: ProjectFactory, launch: Launch
) -> None:
    low, _ = free_port_block(3)
    root = project()
    events = Events(root / "events")
    # The first Ctrl-C comes while db is still starting; stubborn ignores SIGTERM for a minute.
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {toml_list(program("fake_postgres", "--starting", "60"))}
port = {low}
probe = {{ postgres = "postgresql://app@127.0.0.1:${{PORT}}/app" }}
start_timeout = 90
[services.stubborn]
command = {service("stubborn", events, "--listen", "--ignore-term", "--grandchild")}
port = {low + 1}
stop_timeout = 60
[services.api]
command = {service("api", events, "--listen")}
port = {low + 2}
depends_on = ["db", "stubborn"]
""")
    launcher = launch(root)
    stack = Stack(launcher, [low, low + 1, low + 2])
    launcher.wait_output("[stubborn] ready")
    launcher.wait_output(f"listening on 127.0.0.1:{low}")
    wait_until(lambda: len(launcher.services()) == 3, 10, message="db, stubborn and its grandchild")
    stack.snapshot()
    launcher.signal(signal.SIGINT)
    launcher.wait_output("[stubborn] ready -> stopping")
    launcher.signal(signal.SIGINT)
    second = time.monotonic()
    assert launcher.wait(timeout=10) == 130
    assert time.monotonic() - second < 2.0, "the second Ctrl-C did not kill at once"
    assert "SIGINT again: killing every service now" in launcher.output
    assert not events.count("api", "started")
    stack.assert_nothing_left(1.0)
    assert not _state_file(root).exists()


def test_sighup_stops_the_stack_gracefully_with_exit_129(project: ProjectFactory, launch: Launch) -> None:
    low, _ = free_port_block(2)
    root = project()
    events = Events(root / "events")
    signals = root / "signals"
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {service("db", events, "--listen", "--stop-delay", "0.2")}
port = {low}
[services.api]
command = {toml_list(program("writes_on_signal", str(signals), "--name", "api", "--stop-delay", "0.3"))}
probe = {{ log = "api ready" }}
depends_on = ["db"]
""")
    launcher = launch(root)
    stack = Stack(launcher, [low])
    launcher.wait_output("2/2 services ready")
    stack.snapshot()
    assert _state_file(root).exists()
    launcher.signal(signal.SIGHUP)
    assert launcher.wait() == 129
    assert "SIGHUP: stopping" in launcher.output
    # Each service got its stop_signal (SIGTERM), not the launcher's SIGHUP, dependents first.
    api = [line.split() for line in signals.read_text().splitlines()]
    assert [words[1] for words in api] == ["ready", "SIGTERM", "exit"]
    [db_stopping] = events.times("db", "stopping")
    assert db_stopping >= float(api[-1][-1]), "db was stopped before api had exited"
    assert "[db] stopping -> stopped: exit code 0" in launcher.output
    stack.assert_nothing_left(1.0)
    assert not _state_file(root).exists()


def test_sighup_of_a_terminal_that_went_away(project: ProjectFactory) -> None:
    """A closed terminal: SIGHUP, and from then on every write to the launcher's output fails
    (EIO). The stop is as graceful, and the exit code 129, all the same."""
    low, _ = free_port_block(2)
    root = project()
    events = Events(root / "events")
    signals = root / "signals"
    # Both services print on their way out: the launcher has to relay lines after the hangup.
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {service("db", events, "--listen", "--stop-delay", "0.2")}
port = {low}
[services.api]
command = {toml_list(program("writes_on_signal", str(signals), "--name", "api", "--stop-delay", "0.2"))}
probe = {{ log = "api ready" }}
depends_on = ["db"]
""")
    master, slave = os.openpty()
    terminal_open = True
    launcher = subprocess.Popen(
        [sys.executable, "-m", "launcher", "run"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(slave)
    seen = bytearray()
    try:

        def ready() -> bool:
            while select.select([master], [], [], 0)[0]:
                try:
                    seen.extend(os.read(master, 65536))
                except OSError:
                    break
            return b"2/2 services ready" in seen

        wait_until(
            ready, 30, interval=0.02, message=lambda: f"the stack ready:\n{seen.decode(errors='replace')}"
        )
        tree = psutil.Process(launcher.pid).children(recursive=True)
        os.close(master)  # the terminal is gone
        terminal_open = False
        launcher.send_signal(signal.SIGHUP)
        try:
            code = launcher.wait(15)
        except subprocess.TimeoutExpired:
            raise AssertionError("the launcher did not stop after the hangup") from None
        assert code == 129
        api = [line.split()[1] for line in signals.read_text().splitlines()]
        assert api == ["ready", "SIGTERM", "exit"]
        assert events.count("db", "stopping") == 1
        wait_until(
            lambda: not [p for p in tree if _running(p)],
            1.0,
            message=lambda: f"gone: {[p.pid for p in tree if _running(p)]}",
        )
        assert not _listening([low])
        assert not _state_file(root).exists()
    finally:
        if terminal_open:
            os.close(master)
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait(5)


# The log directory.


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """`mount(path)`: a 16 KiB tmpfs at `path` (skips where mounting is not allowed)."""
    mounted: list[Path] = []

    def mount(path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if shutil.which("mount") is None:
            pytest.skip("no mount(8) here")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(path)

    yield mount
    for path in mounted:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(path)], check=True)


def _relayed(output: str, name: str) -> list[str]:
    """The lines relayed for service `name` (`HH:MM:SS name | text`), their text only."""
    found = []
    for line in output.splitlines():
        head, bar, text = line.partition(" | ")
        if bar and head[9:].strip() == name:
            found.append(text)
    return found


def _log_dir_fault(project: ProjectFactory, launch: Launch, break_logs: Callable[[Path], None]) -> str:
    """Run a flood of 3000 lines and a dependent with a broken `.launcher/logs`: every line is
    still relayed, the stack runs and stops as always. Returns the launcher's output."""
    low, _ = free_port_block(1)
    root = project()
    break_logs(root / ".launcher" / "logs")
    (root / "launcher.toml").write_text(f"""
[services.flood]
command = {toml_list(program("flood", "--lines", "3000", "--then", "sleep"))}
probe = {{ log = "^done 3000$" }}
[services.after]
command = {service("after", Events(root / "events"), "--listen", "--lines", "50")}
port = {low}
depends_on = ["flood"]
""")
    launcher = launch(root)
    stack = Stack(launcher, [low])
    launcher.wait_output("2/2 services ready")
    launcher.wait_output("after line 50")
    stack.snapshot()
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    output = launcher.output
    flood = _relayed(output, "flood")
    assert flood[-1] == "done 3000"
    assert [int(line.split()[0]) for line in flood[:-1]] == list(range(3000)), "a line was lost"
    assert len(_relayed(output, "after")) >= 51
    assert "Traceback" not in output
    stack.assert_nothing_left(1.0)
    return output


def test_a_full_disk_for_the_log_directory(
    project: ProjectFactory, launch: Launch, tiny_tmpfs: Callable[[Path], None]
) -> None:
    output = _log_dir_fault(project, launch, tiny_tmpfs)
    warnings = [line for line in output.splitlines() if "[flood] cannot write" in line]
    assert len(warnings) == 1, output
    assert "flood.log: No space left on device; its log file stops here" in warnings[0]


def test_an_unwritable_log_directory(project: ProjectFactory, launch: Launch) -> None:
    def a_file_in_its_place(path: Path) -> None:
        # Root ignores a directory's mode bits: a file where the directory should be cannot be
        # written by anyone.
        path.parent.mkdir(parents=True)
        path.write_text("not a directory\n")

    output = _log_dir_fault(project, launch, a_file_in_its_place)
    for name in ("flood", "after"):
        warnings = [line for line in output.splitlines() if f"[{name}] cannot write" in line]
        assert len(warnings) == 1, output
        assert warnings[0].endswith("its log file stops here")


def test_a_full_disk_for_the_whole_state_directory(
    project: ProjectFactory, launch: Launch, tiny_tmpfs: Callable[[Path], None]
) -> None:
    """No state file can be written: the stack runs and stops all the same, and says once that
    `launcher status` will not find it."""
    low, _ = free_port_block(1)
    root = project()
    state = root / ".launcher"
    tiny_tmpfs(state)
    with contextlib.suppress(OSError), (state / "filler").open("wb") as filler:
        while True:  # until the disk is full
            filler.write(b"x" * 4096)
            filler.flush()
    (root / "launcher.toml").write_text(f"""
[services.web]
command = {service("web", Events(root / "events"), "--listen")}
port = {low}
""")
    launcher = launch(root)
    stack = Stack(launcher, [low])
    launcher.wait_output("1/1 services ready")
    status = cli(root, "status")
    assert status.returncode == 3  # as with no stack: `status` cannot find it
    assert status.stdout.startswith("stopped: no stack of this project is running")
    stack.snapshot()
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    warnings = [line for line in launcher.output.splitlines() if "state.json" in line]
    assert len(warnings) == 1, launcher.output
    assert "No space left on device; `launcher status` will not find this stack" in warnings[0]
    assert "Traceback" not in launcher.output
    stack.assert_nothing_left(1.0)


# The environment.


def test_a_dead_proxy_in_the_environment_is_not_used_by_probes(
    project: ProjectFactory, launch: Launch
) -> None:
    low, _ = free_port_block(2)
    root = project()
    events = Events(root / "events")
    # A port that refuses every connection (bound, not listening): the proxy is dead.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    env: dict[str, str | None] = {name: proxy for name in names}
    env.update(NO_PROXY=None, no_proxy=None)
    (root / "launcher.toml").write_text(f"""
[services.web]
command = {toml_list(program("http_ok"))}
port = {low}
probe = {{ http = "/health" }}
liveness = {{ http = "/health", interval = 0.1 }}
[services.api]
command = {service("api", events, "--listen", "--http")}
port = {low + 1}
probe = {{ http = "http://127.0.0.1:${{PORT}}/" }}
depends_on = ["web"]
""")
    try:
        launcher = launch(root, env=env)
        stack = Stack(launcher, [low, low + 1])
        launcher.wait_output("2/2 services ready", timeout=20)
        # The liveness checks keep reaching web itself, directly.
        wait_until(
            lambda: launcher.output.count('"GET /health HTTP/1.1" 200') >= 5,
            10,
            message=lambda: f"liveness checks in web's log:\n{launcher.output}",
        )
        stack.snapshot()
        launcher.signal(signal.SIGINT)
        assert launcher.wait() == 130
    finally:
        dead.close()
    assert "unhealthy" not in launcher.output
    assert "proxy" not in launcher.output.lower()
    stack.assert_nothing_left(1.0)


# Servers that accept TCP before they are ready.


def test_a_postgresql_that_accepts_tcp_while_starting_up(
    project: ProjectFactory, launch: Launch, watchers: list[Watcher]
) -> None:
    low, _ = free_port_block(2)
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {toml_list(program("fake_postgres", "--starting", "1.5"))}
port = {low}
probe = {{ postgres = "postgresql://app@127.0.0.1:${{PORT}}/app" }}
[services.api]
command = {service("api", events, "--listen")}
port = {low + 1}
depends_on = ["db"]
""")
    launcher = launch(root)
    watchers.append(watcher := Watcher(low, _postgres_answer))
    stack = Stack(launcher, [low, low + 1])
    launcher.wait_output("2/2 services ready", timeout=20)
    wait_until(watcher.ready, 10, message="the fake's 'ready' answer to the test")
    _assert_started_only_once_ready(watcher, events, "api")
    assert "[db] ready: accepting connections" in launcher.output
    stack.snapshot()
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    stack.assert_nothing_left(1.0)


def _postgres_binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


def _as_postgres() -> list[str]:
    """What runs a command as the `postgres` user when we are root (the server refuses root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root, and no setpriv to run PostgreSQL as another user")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root, and no postgres user to run PostgreSQL as")
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]


@pytest.fixture
def standby_cluster() -> Iterator[Path]:
    """A fresh PostgreSQL data directory set up as a standby with hot_standby off: once started it
    accepts TCP and answers every connection "not accepting connections" (SQLSTATE 57P03),
    until it is promoted. Outside tmp_path, whose parents the postgres user may not traverse."""
    bin_dir, as_postgres = _postgres_binaries(), _as_postgres()
    top = Path(tempfile.mkdtemp(prefix="launcher-faults-pg-"))
    try:
        if as_postgres:
            shutil.chown(top, "postgres", "postgres")
        data = top / "data"
        subprocess.run(
            [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "app", "--no-sync"],
            check=True,
            capture_output=True,
            env={**os.environ, "LC_ALL": "C"},
            timeout=60,
        )
        subprocess.run([*as_postgres, "touch", str(data / "standby.signal")], check=True, timeout=10)
        yield data
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_real_postgresql_standby_that_accepts_tcp_before_it_is_promoted(
    project: ProjectFactory, launch: Launch, watchers: list[Watcher], standby_cluster: Path
) -> None:
    bin_dir, as_postgres = _postgres_binaries(), _as_postgres()
    low, _ = free_port_block(2)
    root = project()
    events = Events(root / "events")
    server = [
        *as_postgres,
        str(bin_dir / "postgres"),
        *("-D", str(standby_cluster), "-p", "${PORT}", "-h", "127.0.0.1", "-k", ""),
        *("-c", "hot_standby=off", "-c", "fsync=off", "-c", "shared_buffers=16MB"),
    ]
    # SIGINT is PostgreSQL's fast shutdown.
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {toml_list(server)}
port = {low}
probe = {{ postgres = "postgresql://app@127.0.0.1:${{PORT}}/app" }}
stop_signal = "SIGINT"
start_timeout = 60
[services.api]
command = {service("api", events, "--listen")}
port = {low + 1}
depends_on = ["db"]
""")
    launcher = launch(root)
    stack = Stack(launcher, [low, low + 1])
    watchers.append(watcher := Watcher(low, _postgres_answer, timeout=60))
    wait_until(lambda: len(watcher.not_ready()) >= 5, 20, message=lambda: f"57P03 answers\n{launcher.output}")
    assert not events.count("api", "started"), "api started while the server was not accepting connections"
    assert "[db] ready" not in launcher.output
    stack.snapshot()
    promote = subprocess.run(
        [*as_postgres, str(bin_dir / "pg_ctl"), "promote", "-W", "-D", str(standby_cluster)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert promote.returncode == 0, promote.stderr
    launcher.wait_output("2/2 services ready", timeout=30)
    wait_until(watcher.ready, 10, message="the promoted server's answer to the test")
    _assert_started_only_once_ready(watcher, events, "api")
    stack.snapshot()  # the server's processes after promotion (walwriter, autovacuum, ...)
    launcher.signal(signal.SIGINT)
    assert launcher.wait(timeout=30) == 130
    assert "[db] stopping -> stopped: exit code 0" in launcher.output
    stack.assert_nothing_left(2.0)


def test_a_redis_that_accepts_tcp_while_loading(
    project: ProjectFactory, launch: Launch, watchers: list[Watcher]
) -> None:
    low, _ = free_port_block(2)
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(f"""
[services.cache]
command = {toml_list(program("fake_redis_loading", "--loading", "1.5"))}
port = {low}
probe = {{ redis = "127.0.0.1:${{PORT}}" }}
[services.api]
command = {service("api", events, "--listen")}
port = {low + 1}
depends_on = ["cache"]
""")
    launcher = launch(root)
    watchers.append(watcher := Watcher(low, _redis_answer))
    stack = Stack(launcher, [low, low + 1])
    launcher.wait_output("2/2 services ready", timeout=20)
    wait_until(watcher.ready, 10, message="the fake's PONG to the test")
    _assert_started_only_once_ready(watcher, events, "api")
    assert "[cache] ready: PONG" in launcher.output
    stack.snapshot()
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    stack.assert_nothing_left(1.0)


REDIS_KEYS = 1_000_000  # about 40 MB of RDB: a second or so of loading on a small machine


def _redis_server() -> str:
    binary = shutil.which("redis-server", path=f"{os.environ.get('PATH', '')}:/usr/bin:/usr/sbin")
    if binary is None:
        pytest.skip("redis-server is not installed on this machine")
    return binary


@pytest.fixture
def large_rdb(tmp_path: Path) -> Path:
    """A directory with a dump.rdb of REDIS_KEYS keys, made by a real redis-server."""
    binary = _redis_server()
    directory = tmp_path / "redis-data"
    directory.mkdir()
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    maker = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "local",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def command(*words: str) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                sock.sendall(
                    b"".join(
                        [f"*{len(words)}\r\n".encode(), *(f"${len(w)}\r\n{w}\r\n".encode() for w in words)]
                    )
                )
                reply = b""
                while not reply.endswith(b"\r\n"):
                    chunk = sock.recv(256)
                    if not chunk:
                        break
                    reply += chunk
                return reply

        def answers() -> bool:
            try:
                return command("PING") == b"+PONG\r\n"
            except OSError:
                return False

        wait_until(answers, 10, message="the dataset maker's PONG")
        assert command("DEBUG", "POPULATE", str(REDIS_KEYS), "key", "10") == b"+OK\r\n"
        assert command("SAVE") == b"+OK\r\n"
    finally:
        os.killpg(maker.pid, signal.SIGKILL)
        maker.wait(10)
    assert (directory / "dump.rdb").stat().st_size > 10_000_000
    return directory


def test_a_real_redis_server_loading_a_large_dataset(
    project: ProjectFactory, launch: Launch, watchers: list[Watcher], large_rdb: Path
) -> None:
    low, _ = free_port_block(2)
    root = project()
    events = Events(root / "events")
    server = [_redis_server(), "--port", "${PORT}", "--bind", "127.0.0.1", "--dir", str(large_rdb)]
    (root / "launcher.toml").write_text(f"""
[services.cache]
command = {toml_list([*server, "--save", "", "--appendonly", "no"])}
port = {low}
probe = {{ redis = "127.0.0.1:${{PORT}}" }}
start_timeout = 60
[services.api]
command = {service("api", events, "--listen")}
port = {low + 1}
depends_on = ["cache"]
""")
    launcher = launch(root)
    watchers.append(watcher := Watcher(low, _redis_answer, timeout=60))
    stack = Stack(launcher, [low, low + 1])
    launcher.wait_output("2/2 services ready", timeout=60)
    wait_until(watcher.ready, 10, message="redis-server's PONG to the test")
    assert "DB loaded from disk" in launcher.output
    _assert_started_only_once_ready(watcher, events, "api")
    stack.snapshot()
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    stack.assert_nothing_left(2.0)
