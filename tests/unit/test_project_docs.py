"""The docs keep up with the code: CI runs the README's command. (The error codes of
docs/errors.md: test_vocabulary.py.)"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).parents[2]


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    readme = (REPO / "README.md").read_text().splitlines()
    commands = [line for line in readme[:10] if line.startswith("python3 -m venv .venv && ")]
    assert len(commands) == 2, "the README opens with the demo command and the test command"
    demo, tests = commands
    assert demo.endswith(".venv/bin/python -m launcher run full")
    assert tests.endswith(".venv/bin/python -m pytest -q")
    assert f'"{tests}"' in (REPO / ".ci" / "run").read_text()
