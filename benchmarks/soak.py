"""Soak benchmark of issue 9: N up/down cycles of a 10-service stack, every one of them clean.

    .venv/bin/python benchmarks/soak.py [--cycles 1000] [--variant library|cli|both]

One cycle starts a generated 10-service stack (a oneshot, tcp services on `port = "auto"`, http
services with http readiness and liveness probes, two services without a port and with `log`
probes, dependencies with each condition, and one with `restart = "on-failure"` that crashes at
its first liveness check, so once it has been seen ready, and once a cycle), waits
until it is ready and the crashed service has been restarted and is ready again, stops it, and
checks:

- start: it succeeded (every service ready, the oneshot completed) within START_TIMEOUT;
- restart: the crashing service was restarted exactly once and was ready again;
- stop: it succeeded (no error; with the CLI, `down` exited 0) within STOP_BOUND;
- leftover processes: every process seen while the stack ran (the services' pids and all the
  descendants of the launcher: the reaper, a service's children; with the CLI the detached
  launcher itself) is gone, LEFTOVER_GRACE after the stop at the latest (psutil, by pid and
  start time);
- leftover ports: none of the ports the services listened on is still listening (LISTEN sockets
  of 127.0.0.1, psutil);
- file descriptors: the launcher's own are back to their count before the first cycle
  (/proc/self/fd). Only the library variant counts them: its launcher is this process, the same
  over every cycle, so one descriptor lost per cycle adds up; a CLI cycle's launcher is a new
  process each time, whose descriptors die with it. The CLI variant checks instead that the state
  file and the API socket are gone after `down`.

Variants: `library` runs `launcher.load(path).start()` in this process; `cli` runs `python -m
launcher up -d --wait` then `down` in the project directory and reads pids and ports from
`status --json`. Target (issue 9): every counter zero, for 1000 of 1000 cycles. It also prints
cycles a second and this process's RSS before and after (for a trend; not a target).

tests/soak/test_soak.py runs the same cycles (50 in CI), importing this file by its path; the
functions below are its core, so they take their port range from the caller and report into a
Counters object rather than printing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

import launcher

START_TIMEOUT = 30.0  # seconds a start may take (the whole stack)
RESTART_DEADLINE = 10.0  # for the crashing service to be ready again after the stack's start
STOP_BOUND = 5.0  # seconds a stop may take: every service exits at once on SIGTERM
LEFTOVER_GRACE = 2.0  # seconds after the stop within which leftovers must be gone
FD_GRACE = 2.0  # the same for the launcher's file descriptors
PROBLEMS_KEPT = 20  # of the first problems, described in full

Identity = tuple[int, float]  # pid and start time: a pid alone may be reused

# One program for every service of the stack, written into the project: stdlib only and as
# little of it as possible, started with `-S` (no site: the services need nothing installed), so
# that a cycle costs the launcher more than it costs the services' interpreters.
SERVICE = '''\
"""A service of the soak stack: soak_service.py oneshot|tcp|http | sleep NAME | crash MARKER."""

import os
import signal
import socket
import sys

role = sys.argv[1]
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
if role == "oneshot":
    sys.exit(0)
if role == "sleep":
    print(sys.argv[2], "ready", flush=True)
    while True:
        signal.pause()
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(os.environ["PORT"])))
listener.listen(64)
accepted = 0
while True:
    connection, _ = listener.accept()
    accepted += 1
    if role == "crash" and accepted == 2 and not os.path.exists(sys.argv[2]):
        # The first liveness check (the first connection was the readiness probe's), so it has
        # been seen ready: crash, once a cycle; the run that replaces it stays up.
        open(sys.argv[2], "w").close()
        os._exit(3)
    with connection:
        if role == "http":
            connection.recv(65536)  # a probe's request fits in one read
            connection.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
'''

CRASHER = "flaky"
MARKER = "crashed.marker"  # the crashing service's "crashed already" file, removed before each cycle


def write_project(root: Path, ports: tuple[int, int]) -> Path:
    """The 10-service soak stack in `root` (created), services on `ports` (an inclusive range of
    at least 10 free ports); returns its launcher.toml."""
    root.mkdir(parents=True, exist_ok=True)
    program = root / "soak_service.py"
    program.write_text(SERVICE)

    def command(role: str, *args: str) -> str:
        return json.dumps([sys.executable, "-S", str(program), role, *args])

    http = 'probe = { http = "/health", interval = 0.2 }\n'
    tcp = 'probe = { tcp = "127.0.0.1:${PORT}", interval = 0.2 }\n'
    live = 'liveness = { http = "/health", interval = 0.2 }\n'

    def log(name: str) -> str:
        # A probe, so that its start is not the first second a service without one must survive.
        return f'probe = {{ log = "^{name} ready$" }}\n'

    config = (
        f'[launcher]\nname = "soak"\nports = [{ports[0]}, {ports[1]}]\n'
        "start_timeout = 20\nstop_timeout = 2\n\n"
        f"[services.migrate]\ncommand = {command('oneshot')}\noneshot = true\n\n"
        f'[services.db]\ncommand = {command("tcp")}\nport = "auto"\n{tcp}depends_on = ["migrate"]\n\n'
        f'[services.cache]\ncommand = {command("tcp")}\nport = "auto"\n\n'
        f'[services.api]\ncommand = {command("http")}\nport = "auto"\n{http}{live}'
        'depends_on = { db = "ready", cache = "ready", migrate = "completed" }\n\n'
        f'[services.web]\ncommand = {command("http")}\nport = "auto"\n{http}'
        'depends_on = { api = { condition = "ready", restart = true } }\n\n'
        f'[services.admin]\ncommand = {command("http")}\nport = "auto"\n{http}{live}depends_on = ["db"]\n\n'
        f'[services.metrics]\ncommand = {command("tcp")}\nport = "auto"\n{tcp}\n'
        f"[services.worker]\ncommand = {command('sleep', 'worker')}\n{log('worker')}"
        'depends_on = { api = "started" }\n\n'
        f"[services.scheduler]\ncommand = {command('sleep', 'scheduler')}\n{log('scheduler')}"
        'depends_on = ["migrate", "cache"]\n\n'
        f'[services.{CRASHER}]\ncommand = {command("crash", str(root / MARKER))}\nport = "auto"\n{tcp}'
        'liveness = { tcp = "127.0.0.1:${PORT}", interval = 0.1 }\n'
        'restart = "on-failure"\nbackoff = { initial = 0.05, max = 0.5 }\ndepends_on = ["cache"]\n'
    )
    path = root / "launcher.toml"
    path.write_text(config)
    return path


@dataclass
class Counters:
    """What the cycles found: every count must stay zero."""

    cycles: int = 0
    failed_starts: int = 0
    missed_restarts: int = 0
    failed_stops: int = 0
    leftover_processes: int = 0
    leftover_ports: int = 0
    leaked_fds: int = 0
    problems: list[str] = field(default_factory=list)  # the first PROBLEMS_KEPT, described
    dirty: set[int] = field(default_factory=set)  # the cycles with a problem
    start_seconds: list[float] = field(default_factory=list)
    stop_seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)  # this process's, after each library cycle

    COUNTS = (
        "failed_starts",
        "missed_restarts",
        "failed_stops",
        "leftover_processes",
        "leftover_ports",
        "leaked_fds",
    )

    def clean(self) -> bool:
        return not any(getattr(self, name) for name in self.COUNTS)

    def problem(self, counter: str, text: str, amount: int = 1) -> None:
        setattr(self, counter, getattr(self, counter) + amount)
        self.dirty.add(self.cycles)
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(f"cycle {self.cycles}: {counter}: {text}")

    def summary(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')} {getattr(self, name)}" for name in self.COUNTS)


# -- what is left after a stop ----------------------------------------------------------------


def identities(pids: Iterable[int]) -> set[Identity]:
    """(pid, start time) of each of `pids` that runs, and of all its descendants."""
    found: set[Identity] = set()
    for pid in pids:
        try:
            process = psutil.Process(pid)
            found.add((pid, process.create_time()))
            for child in process.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    found.add((child.pid, child.create_time()))
        except psutil.Error:
            continue
    return found


def running(seen: set[Identity]) -> list[str]:
    """Those of `seen` that still run (a zombie does not: it has exited), described."""
    alive = []
    for pid, started in seen:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"pid {pid} {' '.join(process.cmdline())[:120]}")
    return alive


def listening(ports: Iterable[int]) -> set[int]:
    """Those of `ports` with a LISTEN socket on this machine."""
    wanted = set(ports)
    if not wanted:
        return set()
    return {
        c.laddr.port
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in wanted
    }


def fd_count() -> int:
    """This process's open file descriptors (the directory's own, while listing it, included)."""
    return len(os.listdir("/proc/self/fd"))


def fd_targets() -> set[str]:
    """What this process's descriptors point to, for the report of a leak."""
    targets = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            targets.add(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
    return targets


def settle(check: Callable[[], object], grace: float) -> object:
    """`check()` until it returns something falsy or `grace` has passed; its last value."""
    deadline = time.monotonic() + grace
    while True:
        value = check()
        if not value or time.monotonic() >= deadline:
            return value
        time.sleep(0.01)


def check_leftovers(counters: Counters, seen: set[Identity], ports: set[int]) -> None:
    alive = settle(lambda: running(seen), LEFTOVER_GRACE)
    if isinstance(alive, list) and alive:
        counters.problem("leftover_processes", "; ".join(alive), len(alive))
    still = settle(lambda: listening(ports), LEFTOVER_GRACE)
    if isinstance(still, set) and still:
        counters.problem("leftover_ports", f"still listening: {sorted(still)}", len(still))


# -- one cycle, through the library ---------------------------------------------------------


def settled(states: dict[str, tuple[str, int]]) -> bool:
    """Every service ready (the oneshot completed) and the crashing one restarted once."""
    done = all(state in ("ready", "completed") for state, _ in states.values())
    return done and states.get(CRASHER, ("", 0))[1] >= 1


def library_cycle(stack: launcher.Stack, root: Path, counters: Counters, fd_baseline: int) -> None:
    """Start `stack`, wait for the crash and the restart, stop it; count what went wrong."""
    counters.cycles += 1
    (root / MARKER).unlink(missing_ok=True)
    seen: set[Identity] = set()
    ports: set[int] = set()
    started = time.perf_counter()
    context = stack.start(timeout=START_TIMEOUT)
    try:
        run = context.__enter__()
    except launcher.LauncherError as error:
        counters.problem("failed_starts", str(error).splitlines()[0])
        check_leftovers(counters, seen | identities(p.pid for p in psutil.Process().children()), ports)
        return
    counters.start_seconds.append(time.perf_counter() - started)
    try:
        seen |= identities(p.pid for p in psutil.Process().children())  # the reaper, the services
        deadline = time.monotonic() + RESTART_DEADLINE
        while True:
            statuses = run.status()
            seen |= identities(s.pid for s in statuses if s.pid)
            ports |= {s.port for s in statuses if s.port}
            states = {s.name: (s.state, s.restarts) for s in statuses}
            if settled(states) or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        seen |= identities(p.pid for p in psutil.Process().children())  # the restarted one too
        restarts = states.get(CRASHER, ("", 0))[1]
        if not settled(states) or restarts != 1:
            counters.problem("missed_restarts", f"states {states}")
    finally:
        stopping = time.perf_counter()
        try:
            context.__exit__(None, None, None)
        except Exception as error:  # whatever the stop raises is a failed stop
            counters.problem("failed_stops", f"{type(error).__name__}: {error}")
        else:
            took = time.perf_counter() - stopping
            counters.stop_seconds.append(took)
            if took > STOP_BOUND:
                counters.problem("failed_stops", f"took {took:.2f} s (bound {STOP_BOUND:g} s)")
    check_leftovers(counters, seen, ports)
    extra = settle(lambda: fd_count() - fd_baseline > 0, FD_GRACE)
    if extra:
        counters.problem("leaked_fds", f"{fd_count() - fd_baseline} more than before the first cycle")
    counters.rss_mb.append(psutil.Process().memory_info().rss / 2**20)


def soak_library(config: Path, cycles: int, progress: Callable[[Counters], None] | None = None) -> Counters:
    """`cycles` library cycles of the stack of `config`, in this process."""
    counters = Counters()
    stack = launcher.load(config)
    baseline = fd_count()
    before = fd_targets()
    for _ in range(cycles):
        library_cycle(stack, config.parent, counters, baseline)
        if progress is not None:
            progress(counters)
    if counters.leaked_fds:
        counters.problems.append(f"new descriptors: {sorted(fd_targets() - before)}")
    return counters


# -- one cycle, through the CLI -------------------------------------------------------------


def cli(root: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`python -m launcher ARGS` in `root`, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
        cwd=root,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tail(result: subprocess.CompletedProcess[str]) -> str:
    return " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])


def cli_cycle(root: Path, counters: Counters) -> None:
    """`up -d --wait`, wait for the crash and the restart (`status --json`), `down`."""
    counters.cycles += 1
    (root / MARKER).unlink(missing_ok=True)
    seen: set[Identity] = set()
    ports: set[int] = set()
    launcher_pid = None
    started = time.perf_counter()
    up = cli(root, "up", "-d", "--wait", "--timeout", str(START_TIMEOUT), timeout=START_TIMEOUT + 30)
    if up.returncode != 0:
        counters.problem("failed_starts", f"up exited {up.returncode}: {tail(up)}")
    else:
        counters.start_seconds.append(time.perf_counter() - started)
    deadline = time.monotonic() + RESTART_DEADLINE
    states: dict[str, tuple[str, int]] = {}
    while True:
        status = cli(root, "status", "--json")
        if status.returncode not in (0, 1):  # 1: it runs, not every service ready; 3: it does not
            break
        stack = json.loads(status.stdout)
        launcher_pid = stack["pid"]
        seen |= identities([launcher_pid])
        ports |= {s["port"] for s in stack["services"] if s["port"]}
        states = {s["name"]: (s["state"], s["restarts"]) for s in stack["services"]}
        if settled(states) or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if up.returncode == 0 and (not settled(states) or states[CRASHER][1] != 1):
        counters.problem("missed_restarts", f"states {states}")
    stopping = time.perf_counter()
    down = cli(root, "down", "--timeout", str(STOP_BOUND * 2), timeout=STOP_BOUND * 4)
    took = time.perf_counter() - stopping
    if down.returncode != 0 and launcher_pid is not None:
        counters.problem("failed_stops", f"down exited {down.returncode}: {tail(down)}")
    elif launcher_pid is not None:
        counters.stop_seconds.append(took)
        if took > STOP_BOUND:
            counters.problem("failed_stops", f"down took {took:.2f} s (bound {STOP_BOUND:g} s)")
    check_leftovers(counters, seen, ports)
    remains = [p for p in (".launcher/state.json", ".launcher/run/api.sock") if (root / p).exists()]
    if remains:
        counters.problem("failed_stops", f"left behind: {remains}")
    if launcher_pid is not None and running({(launcher_pid, t) for p, t in seen if p == launcher_pid}):
        # Our own detached launcher that would not go: its session, by its process group.
        with contextlib.suppress(OSError):
            if os.getpgid(launcher_pid) == launcher_pid:
                os.killpg(launcher_pid, signal.SIGKILL)


def soak_cli(root: Path, cycles: int, progress: Callable[[Counters], None] | None = None) -> Counters:
    """`cycles` CLI cycles of the project in `root`."""
    counters = Counters()
    for _ in range(cycles):
        cli_cycle(root, counters)
        if progress is not None:
            progress(counters)
    return counters


# -- the benchmark ----------------------------------------------------------------------------


def report(variant: str, counters: Counters, seconds: float) -> bool:
    def median(values: list[float]) -> str:
        return f"{sorted(values)[len(values) // 2] * 1000:.0f} ms" if values else "-"

    def worst(values: list[float]) -> str:
        return f"{max(values) * 1000:.0f} ms" if values else "-"

    clean = counters.cycles - len(counters.dirty)
    rate = counters.cycles / seconds
    print(f"\n{variant}: {counters.cycles} cycles in {seconds:.1f} s, {rate:.2f} cycles/s")
    print(f"  start  median {median(counters.start_seconds)}, worst {worst(counters.start_seconds)}")
    print(f"  stop   median {median(counters.stop_seconds)}, worst {worst(counters.stop_seconds)}")
    if counters.rss_mb:
        rss = counters.rss_mb
        print(
            f"  this process's RSS after cycle 1 {rss[0]:.1f} MB, after cycle {len(rss) // 2 + 1} "
            f"{rss[len(rss) // 2]:.1f} MB, after the last {rss[-1]:.1f} MB (a trend, no target)"
        )
    print(f"  {counters.summary()}")
    for problem in counters.problems:
        print(f"    {problem}")
    verdict = "PASS" if counters.clean() else "MISS"
    print(f"  target {counters.cycles}/{counters.cycles} cycles clean: {clean}/{counters.cycles} {verdict}")
    return counters.clean()


def progress(cycles: int) -> Callable[[Counters], None]:
    """A progress callback that prints the counters ten times over `cycles`."""
    every = max(1, cycles // 10)

    def show(counters: Counters) -> None:
        if counters.cycles % every == 0:
            print(f"  {counters.cycles:>5} cycles: {counters.summary()}", flush=True)

    return show


def main() -> int:
    from freeports import free_block  # benchmarks/ is first on sys.path (not when the test imports this)

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=1000, help="cycles of each variant (default 1000)")
    parser.add_argument("--variant", choices=["library", "cli", "both"], default="library")
    args = parser.parse_args()
    variants = ["library", "cli"] if args.variant == "both" else [args.variant]
    print(
        f"soak: {args.cycles} cycles of a 10-service stack ({', '.join(variants)}), "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    clean = True
    for variant in variants:
        with tempfile.TemporaryDirectory(prefix="lch-soak-") as tmp:
            config = write_project(Path(tmp) / "project", free_block(20))

            started = time.perf_counter()
            if variant == "library":
                counters = soak_library(config, args.cycles, progress(args.cycles))
            else:
                counters = soak_cli(config.parent, args.cycles, progress(args.cycles))
            seconds = time.perf_counter() - started
            clean = report(variant, counters, seconds) and clean
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
