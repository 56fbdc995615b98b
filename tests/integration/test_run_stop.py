"""Stopping a stack run by `launcher run`, on real processes: dependents first and independent
services in parallel, `stop_signal` to the whole group then SIGKILL after `stop_timeout`, no
restarts while stopping, a second Ctrl-C kills at once, a grandchild that holds the output pipe
never hangs anything, and nothing is left: no daemon that left its group, not even when the
launcher is SIGKILLed; the next run reaps what a dead launcher left (same pid *and* start time)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from helpers import (
    Events,
    Launch,
    ProjectFactory,
    alive,
    program,
    service,
    stack_project,
    toml_list,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_dependents_stop_first_and_independent_services_in_parallel(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    events = Events(root / "events")
    # db <- api <- (left, right); lone depends on nothing. Each leaf takes 0.8 s to stop.
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {service("db", events, "--stop-delay", "0.2")}
probe = {{ log = "^db starting$" }}
[services.api]
command = {service("api", events, "--stop-delay", "0.2")}
probe = {{ log = "^api starting$" }}
depends_on = ["db"]
[services.left]
command = {service("left", events, "--stop-delay", "0.8")}
probe = {{ log = "^left starting$" }}
depends_on = ["api"]
[services.right]
command = {service("right", events, "--stop-delay", "0.8")}
probe = {{ log = "^right starting$" }}
depends_on = ["api"]
[services.lone]
command = {service("lone", events, "--stop-delay", "0.8")}
probe = {{ log = "^lone starting$" }}
""")
    launcher = launch(root)
    launcher.wait_output("5/5 services ready")
    wait_until(lambda: len(events.names("started")) == 5, 10, message="every service's first line")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    [left], [right], [lone] = (events.times(n, "stopping") for n in ("left", "right", "lone"))
    [api], [db] = events.times("api", "stopping"), events.times("db", "stopping")
    # The three services nothing depends on are told at once, not one after another.
    assert max(left, right, lone) - min(left, right, lone) < 0.5
    # api only once both its dependents are gone, db only after api.
    assert api >= max(left, right) + 0.8
    assert db >= api + 0.2
    # In all about 0.8 + 0.2 + 0.2 s: the 0.8 s stops overlapped (one after another: 2.8 s).
    assert db - min(left, right, lone) < 2.5


