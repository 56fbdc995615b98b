"""Runtime benchmarks of issue 3: start, readiness, stop (each against a baseline in the same run).

    .venv/bin/python benchmarks/runtime.py [start] [readiness] [stop]

start      12 services, 4 levels of 3, each depending on the whole level before, each binding
           its port 0.3 s after it starts. Baseline: the critical path (a chain of 4) started one
           after another by a plain loop polling every 5 ms. Target: <= 1.10 x the baseline.
readiness  from a service's listen() to the launcher marking it ready, median over the start
           runs. Target: median <= 15 ms.
stop       10 services: 6 stop at once on SIGTERM, 2 need 0.5 s, 1 ignores SIGTERM
           (stop_timeout = 1 s), 1 has a grandchild. Target: done within the slowest path + 150 ms,
           nothing left.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

import launcher.stack

HERE = Path(__file__).parent
SERVICE = [sys.executable, str(HERE / "bench_service.py")]
RUNS = 5


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


def bench_start() -> tuple[list[float], list[float], list[float], list[float]]:
    launcher_times, baseline_times, levels_times, readiness = [], [], [], []
    for _ in range(RUNS):
        baseline_times.append(baseline_chain())
        levels_times.append(baseline_levels())
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            log = root / "listen.log"
            (root / "launcher.toml").write_text(dag_config(log))
            stack = launcher.stack.load(root / "launcher.toml")
            started = time.perf_counter()
            with stack.start(timeout=60) as running:
                launcher_times.append(time.perf_counter() - started)
                listened = dict(line.split() for line in log.read_text().splitlines())
                for status in running.status():
                    if status.ready_at is not None and status.name in listened:
                        readiness.append(status.ready_at - float(listened[status.name]))
    return launcher_times, baseline_times, levels_times, readiness


def stop_config() -> str:
    services = []
    for i in range(6):
        services.append((f"quick{i}", []))
    services += [("slow0", ["--stop-delay", "0.5"]), ("slow1", ["--stop-delay", "0.5"])]
    services += [("stubborn", ["--ignore-term"]), ("parent", ["--grandchild"])]
    parts = ["[launcher]\nports = [18200, 18260]\nstop_timeout = 1\n"]
    for name, flags in services:
        parts.append(f'[services.{name}]\ncommand = {toml_list([*SERVICE, *flags])}\nport = "auto"\n')
    return "\n".join(parts)


def bench_stop() -> tuple[list[float], bool]:
    times, clean = [], True
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "launcher.toml").write_text(stop_config())
            stack = launcher.stack.load(root / "launcher.toml")
            context = stack.start(timeout=60)
            running = context.__enter__()
            pids = [s.pid for s in running.status() if s.pid]
            tree = [psutil.Process(p) for p in pids]
            tree += [c for p in list(tree) for c in p.children(recursive=True)]
            started = time.perf_counter()
            context.__exit__(None, None, None)
            times.append(time.perf_counter() - started)
            alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            clean = clean and not alive
    return times, clean


def main() -> None:
    which = set(sys.argv[1:]) or {"start", "readiness", "stop"}
    print(f"runtime benchmarks, {RUNS} runs each, python {sys.version.split()[0]}")
    if which & {"start", "readiness"}:
        ours, base, levels, readiness = bench_start()
        ratio = statistics.median(ours) / statistics.median(base)
        print(
            f"start: 12-service DAG {statistics.median(ours) * 1000:.0f} ms, critical path baseline "
            f"{statistics.median(base) * 1000:.0f} ms, ratio {ratio:.2f} (target <= 1.10) "
            f"{'PASS' if ratio <= 1.10 else 'MISS'}"
        )
        print(
            f"       the same DAG by a plain loop (3 per level) {statistics.median(levels) * 1000:.0f} ms: "
            f"launcher / plain loop {statistics.median(ours) / statistics.median(levels):.2f}"
        )
        median = statistics.median(readiness) * 1000
        p90 = sorted(readiness)[int(len(readiness) * 0.9)] * 1000
        print(
            f"readiness: listen() to ready median {median:.1f} ms, p90 {p90:.1f} ms over {len(readiness)} "
            f"services (target median <= 15 ms) {'PASS' if median <= 15 else 'MISS'}"
        )
    if "stop" in which:
        times, clean = bench_stop()
        slowest = 1.0  # the SIGTERM-ignoring service is killed at its stop_timeout
        worst = max(times)
        print(
            f"stop: 10 services median {statistics.median(times) * 1000:.0f} ms, "
            f"worst {worst * 1000:.0f} ms; "
            f"slowest path {slowest * 1000:.0f} ms + 150 ms budget "
            f"{'PASS' if worst <= slowest + 0.15 else 'MISS'}; nothing left: {clean}"
        )


if __name__ == "__main__":
    main()
