"""The lifecycle converges (DESIGN.md 5 and 10): `up` of the stack already up exits 0 and says
so, `down` and `status` with nothing running exit 0 and 3, `status` tells a stack that is not
all ready by 1, and `start`/`stop`/`restart` take several services, none meaning all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ProjectFactory, alive, cli, web_stack

pytestmark = pytest.mark.integration


def state(root: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((root / ".launcher" / "state.json").read_text())
    except FileNotFoundError:
        return None
    return data


@pytest.fixture
def stack(project: ProjectFactory) -> Iterator[Path]:
    """A project of two services (worker after web) and a profile with web alone; brought
    down at the end, whatever the test did."""
    root = web_stack(project, files={"profiles/lone.toml": 'select = ["web"]\n'})
    yield root
    if state(root) is not None:
        cli(root, "down")


def services(root: Path) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in json.loads(cli(root, "status", "--json").stdout)["services"]}


def test_up_twice_leaves_one_stack_and_exits_0_twice(stack: Path) -> None:
    first = cli(stack, "up", "-d", "--wait", "--timeout", "60")
    assert first.returncode == 0, first.stderr
    record = state(stack)
    assert record is not None
    again = cli(stack, "up", "-d", "--wait", "--timeout", "60")
    assert again.returncode == 0, again.stderr
    assert f"already up (launcher pid {record['pid']}" in again.stdout
    assert "2/2 services ready" in again.stdout  # --wait: it is ready
    assert cli(stack, "up", "-d").returncode == 0
    assert state(stack)["pid"] == record["pid"]  # type: ignore[index]
    assert {name: s["pid"] for name, s in services(stack).items()} == {
        s["name"]: s["pid"] for s in record["services"]
    }


@pytest.mark.parametrize(
    ("args", "differs"),
    [
        (["lone"], "with no profile, not profile 'lone'"),
        (["web"], "with services web, worker, not web"),
    ],
)
def test_up_of_another_stack_of_the_project_is_lch_4002(stack: Path, args: list[str], differs: str) -> None:
    assert cli(stack, "up", "-d", "--wait", "--timeout", "60").returncode == 0
    other = cli(stack, "up", *args, "-d")
    assert other.returncode == 1
    assert other.stderr.startswith("error[LCH-4002]: a stack of this project is already running")
    assert differs in other.stderr.splitlines()[0]


def test_down_and_status_with_nothing_running_exit_0_and_3(stack: Path) -> None:
    down = cli(stack, "down")
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith("nothing to stop: no stack of this project is running")
    status = cli(stack, "status")
    assert status.returncode == 3
    assert status.stdout.startswith("stopped: no stack of this project is running")
    assert status.stderr == ""
    as_json = cli(stack, "status", "--json")
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout) == {"state": "stopped", "services": []}


def test_stop_start_and_restart_take_several_services_none_meaning_all(stack: Path) -> None:
    assert cli(stack, "up", "-d", "--wait", "--timeout", "60").returncode == 0
    assert cli(stack, "status").returncode == 0
    before = services(stack)

    stopped = cli(stack, "stop", "web", "worker")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == "stopped worker\nstopped web\n"  # dependents first
    assert {name: s["state"] for name, s in services(stack).items()} == {
        "web": "stopped",
        "worker": "stopped",
    }
    assert not any(alive(s["pid"]) for s in before.values())
    assert cli(stack, "status").returncode == 1  # running, but not every service ready

    started = cli(stack, "start")
    assert started.returncode == 0, started.stderr
    assert [line.split(":")[0] for line in started.stdout.splitlines()] == ["started web", "started worker"]
    middle = services(stack)
    assert {name: s["state"] for name, s in middle.items()} == {"web": "ready", "worker": "ready"}
    assert cli(stack, "status").returncode == 0

    restarted = cli(stack, "restart")
    assert restarted.returncode == 0, restarted.stderr
    assert [line.split(":")[0] for line in restarted.stdout.splitlines()] == [
        "restarted web",
        "restarted worker",
    ]
    after = services(stack)
    assert all(after[name]["pid"] not in (None, middle[name]["pid"]) for name in after)
    assert {name: s["state"] for name, s in after.items()} == {"web": "ready", "worker": "ready"}


def test_an_unknown_name_among_several_changes_nothing(stack: Path) -> None:
    assert cli(stack, "up", "-d", "--wait", "--timeout", "60").returncode == 0
    before = services(stack)
    result = cli(stack, "stop", "worker", "nope")
    assert result.returncode == 1
    assert result.stderr.startswith("error[LCH-4003]: no service 'nope' in this stack (it has: web, worker)")
    after = services(stack)
    assert {n: (s["state"], s["pid"]) for n, s in after.items()} == {
        n: ("ready", s["pid"]) for n, s in before.items()
    }
