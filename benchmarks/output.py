"""Output throughput of issue 3: launcher against supervisord and honcho, in the same run.

    .venv/bin/python benchmarks/output.py [--lines 200000]

Four children each write LINES lines of 80 bytes as fast as they can. Each manager relays them
to its stdout, a pipe this script drains as fast as it can. Measured: the time until every line
has arrived (and that every line arrived whole), and the manager's own CPU time meanwhile.
Targets: launcher drains no later than 1.2 x supervisord and at least 10 x faster than honcho;
its CPU time at most 1.5 x supervisord's. supervisor and honcho are benchmark-only dependencies
(`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
CHILDREN = 4
LINE = re.compile(rb"(c\d) (\d{9}) x{66}$")


def flood(name: str, lines: int) -> list[str]:
    return [sys.executable, str(HERE / "flood.py"), name, str(lines)]


def setup(tool: str, root: Path, lines: int) -> list[str]:
    names = [f"c{i}" for i in range(CHILDREN)]
    if tool == "launcher":
        parts = ["[launcher]\nstop_timeout = 2\n"]
        for name in names:
            words = ", ".join(f'"{w}"' for w in flood(name, lines))
            parts.append(f"[services.{name}]\ncommand = [{words}]\n")
        (root / "launcher.toml").write_text("\n".join(parts))
        return [sys.executable, "-m", "launcher", "--no-color", "run"]
    if tool == "honcho":
        (root / "Procfile").write_text("".join(f"{n}: {' '.join(flood(n, lines))}\n" for n in names))
        return [str(BIN / "honcho"), "--no-colour", "start"]
    config = [
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\nlogfile_maxbytes=0\n"
        f"pidfile={root}/supervisord.pid\n"
    ]
    for name in names:
        config.append(
            f"[program:{name}]\ncommand={' '.join(flood(name, lines))}\nstdout_logfile=/dev/fd/1\n"
            "stdout_logfile_maxbytes=0\nredirect_stderr=true\nautorestart=false\nstartsecs=0\n"
        )
    (root / "supervisord.conf").write_text("\n".join(config))
    return [str(BIN / "supervisord"), "-c", str(root / "supervisord.conf")]


def measure(tool: str, lines: int) -> tuple[float, float, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        argv = setup(tool, root, lines)
        started = time.perf_counter()
        manager = subprocess.Popen(
            argv,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert manager.stdout is not None
        seen = {f"c{i}": 0 for i in range(CHILDREN)}
        whole = True
        remaining = lines * CHILDREN
        buffer = b""
        try:
            while remaining:
                chunk = manager.stdout.read1(1 << 20)
                if not chunk:
                    break
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    match = LINE.search(raw)
                    if match:
                        name = match.group(1).decode()
                        whole = whole and int(match.group(2)) == seen[name]
                        seen[name] += 1
                        remaining -= 1
            elapsed = time.perf_counter() - started
            times = psutil.Process(manager.pid).cpu_times()
            cpu = times.user + times.system
        finally:
            os.killpg(manager.pid, signal.SIGTERM)
            try:
                manager.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(manager.pid, signal.SIGKILL)
                manager.wait()
        return elapsed, cpu, whole and remaining == 0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    print(f"output: {CHILDREN} children x {args.lines} lines of 80 bytes, python {sys.version.split()[0]}")
    results = {}
    for tool in ("supervisord", "launcher", "honcho"):
        elapsed, cpu, complete = measure(tool, args.lines)
        results[tool] = (elapsed, cpu, complete)
        print(
            f"  {tool:12} drained in {elapsed:6.2f} s, manager CPU {cpu:6.2f} s, every line whole: {complete}"
        )
    # For scale, not for a verdict: each manager's CPU with one line a child is its start-up
    # and stop, so the difference is what relaying the lines cost.
    fixed = {tool: measure(tool, 1)[1] for tool in ("supervisord", "launcher")}
    ours, supervisord, honcho = results["launcher"], results["supervisord"], results["honcho"]
    print(f"every line in the launcher's output, complete: {verdict(ours[2])}")
    print(
        f"launcher / supervisord drain: {ours[0] / supervisord[0]:.2f} (target <= 1.2) "
        f"{verdict(ours[0] <= 1.2 * supervisord[0])}"
    )
    print(
        f"honcho / launcher drain: {honcho[0] / ours[0]:.1f} (target >= 10) "
        f"{verdict(honcho[0] >= 10 * ours[0])}"
    )
    print(
        f"launcher / supervisord CPU: {ours[1] / supervisord[1]:.2f} (target <= 1.5) "
        f"{verdict(ours[1] <= 1.5 * supervisord[1])}"
    )
    relay = {tool: results[tool][1] - fixed[tool] for tool in fixed}
    print(
        f"  of which start-up (the CPU with 1 line a child): launcher {fixed['launcher']:.2f} s, "
        f"supervisord {fixed['supervisord']:.2f} s; relaying the lines alone: launcher "
        f"{relay['launcher']:.2f} s, supervisord {relay['supervisord']:.2f} s"
    )


if __name__ == "__main__":
    main()
