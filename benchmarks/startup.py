"""How long the quick commands take to start, over a bare interpreter's start.

    .venv/bin/python benchmarks/startup.py [--runs 20] [--services 50] [--strict]

Measures, in one run and interleaved (so that a noisy moment hits every command alike), the
wall time of `python -c pass` (the baseline) and of `python -m launcher --version`, `--help`
and `check` on a generated project of --services services with three profiles (see
generate.py). `check` is measured twice: warm (its result cache in .launcher/cache/ is kept,
as when a developer re-checks an unchanged project) and cold (the cache removed before every
run, as on the first check after an edit). Prints the median and the 90th percentile of each,
the median overhead over the baseline and whether it meets its target, and the median CPU time
(user + system) of each: on a loaded machine the wall time also counts the waits for a core,
the CPU time much less. With --strict, exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generate import write_project

PYTHON = sys.executable


@dataclass
class Case:
    name: str
    argv: list[str]
    target_ms: float | None  # of overhead over the baseline; None for the baseline itself
    before: Callable[[], None] = lambda: None
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.times)

    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def p90(self) -> float:
        ordered = sorted(self.times)
        return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


def cases(project: Path) -> list[Case]:
    cache = project / ".launcher" / "cache"
    launcher = [PYTHON, "-m", "launcher"]
    return [
        Case("python -c pass (baseline)", [PYTHON, "-c", "pass"], None),
        Case("launcher --version", [*launcher, "--version"], 25),
        Case("launcher --help", [*launcher, "--help"], 25),
        Case("launcher check (warm cache)", [*launcher, "check"], 100),
        Case(
            "launcher check (cold)",
            [*launcher, "check"],
            100,
            before=lambda: shutil.rmtree(cache, ignore_errors=True),
        ),
    ]


def measure(case: Case, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """The wall time and the CPU time (user + system) of one run, milliseconds."""
    case.before()
    used = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(case.argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{case.name} failed with exit code {result.returncode}:\n{result.stderr}")
    return elapsed * 1000, (_children_cpu() - used) * 1000


def _children_cpu() -> float:
    """The CPU time of the children waited for so far (the one run just ended, by difference)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report(all_cases: list[Case], runs: int, services: int) -> bool:
    baseline = all_cases[0].median()
    print(f"{runs} runs each, {services}-service project, {sys.implementation.name} {sys.version.split()[0]}")
    print(f"{'command':<30} {'median':>8} {'p90':>8} {'cpu':>8} {'overhead':>9} {'target':>8}")
    met = True
    for case in all_cases:
        line = f"{case.name:<30} {case.median():>6.1f}ms {case.p90():>6.1f}ms {case.cpu_median():>6.1f}ms"
        if case.target_ms is not None:
            overhead = case.median() - baseline
            verdict = "PASS" if overhead <= case.target_ms else "MISS"
            met = met and verdict == "PASS"
            line += f" {overhead:>7.1f}ms {case.target_ms:>6.0f}ms  {verdict}"
        print(line)
    return met


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument("--services", type=int, default=50, help="services of the project (default 50)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    # Without PYTHONDONTWRITEBYTECODE, so that the warm-up writes the bytecode caches (as an
    # installed package has them): else every run would compile each recently edited module anew.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAUNCHER_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_COLOR"] = "1"
    with tempfile.TemporaryDirectory(prefix="launcher-bench-") as temp:
        project = write_project(Path(temp), args.services)
        all_cases = cases(project)
        for case in all_cases:  # warm up: bytecode caches, the page cache, the check cache
            measure(case, project, env)
        for _ in range(args.runs):
            for case in all_cases:
                wall, cpu = measure(case, project, env)
                case.times.append(wall)
                case.cpu.append(cpu)
    met = report(all_cases, args.runs, args.services)
    return 0 if met or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
