"""`launcher exec [SERVICE] -- CMD` and `launcher env [SERVICE] [--json]` against a real stack:
the running stack's environment (or a service's, with its cwd), in clear, from the API's unix
socket; CMD's exit code passed through; signals sent to `exec` passed on to CMD.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import Launch, LauncherRun, ProjectFactory, cli, free_port_block, program, toml_list, wait_until

pytestmark = pytest.mark.integration

SECRET = "hunter2-very-secret"
# A value a shell would trip on: quotes of both kinds, a dollar, a backslash, a newline.
AWKWARD = 'it\'s "quoted" $HOME \\n\nsecond line'


@dataclass
class Running:
    root: Path
    launcher: LauncherRun

    def status(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(cli(self.root, "status", "--json").stdout)
        return data

    def port(self, name: str) -> int:
        services = self.status()["services"]
        assert isinstance(services, list)
        port: int = next(s["port"] for s in services if s["name"] == name)
        return port


@pytest.fixture
def running(project: ProjectFactory, launch: Launch) -> Running:
    low, high = free_port_block(10)
    root = project(
        f"""
        [launcher]
        name = "shop"
        ports = [{low}, {high}]

        [env]
        GREETING = {json.dumps(AWKWARD)}
        DB_PASSWORD = "{SECRET}"

        [services.web]
        command = {toml_list(program("http_ok"))}
        port = "auto"
        probe = {{ http = "/health" }}

        [services.worker]
        command = {toml_list(program("sleeper"))}
        cwd = "sub"
        depends_on = ["web"]
        env = {{ WORKER_ONLY = "yes" }}
        """,
        files={"sub/.keep": ""},
    )
    stack = Running(root, launch(root))
    stack.launcher.wait_output("2/2 services ready")
    state = root / ".launcher" / "state.json"
    wait_until(lambda: state.exists() and '"api": "' in state.read_text(), 10, message="the API socket")
    return stack


def printenv(*names: str) -> list[str]:
    """A CMD that prints each variable (`-` when unset), one a line, as JSON strings."""
    code = f"import json, os; [print(json.dumps(os.environ.get(n, '-'))) for n in {list(names)!r}]"
    return [sys.executable, "-c", code]


def test_exec_runs_cmd_with_the_stack_s_environment_and_exits_with_its_code(running: Running) -> None:
    script = (
        "import os, sys; print(os.environ['WEB_URL']); print(os.environ['DB_PASSWORD']); "
        "print(os.environ['LAUNCHER_STACK']); print(os.getcwd()); sys.exit(7)"
    )
    result = cli(running.root, "exec", "--", sys.executable, "-c", script)
    assert result.returncode == 7, result.stderr
    url, password, stack, cwd = result.stdout.splitlines()
    assert url == f"http://127.0.0.1:{running.port('web')}"
    assert password == SECRET  # in clear: the environment is the user's own
    assert stack == "shop"
    assert cwd == str(running.root)  # without SERVICE: where exec was run
    names = cli(
        running.root, "exec", "--", *printenv("GREETING", "WORKER_ONLY", "PORT", "LAUNCHER_RUN", "PATH")
    )
    greeting, worker_only, port, run_id, path = map(json.loads, names.stdout.splitlines())
    assert greeting == AWKWARD
    # No service's own variables, and not the mark by which the stack's reaper ends its processes.
    assert (worker_only, port, run_id) == ("-", "-", "-")
    assert path.split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_exec_with_a_service_runs_in_its_cwd_with_its_environment(running: Running) -> None:
    pwd = cli(running.root, "exec", "worker", "--", "pwd")
    assert (pwd.returncode, pwd.stdout) == (0, f"{running.root / 'sub'}\n"), pwd.stderr
    worker = cli(
        running.root, "exec", "worker", "--", *printenv("WORKER_ONLY", "WEB_URL", "LAUNCHER_SERVICE")
    )
    assert [json.loads(line) for line in worker.stdout.splitlines()] == [
        "yes",
        f"http://127.0.0.1:{running.port('web')}",
        "worker",
    ]
    web = cli(running.root, "exec", "web", "--", *printenv("PORT"))
    assert json.loads(web.stdout) == str(running.port("web"))


def test_exec_reports_a_death_by_signal_as_128_plus_n_and_a_missing_command_as_127(running: Running) -> None:
    assert cli(running.root, "exec", "--", "sh", "-c", "kill -TERM $$").returncode == 143
    assert cli(running.root, "exec", "--", "sh", "-c", "exit 0").returncode == 0
    missing = cli(running.root, "exec", "--", "no-such-command-here")
    assert missing.returncode == 127
    assert missing.stderr.startswith("error[LCH-2001]: cannot run 'no-such-command-here'")


def test_exec_passes_sigterm_on_to_cmd_and_exits_with_what_cmd_makes_of_it(running: Running) -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(5))\n"
        "print('waiting', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "launcher", "exec", "--", sys.executable, "-c", script],
        cwd=running.root,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    with process.stdout:
        assert process.stdout.readline() == "waiting\n"
        process.send_signal(signal.SIGTERM)  # to `launcher exec` alone, not to CMD
        assert process.wait(10) == 5


def test_exec_without_a_command_is_a_usage_error(running: Running) -> None:
    result = cli(running.root, "exec", "web")
    assert result.returncode == 2
    assert "give it after `--`" in result.stderr


def test_env_prints_export_lines_that_a_shell_evaluates_back(running: Running) -> None:
    result = cli(running.root, "env")
    assert result.returncode == 0, result.stderr
    assert all(line.startswith("export ") for line in result.stdout.splitlines() if "=" in line)
    script = 'eval "$1"; printf "%s|%s|%s" "$GREETING" "$WEB_URL" "$DB_PASSWORD"'
    evaluated = subprocess.run(
        ["sh", "-c", script, "sh", result.stdout], capture_output=True, text=True, timeout=10, env={}
    )
    assert evaluated.stdout == f"{AWKWARD}|http://127.0.0.1:{running.port('web')}|{SECRET}"


def test_env_json_is_the_environment_exec_gives(running: Running) -> None:
    stack = cli(running.root, "env", "--json")
    assert stack.returncode == 0, stack.stderr
    env = json.loads(stack.stdout)
    assert env["WEB_URL"] == f"http://127.0.0.1:{running.port('web')}"
    assert env["GREETING"] == AWKWARD
    assert env["DB_PASSWORD"] == SECRET
    assert "WORKER_ONLY" not in env
    seen = cli(
        running.root,
        "exec",
        "--",
        sys.executable,
        "-c",
        "import json, os; print(json.dumps(dict(os.environ)))",
    )
    assert json.loads(seen.stdout) == env
    worker = json.loads(cli(running.root, "env", "worker", "--json").stdout)
    assert (worker["WORKER_ONLY"], worker["LAUNCHER_SERVICE"]) == ("yes", "worker")


def test_env_of_an_unknown_service_is_lch_4003(running: Running) -> None:
    for args in (["env", "nope"], ["exec", "nope", "--", "true"]):
        result = cli(running.root, *args)
        assert result.returncode == 1
        assert result.stderr.startswith(
            "error[LCH-4003]: no service 'nope' in this stack (it has: web, worker)"
        )
