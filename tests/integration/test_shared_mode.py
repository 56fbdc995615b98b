"""Shared mode end to end, with the same assertions in multi mode where they are the contract:
apps answer at the root of their own port (the same URL in both modes), lifespans run in
dependency order and stop in reverse, tasks run, restart by their policy, and a failing
lifespan fails its service with its traceback."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pty
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import PROGRAMS, ProjectFactory, free_port_block, wait_until

import launcher
from launcher.core.errors import StartFailed
from launcher.plan.modes import CI_VARIABLES

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
        assert running.env["BETA_URL"] == running.url("beta")
        if mode == "shared":
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


@dataclasses.dataclass
class Observed:
    """Every URL, port, pid and answer of one run of a stack."""

    urls: dict[str, str]
    addresses: dict[str, str]  # the X_URL and X_PORT variables
    ports: dict[str, int | None]
    pids: dict[str, int | None]
    answers: dict[str, dict[str, object]]


def observed(config: Path, mode: str) -> Observed:
    with launcher.load(config, mode=mode).start(timeout=60) as running:
        status = {s.name: s for s in running.status()}
        urls = {name: running.url(name) for name in ("alpha", "beta")}
        return Observed(
            urls=urls,
            addresses={k: v for k, v in running.env.items() if k.endswith(("_URL", "_PORT"))},
            ports={name: s.port for name, s in status.items()},
            pids={name: s.pid for name, s in status.items()},
            answers={name: get(url + "/") for name, url in urls.items()},
        )


def test_both_modes_serve_every_app_at_the_same_url_at_the_root_of_its_own_port(
    project: ProjectFactory,
) -> None:
    config, _ = make(project)
    multi, shared = observed(config, "multi"), observed(config, "shared")
    assert shared.urls == multi.urls
    assert shared.addresses == multi.addresses
    assert shared.ports == {**multi.ports, "shared-host": None}  # the host has no port of its own
    assert multi.urls == {name: f"http://127.0.0.1:{multi.ports[name]}" for name in ("alpha", "beta")}
    assert multi.ports["alpha"] != multi.ports["beta"]
    for run in (multi, shared):
        for name, url in run.urls.items():
            # Each app answers at `/` of its own port and sees its URL as it is, unprefixed.
            assert (run.answers[name]["app"], run.answers[name]["url"]) == (name, url + "/")
    hosted = ("alpha", "beta", "worker", "crasher")
    assert len({multi.pids[name] for name in hosted}) == len(hosted)
    assert {shared.pids[name] for name in hosted} == {shared.pids["shared-host"]}
    assert shared.answers["alpha"]["pid"] == shared.answers["beta"]["pid"] == shared.pids["alpha"]
    assert multi.answers["alpha"]["pid"] == multi.pids["alpha"] != multi.answers["beta"]["pid"]


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


def ready_calls(events: Path, start_timeout: float = 30) -> str:
    return f"""
[env]
EVENTS = "{events}"

[services.connector]
task = "hosted.services:connector"
cwd = "{PROGRAMS}"
start_timeout = {start_timeout}

[services.after_connector]
task = "hosted.services:after_connector"
cwd = "{PROGRAMS}"
depends_on = {{ connector = "ready" }}
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_task_marked_reports_ready_is_ready_when_it_calls_ready(mode: str, project: ProjectFactory) -> None:
    root = project(None)
    events = root / "events.txt"
    (root / "launcher.toml").write_text(ready_calls(events))
    with launcher.load(root / "launcher.toml", mode=mode).start(timeout=60) as running:
        wait_until(lambda: "after_connector.started" in dict(lines(events)), timeout=20)
        assert {s.name: s.state for s in running.status()}["connector"] == "ready"
    words = [w for w, _ in lines(events)]
    assert words.index("connector.ready") < words.index("after_connector.started")


@pytest.mark.parametrize("mode", MODES)
def test_a_task_that_never_calls_ready_fails_at_its_start_timeout(mode: str, project: ProjectFactory) -> None:
    root = project(
        f"""
[services.never_ready]
task = "hosted.services:never_ready"
cwd = "{PROGRAMS}"
start_timeout = 1.5
start_retries = 0
"""
    )
    stack = launcher.load(root / "launcher.toml", mode=mode)
    with pytest.raises(StartFailed) as failure, stack.start(timeout=60):
        pass
    assert failure.value.service == "never_ready"


