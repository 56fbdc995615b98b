"""The smaller points of a real project's first run (issue 17), each with real processes:
`.launcher/` ignores itself; a selection of a oneshot and an external ends once the oneshot is
done; `--watch` of an app that is a top-level module (`main:app`) restarts it for the modules
beside it; a `cmd` probe runs in its service's cwd with its service's environment; `status`
shows no probe for a stopped service; an external service stops with a true word."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import (
    Launch,
    ProjectFactory,
    asgi_app,
    cli,
    free_port_block,
    stack_project,
    toml_list,
    wait_until,
)

import launcher
from launcher.plan.spec import ProbeSpec
from launcher.runtime.probes import Prober

pytestmark = pytest.mark.integration

SLEEPER = toml_list([sys.executable, "-c", "import time; time.sleep(300)"])


@pytest.fixture
def listener() -> Iterator[int]:
    """A port of 127.0.0.1 that accepts connections: a service started elsewhere."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def staged(root: Path) -> list[str]:
    """What `git add -A` takes in the project at `root` (a new repository)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    git("add", "-A")
    return git("diff", "--cached", "--name-only").split()


def test_the_launcher_directory_ignores_itself_after_a_run(project: ProjectFactory) -> None:
    migrate = toml_list([sys.executable, "-c", "print('migrated')"])
    root = project(f"""
        [services.migrate]
        command = {migrate}
        oneshot = true
        """)
    result = cli(root, "run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / ".launcher" / "logs").is_dir()
    assert (root / ".launcher" / ".gitignore").read_text() == "*\n"
    assert staged(root) == ["launcher.toml"]


def test_a_library_stack_that_writes_only_logs_leaves_the_directory_ignored(project: ProjectFactory) -> None:
    worker = toml_list([sys.executable, "-c", "import time; print('working', flush=True); time.sleep(300)"])
    root = project(f"""
        [services.worker]
        command = {worker}
        probe = {{ log = "working" }}
        """)
    with launcher.load(root / "launcher.toml").start(timeout=30) as running:
        assert running.status()[0].state == "ready"
    assert (root / ".launcher" / "logs" / "worker.log").is_file()
    assert (root / ".launcher" / ".gitignore").read_text() == "*\n"
    assert staged(root) == ["launcher.toml"]


def test_a_oneshot_and_an_external_end_with_exit_0_once_the_oneshot_is_done(
    project: ProjectFactory, listener: int
) -> None:
    migrate = toml_list([sys.executable, "-c", "print('migrated', flush=True)"])
    root = project(f"""
        [services.db]
        external = true
        probe = {{ tcp = "127.0.0.1:{listener}" }}

        [services.migrate]
        command = {migrate}
        oneshot = true
        depends_on = ["db"]

        [services.web]
        command = {SLEEPER}
        depends_on = ["migrate"]

        [profiles.prestart]
        select = ["migrate"]
        """)
    result = cli(root, "run", "prestart", timeout=30)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "migrated" in out
    assert "no service is left running" in out
    # The external runs on: it is no longer watched, not "stopped before it was running".
    assert "no longer watched (it runs elsewhere)" in out
    assert "before it was running" not in out


def test_an_external_alone_beside_a_command_does_not_keep_run_alive(
    project: ProjectFactory, listener: int
) -> None:
    """`run` lasts while a service of its own runs: once the last one exits, the external
    (ready, and the launcher's to watch only) does not hold it."""
    root = project(f"""
        [services.db]
        external = true
        probe = {{ tcp = "127.0.0.1:{listener}" }}

        [services.job]
        command = {toml_list([sys.executable, "-c", "import time; time.sleep(1.5)"])}
        depends_on = ["db"]
        """)
    result = cli(root, "run", timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no service is left running" in result.stdout


MAIN = "from greeting import TEXT\n\n" + asgi_app("TEXT.encode()")


def test_watch_of_a_top_level_module_restarts_it_for_the_python_files_beside_it(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(
        project, files={"main.py": MAIN, "greeting.py": "TEXT = 'first'\n", "notes.txt": "to do\n"}
    )
    stack.write(
        """
        [services.web]
        app = "main:app"
        port = "auto"
        """,
        launcher='mode = "multi"',
    )
    root = stack.root
    run = launch(root, "--watch")
    run.wait_output("watching for changes: web")
    url = json.loads(cli(root, "status", "--json").stdout)["services"][0]["url"]

    def body() -> str:
        with urllib.request.urlopen(url, timeout=5) as response:
            text: str = response.read().decode()
        return text

    assert body() == "first"
    (root / "notes.txt").write_text("not Python: no restart\n")
    (root / "greeting.py").write_text("TEXT = 'second'\n")
    run.wait_output("reload: greeting.py changed -> restarted web, ready again")
    assert "notes.txt" not in run.output
    assert body() == "second"


def test_a_cmd_probe_runs_in_its_services_cwd_with_its_services_environment(
    project: ProjectFactory,
) -> None:
    """The service writes its flag file, named by its own variable, in its own directory; the
    probe finds it only from there and with that variable."""
    command = "import os, time; time.sleep(0.3); open(os.environ['READY_FLAG'], 'w').close(); time.sleep(300)"
    check = "import os, sys; sys.exit(not os.path.exists(os.environ['READY_FLAG']))"
    root = project(
        f"""
        [services.worker]
        command = {toml_list([sys.executable, "-c", command])}
        cwd = "worker"
        env = {{ READY_FLAG = "worker.ready" }}
        probe = {{ cmd = {toml_list(["python", "-c", check])}, interval = 0.1 }}
        start_timeout = 15
        start_retries = 0
        """,
        {"worker/.keep": ""},
    )
    result = cli(root, "run", "--", sys.executable, "-c", "print('CMD ran')", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CMD ran" in result.stdout
    assert (root / "worker" / "worker.ready").exists()
    assert not (root / "worker.ready").exists()


async def test_a_cmd_probe_spec_runs_in_its_cwd_with_its_env_over_the_probers(tmp_path: Path) -> None:
    here = "os.getcwd() == sys.argv[1] and os.environ['A'] + os.environ['B'] == 'ab'"
    script = f"import os, sys; sys.exit(0 if {here} else 1)"
    argv = (sys.executable, "-c", script, str(tmp_path))
    async with Prober({"A": "x", "B": "b", "PATH": "/usr/bin:/bin"}) as prober:
        where = await prober.check(ProbeSpec("cmd", "check", argv, cwd=tmp_path, env={"A": "a"}), log=None)
        elsewhere = await prober.check(ProbeSpec("cmd", "check", argv), log=None)
    assert (where.ok, where.detail) == (True, "exit code 0")
    assert (elsewhere.ok, elsewhere.detail) == (False, "exit code 1")


def test_status_shows_no_probe_for_a_stopped_service_and_the_external_stops_truly(
    project: ProjectFactory, launch: Launch, listener: int
) -> None:
    low, high = free_port_block()
    server = textwrap.dedent("""
        import http.server, os
        class Ok(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers()
            def log_message(self, *args):
                pass
        http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Ok).serve_forever()
        """)
    root = project(f"""
        [launcher]
        ports = [{low}, {high}]

        [services.db]
        external = true
        probe = {{ tcp = "127.0.0.1:{listener}" }}

        [services.api]
        command = {toml_list([sys.executable, "-c", server])}
        port = "auto"
        probe = {{ http = "/health", interval = 0.2 }}
        depends_on = ["db"]
        """)
    run = launch(root)
    run.wait_output("2/2 services ready")

    def api() -> dict[str, object]:
        services = json.loads(cli(root, "status", "--json").stdout)["services"]
        found: dict[str, object] = next(s for s in services if s["name"] == "api")
        return found

    wait_until(lambda: api()["last_probe"], 10, message="a probe of api in status")
    stopped = cli(root, "stop", "api")
    assert stopped.returncode == 0, stopped.stderr
    assert (api()["state"], api()["last_probe"]) == ("stopped", None)
    row = next(r for r in cli(root, "status").stdout.splitlines() if r.startswith("api "))
    assert row.split()[-1] == "-", row  # the probe column
    down = cli(root, "down")
    assert down.returncode == 0, down.stderr
    assert run.wait() == 0
    assert "no longer watched (it runs elsewhere)" in run.output
    assert "before it was running" not in run.output