def test_stop_signal_goes_to_the_group_then_sigkill_after_stop_timeout(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    signals = root / "signals"
    record = root / "sigterms"
    (root / "launcher.toml").write_text(f"""
[services.polite]
command = {toml_list(program("writes_on_signal", str(signals), "--name", "polite", "--exit-on", "INT"))}
stop_signal = "SIGINT"
probe = {{ log = "polite ready" }}

[services.stubborn]
command = {toml_list(program("ignores_sigterm", "--record", str(record)))}
stop_timeout = 0.5
probe = {{ log = "ignoring SIGTERM" }}
""")
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    stubborn = next(p for p in launcher.services() if "ignores_sigterm" in " ".join(p.cmdline()))
    launcher.signal(signal.SIGTERM)
    assert launcher.wait() == 143
    got = [line.split()[1] for line in signals.read_text().splitlines()]
    assert got == ["ready", "SIGINT", "exit"], "polite did not get its stop_signal (and only it)"
    [sigterm] = [float(line.split()[1]) for line in record.read_text().splitlines()]
    killed_by = time.monotonic()
    assert not alive(stubborn.pid)
    assert "[stubborn] stopping -> stopped: exit code -9" in launcher.output
    # SIGKILL came no sooner than stop_timeout after SIGTERM (and the launcher then exited).
    assert killed_by - sigterm >= 0.5
    assert "[stubborn] ready -> stopping: sending SIGTERM" in launcher.output


def test_restart_policies_are_off_while_stopping(project: ProjectFactory, launch: Launch) -> None:
    root = project()
    events = Events(root / "events")
    # db crashes (exit 1) as soon as api starts stopping, while api takes 1 s to stop: with its
    # policy on, db would be restarted in the middle of the stack's stop.
    (root / "launcher.toml").write_text(f"""
[services.db]
command = {service("db", events, "--exit", "1", "--exit-when", "api stopping")}
probe = {{ log = "^db starting$" }}
restart = "always"
backoff = {{ initial = 0.05 }}
[services.api]
command = {service("api", events, "--stop-delay", "1")}
probe = {{ log = "^api starting$" }}
depends_on = ["db"]
""")
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    wait_until(lambda: events.count("api", "started"), 10, message="api's first line")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    output = launcher.output
    assert "db exiting with 1" in output
    assert events.count("db", "started") == 1, f"db was restarted while stopping:\n{output}"
    assert "restarting" not in output


def test_a_second_ctrl_c_kills_everything_at_once(project: ProjectFactory, launch: Launch) -> None:
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(f"""
[services.stubborn]
command = {service("stubborn", events, "--ignore-term", "--grandchild")}
probe = {{ log = "^stubborn starting$" }}
stop_timeout = 60
[services.other]
command = {service("other", events, "--ignore-term")}
probe = {{ log = "^other starting$" }}
stop_timeout = 60
depends_on = ["stubborn"]
""")
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    wait_until(lambda: len(events.names("started")) == 2, 10, message="both services' first lines")
    tree = launcher.services()
    assert len(tree) == 3  # two services and stubborn's grandchild
    launcher.signal(signal.SIGINT)
    launcher.wait_output("[other] ready -> stopping")
    launcher.signal(signal.SIGINT)
    second = time.monotonic()
    assert launcher.wait(timeout=5) == 130
    assert time.monotonic() - second < 1.0
    assert "SIGINT again: killing every service now" in launcher.output
    assert not [p.pid for p in tree if alive(p.pid)]


# $$$$: the launcher interpolates the command ($$ is a literal $), sh then gets $$ (its pid).
GRANDCHILD_HOLDS_THE_PIPE = "echo {name} started $$$$ >> {events}; sleep 60 & sleep 1.2; exit 3"


def test_an_exit_is_seen_at_once_although_a_grandchild_holds_the_pipe(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    events = Events(root / "events")
    script = GRANDCHILD_HOLDS_THE_PIPE.format(name="flaky", events=events.path)
    (root / "launcher.toml").write_text(f"""
[services.flaky]
command = {toml_list(["sh", "-c", script])}
restart = "on-failure"
backoff = {{ initial = 0.1 }}
""")
    launcher = launch(root)
    wait_until(lambda: events.count("flaky", "started"), 20, message="the first run")
    first = time.monotonic()
    [sh] = events.pids("flaky")
    grandchildren = wait_until(lambda: len(kids := psutil.Process(sh).children()) == 2 and kids)
    # Restarted after its exit at 1.2 s, not once the grandchild's `sleep 60` lets go of the pipe.
    wait_until(lambda: events.count("flaky", "started") >= 2, 20, message="a restart")
    assert time.monotonic() - first < 1.2 + 2.0
    assert "[flaky] ready -> backoff: exited with code 3" in launcher.output
    # The first run's grandchild went with it: its group was killed once the leader exited.
    assert not [p.pid for p in grandchildren if alive(p.pid)]
    launcher.signal(signal.SIGINT)
    assert launcher.wait(timeout=10) == 130


def test_a_stop_while_a_restart_spawns_never_waits_for_a_grandchild(
    project: ProjectFactory, launch: Launch
) -> None:
    # The flaky test this replaces: Ctrl-C while the restart of such a service was being spawned
    # hung the launcher for the grandchild's whole 60 s. Stop at every moment of a restart loop.
    root = project()
    events = Events(root / "events")
    script = "echo {name} started $$$$ >> {events}; sleep 60 & exit 3"
    (root / "launcher.toml").write_text(f"""
[services.looping]
command = {toml_list(["sh", "-c", script.format(name="looping", events=events.path)])}
restart = "always"
max_restarts = 1000
start_retries = 1000
backoff = {{ initial = 0.001, max = 0.001 }}
""")
    for _ in range(3):
        before = events.count("looping", "started")
        launcher = launch(root)
        wait_until(lambda n=before: events.count("looping", "started") >= n + 3, 20, message="3 runs")
        launcher.signal(signal.SIGINT)
        assert launcher.wait(timeout=10) == 130
        launcher.close()


def test_a_stop_ends_a_grandchild_that_ignores_the_stop_signal_and_holds_the_pipe(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    # The leader exits on SIGTERM; the grandchild ignores it and keeps stdout open.
    script = f"trap '' TERM; sleep 60 & exec {sys.executable} {program('sleeper')[1]}"
    (root / "launcher.toml").write_text(f"""
[services.parent]
command = {toml_list(["sh", "-c", script])}
stop_timeout = 30
probe = {{ log = "sleeper ready" }}
""")
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    tree = launcher.services()
    assert len(tree) == 2
    launcher.signal(signal.SIGINT)
    started = time.monotonic()
    assert launcher.wait(timeout=10) == 130
    assert time.monotonic() - started < 2.0
    assert not [p.pid for p in tree if alive(p.pid)]


def test_a_daemon_that_left_its_group_is_killed_at_stop(project: ProjectFactory, launch: Launch) -> None:
    root = project()
    events = Events(root / "events")
    pidfile = root / "daemon.pid"
    (root / "launcher.toml").write_text(f"""
[services.forker]
command = {service("forker", events, "--daemon", str(pidfile))}
probe = {{ log = "^forker starting$" }}
""")
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    wait_until(pidfile.exists, 10, message="the daemon's pid file")
    daemon = psutil.Process(int(pidfile.read_text()))
    [forker] = events.pids("forker")
    assert os.getsid(daemon.pid) != os.getsid(forker), "the daemon did not leave the service's session"
    assert daemon.environ()["LAUNCHER_SERVICE"] == "forker"
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    assert not alive(daemon.pid)
    assert f"killed what had left its process group: pid {daemon.pid}" in launcher.output


def test_sigkill_of_the_launcher_leaves_nothing_within_2_seconds(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    pidfile = stack.root / "daemon.pid"
    stack.write(f"""
[services.a]
command = {service("a", stack.events, "--grandchild", "--daemon", str(pidfile))}
probe = {{ log = "^a starting$" }}
[services.b]
command = "sh -c 'sleep 300 & exec sleep 301'"
[services.c]
command = {service("c", stack.events, "--listen", "--ignore-term")}
port = "auto"
""")
    launcher = launch(stack.root)
    launcher.wait_output("3/3 services ready")
    wait_until(pidfile.exists, 10, message="the daemon's pid file")
    # a and its sleep, b's sh (now sleep 301) and sleep 300, c; the daemon is no descendant.
    wait_until(lambda: len(launcher.services()) == 5, 10, message="every service and grandchild")
    tree = [*launcher.services(), psutil.Process(int(pidfile.read_text()))]
    os.kill(launcher.process.pid, signal.SIGKILL)
    launcher.wait()
    # The daemon left a's session: only the marker sweep of the reaper finds it.
    wait_until(
        lambda: not [p.pid for p in tree if alive(p.pid)],
        2.0,
        message=lambda: f"gone: {[p.pid for p in tree if alive(p.pid)]} still alive",
    )


def test_the_next_run_reaps_what_a_dead_launcher_left(project: ProjectFactory, launch: Launch) -> None:
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(f"""
[services.orphan]
command = {service("orphan", events, "--grandchild")}
probe = {{ log = "^orphan starting$" }}
""")
    first = launch(root)
    first.wait_output("1/1 services ready")
    wait_until(lambda: events.count("orphan", "started"), 10, message="the service's first line")
    left = first.services()
    # Kill its reaper first, then the launcher: nothing cleans up on its own.
    for child in first.children():
        if child not in left:
            child.kill()
    os.kill(first.process.pid, signal.SIGKILL)
    first.wait()
    assert all(alive(p.pid) for p in left)
    first.close()

    second = launch(root)
    second.wait_output("found the state of a launcher that died")
    wait_until(lambda: not [p for p in left if alive(p.pid)], 5, message="the leftovers reaped")
    second.wait_output("1/1 services ready")
    second.signal(signal.SIGINT)
    assert second.wait() == 130


def test_a_leftover_record_whose_start_time_differs_is_left_alone(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project("""
        [services.quick]
        command = "sleep 300"
    """)
    # A process that merely has a recorded pid now (the pid was reused): not ours to kill.
    bystander = subprocess.Popen(program("sleeper"), stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        started = psutil.Process(bystander.pid).create_time()
        record = {
            "stack": "t",
            "state": "running",
            "pid": os.getpid(),
            "create_time": 1.0,  # not our start time: that launcher is dead
            "run_id": "0123456789ab",
            "services": [
                {
                    "name": "quick",
                    "state": "ready",
                    "pid": bystander.pid,
                    "pgid": bystander.pid,
                    "create_time": started - 1000,
                }
            ],
        }
        (root / ".launcher").mkdir()
        (root / ".launcher" / "state.json").write_text(json.dumps(record))
        launcher = launch(root)
        launcher.wait_output("1/1 services ready")
        assert "found the state of a launcher that died" in launcher.output
        assert "nothing was left running" in launcher.output
        assert alive(bystander.pid)
        launcher.signal(signal.SIGINT)
        assert launcher.wait() == 130
    finally:
        bystander.kill()
        bystander.wait()
