"""The repository's own demo stack, as the README runs it: `launcher run full -- CMD`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_demo

pytestmark = pytest.mark.integration

# Polls the gateway until the agents have written and approved a chapter (bounded).
CHECK = """
import json, os, sys, time, urllib.request
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    chapters = json.load(urllib.request.urlopen(os.environ["API_GATEWAY_URL"] + "/chapters"))
    if chapters:
        # One write: CMD shares stdout with the launcher's relayed lines.
        print("chapter: " + chapters[0]["title"], flush=True)
        sys.exit(0)
    time.sleep(0.1)
sys.exit(3)
"""


@pytest.mark.parametrize("mode", ["multi", "shared"])
def test_run_full_serves_the_demo_and_the_agents_do_their_work(mode: str, tmp_path: Path) -> None:
    project = copy_demo(tmp_path / "repo")
    result = subprocess.run(
        [sys.executable, "-m", "launcher", "run", "full", "--mode", mode, "--", sys.executable, "-c", CHECK],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "chapter: The first chapter" in result.stdout
    assert f"mode {mode}: set in the configuration or with --mode" in result.stdout
    # Shared mode adds the host process; every service still reports (and prints) as itself.
    # The configured services in both modes: the shared host is infrastructure, not counted.
    assert "4/4 services ready" in result.stdout
    assert "reviewer: approved job 1" in result.stdout
    assert any(line.startswith("reviewer_agent") for line in _untimed(result.stdout))
    if mode == "shared":
        assert "api_gateway    | INFO:     gateway: database closed" in result.stdout
    # Torn down in reverse order: the agents before the gateway.
    lines = result.stdout.splitlines()
    gateway_stop = next(i for i, line in enumerate(lines) if "[api_gateway] ready -> stopping" in line)
    assert all(i < gateway_stop for i, line in enumerate(lines) if "_agent] stopping -> stopped" in line)


def _untimed(stdout: str) -> list[str]:
    """The lines without their `HH:MM:SS ` time."""
    return [line[9:] for line in stdout.splitlines()]
