"""The load benchmark, bounded for CI: a stack probed fast while the control API is busy loses
no check and leaves nothing behind. Timings are the benchmark's business (benchmarks/load.py,
figures in benchmarks/README.md): this test asserts none."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
LOAD = Path(__file__).parents[2] / "benchmarks" / "load.py"


@pytest.mark.timeout(180)
def test_a_bounded_load_run_fails_no_check_and_leaves_nothing() -> None:
    done = subprocess.run(
        [sys.executable, str(LOAD), "--services", "20", "--duration", "3", "--status-rate", "50"],
        capture_output=True,
        text=True,
        timeout=170,
    )
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1), output  # 1: a timing target missed, not asserted here
    assert "Traceback" not in output
    windows = re.findall(r"liveness checks (\d+)/s \(of [\d.]+/s asked\), (\d+) failed", output)
    assert len(windows) == 3, output
    assert all(int(checks) > 0 and failed == "0" for checks, failed in windows), output
    assert re.search(r"GET /v1/status: \d+ requests \(\d+/s\)", output), output
    assert "nothing left running: PASS" in output, output
