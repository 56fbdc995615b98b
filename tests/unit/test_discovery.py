"""Finding the configuration (launcher.toml, then pyproject.toml with [tool.launcher], then a
Procfile, in each directory from here up), the project a client command acts on (a running
stack's state file first), and pyproject.toml's [tool.launcher] read as a launcher.toml."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest

from launcher.config import discovery
from launcher.config.procfile import procfile_document
from launcher.config.sources import Document, parse_toml, pyproject_document
from launcher.control import client
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.core.errors import ConfigError
from launcher.runtime import registry


def test_each_directory_is_asked_for_launcher_toml_then_pyproject_then_procfile(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert discovery.find_config(str(deep)) is None
    (tmp_path / "Procfile").write_text("web: x\n")
    assert discovery.find_config(str(deep)) == str(tmp_path / "Procfile")
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\n[tool.launcherx]\n")  # not ours
    assert discovery.find_config(str(deep)) == str(tmp_path / "Procfile")
    (tmp_path / "pyproject.toml").write_text("[ tool.launcher.services.web ]\ncommand = 'x'\n")
    assert discovery.find_config(str(deep)) == str(tmp_path / "pyproject.toml")
    (tmp_path / "launcher.toml").write_text("")
    assert discovery.find_config(str(deep)) == str(tmp_path / "launcher.toml")
    (tmp_path / "a" / "Procfile").write_text("web: x\n")  # nearer wins, whatever its kind
    assert discovery.find_config(str(deep)) == str(tmp_path / "a" / "Procfile")


def test_a_procfile_is_any_file_that_is_not_toml() -> None:
    assert discovery.is_procfile("/p/Procfile")
    assert discovery.is_procfile("Procfile.dev")
    assert not discovery.is_procfile("/p/pyproject.toml")


def test_nothing_found_names_every_kind_of_file(tmp_path: Path) -> None:
    error = discovery.not_found(str(tmp_path), "hint")
    assert str(error).startswith(f"error[LCH-1015]: no launcher.toml found in {tmp_path} or any parent")
    assert "pyproject.toml with [tool.launcher]" in str(error)
    assert "Procfile" in str(error)


def state_file(root: Path, config: Path) -> None:
    (root / ".launcher").mkdir(parents=True)
    (root / ".launcher" / "state.json").write_text(json.dumps({"config": str(config), "pid": 1}))


def test_a_client_command_finds_a_running_stack_by_its_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))  # an empty registry
    root = tmp_path / "shop"
    deep = root / "src" / "shop"
    deep.mkdir(parents=True)
    (root / "Procfile.dev").write_text("web: x\n")  # no walk finds it
    with pytest.raises(ConfigError, match="LCH-1015"):
        client.project_root(None, str(deep))
    state_file(root, root / "Procfile.dev")
    assert client.project_root(None, str(deep)) == str(root)
    assert client.project_root(None, str(root)) == str(root)
    # -f still names the project.
    (tmp_path / "launcher.toml").write_text("")
    assert client.project_root("../../../launcher.toml", str(deep)) == str(tmp_path)


def test_then_the_registry_then_the_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack listed in the per-user registry whose project holds the working directory, when
    no state file is on the way up (here the project's directory is reached through a link)."""
    environ = {"XDG_RUNTIME_DIR": str(tmp_path / "runtime")}
    monkeypatch.setenv("XDG_RUNTIME_DIR", environ["XDG_RUNTIME_DIR"])
    real = tmp_path / "real"
    (real / "src").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "launcher.toml").write_text("")
    below = str(tmp_path / "link" / "src")
    assert client.project_root(None, below) == str(tmp_path)  # the configuration found
    me = psutil.Process()
    registry.register(real, "real", me.pid, me.create_time(), environ)
    try:
        assert client.project_root(None, below) == os.path.realpath(real)
    finally:
        registry.unregister(real, me.pid, environ)


PYPROJECT = """\
[project]
name = "shop"

[tool.launcher]
name = "shop"
ports = [9000, 9010]
env = { A = "1" }

[tool.launcher.services.web]
command = "x"

[tool.launcher.profiles.dev]
select = ["web"]
"""


def test_tool_launcher_holds_the_settings_and_the_sections_beside_them(tmp_path: Path) -> None:
    parsed = parse_toml(tmp_path / "pyproject.toml", "pyproject.toml", PYPROJECT)
    assert isinstance(parsed, Document)
    document = pyproject_document(parsed)
    assert isinstance(document, Document)
    assert document.data == {
        "launcher": {"name": "shop", "ports": [9000, 9010]},
        "env": {"A": "1"},
        "services": {"web": {"command": "x"}},
        "profiles": {"dev": {"select": ["web"]}},
    }
    lines = {key: document.origin(key).line for key in document.origins}
    assert lines[("launcher",)] == 4
    assert lines[("launcher", "ports")] == 6
    assert lines[("env", "A")] == 7
    assert lines[("services", "web", "command")] == 10
    assert lines[("profiles", "dev", "select")] == 13


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[project]\nname = 'x'\n", "has no [tool.launcher] table"),
        ("[tool.launcher.launcher]\nports = [1, 2]\n", "the settings go directly in [tool.launcher]"),
    ],
)
def test_a_pyproject_it_cannot_read(tmp_path: Path, text: str, message: str) -> None:
    parsed = parse_toml(tmp_path / "pyproject.toml", "pyproject.toml", text)
    assert isinstance(parsed, Document)
    problem = pyproject_document(parsed)
    assert isinstance(problem, Diagnostic)
    assert message in problem.message
    assert problem.origin.file == "pyproject.toml"


def test_a_procfiles_release_runs_first_and_web_gets_a_port() -> None:
    text = "release: ./migrate\nweb: ./serve\nworker: ./work --port $PORT\n"
    document = procfile_document(Path("Procfile"), "Procfile", text)
    assert isinstance(document, Document)
    assert document.data["services"] == {
        "release": {"command": "./migrate", "shell": True, "oneshot": True},
        "web": {"command": "./serve", "shell": True, "port": "auto", "depends_on": ["release"]},
        "worker": {
            "command": "./work --port $PORT",
            "shell": True,
            "port": "auto",
            "depends_on": ["release"],
        },
    }
    assert document.origin(("services", "worker", "depends_on")) == Origin("Procfile", 3)
    without = procfile_document(Path("Procfile"), "Procfile", "web: ./serve\n")
    assert isinstance(without, Document)
    assert without.data["services"]["web"] == {"command": "./serve", "shell": True, "port": "auto"}
