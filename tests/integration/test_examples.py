"""The CI recipes of examples/ci/github-actions.yml, run for real: the steps marked "runs in
launcher's own CI" are taken from the file and executed as they are written, in a copy of
the repository's demo project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_demo

REPO = Path(__file__).parents[2]
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yml"
MARK = "# runs in launcher's own CI"
pytestmark = pytest.mark.integration


def marked_steps(text: str) -> list[tuple[str, str]]:
    """(name, run) of every step that follows the mark."""
    steps = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == MARK:
            name = re.sub(r"^\s*- name:\s*", "", lines[i + 1])
            run = re.sub(r"^\s*run:\s*", "", lines[i + 2])
            steps.append((name, run))
    return steps


STEPS = marked_steps(WORKFLOW.read_text())


def test_the_workflow_marks_both_recipes() -> None:
    runs = [run for _, run in STEPS]
    assert runs == [
        "python -m launcher run ci -- python -m pytest -q examples/smoke",
        "cd examples && python -m pytest -q",
    ]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "demo")


@pytest.mark.parametrize(("name", "run"), STEPS, ids=[n for n, _ in STEPS])
def test_recipe(demo: Path, name: str, run: str) -> None:
    # `python` of the workflow is this interpreter, as actions/setup-python makes it.
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        ["bash", "-c", run],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        start_new_session=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"\b3 passed\b", output), output
    assert "skipped" not in output, output
