"""`launcher run` spawns each kind of service as DESIGN.md section 4 says: a command without a
shell (unless `shell = true`) in its own session and group, stdin from /dev/null, with its cwd
and environment; an `app` through uvicorn on a socket the launcher bound; a `task` through the
runner; an `external` service only probed; a `oneshot` completed by its success codes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import (
    Events,
    Launch,
    ProjectFactory,
    alive,
    free_port_block,
    program,
    stack_project,
    toml_list,
    wait_until,
)

pytestmark = pytest.mark.integration


def report(path: Path) -> dict[str, Any]:
    wait_until(path.exists, 20, message=f"{path.name} from introspect.py")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def service(name: str, events: Path, *flags: str) -> str:
    return toml_list(program("stack_service", name, "--events", str(events), *flags))


def test_a_command_runs_without_a_shell_in_its_own_session_with_its_cwd_and_environment(
    project: ProjectFactory, launch: Launch
) -> None:
    low, high = free_port_block()
    root = project(files={"work/.keep": ""})
    out = root / "report.json"
    (root / "launcher.toml").write_text(f"""
[launcher]
name = "intro"
ports = [{low}, {high}]

[env]
SHARED = "from [env]"

[services.db]
command = {service("db", root / "events", "--listen")}
port = "auto"

[services.probe_me]
command = {toml_list([*program("introspect", str(out)), "$HOME", "*", "a b"])}
cwd = "work"
port = "auto"
env = {{ OWN = "mine" }}
depends_on = ["db"]
probe = {{ log = "introspect ready" }}
""")
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    seen = report(out)
    # Words reach the program as written: no shell expanded $HOME or *, nor split "a b".
    assert seen["argv"] == ["$HOME", "*", "a b"]
    assert seen["cwd"] == str(root / "work")
    assert seen["pid"] == seen["pgid"] == seen["sid"], "not the leader of its own session and group"
    assert seen["stdin"] == "/dev/null"
    env = seen["env"]
    assert env["OWN"] == "mine"
    assert env["SHARED"] == "from [env]"
    assert env["LAUNCHER_STACK"] == "intro"
    assert env["LAUNCHER_SERVICE"] == "probe_me"
    assert env["LAUNCHER_RUN"], "the marker every child carries"
    assert low <= int(env["PORT"]) <= high
    assert env["DB_URL"] == f"http://127.0.0.1:{env['DB_PORT']}"
    assert env["PROBE_ME_PORT"] == env["PORT"]
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


def test_shell_true_runs_the_command_through_sh(project: ProjectFactory, launch: Launch) -> None:
    root = project("""
        [services.greet]
        command = "echo \\"hello from $LAUNCHER_SERVICE\\" && exec sleep 300"
        shell = true
        probe = { log = "hello from greet" }
    """)
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    assert re.search(r"^\d\d:\d\d:\d\d greet +\| hello from greet$", launcher.output, re.M)
    launcher.signal(signal.SIGTERM)
    assert launcher.wait() == 143


ASGI_APP = """
    import os

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = f"served by {os.getpid()}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
"""


def test_an_app_is_served_by_uvicorn_on_the_socket_the_launcher_bound(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project, files={"asgi_app.py": ASGI_APP})
    stack.write("""
        [services.web]
        app = "asgi_app:app"
        port = "auto"
        """)
    root = stack.root
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    uvicorn = next(p for p in launcher.children() if "uvicorn" in " ".join(p.cmdline()))
    # The listening socket is the launcher's own (bound before uvicorn started), shared with it:
    # uvicorn finds it through UVICORN_FD, its command line stays what it is without launcher.
    listening = [
        c.laddr.port
        for c in psutil.Process(launcher.process.pid).net_connections("tcp")
        if c.status == "LISTEN"
    ]
    assert len(listening) == 1
    assert stack.low <= listening[0] <= stack.high
    argv = uvicorn.cmdline()
    assert argv[argv.index("--port") + 1] == str(listening[0])
    fd = int(uvicorn.environ()["UVICORN_FD"])
    assert os.readlink(f"/proc/{uvicorn.pid}/fd/{fd}").startswith("socket:")
    with urllib.request.urlopen(f"http://127.0.0.1:{listening[0]}/", timeout=5) as response:
        assert response.read().decode() == f"served by {uvicorn.pid}"
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


TASKS = """
    import asyncio, os

    async def forever():
        try:
            print("task running", flush=True)
            await asyncio.sleep(3600)
        finally:
            with open("cleaned-up", "w") as file:
                file.write("yes")
