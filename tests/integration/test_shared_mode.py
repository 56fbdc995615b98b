"""Shared mode end to end, with the same assertions in multi mode where they are the contract:
apps answer under their URL, lifespans run in dependency order and stop in reverse, tasks run,
restart by their policy, and a failing lifespan fails its service with its traceback."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from helpers import PROGRAMS, ProjectFactory, free_port_block, wait_until

import launcher
from launcher.errors import StartFailed

pytestmark = pytest.mark.integration
PORTS = free_port_block(20)
MODES = ["multi", "shared"]


def stack(events: Path, extra: str = "") -> str:
    return f"""
[launcher]
ports = [{PORTS[0]}, {PORTS[1]}]
stop_timeout = 5

[env]
EVENTS = "{events}"
{extra}

[services.alpha]
app = "hosted.services:alpha"
cwd = "{PROGRAMS}"
probe = {{ http = "/health" }}

[services.beta]
app = "hosted.services:beta"
cwd = "{PROGRAMS}"
mount = "/b"
depends_on = ["alpha"]
start_retries = 0

[services.worker]
task = "hosted.services:worker"
cwd = "{PROGRAMS}"
depends_on = {{ beta = "ready" }}

[services.crasher]
task = "hosted.services:crasher"
cwd = "{PROGRAMS}"
restart = "on-failure"
backoff = {{ initial = 0.1 }}
"""


def make(project: ProjectFactory, extra: str = "") -> tuple[Path, Path]:
    """A project running the stack above; returns its config file and its events file."""
    root = project(None)
    events = root / "events.txt"
    (root / "launcher.toml").write_text(stack(events, extra))
    return root / "launcher.toml", events


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        data: dict[str, object] = json.load(response)
    return data


def lines(events: Path) -> list[tuple[str, int]]:
    if not events.exists():
        return []
    return [(word, int(pid)) for word, pid in (line.split() for line in events.read_text().splitlines())]


@pytest.mark.parametrize("mode", MODES)
def test_apps_answer_under_their_urls_and_lifespans_stop_in_reverse(
    mode: str, project: ProjectFactory
) -> None:
    config, events = make(project)
    with launcher.load(config, mode=mode).start(timeout=60) as running:
        alpha, beta = get(running.url("alpha") + "/health"), get(running.url("beta") + "/health")
        assert (alpha["app"], alpha["state_owner"]) == ("alpha", "alpha")
        assert (beta["app"], beta["state_owner"]) == ("beta", "beta")  # no clobbered state
        if mode == "shared":
            assert running.url("beta").endswith("/b")
            assert running.env["BETA_URL"] == running.url("beta")
            assert alpha["pid"] == beta["pid"]  # one host process
        else:
            assert alpha["pid"] != beta["pid"]
        wait_until(lambda: "worker.started" in dict(lines(events)), timeout=20)
        states = {s.name: s.state for s in running.status()}
        assert states["alpha"] == states["beta"] == states["worker"] == "ready"
        assert any("lifespan started" in line for line in running.logs("beta"))
        assert any("worker: working" in line for line in running.logs("worker"))
    order = [word for word, _ in lines(events) if word.endswith(("startup", "shutdown", "cancelled"))]
    assert order[:2] == ["alpha.startup", "beta.startup"]
    assert order[-3:] == ["worker.cancelled", "beta.shutdown", "alpha.shutdown"]


@pytest.mark.parametrize("mode", MODES)
def test_a_crashing_task_restarts_by_its_policy_and_the_others_stay_up(
    mode: str, project: ProjectFactory
) -> None:
    config, events = make(project)
    with launcher.load(config, mode=mode).start(timeout=60) as running:
        wait_until(lambda: sum(w == "crasher.started" for w, _ in lines(events)) >= 2, timeout=30)
        wait_until(lambda: {s.name: s for s in running.status()}["crasher"].restarts >= 1, timeout=10)
        assert get(running.url("alpha") + "/health")["app"] == "alpha"
        assert any("crasher: boom" in line for line in running.logs("crasher"))
        running.restart("beta")
        assert get(running.url("beta") + "/health")["state_owner"] == "beta"
    started = [w for w, _ in lines(events) if w == "beta.startup"]
    assert len(started) == 2  # the restart ran beta's lifespan again


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_lifespan_fails_its_service_with_the_traceback_and_rolls_back(
    mode: str, project: ProjectFactory
) -> None:
    config, events = make(project, 'FAIL_LIFESPAN = "beta"')
    with pytest.raises(StartFailed) as failure, launcher.load(config, mode=mode).start(timeout=60):
        pass
    assert failure.value.service == "beta"
    assert any("the database is unreachable" in line for line in failure.value.output)
    words = [w for w, _ in lines(events)]
    assert "alpha.startup" in words
    assert words[-1] == "alpha.shutdown"  # rolled back


def test_conflicting_environments_are_a_configuration_error_in_shared_mode(project: ProjectFactory) -> None:
    root = project(
        f"""
[services.one]
task = "hosted.services:worker"
cwd = "{PROGRAMS}"
env = {{ ROLE = "one" }}

[services.two]
task = "hosted.services:worker"
cwd = "{PROGRAMS}"
env = {{ ROLE = "two" }}
"""
    )
    launcher.load(root / "launcher.toml", mode="multi")
    with pytest.raises(launcher.ConfigError, match="LCH-1029"):
        launcher.load(root / "launcher.toml", mode="shared")
