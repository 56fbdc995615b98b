"""How long `launcher status` and `launcher exec` take against a running stack, over a bare
interpreter's start.

    .venv/bin/python benchmarks/status.py [--runs 30] [--services 20] [--strict]

Generates a project of --services tiny services (bench_service.py: half of them HTTP servers on
`port = "auto"` with an http readiness probe and an http liveness probe every 2 s, half sleepers
without a port), starts it with `python -m launcher run` in the background (its own session) and
waits until every service is ready. Then, interleaved (a noisy moment hits every command alike),
it times `python -c pass` (the baseline), `python -m launcher status`, `status --json` and
`exec -- true`, and prints the median and the 90th percentile of each, the median overhead over
the baseline and the ratio to it. Targets: `status` at most 40 ms over the baseline (issue 6);
`exec` starting its command at most 50 ms over it (issue 18), measured as the whole `exec --
true`, of which `true` itself takes about a millisecond. The stack is stopped at
the end with SIGTERM to the launcher's pid (SIGKILL to its process group if it lingers), and its
state file checked to be gone. The very first `status` against the stack, which has the launcher
import and build its control API (it serves it from its first client on), is timed apart and
printed last; the warm-up and the runs come after it. With --strict, exits 1 when the target is missed.

The measured commands run without PYTHONDONTWRITEBYTECODE (which the development environment
sets): an installed launcher has its bytecode compiled, and without it every run would compile
launcher's modules from source again (about 10 ms here).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from freeports import free_block  # benchmarks/ is first on sys.path

HERE = Path(__file__).parent
PYTHON = sys.executable
SERVICE = [PYTHON, str(HERE / "bench_service.py")]
TARGET_MS = 40.0
EXEC_TARGET_MS = 50.0


@dataclass
class Case:
    name: str
    argv: list[str]
    target_ms: float | None  # of overhead over the baseline; None for the baseline itself
    times: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.times)

    def p90(self) -> float:
        ordered = sorted(self.times)
        return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


def config(services: int) -> str:
    low, high = free_block(services + 10)
    http = json.dumps([*SERVICE, "--http"])
    sleeper = json.dumps(SERVICE)
    parts = [f'[launcher]\nname = "bench"\nports = [{low}, {high}]\n']
    for i in range(services):
        if i % 2 == 0:
            parts.append(
                f'[services.s{i:02d}]\ncommand = {http}\nport = "auto"\nprobe = {{ http = "/" }}\n'
                'liveness = { http = "/", interval = 2 }\n'
            )
        else:
            parts.append(f"[services.s{i:02d}]\ncommand = {sleeper}\n")
    return "\n".join(parts)


def wait_ready(root: Path, services: int, launcher: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until the launcher says that every service is ready (it says so once its API listens),
    without asking its API: the first request is timed on its own (see main())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if launcher.poll() is not None:
            raise SystemExit(f"the launcher exited with {launcher.returncode}:\n{_output(root)}")
        if f"{services}/{services} services ready" in _output(root):
            return
        time.sleep(0.1)
    raise SystemExit(f"the stack was not ready within {timeout:g} s:\n{_output(root)}")


def _output(root: Path) -> str:
    return (root / "launcher.out").read_text(errors="replace")[-3000:]


def measure(case: Case, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(case.argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{case.name} failed with exit code {result.returncode}:\n{result.stderr}")
    return elapsed * 1000


def stop(launcher: subprocess.Popen[bytes], root: Path) -> None:
    """SIGTERM to the launcher (by its pid), SIGKILL to its group if it does not exit in time."""
    if launcher.poll() is None:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)  # its own session: start_new_session
            launcher.wait()
    if (root / ".launcher" / "state.json").exists():
        print("warning: the stack's state file is still there after its stop")


def report(cases: list[Case], runs: int, services: int) -> bool:
    baseline = cases[0].median()
    print(
        f"{runs} runs each, a running {services}-service stack, "
        f"{sys.implementation.name} {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'command':<28} {'median':>8} {'p90':>8} {'overhead':>9} {'ratio':>6} {'target':>8}")
    met = True
    for case in cases:
        line = f"{case.name:<28} {case.median():>6.1f}ms {case.p90():>6.1f}ms"
        if case.target_ms is not None:
            overhead = case.median() - baseline
            verdict = "PASS" if overhead <= case.target_ms else "MISS"
            met = met and verdict == "PASS"
            ratio = case.median() / baseline
            line += f" {overhead:>7.1f}ms {ratio:>6.2f} {case.target_ms:>6.0f}ms  {verdict}"
        print(line)
    return met


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="runs of each command (default 30)")
    parser.add_argument("--services", type=int, default=20, help="services of the stack (default 20)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAUNCHER_")}
    env["NO_COLOR"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module docstring
    launcher_argv = [PYTHON, "-m", "launcher"]
    cases = [
        Case("python -c pass (baseline)", [PYTHON, "-c", "pass"], None),
        Case("launcher status", [*launcher_argv, "status"], TARGET_MS),
        Case("launcher status --json", [*launcher_argv, "status", "--json"], TARGET_MS),
        Case("launcher exec -- true", [*launcher_argv, "exec", "--", "true"], EXEC_TARGET_MS),
    ]
    with tempfile.TemporaryDirectory(prefix="launcher-bench-") as temp:
        root = Path(temp)
        (root / "launcher.toml").write_text(config(args.services))
        with (root / "launcher.out").open("wb") as sink:
            launcher = subprocess.Popen(
                [*launcher_argv, "run"],
                cwd=root,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        try:
            wait_ready(root, args.services, launcher)
            # The first request has the launcher import and build its API (launcher/control/lazy.py).
            first = measure(cases[1], root, env)
            for case in cases:  # warm up: bytecode caches, the page cache
                measure(case, root, env)
            for _ in range(args.runs):
                for case in cases:
                    case.times.append(measure(case, root, env))
        finally:
            stop(launcher, root)
    met = report(cases, args.runs, args.services)
    print(f"the first `launcher status` against the new stack (the API imported then): {first:.1f}ms")
    return 0 if met or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
