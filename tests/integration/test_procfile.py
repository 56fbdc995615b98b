"""A Procfile as the project's configuration, as a honcho user has it: found where there is no
launcher.toml (and said so), `release` run once before the other processes, `web` on an
automatic port, `.env` read beside it; `up -d` of a named Procfile, then `status`, `logs` and
`down` without -f (the state file records the configuration)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from helpers import PROGRAMS, Events, ProjectFactory, alive, cli, free_port_block

pytestmark = pytest.mark.integration

NOTE = "no launcher.toml: running the Procfile (honcho syntax)"


def procfile(events: Events) -> str:
    """release (0.3 s, then exit 0), web (HTTP on $PORT, which it is not told to use), worker."""

    def line(name: str, *flags: str) -> str:
        words = [
            sys.executable,
            str(PROGRAMS / "stack_service.py"),
            name,
            "--events",
            str(events.path),
            *flags,
        ]
        return f"{name}: {shlex.join(words)}\n"

    return (
        line("release", "--exit", "0", "--exit-after", "0.3")
        + line("web", "--listen", "--http")
        + line("worker")
    )


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """A free block for `port = "auto"` (a Procfile cannot say it: LAUNCHER_PORTS does)."""
    low, high = free_port_block(10)
    monkeypatch.setenv("LAUNCHER_PORTS", f"{low}-{high}")
    return low, high


def assert_release_ran_once_first(events: Events) -> None:
    assert events.count("release", "started") == 1
    released = events.times("release", "started")[0]
    for name in ("web", "worker"):
        assert events.count(name, "started") == 1
        # The release takes 0.3 s to complete: the others start after it, not beside it.
        assert events.times(name, "started")[0] > released + 0.3, events.lines()


def test_run_of_a_procfile_only_project(
    project: ProjectFactory, tmp_path: Path, ports: tuple[int, int]
) -> None:
    events = Events(tmp_path / "events")
    root = project(None, {"Procfile": procfile(events), ".env": "GREETING=hello from .env\n"})
    show = "import os; print('CMD', os.environ['WEB_URL'], os.environ['GREETING'])"
    result = cli(root, "run", "--", sys.executable, "-c", show)
    assert result.returncode == 0, result.stdout + result.stderr
    assert NOTE in result.stdout + result.stderr
    cmd = next(line for line in result.stdout.splitlines() if line.startswith("CMD "))
    url, greeting = cmd.split(" ", 2)[1:]
    assert url.startswith("http://127.0.0.1:")
    assert ports[0] <= int(url.rsplit(":", 1)[1]) <= ports[1]
    assert greeting == "hello from .env"
    assert_release_ran_once_first(events)

    check = cli(root, "check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines() == [
        "no launcher.toml: checking the Procfile (honcho syntax)",
        "Procfile: 3 processes, configuration is valid",
    ]


def test_up_of_a_named_procfile_then_status_logs_and_down_without_f(
    project: ProjectFactory, tmp_path: Path, ports: tuple[int, int]
) -> None:
    """`Procfile.dev` (foreman's convention for a development Procfile) is found by no walk up:
    only the state file says where the running stack is."""
    events = Events(tmp_path / "events")
    root = project(None, {"Procfile.dev": procfile(events)})
    up = cli(root, "-f", "Procfile.dev", "up", "-d", "--wait", "--timeout", "60")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert NOTE not in up.stdout  # named, not found: nothing to say
        state = json.loads((root / ".launcher" / "state.json").read_text())
        assert state["config"] == str(root / "Procfile.dev")
        assert state["profile"] is None

        below = root / "src"
        below.mkdir()
        for where in (root, below):
            status = cli(where, "status", "--json")
            assert status.returncode == 0, status.stderr
            services = {s["name"]: s["state"] for s in json.loads(status.stdout)["services"]}
            assert services == {"release": "completed", "web": "ready", "worker": "ready"}
        logs = cli(below, "logs", "worker", "--no-prefix")
        assert logs.returncode == 0, logs.stderr
        assert "worker starting" in logs.stdout
        assert_release_ran_once_first(events)
    finally:
        down = cli(root, "down")
    assert down.returncode == 0, down.stderr
    assert not (root / ".launcher" / "state.json").exists()
    # Its shell is the service's process (dash runs the command as its child); both are gone.
    assert not any(alive(pid) for name in ("web", "worker") for pid in events.pids(name))


def test_up_of_a_found_procfile_says_so(
    project: ProjectFactory, tmp_path: Path, ports: tuple[int, int]
) -> None:
    events = Events(tmp_path / "events")
    root = project(None, {"Procfile": procfile(events)})
    up = cli(root, "up", "-d", "--wait", "--timeout", "60")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert up.stdout.startswith(NOTE + "\n")
        state = json.loads((root / ".launcher" / "state.json").read_text())
        assert state["config"] == str(root / "Procfile")
    finally:
        assert cli(root, "down").returncode == 0
