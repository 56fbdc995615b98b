"""The quick commands stay quick: `--version`, `--help`, every `COMMAND --help`, `check` and
`status` import none of the heavy libraries (web, retry, watch, metrics, TUI), and `launcher` and
`python -m launcher` are one program.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Launch, ProjectFactory, wait_until

from launcher.cli.main import COMMANDS

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
HEAVY = ("aiohttp", "tenacity", "watchdog", "uvicorn", "prometheus_client", "textual")

# Runs `launcher ARGS` in this interpreter as `python -m launcher` would, then writes the exit
# code and the modules that were imported (a submodule's packages with it) to the file named by
# argv[2].
RUNNER = """
import json, runpy, sys
args, out = json.loads(sys.argv[1]), sys.argv[2]
sys.argv = ["launcher", *args]
code = 0
try:
    runpy.run_module("launcher", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
with open(out, "w") as file:
    json.dump({"code": code, "modules": sorted(sys.modules)}, file)
"""


def imported(args: list[str], cwd: Path, tmp_path: Path) -> tuple[int, set[str], str]:
    """Exit code, modules imported and stdout of `launcher ARGS` run in `cwd`."""
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(args), str(out)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.exists(), result.stderr
    report = json.loads(out.read_text())
    return report["code"], set(report["modules"]), result.stdout


def generated_project(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location("generate", REPO / "benchmarks" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written: Path = module.write_project(root, 50)
    return written


def demo_copy(root: Path) -> Path:
    """The repo's demo configuration in a fresh directory (no check cache there yet), with the
    package its apps and tasks import (`check` looks for their modules)."""
    root.mkdir()
    shutil.copy(REPO / "launcher.toml", root / "launcher.toml")
    shutil.copytree(REPO / "profiles", root / "profiles")
    shutil.copytree(REPO / "examples" / "infinitescribe", root / "examples" / "infinitescribe")
    return root


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(flag: str, tmp_path: Path) -> None:
    code, modules, stdout = imported([flag], tmp_path, tmp_path)
    assert code == 0
    assert "launcher" in stdout
    assert modules.isdisjoint({*HEAVY, "pydantic"})


def test_check_of_the_demo_stack_imports_nothing_heavy(tmp_path: Path) -> None:
    for where in (REPO, demo_copy(tmp_path / "demo")):
        code, modules, stdout = imported(["check", "--all-profiles"], where, tmp_path)
        assert code == 0, stdout
        assert "configuration is valid" in stdout
        assert modules.isdisjoint(HEAVY)


def test_check_of_a_generated_project_imports_nothing_heavy_cold_or_cached(tmp_path: Path) -> None:
    root = generated_project(tmp_path / "generated")
    cold = imported(["check"], root, tmp_path)
    cached = imported(["check"], root, tmp_path)
    for code, modules, stdout in (cold, cached):
        assert code == 0
        assert "51 processes (profile full), configuration is valid" in stdout
        assert modules.isdisjoint(HEAVY)
    assert "pydantic" in cold[1]  # the first check really validated


def test_a_failing_check_imports_nothing_heavy(project: ProjectFactory, tmp_path: Path) -> None:
    root = project('[services.api]\ncommand = "x"\ndepends_on = ["nope"]\n')
    code, modules, _ = imported(["check"], root, tmp_path)
    assert code == 2
    assert modules.isdisjoint(HEAVY)


def run_both(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], ...]:
    script = shutil.which("launcher", path=str(Path(sys.executable).parent))
    assert script is not None, "the `launcher` console script is not installed beside this python"
    return tuple(
        subprocess.run([*argv, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
        for argv in ([sys.executable, "-m", "launcher"], [script])
    )


@pytest.mark.parametrize(
    "args",
    [["--version"], ["--help"], ["check", "--help"], [], ["no-such-command"], ["check"], ["check", "nope"]],
)
def test_the_console_script_and_python_m_launcher_behave_the_same(args: list[str], tmp_path: Path) -> None:
    module, script = run_both(args, demo_copy(tmp_path / "demo"))
    assert (script.returncode, script.stdout, script.stderr) == (
        module.returncode,
        module.stdout,
        module.stderr,
    )
    assert module.stdout or module.stderr


def test_both_report_configuration_errors_alike(project: ProjectFactory) -> None:
    root = project('[services.api]\ncommand = "x"\nrestart = "sometimes"\n')
    module, script = run_both(["check"], root)
    assert module.returncode == script.returncode == 2
    assert "error[LCH-1011]" in module.stderr
    assert script.stderr == module.stderr


# What `status` must not import: the runtime (launcher.orchestrator and what it imports), pydantic
# (the configuration is not loaded), and psutil and http.client, which its budget cannot afford.
NOT_FOR_STATUS = {
    *HEAVY,
    "pydantic",
    "launcher.runtime.orchestrator",
    "launcher.config.loader",
    "psutil",
    "http.client",
}


def test_status_of_a_running_stack_imports_nothing_heavy(
    project: ProjectFactory, launch: Launch, tmp_path: Path
) -> None:
    root = project('[services.web]\ncommand = "sleep 300"\n')
    launch(root).wait_output("1/1 services ready")
    state = root / ".launcher" / "state.json"
    # Replaced atomically, removed only at the stop: exists() then read_text() does not race.
    wait_until(
        lambda: state.exists() and '"api": "' in state.read_text(), 10, message="the API socket in the state"
    )
    for args in (["status"], ["status", "--json"]):
        code, modules, stdout = imported(args, root, tmp_path)
        assert code == 0
        assert "web" in stdout
        assert modules.isdisjoint(NOT_FOR_STATUS), sorted(modules & NOT_FOR_STATUS)


def test_status_without_a_stack_imports_nothing_heavy(project: ProjectFactory, tmp_path: Path) -> None:
    root = project('[services.web]\ncommand = "sleep 300"\n')
    code, modules, _ = imported(["status"], root, tmp_path)
    assert code == 3
    assert modules.isdisjoint(NOT_FOR_STATUS), sorted(modules & NOT_FOR_STATUS)


def test_exec_and_env_of_a_running_stack_import_nothing_heavy(
    project: ProjectFactory, launch: Launch, tmp_path: Path
) -> None:
    root = project('[env]\nGREETING = "hi"\n\n[services.web]\ncommand = "sleep 300"\n')
    launch(root).wait_output("1/1 services ready")
    state = root / ".launcher" / "state.json"
    wait_until(
        lambda: state.exists() and '"api": "' in state.read_text(), 10, message="the API socket in the state"
    )
    for args in (["exec", "--", "sh", "-c", "echo $GREETING"], ["env"], ["env", "web", "--json"]):
        code, modules, stdout = imported(args, root, tmp_path)
        assert code == 0
        assert "hi" in stdout
        # Nor subprocess: exec forks and executes CMD itself (its budget, benchmarks/status.py).
        heavy = {*NOT_FOR_STATUS, "subprocess"}
        assert modules.isdisjoint(heavy), sorted(modules & heavy)


# What `launcher COMMAND --help` must not import: beyond what `status` may not, asyncio and the
# modules that run or serve a stack (its module imports them in the functions that use them).
NOT_FOR_HELP = {
    *NOT_FOR_STATUS,
    "asyncio",
    "textual",
    "launcher.plan.compiler",
    "launcher.control.server",
    "launcher.runtime.supervisor",
}


@pytest.mark.parametrize("command", COMMANDS)
def test_the_help_of_every_command_imports_nothing_heavy(command: str, tmp_path: Path) -> None:
    code, modules, stdout = imported([command, "--help"], tmp_path, tmp_path)
    assert code == 0
    assert f"usage: launcher {command}" in stdout
    assert modules.isdisjoint(NOT_FOR_HELP), sorted(modules & NOT_FOR_HELP)


def test_logs_imports_nothing_heavy(project: ProjectFactory, tmp_path: Path) -> None:
    # The files alone (the stack stopped): `logs` reads them with the standard library.
    root = project('[services.web]\ncommand = "sleep 300"\n')
    (root / ".launcher" / "logs").mkdir(parents=True)
    (root / ".launcher" / "logs" / "web.log").write_text("2024-05-01T12:00:00.000+00:00 hello\n")
    code, modules, stdout = imported(["logs", "-t", "--since", "10m", "--grep", "h"], root, tmp_path)
    assert (code, stdout) == (0, "")
    code, modules, stdout = imported(["logs"], root, tmp_path)
    assert (code, stdout) == (0, "web      | hello\n")
    assert modules.isdisjoint({*NOT_FOR_HELP, "colorama"}), sorted(modules & {*NOT_FOR_HELP, "colorama"})


def test_ls_imports_nothing_heavy(
    project: ProjectFactory, launch: Launch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The registry and each state file, read with the standard library (no psutil either).
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    root = project('[services.web]\ncommand = "sleep 300"\n')
    launch(root).wait_output("1/1 services ready")
    stacks = tmp_path / "runtime" / "launcher" / "stacks"
    wait_until(lambda: stacks.is_dir() and any(stacks.iterdir()), 10, message="the stack in the registry")
    for args in (["ls"], ["ls", "--json"]):
        code, modules, stdout = imported(args, tmp_path, tmp_path)
        assert code == 0
        assert str(root.resolve()) in stdout
        assert modules.isdisjoint({*NOT_FOR_STATUS, "launcher.runtime.statefile"}), sorted(
            modules & NOT_FOR_STATUS
        )
