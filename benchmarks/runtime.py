"""Runtime benchmarks of issue 3: start, readiness, stop (each against a baseline in the same run).

    .venv/bin/python benchmarks/runtime.py [start] [readiness] [stop] [--runs 5]

start      12 services, 4 levels of 3, each depending on the whole level before, each binding
           its port 0.3 s after it starts. Baseline: the critical path (a chain of 4) started one
           after another by a plain loop polling every 5 ms. Target: <= 1.10 x the baseline.
readiness  from a service's listen() to the launcher marking it ready, median over the start
           runs. Target: median <= 15 ms.
spawn      from starting `python -m launcher run` (one service, no probe) to that service's
           first instruction (bash, stamping $EPOCHREALTIME). Baseline ("raw"): a Python process
           started the same way that spawns the same program with subprocess.Popen. Target
           (issue 21): <= 80 ms, with the plan cached (a second run); also printed: the same
           with the plan cache removed before each run (the plan made in the planning child).
stop       10 services: 6 stop at once on SIGTERM, 2 need 0.5 s, 1 ignores SIGTERM
           (stop_timeout = 1 s), 1 has a grandchild. Targets: done within the slowest path (the
           stop_timeout) + 150 ms; the one ignoring SIGTERM gone within its stop_timeout + 100 ms
           (seen through a pidfd, the moment it dies); nothing left.

Every figure is printed with its baseline (or, for the absolute ones, its target) and a verdict.
The machine's other load moves these figures by several per cent from run to run: the start
baseline is measured in the same run, interleaved with the launcher's, so that a noisy moment
hits both.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

import launcher.library.stack

HERE = Path(__file__).parent
SERVICE = [sys.executable, str(HERE / "bench_service.py")]
RUNS = 5
STOP_TIMEOUT = 1.0


def toml_list(words: list[str]) -> str:
    return "[" + ", ".join(f'"{w}"' for w in words) + "]"


def dag_config(listen_log: Path) -> str:
    lines = ["[launcher]\nports = [18200, 18260]\n"]
    for level in range(4):
        for i in range(3):
            name = f"s{level}{i}"
            deps = [f"s{level - 1}{j}" for j in range(3)] if level else []
            command = toml_list([*SERVICE, "--delay", "0.3", "--listen-log", str(listen_log)])
            lines.append(
                f'[services.{name}]\ncommand = {command}\nport = "auto"\ndepends_on = {toml_list(deps)}\n'
            )
    return "\n".join(lines)


def wait_port(port: int) -> None:
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.005)


def baseline_chain() -> float:
    """A chain of 4 started one after another by a plain loop polling every 5 ms."""
    started = time.perf_counter()
    processes = []
    try:
        for i in range(4):
            port = 18270 + i
            processes.append(
                subprocess.Popen([*SERVICE, "--delay", "0.3"], env={**os.environ, "PORT": str(port)})
            )
            wait_port(port)
        return time.perf_counter() - started
    finally:
        for process in processes:
            process.kill()
            process.wait()


def baseline_levels() -> float:
    """The same DAG (3 per level) started by a plain loop polling every 5 ms: what this machine
    can do at best, since starting 3 interpreters at once on 2 cores is slower than 1."""
    started = time.perf_counter()
    processes = []
    try:
        for level in range(4):
            ports = [18280 + level * 3 + i for i in range(3)]
            for port in ports:
                processes.append(
                    subprocess.Popen([*SERVICE, "--delay", "0.3"], env={**os.environ, "PORT": str(port)})
                )
            for port in ports:
                wait_port(port)
        return time.perf_counter() - started
    finally:
        for process in processes:
            process.kill()
            process.wait()


def bench_start(runs: int) -> tuple[list[float], list[float], list[float], list[float]]:
    launcher_times, baseline_times, levels_times, readiness = [], [], [], []
    for _ in range(runs):
        baseline_times.append(baseline_chain())
        levels_times.append(baseline_levels())
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            log = root / "listen.log"
            (root / "launcher.toml").write_text(dag_config(log))
            stack = launcher.library.stack.load(root / "launcher.toml")
            started = time.perf_counter()
            with stack.start(timeout=60) as running:
                launcher_times.append(time.perf_counter() - started)
                listened = dict(line.split() for line in log.read_text().splitlines())
                for status in running.status():
                    if status.ready_at is not None and status.name in listened:
                        readiness.append(status.ready_at - float(listened[status.name]))
    return launcher_times, baseline_times, levels_times, readiness


SPAWN_TARGET = 0.080
RAW_SPAWN = "import subprocess, sys; subprocess.Popen(sys.argv[1:]).wait()"


def stamped(path: Path) -> list[str]:
    """A program that writes the time it began to `path`, then waits to be stopped."""
    return ["bash", "-c", f"echo $EPOCHREALTIME > {path}; exec sleep 600"]


# The children of the spawn benchmark may write their bytecode (a development shell often sets
# PYTHONDONTWRITEBYTECODE): the warm-up run is there to leave what an installed launcher has,
# compiled modules, rather than to compile every module edited since at each run.
SPAWN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def time_to_spawn(argv: list[str], cwd: Path, stamp: Path) -> float:
    """From starting `argv` to the stamp of the program it spawns (then both are stopped)."""
    stamp.unlink(missing_ok=True)
    started = time.time()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=SPAWN_ENV,
    )
    try:
        deadline = time.monotonic() + 10
        while not (stamp.exists() and stamp.read_text().strip()):
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing spawned by {argv} within 10 s")
            time.sleep(0.002)
        return float(stamp.read_text()) - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


def bench_spawn(runs: int) -> tuple[list[float], list[float], list[float]]:
    """(launcher, launcher without its plan cache, raw) times to the first spawn, interleaved.

    `launcher run` keeps its plan in .launcher/cache/ (launcher/cli/plancache.py): every run
    after the warm-up finds it there, as a user's second run does. The cold runs remove it
    first, so their plan is made in the forked planning child, as on a first run or after an
    edit."""
    ours, cold, raw = [], [], []
    launcher_run = [sys.executable, "-m", "launcher", "run"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stamp = root / "spawned"
        (root / "launcher.toml").write_text(f"[services.a]\ncommand = {toml_list(stamped(stamp))}\n")
        time_to_spawn(launcher_run, root, stamp)  # warm: bytecode, page cache, the plan cache
        for _ in range(runs):
            raw.append(time_to_spawn([sys.executable, "-c", RAW_SPAWN, *stamped(stamp)], root, stamp))
            ours.append(time_to_spawn(launcher_run, root, stamp))
            shutil.rmtree(root / ".launcher" / "cache", ignore_errors=True)
            cold.append(time_to_spawn(launcher_run, root, stamp))
    return ours, cold, raw


def stop_config() -> str:
    services = []
    for i in range(6):
        services.append((f"quick{i}", []))
    services += [("slow0", ["--stop-delay", "0.5"]), ("slow1", ["--stop-delay", "0.5"])]
    services += [("stubborn", ["--ignore-term"]), ("parent", ["--grandchild"])]
    parts = [f"[launcher]\nports = [18200, 18260]\nstop_timeout = {STOP_TIMEOUT:g}\n"]
    for name, flags in services:
        parts.append(f'[services.{name}]\ncommand = {toml_list([*SERVICE, *flags])}\nport = "auto"\n')
    return "\n".join(parts)


def death_watch(pid: int) -> list[float]:
    """Start watching `pid`; the list gets the perf_counter() of its death (via a pidfd)."""
    died: list[float] = []
    fd = os.pidfd_open(pid)

    def wait() -> None:
        try:
            select.select([fd], [], [], 30)
            died.append(time.perf_counter())
        finally:
            os.close(fd)

    threading.Thread(target=wait, daemon=True).start()
    return died


def bench_stop(runs: int) -> tuple[list[float], list[float], bool]:
    times, stubborn_times, clean = [], [], True
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "launcher.toml").write_text(stop_config())
            stack = launcher.library.stack.load(root / "launcher.toml")
            context = stack.start(timeout=60)
            running = context.__enter__()
            pids = {s.name: s.pid for s in running.status() if s.pid}
            tree = [psutil.Process(p) for p in pids.values()]
            tree += [c for p in list(tree) for c in p.children(recursive=True)]
            stubborn = death_watch(pids["stubborn"])
            started = time.perf_counter()
            context.__exit__(None, None, None)
            times.append(time.perf_counter() - started)
            stubborn_times.append(stubborn[0] - started if stubborn else float("inf"))
            alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            clean = clean and not alive
    return times, stubborn_times, clean


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", nargs="*", help="start, readiness, spawn, stop (default: all)")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    every = {"start", "readiness", "spawn", "stop"}
    which = set(args.which) or every
    if which - every:
        parser.error(
            f"unknown benchmark: {', '.join(sorted(which - every))} (choose from {', '.join(sorted(every))})"
        )
    print(
        f"runtime benchmarks, {args.runs} runs each, python {sys.version.split()[0]}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    if "spawn" in which:
        ours, cold, raw = bench_spawn(args.runs)
        median, base = statistics.median(ours), statistics.median(raw)
        print(
            f"spawn: `launcher run` to the first service spawned median {median * 1000:.1f} ms "
            f"(runs {' '.join(f'{t * 1000:.0f}' for t in ours)}), raw {base * 1000:.1f} ms: "
            f"{median / base:.2f} x raw; target <= {SPAWN_TARGET * 1000:.0f} ms "
            f"{'PASS' if median <= SPAWN_TARGET else 'MISS'}"
        )
        print(
            f"       without the plan cache (removed before each run) median "
            f"{statistics.median(cold) * 1000:.1f} ms (runs {' '.join(f'{t * 1000:.0f}' for t in cold)})"
        )
    if which & {"start", "readiness"}:
        ours, base, levels, readiness = bench_start(args.runs)
        ratio = statistics.median(ours) / statistics.median(base)
        print(
            f"start: 12-service DAG {statistics.median(ours) * 1000:.0f} ms, critical path baseline "
            f"{statistics.median(base) * 1000:.0f} ms, ratio {ratio:.3f} (target <= 1.10) "
            f"{'PASS' if ratio <= 1.10 else 'MISS'}"
        )
        runs = " ".join(f"{o / b:.2f}" for o, b in zip(ours, base, strict=True))
        print(f"       ratio of each run (launcher / the baseline measured just before it): {runs}")
        print(
            f"       for scale, the same DAG by a plain loop (3 per level, this machine's best) "
            f"{statistics.median(levels) * 1000:.0f} ms: launcher / plain loop "
            f"{statistics.median(ours) / statistics.median(levels):.2f}"
        )
        median = statistics.median(readiness) * 1000
        p90 = sorted(readiness)[int(len(readiness) * 0.9)] * 1000
        print(
            f"readiness: listen() to ready median {median:.1f} ms, p90 {p90:.1f} ms over {len(readiness)} "
            f"services (target median <= 15 ms) {'PASS' if median <= 15 else 'MISS'}"
        )
    if "stop" in which:
        times, stubborn, clean = bench_stop(args.runs)
        budget = STOP_TIMEOUT + 0.15  # the slowest path: the SIGTERM-ignoring service's stop_timeout
        print(
            f"stop: 10 services median {statistics.median(times) * 1000:.0f} ms, "
            f"worst {max(times) * 1000:.0f} ms; "
            f"slowest path {STOP_TIMEOUT * 1000:.0f} ms + 150 ms (target worst <= {budget * 1000:.0f} ms) "
            f"{'PASS' if max(times) <= budget else 'MISS'}"
        )
        kill_budget = STOP_TIMEOUT + 0.1
        verdict = "PASS" if max(stubborn) <= kill_budget else "MISS"
        print(
            f"      the one ignoring SIGTERM gone after median {statistics.median(stubborn) * 1000:.0f} ms, "
            f"worst {max(stubborn) * 1000:.0f} ms; stop_timeout {STOP_TIMEOUT * 1000:.0f} ms + 100 ms "
            f"(target worst <= {kill_budget * 1000:.0f} ms) {verdict}"
        )
        print(f"      nothing left (services, grandchild): {'PASS' if clean else 'MISS'}")


if __name__ == "__main__":
    main()
