"""`[tool.launcher]` in pyproject.toml, written as ruff's and pytest's settings are: the keys of
[launcher] directly in the table, `[tool.launcher.env]`, `.services.NAME` and `.profiles.NAME`
for the rest; found walking up, run for real, each value's line kept."""

from __future__ import annotations

import sys

import pytest
from helpers import ProjectFactory, cli, free_port_block, program, toml_list

pytestmark = pytest.mark.integration


def pyproject(low: int, high: int) -> str:
    return f"""\
[project]
name = "shop"

[tool.ruff]
line-length = 100

[tool.launcher]
ports = [{low}, {high}]
default_profile = "dev"

[tool.launcher.env]
GREETING = "hello from pyproject"

[tool.launcher.services.web]
command = {toml_list(program("http_ok"))}
port = "auto"
probe = {{ http = "/health" }}

[tool.launcher.services.worker]
command = {toml_list(program("sleeper"))}

[tool.launcher.profiles.dev]
select = ["web"]
"""


def test_settings_directly_in_tool_launcher(project: ProjectFactory) -> None:
    low, high = free_port_block(10)
    root = project(None, {"pyproject.toml": pyproject(low, high)})
    below = root / "src" / "shop"
    below.mkdir(parents=True)
    show = (
        "import os; print('CMD', os.environ['WEB_PORT'], os.environ['GREETING'], 'WORKER_PORT' in os.environ)"
    )
    result = cli(below, "run", "--", sys.executable, "-c", show)
    assert result.returncode == 0, result.stdout + result.stderr
    cmd = next(line for line in result.stdout.splitlines() if line.startswith("CMD "))
    _, port, rest = cmd.split(" ", 2)
    assert low <= int(port) <= high
    assert rest == "hello from pyproject False"
    assert "[worker]" not in result.stdout  # the dev profile selects web alone

    origins = cli(below, "config", "--show-origin")
    assert origins.returncode == 0, origins.stderr
    lines = {line.split()[1].split("=")[0]: line.split()[0] for line in origins.stdout.splitlines()}
    file = root / "pyproject.toml"
    assert lines["launcher.ports"] == f"{file}:8"
    assert lines["launcher.default_profile"] == f"{file}:9"
    assert lines["env.GREETING"] == f"{file}:12"
    assert lines["services.web.port"] == f"{file}:16"


def test_a_pyproject_without_the_table_is_passed_by_on_the_way_up(project: ProjectFactory) -> None:
    low, high = free_port_block(10)
    root = project(None, {"pyproject.toml": pyproject(low, high), "app/pyproject.toml": "[tool.ruff]\n"})
    check = cli(root / "app", "check")
    assert check.returncode == 0, check.stderr
    assert check.stdout == "pyproject.toml: 1 processes (profile dev), configuration is valid\n"
