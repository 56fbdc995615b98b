"""The process-leak guard of tests/conftest.py catches leaks, names them and kills them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from helpers import wait_until

pytestmark = pytest.mark.integration

TESTS = Path(__file__).parents[1]

INNER = """
import os, subprocess
from helpers import program

def test_leaks_a_child(tmp_path):
    child = subprocess.Popen(program("sleeper"), stdout=subprocess.DEVNULL)
    (PIDS / "child").write_text(str(child.pid))

def test_leaks_an_orphaned_stack_service(tmp_path):
    env = {**os.environ, "LAUNCHER_STACK": "leaky"}
    subprocess.run(program("daemonizes", "--pidfile", str(PIDS / "daemon")), env=env, check=True)

def test_cleans_up(tmp_path):
    child = subprocess.Popen(program("sleeper"), stdout=subprocess.DEVNULL)
    child.terminate()
    child.wait()
"""


def test_a_leaking_test_fails_naming_the_process_and_the_process_is_killed(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    for name in ("conftest.py", "helpers.py"):
        shutil.copy(TESTS / name, inner / name)
    shutil.copytree(TESTS / "programs", inner / "programs")
    (inner / "test_inner.py").write_text(f"from pathlib import Path\nPIDS = Path({str(tmp_path)!r})\n{INNER}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(inner)],
        cwd=inner,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "3 passed, 2 errors" in output
    child = int((tmp_path / "child").read_text())
    daemon = int((tmp_path / "daemon").read_text())
    assert "ERROR at teardown of test_leaks_a_child" in output
    assert f"the test left 1 process(es) running (killed now):\n  pid {child}: " in output
    assert f"pid {daemon}: {sys.executable} " in output
    assert "test_cleans_up" not in output.split("short test summary")[-1]

    def dead(pid: int) -> bool:
        return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    wait_until(lambda: dead(child) and dead(daemon), 5, message="the leaked processes to be gone")
