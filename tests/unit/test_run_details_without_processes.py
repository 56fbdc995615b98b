"""The smaller points of issue 17, without processes: where a `cmd` probe runs (the plan),
what `--watch` of a top-level module watches, and `.launcher/`'s `.gitignore`. Their runs with
real processes: tests/integration/test_run_details.py."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import ProjectFactory

from launcher.config.loader import load
from launcher.plan.compiler import build_plan
from launcher.runtime import statefile
from launcher.runtime.reload import _resolved

STACK = """
[services.worker]
command = "python -m worker"
cwd = "services/worker"
env = { QUEUE = "jobs" }
probe = { cmd = "python -m worker.ping" }
liveness = { cmd = "python -m worker.alive" }

[services.api]
command = "python -m api"
port = 8123
probe = { http = "/health" }
"""


def test_a_cmd_probe_runs_in_its_services_cwd_with_its_services_environment(project: ProjectFactory) -> None:
    root = project(STACK, {"services/worker/.keep": ""})
    plan = build_plan(load(root / "launcher.toml", environ={}), mode="multi", python="/venv/bin/python")
    worker = plan.spec("worker")
    for probe in (worker.probe, worker.liveness):
        assert probe is not None
        assert probe.cwd == root / "services" / "worker" == worker.cwd
        assert probe.env == worker.env
        assert probe.env is not None
        assert probe.env["QUEUE"] == "jobs"
    # Only a command runs anywhere: the other kinds carry neither.
    api_probe = plan.spec("api").probe
    assert api_probe is not None
    assert (api_probe.cwd, api_probe.env) == (None, None)


def test_watch_of_a_top_level_module_is_every_python_file_beside_it(tmp_path: Path) -> None:
    for name in ("main.py", "settings.py", "models.py", "README.md", "pkg/__init__.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    beside = [tmp_path / n for n in ("main.py", "models.py", "settings.py")]
    assert _resolved(tmp_path / "main") == tuple(beside)
    # A package, a file named as it is, and a path that does not exist stay what they are.
    assert _resolved(tmp_path / "pkg") == (tmp_path / "pkg",)
    assert _resolved(tmp_path / "settings.py") == (tmp_path / "settings.py",)
    assert _resolved(tmp_path / "gone") == (tmp_path / "gone",)


def test_the_state_directory_is_made_with_a_gitignore_of_everything(tmp_path: Path) -> None:
    directory = statefile.make_state_dir(tmp_path)
    assert directory == tmp_path / ".launcher"
    assert (directory / ".gitignore").read_text() == "*\n"
    assert directory.stat().st_mode & 0o777 == 0o700


def test_an_existing_gitignore_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / ".launcher").mkdir()
    (tmp_path / ".launcher" / ".gitignore").write_text("*\n!notes.md\n")
    statefile.make_state_dir(tmp_path)
    assert (tmp_path / ".launcher" / ".gitignore").read_text() == "*\n!notes.md\n"


def test_a_directory_an_older_launcher_left_gets_one_at_the_next_claim(tmp_path: Path) -> None:
    (tmp_path / ".launcher" / "logs").mkdir(parents=True)
    fd = statefile.lock(tmp_path)
    assert fd is not None
    os.close(fd)
    assert (tmp_path / ".launcher" / ".gitignore").read_text() == "*\n"
