"""Soak (issue 9): many start/stop cycles of a 10-service stack, and nothing may be left of any.

The cycles are benchmarks/soak.py's, imported by its path (as test_quick_commands.py imports
benchmarks/generate.py): one core for this test (50 cycles) and the benchmark (1000). A cycle
starts the stack (a oneshot, tcp and http services on auto ports with tcp, http and log probes,
http liveness, dependencies with every condition, a service that crashes once after it is ready
and is restarted by `restart = "on-failure"`), waits until it is ready and the crashed service
ready again, stops it, and counts failed starts, missed restarts, failed stops, leftover
processes, leftover listening ports and, for the library, the launcher's file descriptors above
their count before the first cycle. Every count must be zero.

The library variant runs the full 50 cycles (about 25 s on 2 cores); the CLI variant (`up -d
--wait`, `status --json`, `down`: 1.3-1.8 s a cycle, three interpreters and a detached launcher
each) runs 20, so that the two take about a minute (under two on a loaded machine);
`benchmarks/soak.py --variant cli --cycles N` runs it as long as wanted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from helpers import REPO, free_port_block

pytestmark = pytest.mark.integration

CYCLES = 50
CLI_CYCLES = 20


def load_soak() -> ModuleType:
    """benchmarks/soak.py as a module (registered first: its dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location("benchmarks_soak", REPO / "benchmarks" / "soak.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


soak = load_soak()


def verdict(counters: Any) -> str:
    """The counters and the first problems (soak.Counters), for the assertion's message."""
    problems = "\n  ".join(counters.problems)
    return f"{counters.summary()}\n  {problems}"


@pytest.mark.timeout(150)
def test_library_cycles_leave_nothing_behind(tmp_path: Path) -> None:
    config = soak.write_project(tmp_path / "project", free_port_block(20))
    counters = soak.soak_library(config, CYCLES)
    assert counters.cycles == CYCLES
    assert len(counters.start_seconds) == CYCLES
    assert len(counters.stop_seconds) == CYCLES
    assert counters.clean(), verdict(counters)


@pytest.mark.timeout(120)
def test_cli_cycles_leave_nothing_behind(tmp_path: Path) -> None:
    config = soak.write_project(tmp_path / "project", free_port_block(20))
    counters = soak.soak_cli(config.parent, CLI_CYCLES)
    assert counters.cycles == CLI_CYCLES
    assert len(counters.start_seconds) == CLI_CYCLES
    assert counters.clean(), verdict(counters)
