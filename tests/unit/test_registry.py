"""The per-user registry of running stacks (launcher/runtime/registry.py) and what `launcher ls`
makes of it (launcher/cli/ls.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from launcher.cli import ls
from launcher.runtime import registry


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"XDG_RUNTIME_DIR": str(tmp_path / "run")}


def me() -> tuple[int, float]:
    return os.getpid(), psutil.Process().create_time()


def dead_process() -> tuple[int, float]:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(process.pid).create_time()
    process.wait()
    return process.pid, created


def test_the_registry_is_under_the_runtime_directory_else_the_cache_directory(tmp_path: Path) -> None:
    home = os.path.expanduser("~")
    assert registry.directory({"XDG_RUNTIME_DIR": "/run/user/1000"}) == "/run/user/1000/launcher/stacks"
    assert registry.directory({"XDG_CACHE_HOME": "/c"}) == "/c/launcher/stacks"
    assert registry.directory({}) == f"{home}/.cache/launcher/stacks"
    # Relative values are ignored, as the XDG base directory specification says.
    assert (
        registry.directory({"XDG_RUNTIME_DIR": "run", "XDG_CACHE_HOME": "c"})
        == f"{home}/.cache/launcher/stacks"
    )


def test_a_registered_stack_is_listed_until_it_unregisters(tmp_path: Path, environ: dict[str, str]) -> None:
    pid, created = me()
    (tmp_path / "a").mkdir()
    registry.register(tmp_path / "a", "shop", pid, created, environ)
    entries = registry.entries(environ)
    assert entries == [
        {"root": str((tmp_path / "a").resolve()), "stack": "shop", "pid": pid, "create_time": created}
    ]
    directory = Path(registry.directory(environ))
    assert directory.stat().st_mode & 0o777 == 0o700
    assert directory.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in directory.iterdir()] == [
        Path(registry.entry_path(tmp_path / "a", pid, environ)).name
    ]
    registry.unregister(tmp_path / "a", pid, environ)
    assert registry.entries(environ) == []
    assert list(directory.iterdir()) == []


def test_entries_of_a_dead_launcher_are_reaped_and_the_next_launchers_entry_is_kept(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    dead_pid, dead_created = dead_process()
    pid, created = me()
    registry.register(tmp_path, "old", dead_pid, dead_created, environ)
    registry.register(tmp_path, "new", pid, created, environ)  # the same project, started again
    assert [e["stack"] for e in registry.entries(environ)] == ["new"]
    assert len(os.listdir(registry.directory(environ))) == 1


def test_a_reused_pid_is_not_the_launcher_that_registered(tmp_path: Path, environ: dict[str, str]) -> None:
    pid, created = me()
    registry.register(tmp_path, "shop", pid, created - 3600, environ)  # this pid, another start
    assert registry.entries(environ) == []
    assert registry.alive(pid, created)
    assert not registry.alive(pid, created - 3600)
    assert not registry.alive(dead_process()[0], created)


def test_unreadable_entries_are_removed(tmp_path: Path, environ: dict[str, str]) -> None:
    directory = Path(registry.directory(environ))
    directory.mkdir(parents=True)
    (directory / "x.1.json").write_text("{not json")
    (directory / "y.2.json").write_text('{"root": 1}')
    (directory / "z.3.json.4.tmp").write_text("")  # a write in progress: not an entry
    assert registry.entries(environ) == []
    assert sorted(os.listdir(directory)) == ["z.3.json.4.tmp"]


def test_the_stack_holding_a_directory_is_the_innermost_one(tmp_path: Path, environ: dict[str, str]) -> None:
    pid, created = me()
    outer, inner, other = tmp_path / "outer", tmp_path / "outer" / "inner", tmp_path / "outerwear"
    for directory in (inner / "src", other):
        directory.mkdir(parents=True)
    registry.register(outer, "outer", pid, created, environ)
    registry.register(inner, "inner", pid, created, environ)
    assert (registry.containing(str(inner / "src"), environ) or {}).get("stack") == "inner"
    assert (registry.containing(str(outer), environ) or {}).get("stack") == "outer"
    assert registry.containing(str(other), environ) is None


def test_ls_rows_take_the_live_figures_from_the_state_file() -> None:
    entry: registry.Entry = {"root": "/p", "stack": "shop", "pid": 42, "create_time": 1.0}
    state = {
        "stack": "shop",
        "pid": 42,
        "state": "running",
        "profile": "ci",
        "mode": "multi",
        "services": [{"state": "ready"}, {"state": "completed"}, {"state": "starting"}],
    }
    row = ls.row(entry, state)
    assert row == {
        "project": "/p",
        "stack": "shop",
        "profile": "ci",
        "mode": "multi",
        "state": "running",
        "ready": 2,
        "total": 3,
        "pid": 42,
    }
    # A state file of another launcher (or none): what the registry knows.
    assert ls.row(entry, {**state, "pid": 7})["state"] == "unknown"
    assert ls.row(entry, None)["total"] == 0
    text = ls.render([row, {**row, "stack": "blog", "profile": None, "project": "/q"}])
    assert text.splitlines() == [
        "STACK  PROFILE  MODE   STATE    READY  PID  PROJECT",
        "shop   ci       multi  running  2/3    42   /p",
        "blog   -        multi  running  2/3    42   /q",
    ]
