"""The dashboard's benchmark (issue 19), in one run, against stacks without a dashboard:

    .venv/bin/python benchmarks/attach.py [--lines 200000] [--services 20] [--idle 20] [--runs 3]

`launcher attach` runs as a user runs it, on a pseudo-terminal (120x40) whose output this
script drains; the stacks are `launcher run` processes whose own output (a pipe) it drains too.

- first frame: from starting `attach` to the frame that shows every service of a 20-service
  stack and its ready count (goal 500 ms);
- lag: 4 services each write LINES lines as fast as they can, every line stamped with the time
  it was written; each frame the dashboard draws shows the newest stamp it has: how far that is
  behind the moment it is drawn, at worst (goal <= 1 s);
- idle CPU: the dashboard's CPU time over IDLE seconds on the 20-service stack while nothing
  happens (goal <= 2 % of one core);
- drain: the time the stack takes to relay the flood to its own output, with the dashboard
  attached and without, alternated RUNS times each, medians (goal: at most 5 % slower).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

SIZE = (120, 40)  # columns, lines of the dashboard's terminal
FLOODERS = 4
# A flood line: "c0 000000123 1764700000.123456 xxx...": its number and when it was written.
FLOOD = """\
import os, sys, time
name, count, gate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
while not os.path.exists(gate):
    time.sleep(0.01)
out = sys.stdout.buffer
pad = b"x" * 40
for i in range(count):
    out.write(b"%s %09d %.6f %s\\n" % (name.encode(), i, time.time(), pad))