"""


def test_a_task_runs_through_the_runner_and_is_cancelled_at_stop(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project(
        """
        [services.worker]
        task = "tasks:forever"
        probe = { log = "task running" }
        """,
        files={"tasks.py": TASKS},
    )
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    runner = next(p for p in launcher.children() if "task_runner" in p.cmdline())
    # launcher's runner, from the directory the launcher put in the user's cache for it
    assert runner.cmdline()[1].endswith("/run")
    assert runner.cmdline()[2] == "task_runner"
    assert runner.cmdline()[-1] == "tasks:forever"
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    assert (root / "cleaned-up").read_text() == "yes", "the task's finally did not run"


def test_an_external_service_is_only_probed(project: ProjectFactory, launch: Launch) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(
        f"""
        [services.pg]
        external = true
        port = {port}
        probe = {{ tcp = "127.0.0.1:{port}" }}

        [services.api]
        command = {service("api", events.path)}
        probe = {{ log = "^api starting$" }}
        depends_on = ["pg"]
    """.replace("\n        ", "\n")
    )
    try:
        launcher = launch(root)
        launcher.wait_output("[pg] starting")
        assert not events.lines(), "api started before its external dependency answered"
        listener.listen()
        launcher.wait_output("2/2 services ready")
        wait_until(lambda: events.count("api", "started"), 10, message="api started")
        # Nothing was spawned for pg: the only service process is api's.
        assert [p.pid for p in launcher.services()] == events.pids("api")
        launcher.signal(signal.SIGINT)
        assert launcher.wait() == 130
        # The external server is not ours to stop: it still accepts.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    finally:
        listener.close()


def test_an_external_service_that_never_answers_fails_after_its_start_timeout(
    project: ProjectFactory, launch: Launch
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    root = project(f"""
        [services.pg]
        external = true
        port = {port}
        probe = {{ tcp = "127.0.0.1:{port}" }}
        start_timeout = 0.5
        start_retries = 0
    """)
    launcher = launch(root)
    assert launcher.wait() == 1
    assert "service 'pg' failed to start: was not ready within 0.5s" in launcher.output


@pytest.mark.parametrize(("code", "outcome"), [(3, "completed"), (1, "failed")])
def test_a_oneshot_completes_on_a_success_code_and_its_dependents_start_then(
    project: ProjectFactory, launch: Launch, code: int, outcome: str
) -> None:
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(f"""
[services.migrate]
command = {toml_list([sys.executable, "-c", f"print('migrating'); raise SystemExit({code})"])}
oneshot = true
success_codes = [0, 3]
start_retries = 0

[services.api]
command = {service("api", events.path)}
probe = {{ log = "^api starting$" }}
depends_on = ["migrate"]
""")
    launcher = launch(root)
    if outcome == "completed":
        launcher.wait_output("2/2 services ready")
        assert "[migrate] completed: exited with code 3" in launcher.output
        wait_until(lambda: events.count("api", "started"), 10, message="api started")
        launcher.signal(signal.SIGINT)
        assert launcher.wait() == 130
    else:
        assert launcher.wait() == 1
        output = launcher.output
        assert "[migrate] failed: exited with code 1" in output
        assert "[api] skipped" in output
        assert "service 'migrate' failed to start: exited with code 1" in output
        assert not events.lines(), "api started although its oneshot dependency failed"


def test_a_service_that_daemonizes_is_told_so_and_its_daemons_do_not_outlive_the_stack(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    pidfile = root / "daemon.pid"
    (root / "launcher.toml").write_text(f"""
[services.pgctl]
command = {toml_list(program("daemonizes", "--pidfile", str(pidfile)))}
start_retries = 0
""")
    launcher = launch(root)
    assert launcher.wait() == 1
    assert (
        "exited with code 0 within its first second; a one-off step? mark it `oneshot = true`"
        in launcher.output
    )
    assert "(a daemon? run it in the foreground)" in launcher.output
    daemon = int(pidfile.read_text())
    wait_until(lambda: not alive(daemon), 5, message=f"the daemon {daemon} killed")
