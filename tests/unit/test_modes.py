"""`mode = "auto"`: the machine's half (decide_mode) and the selection's half (the plan's)."""

from __future__ import annotations

import pytest
from helpers import ProjectFactory

from launcher.config.loader import load
from launcher.core.errors import ConfigError
from launcher.plan.compiler import build_plan
from launcher.plan.modes import decide_mode
from launcher.plan.spec import Plan


@pytest.mark.parametrize(
    ("configured", "environ", "tty", "mode", "because"),
    [
        ("auto", {}, True, "shared", "interactive developer machine"),
        ("auto", {"CI": "true"}, True, "multi", "CI is set"),
        ("auto", {"GITHUB_ACTIONS": "true"}, True, "multi", "GITHUB_ACTIONS is set"),
        ("auto", {"CI": "0"}, True, "shared", "interactive"),
        ("auto", {}, False, "multi", "not a terminal"),
        ("multi", {}, True, "multi", "set in the configuration"),
        ("shared", {"CI": "1"}, False, "shared", "set in the configuration"),
    ],
)
def test_decide_mode(configured: str, environ: dict[str, str], tty: bool, mode: str, because: str) -> None:
    choice = decide_mode(configured, environ, tty)  # type: ignore[arg-type]
    assert choice.mode == mode
    assert because in choice.reason


def test_auto_debugs_a_service_in_a_process_of_its_own() -> None:
    choice = decide_mode("auto", {}, True, debug=True)
    assert (choice.mode, choice.reason) == (
        "multi",
        "mode multi: --debug runs its service in a process of its own",
    )
    assert decide_mode("shared", {}, True, debug=True).mode == "shared"


def plan(project: ProjectFactory, services: str, configured: str = "auto") -> Plan:
    root = project(f'[launcher]\nmode = "{configured}"\nports = [8300, 8310]\n{services}')
    choice = decide_mode(configured, {}, True)  # type: ignore[arg-type]
    return build_plan(load(root / "launcher.toml", environ={}), mode=choice.mode, mode_reason=choice.reason)


APP = '\n[services.{0}]\napp = "{0}:app"\n'
TASK = '\n[services.{0}]\ntask = "{0}:run"\n'


@pytest.mark.parametrize(
    ("services", "reason"),
    [
        (APP.format("api"), "mode multi: nothing to share (one app)"),
        (
            TASK.format("worker") + '\n[services.web]\ncommand = "web"\n',
            "mode multi: nothing to share (one task)",
        ),
        ('\n[services.web]\ncommand = "web"\n', "mode multi: nothing to share (no app or task)"),
        (
            APP.format("api") + TASK.format("worker") + "replicas = 2\n",
            "mode multi: 'worker' runs 2 replicas",
        ),
        (
            APP.format("api") + APP.format("admin") + "workers = 2\n",
            "mode multi: 'admin' runs uvicorn workers",
        ),
        (
            APP.format("api") + 'env = { ROLE = "a" }\n' + TASK.format("worker") + 'env = { ROLE = "b" }\n',
            "mode multi: 'api' and 'worker' run in one process but set ROLE differently",
        ),
    ],
)
def test_auto_runs_multi_with_nothing_to_share_and_says_why(
    project: ProjectFactory, services: str, reason: str
) -> None:
    planned = plan(project, services)
    assert planned.mode == "multi"
    assert planned.mode_reason.startswith(reason)
    assert "shared-host" not in planned.names


def test_auto_shares_two_apps_and_every_url_is_the_one_of_multi_mode(project: ProjectFactory) -> None:
    services = APP.format("api") + APP.format("admin") + "port = 8305\n" + TASK.format("worker")
    shared = plan(project, services)
    multi = plan(project, services, "multi")
    assert (shared.mode, shared.mode_reason) == ("shared", "mode shared: an interactive developer machine")
    assert multi.mode == "multi"
    for name in ("api", "admin", "worker"):
        assert (shared.spec(name).port, shared.spec(name).url) == (
            multi.spec(name).port,
            multi.spec(name).url,
        )
    assert shared.spec("admin").url == "http://127.0.0.1:8305"
    assert shared.env["API_URL"] == multi.env["API_URL"] == shared.spec("api").url
    host = shared.spec("shared-host")
    assert (host.port, host.url) == (None, None)  # infrastructure: no address of its own
    assert [(listen.port, listen.fd_variable) for listen in host.listen] == [
        (8300, "LAUNCHER_LISTEN_FD_8300"),
        (8305, "LAUNCHER_LISTEN_FD_8305"),
    ]
    assert "PORT" not in host.env


def test_explicit_shared_refuses_what_auto_runs_multi(project: ProjectFactory) -> None:
    services = APP.format("api") + 'env = { ROLE = "a" }\n' + TASK.format("worker") + 'env = { ROLE = "b" }\n'
    with pytest.raises(ConfigError, match="LCH-1029"):
        plan(project, services, "shared")
    single = plan(project, APP.format("api"), "shared")  # asked for: one app is hosted all the same
    assert (single.mode, single.names) == ("shared", ["shared-host", "api"])
    nothing = plan(project, '\n[services.web]\ncommand = "web"\n', "shared")
    assert (nothing.mode, nothing.mode_reason) == (
        "multi",
        "mode multi: nothing to share (no app or task that one process can hold)",
    )
