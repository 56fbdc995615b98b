"""The multi-mode runner of `task` services (`python -m launcher.child.task_runner`), on real
processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import wait_until

pytestmark = pytest.mark.integration

TASKS = """
import asyncio, os, sys

async def returns():
    print("done", flush=True)

async def raises():
    raise RuntimeError("boom")

def not_async():
    pass

async def needs_argument(x):
    pass

async def forever():
    try:
        print("running", flush=True)
        await asyncio.sleep(3600)
    finally:
        open(os.environ["MARKER"], "w").write("cleaned up")
"""


def runner(tmp_path: Path, target: str, **popen: object) -> subprocess.Popen[str]:
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    return subprocess.Popen(
        [sys.executable, "-m", "launcher.child.task_runner", "--app-dir", str(tmp_path), target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "MARKER": str(tmp_path / "marker")},
        **popen,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("target", "code", "stderr"),
    [
        ("tasks:returns", 0, ""),
        ("tasks:raises", 1, "RuntimeError: boom"),
        ("tasks:not_async", 2, "must be an async function taking no required arguments"),
        ("tasks:needs_argument", 2, "must be an async function taking no required arguments"),
        ("tasks:missing", 2, "'tasks' has no attribute 'missing'"),
        ("nowhere:run", 2, "no module named 'nowhere'"),
        ("tasks", 2, "is not of the form 'module:attr'"),
    ],
)
def test_exit_codes_and_messages(tmp_path: Path, target: str, code: int, stderr: str) -> None:
    process = runner(tmp_path, target)
    _, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert stderr in err


def test_sigterm_cancels_the_task_and_its_cleanup_runs(tmp_path: Path) -> None:
    process = runner(tmp_path, "tasks:forever")
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "running"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        wait_until(lambda: (tmp_path / "marker").exists(), 5, message="the task's finally block to run")
        assert (tmp_path / "marker").read_text() == "cleaned up"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
