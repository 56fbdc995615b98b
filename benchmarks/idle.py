"""Idle cost of issues 3 and 21: a running stack that nothing happens to, against supervisord.

    .venv/bin/python benchmarks/idle.py [--seconds 60] [--services 20] [--honcho]

`launcher run` (the CLI, in its own process) runs SERVICES small HTTP services, each with an
http readiness probe and an http liveness probe every second; supervisord (and with --honcho,
honcho) runs the same services in the same run. Once every service is up (and a settling
second has passed), each manager is watched for SECONDS:

- memory: the USS (memory_full_info().uss: the pages only it holds) of the manager and of its
  helpers (every descendant that is not a service: the launcher's reaper), at the end, with the
  number of processes and threads; and the launcher's own largest RSS, one sample a second.
  Nothing asks the launcher's control API during the window (it imports it at its first
  client); its USS once a `launcher status` has been answered is printed apart, for scale;
- CPU: the manager's CPU time over the window, as a share of one core.

Targets: USS of the launcher and its helpers <= 20 MiB (issue 21; supervisord's in the same run
beside it), RSS <= 60 MB and CPU <= 2 % (issue 3, DESIGN.md's "light when steady").
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
SERVICE = [sys.executable, str(HERE / "bench_service.py"), "--http"]
FIRST_PORT = 18400
USS_TARGET_MIB = 20.0
RSS_TARGET_MB = 60.0
CPU_TARGET = 0.02


@dataclass
class Idle:
    uss: float  # MiB, the manager and its helpers
    processes: int
    threads: int
    rss: float  # MiB, the manager's largest sample
    cpu: float  # share of one core over the window
    healthy: bool
    served: float | None = None  # MiB, the launcher's USS (and its helpers') once its API answered


def config(services: int) -> str:
    command = "[" + ", ".join(f'"{w}"' for w in SERVICE) + "]"
    parts = [f"[launcher]\nports = [{FIRST_PORT}, {FIRST_PORT + 80}]\n"]
    for i in range(services):
        parts.append(
            f'[services.s{i:02d}]\ncommand = {command}\nport = "auto"\n'
            'probe = { http = "/health" }\n'
            'liveness = { http = "/health", interval = 1 }\n'
        )
    return "\n".join(parts)


def setup(tool: str, root: Path, services: int) -> list[str]:
    if tool == "launcher":
        (root / "launcher.toml").write_text(config(services))
        return [sys.executable, "-m", "launcher", "--no-color", "run"]
    ports = [FIRST_PORT + 100 + i for i in range(services)]
    command = " ".join(SERVICE)
    if tool == "honcho":
        (root / "Procfile").write_text(
            "".join(f"s{i:02d}: PORT={p} {command}\n" for i, p in enumerate(ports))
        )
        return [str(BIN / "honcho"), "--no-colour", "start"]
    parts = [
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\nlogfile_maxbytes=0\n"
        f"pidfile={root}/supervisord.pid\n"
    ]
    for i, port in enumerate(ports):
        parts.append(
            f"[program:s{i:02d}]\ncommand={command}\nenvironment=PORT={port}\n"
            "stdout_logfile=/dev/fd/1\nstdout_logfile_maxbytes=0\nredirect_stderr=true\n"
        )
    (root / "supervisord.conf").write_text("\n".join(parts))
    return [str(BIN / "supervisord"), "-c", str(root / "supervisord.conf")]


def services_up(manager: psutil.Process, services: int) -> bool:
    # (honcho runs each through a shell, which counts as the service's too)
    up = [p for p in manager.children(recursive=True) if "bench_service" in " ".join(p.cmdline())]
    return len(up) >= services


def wait_up(tool: str, manager: psutil.Process, output: Path, services: int, timeout: float = 60) -> None:
    wanted = f"{services}/{services} services ready"
    deadline = time.monotonic() + timeout
    while not (
        wanted in output.read_text(errors="replace") if tool == "launcher" else services_up(manager, services)
    ):
        if time.monotonic() > deadline:
            raise SystemExit(f"{tool} did not start within {timeout:g}s:\n{output.read_text()[-2000:]}")
        time.sleep(0.1)


def helpers(manager: psutil.Process) -> list[psutil.Process]:
    """The manager and its descendants that are not services."""
    return [manager] + [
        p for p in manager.children(recursive=True) if "bench_service" not in " ".join(p.cmdline())
    ]


def measure(tool: str, seconds: float, services: int) -> Idle:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        argv = setup(tool, root, services)
        output = root / "output.txt"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                argv, cwd=root, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            manager = psutil.Process(process.pid)
            wait_up(tool, manager, output, services)
            time.sleep(1.0)  # let the last services' first liveness checks pass
            before = manager.cpu_times()
            started = time.monotonic()
            rss = manager.memory_info().rss
            while time.monotonic() - started < seconds:
                time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - started))))
                rss = max(rss, manager.memory_info().rss)
            after = manager.cpu_times()
            elapsed = time.monotonic() - started
            cpu = (after.user + after.system - before.user - before.system) / elapsed
            own = helpers(manager)
            uss = sum(p.memory_full_info().uss for p in own) / 2**20
            threads = sum(p.num_threads() for p in own)
            text = output.read_text(errors="replace")
            healthy = "unhealthy" not in text and "exited" not in text and services_up(manager, services)
            served = api_served_uss(root, own) if tool == "launcher" else None
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return Idle(uss, len(own), threads, rss / 2**20, cpu, healthy, served)


def api_served_uss(root: Path, own: list[psutil.Process]) -> float:
    """The USS of the launcher and its helpers once a `launcher status` has had the launcher
    import and build its control API (it serves it from its first client on)."""
    subprocess.run([sys.executable, "-m", "launcher", "status"], cwd=root, capture_output=True, check=True)
    return sum(p.memory_full_info().uss for p in own) / 2**20


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--honcho", action="store_true", help="honcho too, for scale")
    args = parser.parse_args()
    print(
        f"idle: {args.services} services, http liveness every second (the launcher's), watched for "
        f"{args.seconds:g} s, python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}"
    )
    tools = ["supervisord", "launcher", *(["honcho"] if args.honcho else [])]
    results = {tool: measure(tool, args.seconds, args.services) for tool in tools}
    for tool, idle in results.items():
        print(
            f"  {tool:12} USS {idle.uss:5.1f} MiB ({idle.processes} processes, {idle.threads} threads), "
            f"largest RSS {idle.rss:5.1f} MiB, CPU {idle.cpu * 100:.2f} % of one core, "
            f"every service up: {idle.healthy}"
        )
    ours, theirs = results["launcher"], results["supervisord"]
    print(
        f"  launcher USS {ours.uss:.1f} MiB, supervisord's {theirs.uss:.1f} MiB in the same run "
        f"({ours.uss / theirs.uss:.2f} x); target <= {USS_TARGET_MIB:g} MiB "
        f"{verdict(ours.uss <= USS_TARGET_MIB)}"
    )
    if ours.served is not None:
        print(f"  launcher USS once its control API has answered a `launcher status`: {ours.served:.1f} MiB")
    rss_mb = ours.rss * 2**20 / 1e6
    print(
        f"  launcher RSS {rss_mb:.1f} MB; target <= {RSS_TARGET_MB:g} MB {verdict(rss_mb <= RSS_TARGET_MB)}"
    )
    cpu = ours.cpu * 100
    print(f"  launcher CPU {cpu:.2f} %; target <= {CPU_TARGET * 100:g} % {verdict(ours.cpu <= CPU_TARGET)}")


if __name__ == "__main__":
    main()
