"""The project's interpreter on real processes (DESIGN.md 1): launcher's child programs run in
an interpreter that has no launcher and no packages at all, a task's `launcher.ready()` reaching
the launcher through the stub; and a command's `uvicorn` is the project's own, for a service
and for `run -- CMD`."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from helpers import Launch, ProjectFactory, cli, stack_project

pytestmark = pytest.mark.integration

WORKER = """\
import asyncio
import json
import sys

import launcher


@launcher.reports_ready
async def run():
    await asyncio.sleep(0.3)  # ready only once it says so, not once it started
    proof = {"launcher": launcher.__file__, "path": sys.path, "modules": sorted(sys.modules)}
    with open(__name__ + ".json", "w") as file:
        json.dump(proof, file)
    launcher.ready()
    await asyncio.Event().wait()
"""


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize("mode", ["multi", "shared"])
def test_tasks_run_in_an_interpreter_without_launcher_or_any_package(
    project: ProjectFactory, launch: Launch, tmp_path: Path, mode: str
) -> None:
    stack = stack_project(project, files={"one.py": WORKER, "two.py": WORKER})
    stack.write("""
        [services.one]
        task = "one:run"

        [services.two]
        task = "two:run"
        """)
    root = stack.root
    # The project's interpreter: this Python without site-packages (-S), so without launcher,
    # pydantic or uvicorn: only the standard library.
    executable(root / ".venv" / "bin" / "python", f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    run = launch(root, "--mode", mode, env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "VIRTUAL_ENV": None})
    run.wait_output("2/2 services ready")
    for name in ("one", "two"):
        proof = json.loads((root / f"{name}.json").read_text())
        stub = tmp_path / "cache" / "launcher" / "child"
        assert Path(proof["launcher"]).is_relative_to(stub), proof["launcher"]
        assert proof["launcher"].endswith("/stub/launcher/__init__.py")
        assert proof["path"][-1].endswith("/stub"), "the stub comes last on the import path"
        assert not any(p.endswith("site-packages") for p in proof["path"])
        assert "launcher_child.task_ready" in proof["modules"]
        assert not any(m == "launcher.child" or m.startswith("launcher.child.") for m in proof["modules"])
    run.signal(2)
    assert run.wait() == 130


def test_a_commands_uvicorn_is_the_projects_for_services_and_run_cmd(project: ProjectFactory) -> None:
    root = project(
        """
        [services.web]
        command = "uvicorn main:app"
        probe = { log = "the project's uvicorn" }
        """
    )
    # The project's environment: its interpreter, and a `uvicorn` that says it ran.
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    ran = root / "ran"
    executable(
        root / ".venv" / "bin" / "uvicorn",
        f'#!/bin/sh\necho "$*" > {ran}\necho "the project\'s uvicorn"\nexec sleep 60\n',
    )
    done = cli(root, "run", "--", "sh", "-c", "command -v uvicorn; command -v python")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ran.read_text() == "main:app\n"
    # `run -- CMD` finds the same first on PATH, as every service does.
    lines = done.stdout.splitlines()
    assert str(root / ".venv/bin/uvicorn") in lines
    assert str(root / ".venv/bin/python") in lines