@pytest.mark.parametrize("mode", MODES)
def test_an_open_stream_does_not_hold_up_the_stop(mode: str, project: ProjectFactory) -> None:
    config, events = make(project)
    with launcher.load(config, mode=mode).start(timeout=60) as running:
        stream = urllib.request.urlopen(running.url("alpha") + "/stream", timeout=10)
        assert stream.read(5) == b"tick\n"
        stopping = time.monotonic()  # leaving the block stops the stack
    took = time.monotonic() - stopping
    stream.close()
    # The server cancels the stream after its grace (not SIGKILL at stop_timeout = 5 s), so
    # the app's lifespan shutdown still runs.
    assert took < 5
    assert "alpha.shutdown" in [w for w, _ in lines(events)]


def caught_signals(pid: int) -> set[int]:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return {n for n in range(1, 65) if mask & (1 << (n - 1))}


def interpreter_signals() -> set[int]:
    """What a bare interpreter catches in this environment: SIGINT, plus whatever measuring
    tools add to every Python process (coverage's SIGTERM handler in the coverage gate)."""
    bare = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert bare.stdout is not None
        assert bare.stdout.readline() == "up\n"
        return caught_signals(bare.pid)
    finally:
        assert bare.stdin is not None
        bare.stdin.close()
        bare.wait(10)
        bare.stdout.close()


def test_the_host_installs_no_signal_handlers(project: ProjectFactory) -> None:
    config, _ = make(project)
    with launcher.load(config, mode="shared").start(timeout=60) as running:
        host = {s.name: s.pid for s in running.status()}["alpha"]
        assert host is not None
        caught = caught_signals(host)
    # uvicorn would catch SIGTERM (and take SIGINT over); the host catches no more than the
    # interpreter itself does.
    baseline = interpreter_signals()
    assert caught <= baseline
    assert signal.SIGINT in baseline
    if "COVERAGE_PROCESS_CONFIG" not in os.environ:  # coverage.py's, in measured runs
        assert signal.SIGTERM not in caught


def tasks(root: Path, count: int) -> Path:
    """A project of `count` tasks (workers), writing their events into `root`."""
    services = "".join(
        f'''
[services.worker{i}]
task = "hosted.services:worker"
cwd = "{PROGRAMS}"
'''
        for i in range(count)
    )
    (root / "launcher.toml").write_text(f'[env]\nEVENTS = "{root / "events.txt"}"\n{services}')
    return root


def run_auto(root: Path, environ: dict[str, str], *, terminal: bool) -> str:
    """`launcher run --mode auto -- launcher status` in `root`, its stdout a pipe or a terminal."""
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES} | environ | {"NO_COLOR": "1"}
    status = [sys.executable, "-m", "launcher", "status"]
    argv = [sys.executable, "-m", "launcher", "run", "--mode", "auto", "--", *status]
    if not terminal:
        done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout
    leader, follower = pty.openpty()
    try:
        child = subprocess.Popen(argv, cwd=root, env=env, stdout=follower, stderr=follower)
        os.close(follower)
        output = bytearray()
        with contextlib.suppress(OSError):  # EIO once the child closed the terminal
            while chunk := os.read(leader, 65536):
                output += chunk
        assert child.wait(timeout=60) == 0, output.decode()
    finally:
        os.close(leader)
    return output.decode()


@pytest.mark.parametrize(
    ("count", "environ", "terminal", "expected"),
    [
        (2, {}, True, "mode shared: an interactive developer machine"),
        (1, {}, True, "mode multi: nothing to share (one task)"),
        (2, {}, False, "mode multi: stdout is not a terminal"),
        (2, {"CI": "true"}, True, "mode multi: running in CI (CI is set)"),
    ],
)
def test_mode_auto_prints_its_choice_and_reason_in_one_line(
    count: int, environ: dict[str, str], terminal: bool, expected: str, project: ProjectFactory
) -> None:
    root = tasks(project(None), count)
    output = run_auto(root, environ, terminal=terminal)
    choices = [line for line in output.splitlines() if "mode multi:" in line or "mode shared:" in line]
    assert len(choices) == 1, output
    assert expected in choices[0]
    assert ("shared-host" in output) == expected.startswith("mode shared")
    mode = expected.split(":")[0]  # "mode shared"
    assert f", {mode}): running" in output  # `status` reports the mode the mode line gave
    # The configured services are counted in both modes: the host is infrastructure.
    assert f"{count}/{count} services ready" in output
