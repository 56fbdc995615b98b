"""`run`'s plan, made in a forked child: the plan comes back whole, a bad configuration is said
by the child exactly as the command says it, and the parent never imports pydantic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launcher.cli.main import parse
from launcher.cli.planning import Planning

GOOD = '[launcher]\nlog_format = "json"\n\n[services.api]\ncommand = ["sleep", "5"]\n'


def test_the_plan_comes_back_from_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "launcher.toml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    args = parse(["run"])
    args.command_argv = []
    outcome = Planning.start(args).outcome()
    assert not isinstance(outcome, int)
    plan, log_format = outcome
    assert (plan.names, plan.root, log_format) == (["api"], tmp_path, "json")


def test_a_bad_configuration_is_said_by_the_child_with_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "launcher.toml").write_text("[services.api]\ncommand = 5\n")
    monkeypatch.chdir(tmp_path)
    args = parse(["run"])
    args.command_argv = []
    assert Planning.start(args).outcome() == 2
    err = capfd.readouterr().err
    assert "error[LCH-1003]: services.api.command" in err
    assert err.count("LCH-1003") == 1  # said once: by the child alone


def test_the_parent_never_imports_pydantic(tmp_path: Path) -> None:
    (tmp_path / "launcher.toml").write_text(GOOD)
    program = (
        "import sys\n"
        "from launcher.cli.main import parse\n"
        "from launcher.cli.planning import Planning\n"
        "args = parse(['run']); args.command_argv = []\n"
        "plan, _ = Planning.start(args).outcome()\n"
        "import launcher.runtime.orchestrator, launcher.cli.run\n"
        "print(plan.names, sorted(m for m in sys.modules if m.startswith(('pydantic', 'launcher.config'))))\n"
    )
    # launcher.config.discovery (os alone) finds the file the plan cache is keyed by.
    light = "['launcher.config', 'launcher.config.discovery']"
    result = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True)
    assert result.stdout.strip() == f"['api'] {light}", result.stderr
