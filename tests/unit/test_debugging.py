"""`--debug SERVICE`: the plan transformation that puts one Python service under debugpy."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import pytest
from helpers import ProjectFactory

from launcher.cli.main import parse
from launcher.cli.project import load_run_args
from launcher.config.loader import load
from launcher.core.errors import ConfigError
from launcher.plan.compiler import build_plan
from launcher.plan.debug import Debug, debug_plan
from launcher.plan.modes import Mode
from launcher.plan.spec import Plan

PY = "/venv/bin/python"
STACK = """
[services.api]
app = "shop.api:app"
port = 8123

[services.worker]
task = "shop.worker:run"

[services.script]
command = "python -u -W error scripts/tool.py --flag"

[services.mod]
command = ["python3.11", "-m", "shop.migrate"]

[services.own]
command = "/venv/bin/python -c 'print(1)'"

[services.redis]
command = "redis-server --port 7000"

[services.sh]
command = "python tool.py"
shell = true

[services.bare]
command = "python -u"

[services.pg]
external = true
probe = { tcp = "127.0.0.1:5432" }

[services.many]
task = "shop.many:run"
replicas = 2
"""
LISTEN = ("-m", "debugpy", "--listen")
_count = itertools.count()


def plan(project: ProjectFactory, mode: Mode = "multi") -> Plan:
    root: Path = project(STACK, name=f"stack-{next(_count)}")
    loaded = load(root / "launcher.toml", environ={}, overrides={"launcher": {"mode": mode}})
    return build_plan(loaded, mode=mode, python=PY)


def argv(plan_: Plan, debug: Debug, name: str | None = None) -> tuple[str, ...]:
    return debug_plan(plan_, debug, python=PY).spec(name or debug.service).argv


def test_an_app_runs_uvicorn_under_debugpy(project: ProjectFactory) -> None:
    before = plan(project).spec("api").argv
    after = argv(plan(project), Debug("api"))
    assert after == (PY, *LISTEN, "127.0.0.1:5678", *before[1:])
    assert after[5:7] == ("-m", "uvicorn")


def test_a_debugged_app_still_inherits_its_socket(project: ProjectFactory) -> None:
    # The launcher binds an app's port and uvicorn inherits it (UVICORN_FD), debugged or not:
    # its argv is final, never rewritten at run time.
    plain = plan(project).spec("api")
    debugged = debug_plan(plan(project), Debug("api"), python=PY).spec("api")
    assert debugged.listen == plain.listen
    assert [(s.host, s.port, s.fd_variable) for s in debugged.listen] == [
        ("127.0.0.1", plain.port, "UVICORN_FD")
    ]
    words = " ".join(debugged.argv)
    assert "-m uvicorn --app-dir . --host 127.0.0.1 --port 8123 " in words  # runs as it is without us


def test_a_task_runs_the_runner_under_debugpy(project: ProjectFactory) -> None:
    after = argv(plan(project), Debug("worker", port=6000, wait=True))
    assert after[:8] == (
        PY,
        *LISTEN,
        "127.0.0.1:6000",
        "--wait-for-client",
        "-m",
        "launcher.child.task_runner",
    )


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("script", ("python", "-u", "-W", "error", *LISTEN, "127.0.0.1:5678", "scripts/tool.py", "--flag")),
        ("mod", ("python3.11", *LISTEN, "127.0.0.1:5678", "-m", "shop.migrate")),
        ("own", (PY, *LISTEN, "127.0.0.1:5678", "-c", "print(1)")),
    ],
)
def test_a_python_command_gets_debugpy_after_the_interpreter(
    project: ProjectFactory, service: str, expected: tuple[str, ...]
) -> None:
    assert argv(plan(project), Debug(service)) == expected


@pytest.mark.parametrize(
    ("service", "words"),
    [
        ("redis", "does not run Python"),
        ("sh", "through a shell"),
        ("bare", "without a script or module"),
        ("pg", "is external"),
        ("many", "2 replicas"),
        ("nope", "is not in this run"),
    ],
)
def test_what_cannot_be_debugged_is_refused(project: ProjectFactory, service: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        debug_plan(plan(project), Debug(service), python=PY)
    assert info.value.codes == ["LCH-1031"]
    assert words in str(info.value)


def test_wait_lifts_the_start_timeout_and_says_so(project: ProjectFactory) -> None:
    waiting = debug_plan(plan(project), Debug("api", wait=True), python=PY)
    assert waiting.spec("api").start_timeout == math.inf
    assert waiting.notes == (
        "[api] debugpy listens on 127.0.0.1:5678; it waits for a debugger before the service's "
        "code runs (no start timeout)",
    )
    plain = debug_plan(plan(project), Debug("api"), python=PY)
    assert plain.spec("api").start_timeout == plan(project).spec("api").start_timeout
    assert plain.notes == ("[api] debugpy listens on 127.0.0.1:5678",)


def test_only_the_debugged_service_changes(project: ProjectFactory) -> None:
    before = plan(project)
    after = debug_plan(before, Debug("worker"), python=PY)
    assert [s for s in after.specs if s.name != "worker"] == [s for s in before.specs if s.name != "worker"]


def test_in_shared_mode_a_hosted_service_debugs_the_host(project: ProjectFactory) -> None:
    shared = plan(project, "shared")
    after = debug_plan(shared, Debug("api"), python=PY)
    host = after.spec("shared-host")
    assert host.argv[:7] == (PY, *LISTEN, "127.0.0.1:5678", "-m", "launcher.child.shared_host")
    assert after.spec("api") == shared.spec("api")
    assert after.notes == (
        "[api] runs in the shared host: debugging shared-host (debugpy listens on 127.0.0.1:5678)",
    )


def test_in_shared_mode_wait_lifts_the_start_timeout_of_every_hosted_service(project: ProjectFactory) -> None:
    after = debug_plan(plan(project, "shared"), Debug("worker", wait=True), python=PY)
    timeouts = {s.name: s.start_timeout for s in after.specs}
    assert timeouts["shared-host"] == timeouts["api"] == timeouts["worker"] == math.inf
    assert timeouts["script"] != math.inf


def test_without_debugpy_the_run_is_refused_with_the_install_hint(
    project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project(STACK))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *rest: None if name == "debugpy" else real(name, *rest)
    )
    with pytest.raises(ConfigError) as info:
        load_run_args(parse(["run", "--mode", "multi", "--debug", "worker"]))
    assert info.value.codes == ["LCH-1032"]
    assert "pip install 'launcher[debug]'" in str(info.value)


def test_the_debug_options_parse() -> None:
    args = parse(["run", "--debug", "api", "--debug-port", "6001", "--debug-wait"])
    assert (args.debug, args.debug_port, args.debug_wait) == ("api", 6001, True)
    assert parse(["run"]).debug_port == 5678
    with pytest.raises(SystemExit):
        parse(["run", "--debug", "api", "--debug-port", "70000"])
