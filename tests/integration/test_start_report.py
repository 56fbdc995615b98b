"""A stack that says where it is and everything that went wrong (issue 16): the failure report
of a start, the rollback that begins at once, the URLs once ready, the colours of severity, and
followers restarted after a crash of their dependency. Real processes throughout."""

from __future__ import annotations

import os
import re
import signal
import socket
import time

import pytest
from helpers import Events, Launch, ProjectFactory, cli, service, stack_project, wait_until

pytestmark = pytest.mark.integration

RED, YELLOW, GREEN = "\x1b[31m", "\x1b[33m", "\x1b[32m"


def two_failures(events: Events) -> str:
    """`crash` exits 3 at once (three attempts); `slow` never answers its probe and would retry
    for 3 x 2 s plus backoff; `api` depends on both; `db` is fine."""
    return f"""
[services.db]
command = {service("db", events, "--listen")}
port = "auto"

[services.crash]
command = {service("crash", events, "--lines", "3", "--exit", "3")}
port = "auto"

[services.slow]
command = {service("slow", events)}
port = "auto"
probe = {{ http = "/health" }}
start_timeout = 2
start_retries = 2

[services.api]
command = {service("api", events, "--listen")}
port = "auto"
depends_on = ["db", "crash", "slow"]
"""


def test_a_failed_start_reports_every_service_and_rolls_back_at_once(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    stack.write(two_failures(stack.events))
    started = time.monotonic()
    launcher = launch(stack.root)
    assert launcher.wait(60) == 1
    took = time.monotonic() - started
    output = launcher.output
    report = output[output.index("error[LCH-2002]") :]
    # The service that failed, its reason, attempts, last lines and log file.
    assert report.startswith("error[LCH-2002]: service 'crash' failed to start: exited with code 3")
    assert "(after 3 attempts)" in report
    assert "| crash exiting with 3" in report
    assert "its whole output: .launcher/logs/crash.log" in report
    # What the others were doing when the rollback began: slow's probe, with its address.
    others = report[report.index("when the rollback began:") :]
    slow_port = re.search(r"slow\s+\w+\s+.*http://127\.0\.0\.1:(\d+)/health", others)
    assert slow_port, others
    assert stack.low <= int(slow_port.group(1)) <= stack.high
    assert re.search(r"\n\s+db\s+ready", others)
    assert re.search(r"\n\s+api\s+(waiting|skipped)", others)
    assert "hint: `launcher logs crash`" in report
    # The rollback did not wait for slow's retries (3 attempts of 2 s and their backoff).
    assert took < 5.5, took
    assert (stack.root / ".launcher" / "logs" / "crash.log").read_text().count("crash exiting with 3") == 3


def test_a_probe_that_never_passes_names_the_address_it_tried(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    stack.write(f"""
[services.slow]
command = {service("slow", stack.events)}
port = "auto"
probe = {{ http = "/health" }}
start_timeout = 1
start_retries = 0
""")
    launcher = launch(stack.root)
    assert launcher.wait(30) == 1
    assert re.search(
        r"error\[LCH-2003\]: service 'slow' failed to start: was not ready within 1s "
        r"\(last probe of http://127\.0\.0\.1:\d+/health: connection refused\)",
        launcher.output,
    ), launcher.output


def test_up_wait_prints_the_same_report(project: ProjectFactory) -> None:
    stack = stack_project(project)
    stack.write(two_failures(stack.events))
    up = cli(stack.root, "up", "-d", "--wait")
    assert up.returncode == 1
    assert "error[LCH-2002]: service 'crash' failed to start" in up.stderr
    assert "when the rollback began:" in up.stderr
    assert "its whole output: .launcher/logs/crash.log" in up.stderr
    assert cli(stack.root, "status").returncode != 0  # rolled back: nothing left running


def test_once_ready_run_and_up_print_where_every_service_is(project: ProjectFactory, launch: Launch) -> None:
    stack = stack_project(project)
    stack.write(f"""
[services.web]
command = {service("web", stack.events, "--listen", "--http")}
port = "auto"

[services.worker]
command = {service("worker", stack.events)}
""")
    launcher = launch(stack.root)
    launcher.wait_output("2/2 services ready")
    wait_until(lambda: re.search(r"launcher \| web\s+http://127\.0\.0\.1:\d+", launcher.output))
    assert not re.search(r"launcher \| worker\s", launcher.output)  # no address: no line
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    up = cli(stack.root, "up", "-d", "--wait")
    try:
        assert up.returncode == 0, up.stderr
        assert re.search(r"^  web\s+http://127\.0\.0\.1:\d+$", up.stdout, re.MULTILINE), up.stdout
        table = cli(stack.root, "status").stdout
        assert "URL" in table.splitlines()[1]
        assert re.search(r"^web\s+ready\s+\d+\s+http://127\.0\.0\.1:\d+", table, re.MULTILINE), table
    finally:
        cli(stack.root, "down")


def test_the_launchers_lines_are_coloured_by_severity(project: ProjectFactory, launch: Launch) -> None:
    stack = stack_project(project)
    stack.write(f"""
[services.flaky]
command = {service("flaky", stack.events, "--exit", "1")}
start_retries = 1
backoff = {{ initial = 0.1 }}

[services.fine]
command = {service("fine", stack.events, "--listen")}
port = "auto"
""")
    launcher = launch(stack.root, env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert launcher.wait(30) == 1
    output = launcher.output
    assert re.search(re.escape(YELLOW) + r"\[flaky\] backoff: ", output), output
    assert re.search(r"\x1b\[31m\x1b\[1m\[flaky\] failed: ", output), output
    assert re.search(r"\x1b\[1;31merror\[LCH-2002\]: service 'flaky'", output), output
    assert re.search(re.escape(GREEN) + r"\[fine\] ready", output), output
    # No service's name is red: red is for failures.
    assert not re.search(r"\x1b\[31m(flaky|fine)\s+\|", output)


def test_a_follower_restarts_after_its_dependency_crashed_and_came_back(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    stack.write(f"""
[services.api]
command = {service("api", stack.events, "--listen")}
port = "auto"
restart = "on-failure"
backoff = {{ initial = 0.1 }}

[services.follower]
command = {service("follower", stack.events)}
depends_on = {{ api = {{ condition = "ready", restart = true }} }}

[services.plain]
command = {service("plain", stack.events)}
depends_on = ["api"]
""")
    launcher = launch(stack.root)
    launcher.wait_output("3/3 services ready")
    assert stack.events.count("follower", "started") == 1
    api = next(int(words[2]) for words in stack.events.lines() if words[:2] == ["api", "started"])
    os.kill(api, signal.SIGKILL)  # a crash: its restart policy brings it back
    launcher.wait_output("[api] ready -> backoff", timeout=15)
    launcher.wait_output("api restarted: restarting follower (restart = true)", timeout=15)
    wait_until(lambda: stack.events.count("follower", "started") == 2, message="the follower started again")
    assert stack.events.count("api", "started") == 2
    assert stack.events.count("plain", "started") == 1  # a plain dependent is left alone
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


def test_an_automatic_port_that_moved_says_who_held_the_usual_one(
    project: ProjectFactory, launch: Launch
) -> None:
    stack = stack_project(project)
    stack.write(f"""
[services.web]
command = {service("web", stack.events, "--listen", "--http")}
port = "auto"
""")
    holder = socket.socket()
    holder.bind(("127.0.0.1", stack.low))
    holder.listen()
    try:
        launcher = launch(stack.root)
        launcher.wait_output("1/1 services ready")
        note = f"{stack.low} was held by pid {os.getpid()}"
        where = f"web  http://127.0.0.1:{stack.low + 1}  ({note}"
        wait_until(lambda: where in launcher.output, message=lambda: launcher.output)
        assert f": web got {stack.low + 1}" in launcher.output
        launcher.signal(signal.SIGINT)
        assert launcher.wait() == 130
    finally:
        holder.close()
