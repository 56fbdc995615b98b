"""`launcher ls` over real stacks, the project directory in `status`, and the shell completion
scripts of `launcher completion` loaded in the shells."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Launch, ProjectFactory, wait_until

pytestmark = pytest.mark.integration

BIN = str(Path(sys.executable).parent)  # where the `launcher` console script is


def launcher(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def listed(cwd: Path, env: dict[str, str]) -> list[dict[str, object]]:
    result = launcher(cwd, env, "ls", "--json")
    assert result.returncode == 0, result.stderr
    stacks: list[dict[str, object]] = json.loads(result.stdout)
    return stacks


def test_ls_lists_the_stacks_of_two_projects_and_forgets_a_killed_one(
    project: ProjectFactory, launch: Launch, tmp_path: Path
) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "runtime")}
    config = '[launcher]\nname = "demo"\n[services.web]\ncommand = "sleep 300"\n'
    first, second = project(config, name="one"), project(config, name="two")
    runs = [launch(root, env=env) for root in (first, second)]
    for run in runs:
        run.wait_output("1/1 services ready")
    wait_until(lambda: len(listed(tmp_path, env)) == 2, 10, message="both stacks listed")
    # Two copies of one project: the same stack name, told apart by their directories.
    assert [
        (s["project"], s["stack"], s["state"], s["ready"], s["total"]) for s in listed(tmp_path, env)
    ] == [
        (str(first.resolve()), "demo", "running", 1, 1),
        (str(second.resolve()), "demo", "running", 1, 1),
    ]
    table = launcher(tmp_path, env, "ls").stdout.splitlines()
    assert table[0].split() == ["STACK", "PROFILE", "MODE", "STATE", "READY", "PID", "PROJECT"]
    assert table[1].split() == [
        "demo",
        "-",
        "multi",
        "running",
        "1/1",
        str(runs[0].process.pid),
        str(first.resolve()),
    ]

    os.killpg(runs[0].process.pid, signal.SIGKILL)  # no clean-up of its own
    runs[0].process.wait(10)
    assert [s["project"] for s in listed(tmp_path, env)] == [str(second.resolve())]
    assert len(os.listdir(tmp_path / "runtime" / "launcher" / "stacks")) == 1  # its file reaped

    runs[1].signal(signal.SIGTERM)
    assert runs[1].wait() == 143
    assert os.listdir(tmp_path / "runtime" / "launcher" / "stacks") == []  # removed as it stopped
    assert launcher(tmp_path, env, "ls").stdout == "no stack is running (of this user, on this machine)\n"


def test_status_names_the_project_directory(project: ProjectFactory, launch: Launch, tmp_path: Path) -> None:
    root = project('[services.web]\ncommand = "sleep 300"\n')
    launch(root).wait_output("1/1 services ready")
    state = root / ".launcher" / "state.json"
    wait_until(lambda: state.exists() and '"api": "' in state.read_text(), 10, message="the API socket")
    head = launcher(root, {}, "status").stdout.splitlines()[0]
    assert head.endswith(f", in {root}")


COMPLETED_PROJECT = """\
[services.api]
command = "sleep 300"

[services.db]
command = "sleep 300"

[profiles.dev]
select = ["api"]

[profiles.ci]
select = ["api", "db"]
"""

# Sources the script as a shell's rc file would, then asks the completion function for the
# words of the line in $1, as bash does on a TAB at its end.
DRIVE_BASH = """\
source "$SCRIPT"
complete -p launcher
line=$1
read -ra COMP_WORDS <<< "$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$line COMP_POINT=${#line} COMP_TYPE=9
_python_argcomplete launcher "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, Path]:
    written = {}
    for shell in ("bash", "zsh", "fish"):
        result = launcher(tmp_path, {}, "completion", shell)
        assert result.returncode == 0, result.stderr
        written[shell] = tmp_path / f"launcher.{shell}"
        written[shell].write_text(result.stdout)
    return written


def complete_in_bash(script: Path, cwd: Path, line: str) -> list[str]:
    result = subprocess.run(
        ["bash", "-c", DRIVE_BASH, "drive", line],
        cwd=cwd,
        env={**os.environ, "SCRIPT": str(script), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    registered, *words = result.stdout.splitlines()
    assert registered.startswith("complete ")
    assert registered.endswith(" launcher")
    return [word.strip() for word in words if word.strip()]


def test_the_bash_script_loads_and_completes_commands_profiles_and_services(
    scripts: dict[str, Path], project: ProjectFactory
) -> None:
    assert subprocess.run(["bash", "-n", str(scripts["bash"])]).returncode == 0
    root = project(COMPLETED_PROJECT)
    assert complete_in_bash(scripts["bash"], root, "launcher run ") == ["ci", "dev", "api", "db"]
    assert complete_in_bash(scripts["bash"], root, "launcher run d") == ["dev", "db"]
    assert complete_in_bash(scripts["bash"], root, "launcher run dev ") == ["api", "db"]  # then services
    assert complete_in_bash(scripts["bash"], root, "launcher check ") == ["ci", "dev"]
    assert complete_in_bash(scripts["bash"], root, "launcher logs --n") == [
        "--no-color",
        "--no-prefix",
        "--no-log-prefix",
    ]
    assert "profiles" in complete_in_bash(scripts["bash"], root, "launcher pro")
    assert complete_in_bash(scripts["bash"], root, "launcher run -- d") == []  # CMD's words: the shell's
    # From a subdirectory, and with -f naming the configuration from elsewhere.
    (root / "src").mkdir()
    assert complete_in_bash(scripts["bash"], root / "src", "launcher restart ") == ["api", "db"]
    elsewhere = root.parent
    assert complete_in_bash(scripts["bash"], elsewhere, f"launcher -f {root}/launcher.toml run c") == ["ci"]


@pytest.mark.parametrize(("shell", "check"), [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_the_zsh_and_fish_scripts_are_valid(scripts: dict[str, Path], shell: str, check: list[str]) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here: its script is not checked")
    result = subprocess.run([*check, str(scripts[shell])], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_library_stack_is_not_listed(
    project: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import launcher as library

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    root = project('[services.web]\ncommand = "sleep 300"\n')
    with library.load(root / "launcher.toml").start(timeout=30) as running:
        assert [s.state for s in running.status()] == ["ready"]
        assert listed(tmp_path, {}) == []
    assert not (tmp_path / "runtime" / "launcher").exists()
