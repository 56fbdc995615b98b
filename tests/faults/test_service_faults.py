"""Fault injection, service side: one test per way a service can misbehave (DESIGN.md sections 3, 4
and 10), each on a real `python -m launcher run` of a small temporary project.

Every test asserts two things: the documented outcome (exit code, `LCH-` code and service name,
state transitions, restart counts, lines whole) and that the fault left nothing behind: no process
of the stack (the pids the services report, every descendant the launcher had, and any process
still working in the project directory, which the services' children inherit) and no socket in
LISTEN on a port the stack used. The autouse leak guard of tests/conftest.py checks processes too,
but only after the test; here the absence is part of what each fault must end in.

Timeouts are short (start_timeout and stop_timeout of 1-2 s, backoff of 0.1 s) so that each test
takes seconds; the unread-pipe test takes 10 s by design (it is marked in its name). One fault
found a launcher bug, fixed since: lines lost behind a full pipe with PYTHONUNBUFFERED=1, when a
signal interrupted the writer thread's write(2) (launcher/runtime/output.py, _write_all).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import (
    Events,
    Launch,
    LauncherRun,
    ProjectFactory,
    alive,
    cli,
    free_port_block,
    program,
    service,
    stack_project,
    toml_list,
    wait_until,
)

pytestmark = pytest.mark.integration

# How long a process or a socket may take to go away once the launcher has exited (or, for a
# service stopped on its own, once its stop was reported): a SIGKILLed process's sockets close at
# once, but a loaded 2-core machine may take a moment to schedule the reaper.
GONE_WITHIN = 5.0


# Checks that nothing is left.


def listening(port: int) -> list[int | None]:
    """The pids (None: not ours to see) of the sockets in LISTEN on `port`, any address."""
    return [
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
    ]


def running(processes: Iterable[psutil.Process | int]) -> list[int]:
    """Those of `processes` still running (a zombie has exited; a reused pid is another process)."""
    left = []
    for process in processes:
        if isinstance(process, int):
            if alive(process):
                left.append(process)
            continue
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process.pid)
        except psutil.Error:
            continue
    return left


def assert_nothing_left(
    processes: Iterable[psutil.Process | int], ports: Iterable[int] = (), *, root: Path | None = None
) -> None:
    """Every one of `processes` ends and no socket listens on any of `ports`, within GONE_WITHIN.

    With `root` (once the launcher has exited): nor is any process left whose working directory
    is in the project, the services' own cwd, which their children (pids nobody reported) inherit.
    """
    processes, ports = list(processes), list(ports)
    wait_until(
        lambda: not running(processes) and not (root and in_project(root)),
        GONE_WITHIN,
        interval=0.05,
        message=lambda: (
            f"every process of the stack gone; still running: {describe(running(processes))}"
            + (f", in the project: {describe(in_project(root))}" if root else "")
        ),
    )
    wait_until(
        lambda: not any(listening(p) for p in ports),
        GONE_WITHIN,
        interval=0.05,
        message=lambda: f"no listener left on {ports}: {[(p, listening(p)) for p in ports if listening(p)]}",
    )


def in_project(root: Path) -> list[int]:
    """The running processes whose working directory is `root` or under it."""
    found = []
    for process in psutil.process_iter(["cwd", "status"]):
        cwd = process.info["cwd"]
        if cwd and process.info["status"] != psutil.STATUS_ZOMBIE and Path(cwd).is_relative_to(root):
            found.append(process.pid)
    return found


def describe(pids: list[int]) -> list[str]:
    described = []
    for pid in pids:
        try:
            described.append(f"{pid} ({' '.join(psutil.Process(pid).cmdline())})")
        except psutil.Error:
            described.append(str(pid))
    return described


def tree(launcher: LauncherRun) -> list[psutil.Process]:
    """The launcher itself and its descendants now (services, their children, the reaper)."""
    return [psutil.Process(launcher.process.pid), *launcher.children()]


def stopped(launcher: LauncherRun, sig: int = signal.SIGINT, timeout: float = 30.0) -> tuple[int, float]:
    """Send `sig` to the launcher and wait for it: its exit code and the seconds the stop took."""
    began = time.monotonic()
    launcher.signal(sig)
    code = launcher.wait(timeout)
    return code, time.monotonic() - began


# Reading the launcher's output.


def service_lines(output: str, name: str) -> list[str]:
    """The lines `HH:MM:SS name | text` of one service, as their texts."""
    pattern = re.compile(rf"^\d\d:\d\d:\d\d {re.escape(name)} +\| (.*)$")
    return [m.group(1) for line in output.splitlines() if (m := pattern.match(line))]


def status(root: Path) -> dict[str, Any]:
    """`launcher status --json` of the stack running in `root`, from another process."""
    result = cli(root, "status", "--json", timeout=30)
    # It runs: 0 with every service ready, 1 otherwise (what these tests look at).
    assert result.returncode in (0, 1), result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def service_status(root: Path, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in status(root)["services"] if s["name"] == name)
    return found


def ports_of(root: Path) -> dict[str, int]:
    """The ports of the stack's services (from the state file of the running stack)."""
    state = root / ".launcher" / "state.json"
    wait_until(state.exists, 20, message="the state file")
    data = json.loads(state.read_text())
    return {s["name"]: s["port"] for s in data["services"] if s.get("port")}