out.flush()
time.sleep(600)
"""
IDLE = "import time\nprint('up', flush=True)\ntime.sleep(600)"
STAMP = re.compile(rb"c\d \d{9} (\d{10}\.\d{6})")
LAST = re.compile(rb"c\d (\d{9}) \d{10}\.\d{6} x{40}")


def project(root: Path, services: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    parts = ["[launcher]\nstop_timeout = 2\n"]
    for name, argv in services.items():
        words = ", ".join(json.dumps(w) for w in argv)
        parts.append(f"[services.{name}]\ncommand = [{words}]\n")
    (root / "launcher.toml").write_text("\n".join(parts))
    return root


class Stack:
    """`launcher run` in `root`, its output drained (and read for `marker`) by a thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.process = subprocess.Popen(
            [sys.executable, "-m", "launcher", "--no-color", "run"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self.last: dict[bytes, int] = {}  # each flooder's last line number seen
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        pending = b""
        while chunk := self.process.stdout.read1(1 << 20):
            whole, _, pending = (pending + chunk).rpartition(b"\n")
            if b"services ready" in whole:
                self.ready.set()
            for i in range(FLOODERS):  # each flooder's newest line in the chunk: a few finds
                name = f"| c{i} ".encode()
                at = whole.rfind(name)
                if at >= 0:
                    found = LAST.match(whole, at + 2)
                    if found:
                        self.last[name] = int(found.group(1))

    def wait_lines(self, count: int, timeout: float = 120) -> float:
        """Seconds until each flooder's last line has come out."""
        started = time.perf_counter()
        while len(self.last) < FLOODERS or min(self.last.values()) < count - 1:
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"the flood did not drain: {self.last}")
            time.sleep(0.002)
        return time.perf_counter() - started

    def close(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Dashboard:
    """`launcher attach` on a pseudo-terminal; `seen(frame)` is called with each read of it."""

    def __init__(self, root: Path, seen: Callable[[bytes], None]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "launcher", "attach"],
            cwd=root,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            env={**env, "TERM": "xterm-256color"},
        )
        os.close(slave)
        self.master = master
        self.seen = seen
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            self.seen(data)

    def cpu(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def close(self) -> None:
        os.write(self.master, b"q")
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.thread.join(5)
        os.close(self.master)


def first_frame(root: Path, services: int) -> float:
    done = threading.Event()
    shown = b""
    marker = f"{services}/{services} ready".encode()

    def seen(data: bytes) -> None:
        nonlocal shown
        shown = (shown + data)[-200_000:]
        if marker in shown and b"quit" in shown:
            done.set()

    dashboard = Dashboard(root, seen)
    try:
        assert done.wait(30), "no full frame within 30 s"
        return time.perf_counter() - dashboard.started
    finally:
        dashboard.close()


def idle_cpu(root: Path, seconds: float) -> float:
    """Percent of one core over `seconds`, after it has settled."""
    dashboard = Dashboard(root, lambda data: None)
    try:
        time.sleep(3)
        before, started = dashboard.cpu(), time.perf_counter()
        time.sleep(seconds)
        return (dashboard.cpu() - before) / (time.perf_counter() - started) * 100
    finally:
        dashboard.close()


def flood_run(root: Path, lines: int, attach: bool) -> tuple[float, float | None]:
    """The drain time of the flood, and the dashboard's worst lag (None without one)."""
    gate = root / "go"
    gate.unlink(missing_ok=True)
    stack = Stack(root)
    lags: list[float] = []
    dashboard = None
    try:
        assert stack.ready.wait(60), "the flood stack did not start"
        if attach:

            def seen(data: bytes) -> None:
                stamps = STAMP.findall(data)
                if stamps:
                    lags.append(time.time() - max(float(s) for s in stamps))

            dashboard = Dashboard(root, seen)
            time.sleep(2)  # drawn, and its streams open
        gate.touch()
        drained = stack.wait_lines(lines)
        time.sleep(1.5 if attach else 0)  # the dashboard's last frames
    finally:
        if dashboard is not None:
            dashboard.close()
        stack.close()
    return drained, (max(lags) if lags else float("inf")) if attach else None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000, help="lines of each of the 4 flooders")
    parser.add_argument("--services", type=int, default=20, help="services of the idle stack")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU measured")
    parser.add_argument("--runs", type=int, default=3, help="flood runs with and without a dashboard")
    args = parser.parse_args()
    print(f"attach: python {sys.version.split()[0]}, {os.cpu_count()} cores, terminal {SIZE[0]}x{SIZE[1]}")
    with tempfile.TemporaryDirectory(prefix="lch-attach-") as tmp:
        idle_root = project(
            Path(tmp) / "idle", {f"s{i:02d}": [sys.executable, "-c", IDLE] for i in range(args.services)}
        )
        idle = Stack(idle_root)
        try:
            assert idle.ready.wait(60), "the idle stack did not start"
            frames = [first_frame(idle_root, args.services) for _ in range(3)]
            cpu = idle_cpu(idle_root, args.idle)
        finally:
            idle.close()
        flood_root = Path(tmp) / "flood"
        gate = flood_root / "go"
        script = Path(tmp) / "flood.py"
        script.write_text(FLOOD)
        project(
            flood_root,
            {
                f"c{i}": [sys.executable, str(script), f"c{i}", str(args.lines), str(gate)]
                for i in range(FLOODERS)
            },
        )
        plain, attached, lags = [], [], []
        for _ in range(args.runs):
            plain.append(flood_run(flood_root, args.lines, attach=False)[0])
            drained, lag = flood_run(flood_root, args.lines, attach=True)
            attached.append(drained)
            lags.append(lag or 0.0)
    frame = statistics.median(frames)
    print(
        f"first full frame ({args.services} services): median {frame * 1000:.0f} ms of {len(frames)} "
        f"({', '.join(f'{f * 1000:.0f}' for f in frames)}) (goal 500 ms) {verdict(frame <= 0.5)}"
    )
    print(
        f"lag behind the newest line, {FLOODERS} x {args.lines} lines: worst {max(lags):.2f} s "
        f"({', '.join(f'{lag:.2f}' for lag in lags)}) (goal <= 1 s) {verdict(max(lags) <= 1.0)}"
    )
    print(
        f"idle CPU ({args.services} services, {args.idle:g} s): {cpu:.2f} % of one core "
        f"(goal <= 2 %) {verdict(cpu <= 2.0)}"
    )
    slower = statistics.median(attached) / statistics.median(plain) - 1
    print(
        f"drain without a dashboard: median {statistics.median(plain):.2f} s "
        f"({', '.join(f'{p:.2f}' for p in plain)}); with one: {statistics.median(attached):.2f} s "
        f"({', '.join(f'{a:.2f}' for a in attached)}): {slower * 100:+.1f} % (goal <= 5 %) "
        f"{verdict(slower <= 0.05)}"
    )


if __name__ == "__main__":
    main()
