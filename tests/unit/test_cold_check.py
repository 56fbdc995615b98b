"""What a cold `launcher check` skips to be quick, and that skipping it changes no outcome: the
shared-mode plan where nothing can be hosted, shlex for commands without quotes, the
environments of `shadowed` where nothing declared has an injected name, pydantic's plugins."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
from helpers import ProjectFactory

from launcher.cli.main import main
from launcher.config.interpolation import split_words
from launcher.config.loader import load
from launcher.plan.compiler import build_plan, shared_plan_differs
from launcher.plan.environment import shadowed

APP = '[services.{0}]\napp = "{0}:app"\n'
COMMAND = '[services.{0}]\ncommand = "serve {0}"\n'


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("", []),
        (" \t ", []),
        (
            "python -m http.server ${PORT} --bind 127.0.0.1",
            ["python", "-m", "http.server", "${PORT}", "--bind", "127.0.0.1"],
        ),
        (" serve\t--port  ${PORT:-8000}\n--reload ", ["serve", "--port", "${PORT:-8000}", "--reload"]),
        ("echo ${GREETING:-hello world} $$HOME #1", ["echo", "${GREETING:-hello world}", "$$HOME", "#1"]),
        ("a\x0bb\xa0c d", ["a\x0bb\xa0c", "d"]),  # blanks to str.split, not to shlex
        ("echo 'two words' \"and ${X:-y z}\" a\\ b", ["echo", "two words", "and ${X:-y z}", "a b"]),
    ],
)
def test_split_words_splits_as_shlex_does(command: str, words: list[str]) -> None:
    assert split_words(command) == words
    if "${" not in command:
        assert shlex.split(command) == words


@pytest.mark.parametrize(
    ("mode", "services", "differs"),
    [
        ("multi", [APP.format("a"), APP.format("b")], False),
        ("auto", [COMMAND.format("a"), APP.format("b")], False),  # one app: auto plans multi
        ("auto", [APP.format("a"), APP.format("b")], True),
        ("auto", [APP.format("a"), APP.format("b") + "replicas = 2\n"], False),
        ("shared", [APP.format("a")], True),
        ("shared", [COMMAND.format("a")], False),
    ],
)
def test_a_shared_mode_plan_is_compiled_only_where_it_can_host(
    project: ProjectFactory, mode: str, services: list[str], differs: bool
) -> None:
    root = project(f'[launcher]\nmode = "{mode}"\n' + "".join(services))
    assert shared_plan_differs(load(root / "launcher.toml", cwd=root)) is differs


def test_check_still_reports_what_only_the_shared_plan_refuses(
    project: ProjectFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An app to host under mode shared, and the host's name taken: the multi plan is fine.
    root = project('[launcher]\nmode = "shared"\n' + APP.format("api") + COMMAND.format("shared-host"))
    (root / "api.py").write_text("app = None\n")
    monkeypatch.chdir(root)
    assert main(["check"]) == 2
    assert "LCH-1029" in capsys.readouterr().err


@pytest.mark.parametrize(("declared", "warned"), [("OTHER", False), ("API_PORT", True)])
def test_shadowed_warns_only_of_declared_names(project: ProjectFactory, declared: str, warned: bool) -> None:
    root = project(COMMAND.format("api") + f'port = "auto"\nenv = {{ {declared} = "1" }}\n')
    loaded = load(root / "launcher.toml", cwd=root)
    warnings = shadowed(loaded, build_plan(loaded, environ={}), {})
    assert [w.code for w in warnings] == (["LCH-1035"] if warned else [])


def test_the_plan_never_sees_the_plugin_switch_set_while_the_models_are_built(
    project: ProjectFactory,
) -> None:
    # Required, and unset in the check's environment: seen by the plan, it would pass.
    root = project(COMMAND.format("api") + 'env = { SEEN = "${PYDANTIC_DISABLE_PLUGINS:?not set}" }\n')
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    result = subprocess.run(
        [sys.executable, "-m", "launcher", "check"],
        cwd=root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "error[LCH-1013]: services.api.env.SEEN: ${PYDANTIC_DISABLE_PLUGINS}: not set" in result.stderr
