"""Idle cost of issue 3: a running stack that nothing happens to.

    .venv/bin/python benchmarks/idle.py [--seconds 60] [--services 20]

`launcher run` (the CLI, in its own process) runs SERVICES small HTTP services, each with an
http readiness probe and an http liveness probe every second. Once every service is ready (and
a settling second has passed), the launcher's own process is watched for SECONDS: its resident
memory (the largest sample, one a second) and its CPU time over the window, as a share of one
core. Targets (absolute, DESIGN.md's "light when steady"): RSS <= 60 MB, CPU <= 2 %. For scale
it also prints a bare interpreter's RSS and the reaper's.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).parent
SERVICE = [sys.executable, str(HERE / "bench_service.py"), "--http"]
RSS_TARGET_MB = 60.0
CPU_TARGET = 0.02


def config(services: int) -> str:
    command = "[" + ", ".join(f'"{w}"' for w in SERVICE) + "]"
    parts = ["[launcher]\nports = [18400, 18480]\n"]
    for i in range(services):
        parts.append(
            f'[services.s{i:02d}]\ncommand = {command}\nport = "auto"\n'
            'probe = { http = "/health" }\n'
            'liveness = { http = "/health", interval = 1 }\n'
        )
    return "\n".join(parts)


def bare_rss_mb() -> float:
    """The resident memory of an interpreter that does nothing (with the same site)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        time.sleep(0.5)
        return psutil.Process(process.pid).memory_info().rss / 2**20
    finally:
        process.kill()
        process.wait()


def wait_ready(output: Path, services: int, timeout: float = 60) -> None:
    wanted = f"{services}/{services} services ready"
    deadline = time.monotonic() + timeout
    while wanted not in output.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"the stack was not ready within {timeout:g}s:\n{output.read_text()[-2000:]}")
        time.sleep(0.1)


def measure(seconds: float, services: int) -> tuple[float, float, float, bool]:
    """(launcher max RSS MB, launcher CPU share, reaper RSS MB, every service still ready)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "launcher.toml").write_text(config(services))
        output = root / "output.txt"
        with output.open("wb") as sink:
            launcher = subprocess.Popen(
                [sys.executable, "-m", "launcher", "--no-color", "run"],
                cwd=root,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_ready(output, services)
            time.sleep(1.0)  # let the last services' first liveness checks pass
            me = psutil.Process(launcher.pid)
            reaper = next((c for c in me.children() if "reaper" in " ".join(c.cmdline())), None)
            before = me.cpu_times()
            started = time.monotonic()
            rss = me.memory_info().rss
            while time.monotonic() - started < seconds:
                time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - started))))
                rss = max(rss, me.memory_info().rss)
            after = me.cpu_times()
            elapsed = time.monotonic() - started
            cpu = (after.user + after.system - before.user - before.system) / elapsed
            reaper_mb = reaper.memory_info().rss / 2**20 if reaper is not None else 0.0
            text = output.read_text(errors="replace")
            healthy = "unhealthy" not in text and "exited" not in text
        finally:
            os.killpg(launcher.pid, signal.SIGTERM)
            try:
                launcher.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
                launcher.wait()
        return rss / 2**20, cpu, reaper_mb, healthy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--services", type=int, default=20)
    args = parser.parse_args()
    print(
        f"idle: {args.services} services, http liveness every second, watched for {args.seconds:g} s, "
        f"python {sys.version.split()[0]}"
    )
    rss, cpu, reaper, healthy = measure(args.seconds, args.services)
    print(
        f"  launcher RSS {rss:.1f} MB (for scale: a bare interpreter {bare_rss_mb():.1f} MB, "
        f"the reaper {reaper:.1f} MB); "
        f"target <= {RSS_TARGET_MB:g} MB {'PASS' if rss <= RSS_TARGET_MB else 'MISS'}"
    )
    print(
        f"  launcher CPU {cpu * 100:.2f} % of one core; target <= {CPU_TARGET * 100:g} % "
        f"{'PASS' if cpu <= CPU_TARGET else 'MISS'}"
    )
    print(f"  every service stayed ready: {healthy}")


if __name__ == "__main__":
    main()
