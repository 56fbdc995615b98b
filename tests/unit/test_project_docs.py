"""The docs keep up with the code: every error code is catalogued, CI runs the README's command."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_every_error_code_the_code_raises_is_in_the_catalogue() -> None:
    sources = (path.read_text() for path in (REPO / "launcher").rglob("*.py"))
    raised = {code for text in sources for code in re.findall(r"LCH-\d{4}", text)}
    catalogued = set(re.findall(r"^### (LCH-\d{4})", (REPO / "docs" / "errors.md").read_text(), re.M))
    assert sorted(raised - catalogued) == [], "add a section to docs/errors.md for these"
    assert sorted(catalogued - raised) == [], "docs/errors.md lists codes that nothing raises"


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    readme = (REPO / "README.md").read_text().splitlines()
    commands = [line for line in readme[:10] if line.startswith("python3 -m venv .venv && ")]
    assert len(commands) == 2, "the README opens with the demo command and the test command"
    demo, tests = commands
    assert demo.endswith(".venv/bin/python -m launcher run full")
    assert tests.endswith(".venv/bin/python -m pytest -q")
    assert f'"{tests}"' in (REPO / ".ci" / "run").read_text()
