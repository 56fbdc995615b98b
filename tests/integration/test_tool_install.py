"""launcher installed once as a tool serves a project whatever it pins (DESIGN.md 1, issue 17).

launcher goes into a virtualenv of its own (as pipx or `uv tool install` put it: `pip install`
of this repository, not editable), and runs a project whose own virtualenv pins pydantic 1 and
an older uvicorn than launcher's: its app, and its task calling `launcher.ready()` through the
stub (the project has no launcher), answer in multi and in shared mode, each with the project's
packages. Both environments are built from the package index this machine reaches (about a
minute); without one the test is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, free_port_block

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PINS = ["pydantic<2", "uvicorn==0.22.*"]

API = """\
import json
import sys

import pydantic
import uvicorn


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = {"pydantic": pydantic.VERSION, "uvicorn": uvicorn.__version__, "path": sys.path}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
"""

WORKER = """\
import asyncio
import json

import pydantic

import launcher


@launcher.reports_ready
async def run():
    with open("worker.json", "w") as file:
        json.dump({"launcher": launcher.__file__, "pydantic": pydantic.VERSION}, file)
    launcher.ready()
    await asyncio.Event().wait()
"""

# Run by `launcher run -- python client.py`: `python` is the project's (its bin first on PATH).
CLIENT = """\
import json
import os
import sys
import urllib.request

with urllib.request.urlopen(os.environ["API_URL"] + "/", timeout=10) as answer:
    api = json.load(answer)
with open("worker.json") as file:
    worker = json.load(file)
with open("client.json", "w") as file:
    json.dump({"api": api, "worker": worker, "python": sys.executable}, file)
"""


def pip_install(python: Path, *args: str) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"pip install {' '.join(args)}:\n{done.stdout}{done.stderr}"


def venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """launcher's own environment (its `launcher` script) and the project's directory."""
    base = tmp_path_factory.mktemp("tool-install")
    # A quick probe: without an index, pip would retry for minutes.
    download = ["download", "-q", "--no-deps", "--retries", "0", "--timeout", "15", "-d", str(base / "probe")]
    argv = [sys.executable, "-m", "pip", *download, "uvicorn==0.22.0"]
    probe = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["pip download failed"])[-1]
        pytest.skip(f"the package index cannot be reached: {why}")
    pip_install(venv(base / "tool"), str(REPO))
    project = base / "project"
    pip_install(venv(project / ".venv"), *PINS)
    low, high = free_port_block()
    (project / "launcher.toml").write_text(
        f'[launcher]\nports = [{low}, {high}]\n\n[services.api]\napp = "api:app"\nport = "auto"\n\n'
        '[services.worker]\ntask = "worker:run"\n'
    )
    for name, text in {"api.py": API, "worker.py": WORKER, "client.py": CLIENT}.items():
        (project / name).write_text(text)
    return base / "tool" / "bin" / "launcher", project


def tool(launcher: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    environ.update(NO_COLOR="1", XDG_CACHE_HOME=str(project.parent / "cache"))
    return subprocess.run(
        [str(launcher), *args], cwd=project, env=environ, capture_output=True, text=True, timeout=180
    )


def test_the_tool_checks_the_project(installed: tuple[Path, Path]) -> None:
    done = tool(*installed, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "configuration is valid" in done.stdout


@pytest.mark.parametrize("mode", ["multi", "shared"])
def test_the_projects_app_and_task_run_with_its_own_packages(installed: tuple[Path, Path], mode: str) -> None:
    launcher, project = installed
    for proof in ("worker.json", "client.json"):
        (project / proof).unlink(missing_ok=True)
    done = tool(launcher, project, "run", "--mode", mode, "--", "python", "client.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"mode {mode}" in done.stdout
    seen = json.loads((project / "client.json").read_text())
    assert seen["python"] == str(project / ".venv" / "bin" / "python")
    assert seen["api"]["pydantic"].startswith("1.")
    assert seen["api"]["uvicorn"].startswith("0.22.")
    assert seen["worker"]["pydantic"].startswith("1.")
    assert seen["worker"]["launcher"].endswith("/stub/launcher/__init__.py")
    tool_environment = str(launcher.parents[1])
    assert not [p for p in seen["api"]["path"] if p.startswith(tool_environment)]
