"""The project's interpreter (DESIGN.md 1): which one, what runs in it and how, its bin directory
first on PATH, and what `check` and `run` ask it before anything starts."""

from __future__ import annotations

import contextvars
import importlib.util
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest
from helpers import ProjectFactory

from launcher.child import task_ready
from launcher.config.loader import load
from launcher.core.errors import ConfigError, LauncherError
from launcher.plan import childside
from launcher.plan.compiler import build_plan
from launcher.plan.interpreter import project_python
from launcher.plan.spec import Plan
from launcher.runtime import childpath, interpreter
from launcher.runtime.environment import launcher_environment

STACK = """
[services.api]
app = "api:app"
port = 8123

[services.worker]
task = "jobs:run"

[services.web]
command = "uvicorn main:app"
"""


def executable(path: Path, text: str = "#!/bin/sh\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# Which interpreter.


def test_a_configured_path_is_relative_to_the_project_and_a_word_is_looked_up_on_path(tmp_path: Path) -> None:
    tool = executable(tmp_path / "bin" / "python3.9")
    assert project_python(tmp_path, "env/bin/python", {}) == str(tmp_path / "env" / "bin" / "python")
    assert project_python(tmp_path, "./py", {}) == str(tmp_path / "py")
    assert project_python(tmp_path, "python3.9", {"PATH": str(tool.parent)}) == str(tool)
    # Not found: as written, so that the error of running it names what the user wrote.
    assert project_python(tmp_path, "python3.9", {"PATH": str(tmp_path)}) == "python3.9"


def test_the_default_is_the_venv_beside_the_config_then_virtual_env_then_launchers(tmp_path: Path) -> None:
    active = executable(tmp_path / "active" / "bin" / "python")
    root = tmp_path / "project"
    root.mkdir()
    assert project_python(root, None, {}) == sys.executable
    assert project_python(root, None, {"VIRTUAL_ENV": str(tmp_path / "gone")}) == sys.executable
    assert project_python(root, None, {"VIRTUAL_ENV": str(active.parents[1])}) == str(active)
    venv = executable(root / ".venv" / "bin" / "python")
    assert project_python(root, None, {"VIRTUAL_ENV": str(active.parents[1])}) == str(venv)
    assert project_python(root, "custom/python", {}) == str(root / "custom" / "python")


# How it runs launcher's child programs.


def test_the_plan_runs_apps_tasks_and_the_host_with_the_projects_interpreter(
    project: ProjectFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = project(STACK)
    venv = executable(root / ".venv" / "bin" / "python")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    loaded = load(root / "launcher.toml")
    plan = build_plan(loaded, environ=os.environ)
    child = plan.child_dir
    assert plan.python == str(venv)
    assert child is not None
    assert child.parent == tmp_path / "cache" / "launcher" / "child"
    assert plan.spec("api").argv[:3] == (str(venv), "-m", "uvicorn")
    runner = (str(venv), str(child / "run"), "task_runner")
    assert plan.spec("worker").argv == (*runner, "--app-dir", ".", "jobs:run")
    assert plan.spec("web").argv == ("uvicorn", "main:app")  # PATH finds the project's
    # Nothing is added to the environment for it: the task's own children get the project's.
    assert "PYTHONPATH" not in plan.spec("worker").env
    shared = build_plan(loaded, environ=os.environ, mode="shared")
    assert shared.spec("shared-host").argv[:3] == (str(venv), str(child / "run"), "shared_host")
    assert shared.child_dir == child


def test_where_launcher_is_installed_the_children_run_its_modules(project: ProjectFactory) -> None:
    # Exports name their target's interpreter, where launcher is installed.
    plan = build_plan(load(project(STACK) / "launcher.toml"), python="python", mode="shared")
    assert plan.child_dir is None
    assert plan.spec("shared-host").argv[:3] == ("python", "-m", "launcher.child.shared_host")
    task = build_plan(load(plan.config_path), python="python").spec("worker")
    assert task.argv[:3] == ("python", "-m", "launcher.child.task_runner")


def test_the_cache_directory_follows_xdg_and_names_the_installation(tmp_path: Path) -> None:
    side = childside.in_cache("py", {"XDG_CACHE_HOME": str(tmp_path)})
    assert side.directory is not None
    assert side.directory.parent == tmp_path / "launcher" / "child"
    assert side == childside.in_cache("py", {"XDG_CACHE_HOME": str(tmp_path)})  # deterministic
    home = childside.in_cache("py", {"XDG_CACHE_HOME": "relative/ignored"}).directory
    assert home == Path(os.path.expanduser("~"), ".cache", "launcher", "child", side.directory.name)


def test_the_directory_is_written_once_with_the_programs_and_the_stub(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "key"
    childpath.ensure(target)
    assert sorted(p.name for p in target.iterdir()) == ["run", "stub"]
    assert sorted(p.name for p in (target / "run").iterdir()) == ["__main__.py", "launcher_child"]
    assert (target / "run" / "launcher_child").resolve() == childside.source()
    assert (target / "stub" / "launcher" / "__init__.py").read_text() == childside.STUB_TEXT
    assert [p.name for p in target.parent.iterdir()] == ["key"]  # no temporary left behind
    (target / "run" / "__main__.py").write_text("# kept")
    childpath.ensure(target)  # there already: left alone
    assert (target / "run" / "__main__.py").read_text() == "# kept"


def test_an_unwritable_cache_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LauncherError, match="XDG_CACHE_HOME"):
        childpath.ensure(blocker / "key")


def loaded(
    monkeypatch: pytest.MonkeyPatch, name: str, path: Path, search: list[str] | None = None
) -> ModuleType:
    """The module at `path` imported as `name`, until the test ends."""
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=search)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_ready_in_a_launcher_installed_in_the_project_tells_the_childs_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The child runs launcher_child; a task that imports the project's own launcher calls
    # launcher.child.task_ready.ready(), which must reach the copy's notifier.
    source = childside.source()
    loaded(monkeypatch, "launcher_child", source / "__init__.py", [str(source)])
    copy = loaded(monkeypatch, "launcher_child.task_ready", source / "task_ready.py")
    assert copy is not task_ready
    told: list[str] = []

    def in_task() -> None:
        copy.notifier.set(lambda: told.append("ready"))
        task_ready.ready()

    contextvars.copy_context().run(in_task)
    assert told == ["ready"]
    task_ready.ready()  # outside any task: nothing to tell
    assert told == ["ready"]


# The PATH.


def test_the_interpreters_bin_directory_comes_first_on_path_once() -> None:
    env = launcher_environment({"PATH": "/usr/bin:/bin", "X": "1"}, "/p/.venv/bin/python")
    assert env == {"PATH": "/p/.venv/bin:/usr/bin:/bin", "X": "1"}
    assert launcher_environment(env, "/p/.venv/bin/python")["PATH"] == env["PATH"]
    assert launcher_environment({}, "/p/.venv/bin/python")["PATH"] == "/p/.venv/bin"
    assert launcher_environment({"PATH": "/bin"})["PATH"] == f"{Path(sys.executable).parent}:/bin"


# What it is asked before anything runs.


def fake_python(path: Path, answer: str) -> str:
    """An 'interpreter' that answers the question as one with `answer` installed would."""
    return str(executable(path, f"#!/bin/sh\necho '{answer}'\n"))


def planned(root: Path, python: str, config: str = STACK) -> Plan:
    (root / "launcher.toml").write_text(f'[launcher]\npython = "{python}"\n{config}')
    return build_plan(load(root / "launcher.toml"), environ={})


def test_an_interpreter_without_uvicorn_is_refused_with_the_command_that_installs_it(
    project: ProjectFactory,
) -> None:
    root = project(STACK)
    python = fake_python(root / "env" / "bin" / "python", "uvicorn -")
    with pytest.raises(ConfigError) as info:
        interpreter.require(planned(root, python))
    assert info.value.codes == ["LCH-1038"]
    message = str(info.value)
    assert "interpreter env/bin/python has no uvicorn, which launcher needs to serve the apps here" in message
    assert f"`{python} -m pip install uvicorn`" in message


def test_an_older_uvicorn_is_refused_and_a_version_it_cannot_read_is_let_be(project: ProjectFactory) -> None:
    root = project(STACK)
    with pytest.raises(ConfigError, match=r"has uvicorn 0\.20\.0; launcher needs 0\.22 or later") as info:
        interpreter.require(planned(root, fake_python(root / "old", "uvicorn 0.20.0")))
    assert "pip install 'uvicorn>=0.22'" in str(info.value)
    interpreter.require(planned(root, fake_python(root / "new", "uvicorn 0.22.0")))
    interpreter.require(planned(root, fake_python(root / "vendored", "uvicorn ?")))


def test_an_interpreter_that_cannot_run_is_refused_for_apps_and_tasks_alike(project: ProjectFactory) -> None:
    root = project(STACK)
    with pytest.raises(ConfigError, match=r"interpreter gone/python cannot be run \(No such file"):
        interpreter.require(planned(root, "gone/python"))
    tasks = '[services.worker]\ntask = "jobs:run"\n'
    with pytest.raises(ConfigError, match="cannot be run"):
        interpreter.require(planned(root, "gone/python", tasks))
    interpreter.require(planned(root, "gone/python", '[services.web]\ncommand = "web"\n'))  # nothing asked


def test_launchers_own_interpreter_is_asked_in_process(
    project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(STACK)
    plan = planned(root, sys.executable)
    interpreter.require(plan)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *rest: None if name == "uvicorn" else real(name, *rest)
    )
    with pytest.raises(ConfigError, match="has no uvicorn"):
        interpreter.require(plan)


def test_a_real_interpreter_is_asked_without_importing(tmp_path: Path) -> None:
    # Another interpreter (here this one, by another path) answers through a subprocess.
    other = tmp_path / "python"
    other.symlink_to(sys.executable)
    found = interpreter.installed(str(other), ["json", "no_such_module_here"], tmp_path)
    assert found == {"json": "", "no_such_module_here": None}