# One test per fault.


def test_a_service_that_crashes_during_start_fails_skips_its_dependents_and_rolls_back(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    # db depends on cache so that cache is surely up (and listening) when db crashes: the rollback
    # then has a running service to stop. db has a port, so it must become ready through it, and
    # exits (code 3) before it does, on both attempts.
    stack.write(f"""
[services.cache]
command = {service("cache", stack.events, "--listen")}
port = "auto"
[services.db]
command = {toml_list(program("crashes", "--code", "3", "--after", "0.2", "--lines", "3"))}
port = "auto"
depends_on = ["cache"]
start_retries = 1
backoff = {{ initial = 0.1 }}
[services.api]
command = {service("api", stack.events, "--listen")}
port = "auto"
depends_on = ["db"]
""")
    launcher = launch(stack.root)
    assert launcher.wait(30) == 1
    output = launcher.output
    assert (
        "error[LCH-2002]: service 'db' failed to start: exited with code 3 before it was ready "
        "(after 2 attempts)" in output
    ), output
    assert service_lines(output, "db").count("crashing with code 3") == 2
    assert "[api] skipped: dependency 'db' failed" in output
    assert not stack.events.count("api", "started"), "a dependent of the failed service was started"
    # Rolled back: cache, which had started, was stopped.
    assert stack.events.count("cache", "stopping") == 1
    assert_nothing_left(stack.events.pids("cache"), range(stack.low, stack.high + 1), root=stack.root)


def test_a_service_that_crashes_after_ready_fails_and_the_rest_runs_on(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    # restart = "no" and a failure code: `failed`, and a service that fails after its start does
    # not stop the rest of the stack (its dependent included, which was already running).
    stack.write(f"""
[services.crashy]
command = {service("crashy", stack.events, "--listen", "--exit", "1", "--exit-when", "after started")}
port = "auto"
[services.after]
command = {service("after", stack.events, "--listen")}
port = "auto"
depends_on = ["crashy"]
""")
    launcher = launch(stack.root)
    launcher.wait_output("[crashy] ready -> failed: exited with code 1")
    ports = ports_of(stack.root)
    processes = tree(launcher)
    [crashy] = stack.events.pids("crashy")
    [after] = stack.events.pids("after")
    assert not alive(crashy)
    assert not listening(ports["crashy"])
    assert alive(after)
    assert launcher.process.poll() is None, "the launcher gave up although a service is running"
    assert service_status(stack.root, "crashy")["state"] == "failed"
    assert service_status(stack.root, "after")["state"] == "ready"
    assert "restarting" not in launcher.output
    code, _ = stopped(launcher)
    assert code == 130
    assert stack.events.count("crashy", "started") == 1
    assert_nothing_left([*processes, after], ports.values(), root=stack.root)


def test_a_service_that_hangs_without_becoming_ready_fails_at_its_start_timeout(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    # It runs but never listens on its port, and holds a grandchild (which must go with each
    # timed-out attempt's group).
    stack.write(f"""
[services.hung]
command = {service("hung", stack.events, "--grandchild")}
port = "auto"
start_timeout = 1
start_retries = 1
stop_timeout = 1
backoff = {{ initial = 0.1 }}
""")
    launcher = launch(stack.root)
    began = time.monotonic()
    assert launcher.wait(30) == 1
    took = time.monotonic() - began
    output = launcher.output
    assert "error[LCH-2003]: service 'hung' failed to start: was not ready within 1s" in output, output
    assert "(after 2 attempts)" in output
    pids = stack.events.pids("hung")
    assert len(pids) == 2
    # Each attempt had its 1 s (the state file appears a moment after the launcher started).
    assert took >= 1.5
    assert_nothing_left(pids, range(stack.low, stack.high + 1), root=stack.root)


def test_a_service_that_ignores_sigterm_is_sigkilled_after_stop_timeout(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    stack.write(f"""
[services.stubborn]
command = {service("stubborn", stack.events, "--listen", "--ignore-term", "--grandchild")}
port = "auto"
stop_timeout = 1
""")
    launcher = launch(stack.root)
    launcher.wait_output("1/1 services ready")
    wait_until(lambda: len(launcher.services()) == 2, 10, message="the service and its grandchild")
    ports = ports_of(stack.root)
    processes = tree(launcher)
    code, took = stopped(launcher)
    assert code == 130
    output = launcher.output
    assert "[stubborn] ready -> stopping: sending SIGTERM" in output
    assert "[stubborn] stopping -> stopped: exit code -9" in output, output
    # SIGKILL came after stop_timeout, and not much later.
    assert 1.0 <= took < 10.0
    assert_nothing_left(processes, ports.values(), root=stack.root)


def test_a_grandchild_holding_the_output_pipe_does_not_hold_up_the_services_exit(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    events = Events(root / "events")
    pidfile = root / "grandchild.pid"
    # A oneshot whose grandchild keeps stdout open for an hour: it is complete when it exits, not
    # when the pipe closes, and what is left of its group goes with it.
    (root / "launcher.toml").write_text(f"""
[services.setup]
command = {toml_list(program("forks_child", "--then", "exit", "--pidfile", str(pidfile)))}
oneshot = true
[services.api]
command = {service("api", events)}
probe = {{ log = "^api starting$" }}
depends_on = ["setup"]
""")
    launcher = launch(root)
    launcher.wait_output("[setup] completed: exited with code 0", timeout=20)
    launcher.wait_output("2/2 services ready", timeout=20)
    grandchild = int(pidfile.read_text())
    # Gone while the stack runs: killed with the group once its leader exited.
    wait_until(lambda: not alive(grandchild), GONE_WITHIN, message=f"the grandchild {grandchild} killed")
    assert launcher.process.poll() is None
    processes = tree(launcher)
    code, _ = stopped(launcher)
    assert code == 130
    assert_nothing_left([*processes, grandchild, *events.pids("api")], root=root)


def test_a_service_that_daemonizes_inside_its_group_leaves_no_daemon(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    pidfile = stack.root / "daemon.pid"
    # The service forks, the child calls setsid and forks again: the daemon is in no group of the
    # launcher's and no descendant of it; only the LAUNCHER_RUN marker leads to it.
    stack.write(f"""
[services.forker]
command = {service("forker", stack.events, "--daemon", str(pidfile), "--listen")}
port = "auto"
stop_timeout = 2
""")
    launcher = launch(stack.root)
    launcher.wait_output("1/1 services ready")
    wait_until(pidfile.exists, 10, message="the daemon's pid file")
    daemon = int(pidfile.read_text())
    [forker] = stack.events.pids("forker")
    assert os.getsid(daemon) != os.getsid(forker), "the daemon did not leave the service's session"
    assert daemon not in [p.pid for p in launcher.children()]
    ports = ports_of(stack.root)
    processes = tree(launcher)
    code, _ = stopped(launcher)
    assert code == 130
    assert f"killed what had left its process group: pid {daemon}" in launcher.output
    assert_nothing_left([*processes, daemon, forker], ports.values(), root=stack.root)


def test_a_service_that_exits_0_at_once_though_not_a_oneshot_failed_to_start(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    # No probe, no port: ready as soon as spawned, but an exit within the first second is a
    # failed start (retried), with a hint about daemonizing since the code is 0.
    stack.write(f"""
[services.other]
command = {service("other", stack.events, "--listen")}
port = "auto"
[services.quitter]
command = {toml_list(program("crashes", "--code", "0", "--message", "bye"))}
start_retries = 1
backoff = {{ initial = 0.1 }}
[services.user]
command = {service("user", stack.events)}
depends_on = ["quitter"]
""")
    launcher = launch(stack.root)
    assert launcher.wait(30) == 1
    output = launcher.output
    assert (
        "error[LCH-2002]: service 'quitter' failed to start: exited with code 0 within its first "
        "second; a one-off step? mark it `oneshot = true`" in output
    ), output
    assert "(after 2 attempts)" in output
    assert service_lines(output, "quitter").count("bye") == 2
    # user depends on it with the `started` condition (no probe, no port), so it may have started
    # in the first second; if it did, the rollback stopped it.
    assert "[user] skipped" in output or stack.events.count("user", "started") == stack.events.count(
        "user", "stopping"
    )
    assert_nothing_left(
        [*stack.events.pids("other"), *stack.events.pids("user")],
        range(stack.low, stack.high + 1),
        root=stack.root,
    )


# Ticks: a line on stdout, then the same in a file, every 50 ms: a service that would block on a
# full output pipe stops ticking in the file.
TICKER = (
    "import itertools, pathlib, sys, time\n"
    "path = pathlib.Path(sys.argv[1])\n"
    "for n in itertools.count(1):\n"
    "    print(f'tick {n}', flush=True)\n"
    "    with path.open('a') as file:\n"
    "        file.write(f'{n}\\n')\n"
    "    time.sleep(0.05)\n"
)


def past(seen: tuple[int, int], ticks: Path, probes: Path) -> Callable[[], bool]:
    """A predicate: both files have more lines than `seen` says they had."""
    return lambda: count_lines(ticks) > seen[0] and count_lines(probes) > seen[1]


def unread_launcher(root: Path, *, unbuffered: bool) -> subprocess.Popen[bytes]:
    """`launcher run` in `root` with its stdout and stderr on a pipe that the test reads only later.

    `unbuffered` runs the launcher's interpreter with PYTHONUNBUFFERED=1 (as many containers
    and CI jobs set it); otherwise without it, whatever this test session has.
    """
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "launcher", "run"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )


def count_lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


def test_10s_unread_launcher_output_stalls_neither_probes_nor_services_and_no_line_is_lost(
    project: ProjectFactory,
) -> None:
    """The launcher's stdout is a pipe the test does not read for 10 s (64 KiB fill it)."""
    count = 100_000
    stack = stack_project(project)
    ticks = stack.root / "ticks"
    probes = stack.root / "probes"
    stack.write(f"""
[services.flood]
command = {toml_list(program("flood", "--lines", str(count), "--length", "80", "--then", "sleep"))}
probe = {{ log = "^done " }}
[services.ticker]
command = {toml_list([sys.executable, "-c", TICKER, str(ticks)])}
probe = {{ log = "^tick 1$" }}
liveness = {{ cmd = {toml_list(["sh", "-c", f"echo x >> {probes}"])}, interval = 0.2 }}
[services.web]
command = {service("web", stack.events, "--listen", "--http")}
port = "auto"
probe = {{ http = "/" }}
depends_on = ["flood", "ticker"]
[services.last]
command = {service("last", stack.events)}
probe = {{ log = "^last starting$" }}
depends_on = ["web"]
""")
    # The launcher's interpreter with buffered stdout, as Python runs by default (unbuffered:
    # the test after this one).
    launcher = unread_launcher(stack.root, unbuffered=False)
    began = time.monotonic()
    try:
        # Readiness went on behind the full pipe: flood's log probe saw its last line, web's http
        # probe passed, and last started behind them.
        wait_until(
            lambda: stack.events.count("last", "started"), 30, message="last started behind a full pipe"
        )
        # The control API answers, and the stack is up.
        wait_until(
            lambda: [s["state"] for s in status(stack.root)["services"]] == ["ready"] * 4,
            20,
            interval=0.2,
            message=lambda: f"every service ready: {status(stack.root)}",
        )
        ports = ports_of(stack.root)
        processes = [psutil.Process(launcher.pid), *psutil.Process(launcher.pid).children(recursive=True)]
        # Until 10 s from the launcher's start, the pipe still unread: the ticker and the liveness
        # probe keep going, never pausing for 3 s (a loaded machine may pause a service for a moment).
        while time.monotonic() - began < 10:
            seen = (count_lines(ticks), count_lines(probes))
            wait_until(
                past(seen, ticks, probes),
                3.0,
                interval=0.05,
                message=f"ticks and probes to go on past {seen} behind the unread pipe",
            )
            assert launcher.poll() is None
        assert service_status(stack.root, "ticker")["state"] == "ready", "liveness failed behind the pipe"
        launcher.send_signal(signal.SIGTERM)
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.communicate()
    assert launcher.returncode == 143
    text = output.decode()
    filler = "x" * 71
    assert service_lines(text, "flood") == [f"{i:08d} {filler}" for i in range(count)] + [f"done {count}"]
    # Every tick that reached the file was printed before it, and arrived in order, none missing.
    relayed = service_lines(text, "ticker")
    assert relayed == [f"tick {n}" for n in range(1, len(relayed) + 1)]
    assert len(relayed) >= count_lines(ticks) >= 100
    assert "none were lost" in text
    assert_nothing_left(processes, ports.values(), root=stack.root)


def eventually(predicate: Callable[[], bool], timeout: float) -> bool:
    """Whether `predicate` holds within `timeout` seconds (wait_until that may answer no)."""
    try:
        wait_until(predicate, timeout, interval=0.02)
    except AssertionError:
        return False
    return True


def blocked_writing(pid: int) -> bool:
    """Whether a thread of `pid` sleeps in a write to a full pipe (Linux: its wchan)."""
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            if "pipe_write" in Path(f"/proc/{pid}/task/{task}/wchan").read_text():
                return True
        except OSError:
            continue
    return False


def test_unread_output_of_a_launcher_with_pythonunbuffered_loses_no_line_when_a_signal_comes(
    project: ProjectFactory,
) -> None:
    count = 20_000
    root = project(f"""
        [services.flood]
        command = {toml_list(program("flood", "--lines", str(count), "--length", "80", "--then", "sleep"))}
        probe = {{ log = "^done " }}
    """)
    log = root / ".launcher" / "logs" / "flood.log"
    launcher = unread_launcher(root, unbuffered=True)
    assert launcher.stdout is not None
    read = b""
    try:
        wait_until(
            lambda: log.exists() and f"done {count}" in log.read_text(), 30, message="flood's last line"
        )
        processes = [psutil.Process(launcher.pid), *psutil.Process(launcher.pid).children(recursive=True)]
        # The writer is blocked in a write that has written part of its batch (reading a little
        # lets it on, so its next write is surely part-way), then stopped and continued, as a
        # shell's Ctrl-Z and `fg` would (the SIGCHLDs of a busy stack do the same, by chance).
        for _ in range(3):
            read += os.read(launcher.stdout.fileno(), 8192)
            if not eventually(lambda: blocked_writing(launcher.pid), 3.0):
                break  # all written: nothing more to interrupt
            os.kill(launcher.pid, signal.SIGSTOP)
            wait_until(
                lambda: psutil.Process(launcher.pid).status() == psutil.STATUS_STOPPED,
                10,
                message="the launcher stopped",
            )
            os.kill(launcher.pid, signal.SIGCONT)
        launcher.send_signal(signal.SIGTERM)
        rest, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.communicate()
    assert launcher.returncode == 143
    assert_nothing_left(processes, root=root)
    filler = "x" * 71
    relayed = service_lines((read + rest).decode(), "flood")
    assert relayed == [f"{i:08d} {filler}" for i in range(count)] + [f"done {count}"]


def test_a_1_mib_line_and_invalid_utf8_arrive_whole_and_replaced(
    project: ProjectFactory, launch: Launch
) -> None:
    size = 1024 * 1024
    root = project()
    events = Events(root / "events")
    # A long-running service (not a oneshot) whose readiness is its last line, after the 1 MiB
    # line and the invalid one: the log probe must get past both.
    (root / "launcher.toml").write_text(f"""
[services.long]
command = {toml_list(program("longline", "--bytes", str(size), "--then", "sleep"))}
probe = {{ log = "^ok$" }}
[services.next]
command = {service("next", events)}
probe = {{ log = "^next starting$" }}
depends_on = ["long"]
""")
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    processes = tree(launcher)
    code, _ = stopped(launcher)
    assert code == 130
    expected = ["a" * size, "bad \ufffd\ufffd utf-8", "ok"]
    assert service_lines(launcher.output, "long") == expected
    logged = (root / ".launcher" / "logs" / "long.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in logged] == expected
    assert_nothing_left([*processes, *events.pids("next")], root=root)


def test_a_port_another_program_took_first_is_lch_3002_and_nothing_starts(
    project: ProjectFactory, launch: Launch, free_port: int
) -> None:
    stack = stack_project(project)
    # Another program (not the test process: a holder with a command line of its own) has the
    # service's fixed port before the launcher can check it.
    holder = subprocess.Popen(
        program("http_ok", "--port", str(free_port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().startswith(b"listening on")
        stack.write(f"""
[services.cache]
command = {service("cache", stack.events, "--listen")}
port = "auto"
[services.web]
command = {service("web", stack.events, "--listen", "--http")}
port = {free_port}
depends_on = ["cache"]
""")
        launcher = launch(stack.root)
        assert launcher.wait(30) == 1
        output = launcher.output
        assert re.search(
            rf"^error\[LCH-3002\]: port {free_port} of service 'web' is already in use by pid {holder.pid} "
            r"\(\S*python\S* \S*http_ok\.py --port \d+\)$",
            output,
            re.M,
        ), output
        assert not stack.events.path.exists(), "a service started although a port could not be had"
        # The holder is not the launcher's to stop: it still listens, and only it.
        assert listening(free_port) == [holder.pid]
        assert_nothing_left([], range(stack.low, stack.high + 1), root=stack.root)
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_dependency_that_never_becomes_ready_skips_its_dependents_which_never_start(
    project: ProjectFactory, launch: Launch
) -> None:
    low, high = free_port_block()
    root = project()
    events = Events(root / "events")
    # pg is external: nothing of ours runs, it just never answers. api waits for it, worker for
    # api; neither may start. cache, independent, is rolled back.
    unused = low  # nothing listens there: free_port_block checked it, and nothing of the stack takes it
    (root / "launcher.toml").write_text(f"""
[launcher]
ports = [{low + 1}, {high}]
[services.pg]
external = true
probe = {{ tcp = "127.0.0.1:{unused}" }}
start_timeout = 1
start_retries = 1
backoff = {{ initial = 0.1 }}
[services.api]
command = {service("api", events, "--listen")}
port = "auto"
depends_on = ["pg"]
[services.worker]
command = {service("worker", events)}
depends_on = ["api"]
[services.cache]
command = {service("cache", events, "--listen")}
port = "auto"
""")
    launcher = launch(root)
    launcher.wait_output("[api] waiting")
    assert launcher.wait(30) == 1
    output = launcher.output
    assert "error[LCH-2003]: service 'pg' failed to start: was not ready within 1s" in output, output
    assert "(after 2 attempts)" in output
    assert "[api] skipped: dependency 'pg' failed" in output
    assert "[worker] skipped: dependency 'api' skipped" in output
    assert not events.count("api", "started")
    assert not events.count("worker", "started")
    assert_nothing_left(events.pids("cache"), range(low, high + 1), root=root)


def test_a_flapping_service_is_restarted_until_its_budget_is_spent_then_failed(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    # Ready (it listens), then exits 1 a moment later, every time: two restarts are allowed within
    # the window, the third exit gives up. steady keeps running throughout.
    stack.write(f"""
[services.flappy]
command = {service("flappy", stack.events, "--listen", "--exit", "1", "--exit-after", "0.3")}
port = "auto"
restart = "always"
max_restarts = 2
restart_window = 60
backoff = {{ initial = 0.1, multiplier = 2 }}
[services.steady]
command = {service("steady", stack.events, "--listen")}
port = "auto"
""")
    launcher = launch(stack.root)
    launcher.wait_output("[flappy] ready -> failed", timeout=30)
    ports = ports_of(stack.root)
    output = launcher.output
    assert "[flappy] ready -> backoff: exited with code 1; restarting in 0.1s" in output
    assert "[flappy] ready -> backoff: exited with code 1; restarting in 0.2s" in output
    assert "exited with code 1; restarted 2 times within 60s, giving up" in output
    runs = stack.events.pids("flappy")
    assert len(runs) == 3
    flappy = service_status(stack.root, "flappy")
    assert (flappy["state"], flappy["restarts"]) == ("failed", 2)
    assert service_status(stack.root, "steady")["state"] == "ready"
    # No run of flappy is left, nor its port; steady is untouched.
    assert_nothing_left(runs, [ports["flappy"]])
    [steady] = stack.events.pids("steady")
    assert alive(steady)
    processes = tree(launcher)
    code, _ = stopped(launcher)
    assert code == 130
    assert_nothing_left([*processes, steady], ports.values(), root=stack.root)
