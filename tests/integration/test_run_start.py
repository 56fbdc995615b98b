"""Starting a stack with `launcher run`, on real processes: each service starts the moment its
own dependencies allow, failed starts are retried with backoff within `start_timeout`, ready
services restart by their policy until the crash-loop rule gives up, dependents of a failure are
skipped, a failed start rolls back with a report, and `--keep-going` leaves the rest running."""

from __future__ import annotations

import re
import signal

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


def test_a_service_starts_as_soon_as_its_own_dependencies_are_ready_not_by_level(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    # slow and fast are one "level"; quick_dependent needs only fast, so it must not wait for slow.
    stack.write(f"""
[services.slow]
command = {service("slow", stack.events, "--listen", "--delay", "2")}
port = "auto"
[services.fast]
command = {service("fast", stack.events, "--listen")}
port = "auto"
[services.quick_dependent]
command = {service("quick_dependent", stack.events)}
probe = {{ log = "^quick_dependent starting$" }}
depends_on = ["fast"]
[services.slow_dependent]
command = {service("slow_dependent", stack.events)}
probe = {{ log = "^slow_dependent starting$" }}
depends_on = ["slow", "fast"]
""")
    launcher = launch(stack.root)
    launcher.wait_output("4/4 services ready")
    wait_until(lambda: stack.events.count("slow_dependent", "started"), 10, message="slow_dependent started")
    [quick] = stack.events.times("quick_dependent", "started")
    [slow_ready] = stack.events.times("slow", "ready")
    [fast_ready] = stack.events.times("fast", "ready")
    [slow_dependent] = stack.events.times("slow_dependent", "started")
    assert fast_ready < quick < slow_ready, "quick_dependent waited for a service it does not need"
    assert slow_ready < slow_dependent
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


def test_failed_start_attempts_are_retried_with_backoff_until_one_succeeds(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    flags = ("--listen", "--fail-times", "2", "--counter", str(stack.root / "counter"))
    stack.write(f"""
[services.db]
command = {service("db", stack.events, *flags)}
port = "auto"
start_retries = 2
backoff = {{ initial = 0.3, multiplier = 2 }}
""")
    launcher = launch(stack.root)
    launcher.wait_output("1/1 services ready")
    failures = stack.events.times("db", "failed")
    [success] = stack.events.times("db", "started")
    assert len(failures) == 2
    # The waits grow: 0.3 s, then 0.6 s (exponential backoff; the stamps are taken once each
    # interpreter is up, whose start-up time varies a little).
    assert failures[1] - failures[0] >= 0.2
    assert success - failures[1] >= 0.45
    output = launcher.output
    assert "[db] backoff: exited with code 1 before it was ready; retrying in 0.3s" in output
    assert "[db] backoff: exited with code 1 before it was ready; retrying in 0.6s" in output
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


def test_start_timeout_ends_each_attempt_and_after_the_retries_the_service_failed(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    # It never listens, so its tcp probe never passes.
    stack.write(f"""
[services.hung]
command = {service("hung", stack.events)}
port = "auto"
start_timeout = 0.5
start_retries = 1
backoff = {{ initial = 0.1 }}
""")
    launcher = launch(stack.root)
    assert launcher.wait() == 1
    pids = stack.events.pids("hung")
    assert len(pids) == 2
    assert all(not alive(pid) for pid in pids), "a timed-out attempt was left running"
    stops = stack.events.times("hung", "stopping")
    starts = stack.events.times("hung", "started")
    assert len(stops) == 2
    # Each was stopped by its timeout: start_timeout counts from the spawn, "started" from once
    # the interpreter is up (a varying moment later), so only an upper bound is exact.
    assert all(0 < stop - start < 3 for start, stop in zip(starts, stops, strict=True))
    output = launcher.output
    assert "error[LCH-2003]: service 'hung' failed to start: was not ready within 0.5s" in output
    assert "(after 2 attempts)" in output


def test_an_exit_after_ready_restarts_by_policy_until_max_restarts_within_the_window(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    stack.write(f"""
[services.crashy]
command = {service("crashy", stack.events, "--listen", "--exit", "1", "--exit-after", "0.2")}
port = "auto"
restart = "on-failure"
max_restarts = 2
restart_window = 60
backoff = {{ initial = 0.2, multiplier = 2 }}
[services.steady]
command = {service("steady", stack.events)}
probe = {{ log = "^steady starting$" }}
""")
    launcher = launch(stack.root)
    launcher.wait_output("[crashy] ready -> failed")
    # The first run and two restarts; the third exit gives up.
    assert stack.events.count("crashy", "started") == 3
    output = launcher.output
    assert "exited with code 1; restarting in 0.2s" in output
    assert "exited with code 1; restarting in 0.4s" in output
    assert "exited with code 1; restarted 2 times within 60s, giving up" in output
    # The rest of the stack runs on.
    assert launcher.process.poll() is None
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


def test_restarts_older_than_the_restart_window_are_forgotten(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    # Each run stays up 0.6 s, longer than the 0.4 s window: one restart allowed in a window is
    # never exceeded, however many there are in all, and the backoff never grows.
    stack.write(f"""
[services.flappy]
command = {service("flappy", stack.events, "--listen", "--exit", "1", "--exit-after", "0.6")}
port = "auto"
restart = "always"
max_restarts = 1
restart_window = 0.4
backoff = {{ initial = 0.2, multiplier = 2 }}
""")
    launcher = launch(stack.root)
    wait_until(lambda: stack.events.count("flappy", "started") >= 4, 20, message="four runs of flappy")
    output = launcher.output
    assert "giving up" not in output
    assert output.count("restarting in 0.2s") >= 3
    assert "restarting in 0.4s" not in output
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


def failing_stack(events: Events) -> str:
    return f"""
[services.db]
command = {service("db", events, "--lines", "30", "--exit", "4")}
port = "auto"
start_retries = 0
[services.api]
command = {service("api", events, "--listen")}
port = "auto"
depends_on = ["db"]
[services.worker]
command = {service("worker", events)}
depends_on = ["api"]
[services.cache]
command = {service("cache", events, "--listen")}
port = "auto"
"""


def test_a_failed_start_skips_its_dependents_rolls_back_and_reports_the_last_20_lines(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    stack.write(failing_stack(stack.events))
    launcher = launch(stack.root)
    assert launcher.wait() == 1
    output = launcher.output
    assert "[api] skipped: dependency 'db' failed" in output
    assert "[worker] skipped: dependency 'api' skipped" in output
    # Rolled back at once: what had started (cache, maybe still starting: the rollback does not
    # wait for it) was stopped again; the skipped never started.
    assert re.search(r"\[cache\] (starting|ready) -> stopping: sending SIGTERM", output), output
    assert not stack.events.count("api", "started")
    assert not stack.events.count("worker", "started")
    report = output[output.index("error[LCH-2002]") :]
    assert report.startswith("error[LCH-2002]: service 'db' failed to start: exited with code 4")
    tail = [line.strip() for line in report.splitlines() if re.fullmatch(r"\s*\| .*", line)]
    # The last 20 lines of its output, in order: lines 12..30 and its last words.
    assert tail == [f"| db line {n}" for n in range(12, 31)] + ["| db exiting with 4"]
    assert "last 20 lines of db" in report
    assert not (stack.root / ".launcher" / "state.json").exists()


def test_keep_going_leaves_the_rest_running(project: ProjectFactory, launch: Launch) -> None:
    stack = stack_project(project)
    stack.write(failing_stack(stack.events))
    launcher = launch(stack.root, "--keep-going")
    launcher.wait_output("[worker] skipped")
    launcher.wait_output("1/4 services ready")
    wait_until(lambda: stack.events.count("cache", "started"), 10, message="cache started")
    assert launcher.process.poll() is None, "the launcher gave up although --keep-going"
    assert not stack.events.count("cache", "stopping")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    assert stack.events.count("cache", "stopping") == 1


def test_a_configuration_error_exits_2_and_starts_nothing(project: ProjectFactory, launch: Launch) -> None:
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(f"""
[services.a]
command = {service("a", events)}
depends_on = ["b"]
[services.b]
command = {service("b", events)}
depends_on = ["a"]
""")
    launcher = launch(root)
    assert launcher.wait() == 2
    assert "error[LCH-1004]: dependency cycle" in launcher.output
    assert not events.path.exists()


def test_a_stack_whose_services_all_finish_cleanly_exits_0(project: ProjectFactory, launch: Launch) -> None:
    root = project()
    (root / "launcher.toml").write_text(f"""
[services.once]
command = {toml_list(program("crashes", "--code", "0", "--after", "1.2"))}
""")
    launcher = launch(root)
    assert launcher.wait() == 0
    assert "no service is left running" in launcher.output
