"""What `launcher run` writes, on real processes: progress (a live block on a terminal, one line
per state change otherwise), prefixed lines or `--log-format json`, colour by NO_COLOR and
FORCE_COLOR, lines of any length whole with invalid UTF-8 replaced, the launcher's own lines
masked, per-service log files, and a reader that stops reading never stalls the stack."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    Events,
    Launch,
    ProjectFactory,
    program,
    service,
    stack_project,
    toml_list,
    wait_until,
)

pytestmark = pytest.mark.integration

ESCAPE = "\x1b["
COLOUR = re.compile(r"\x1b\[[\d;]*m")  # SGR: colours and their reset (not cursor moves)


def small_stack(project: ProjectFactory) -> tuple[Path, Events]:
    stack = stack_project(project)
    stack.write(f"""
[services.db]
command = {service("db", stack.events, "--listen", "--delay", "0.5")}
port = "auto"
[services.api]
command = {service("api", stack.events)}
probe = {{ log = "^api starting$" }}
depends_on = ["db"]
""")
    return stack.root, stack.events


def test_without_a_terminal_progress_is_one_line_per_state_change(
    project: ProjectFactory, launch: Launch
) -> None:
    root, _ = small_stack(project)
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    output = launcher.output
    assert ESCAPE not in output
    changes = [line.split(" | ", 1)[1] for line in output.splitlines() if " launcher | [" in line]
    assert changes[:5] == [
        "[db] starting",
        "[api] waiting: waiting for db",
        "[db] ready: connected",
        "[api] starting",
        "[api] ready: matched: api starting",
    ]
    assert len(changes) == len(set(changes)), f"a state change printed twice:\n{output}"


def test_on_a_terminal_progress_is_a_live_block_with_states_and_seconds(
    project: ProjectFactory, launch: Launch
) -> None:
    root, _ = small_stack(project)
    launcher = launch(root, tty=True)
    launcher.wait_output("2/2 services ready")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    output = launcher.output
    # The block is redrawn in place: cursor up over it, clear to the end of the screen.
    assert re.search(r"\x1b\[\d+F\x1b\[J", output)
    assert re.search(r" db +starting +\d+\.\ds", output), "no row with db's state and seconds"
    assert re.search(r" api +waiting", output)
    # Once started, the block is gone and lines follow as usual.
    tail = output[output.index("2/2 services ready") :]
    assert "starting" not in tail.split("\n", 1)[1].split("SIGINT")[0]


def test_log_format_json_prints_json_lines_for_services_and_the_launcher(
    project: ProjectFactory, launch: Launch
) -> None:
    root, _ = small_stack(project)
    launcher = launch(root, "--log-format", "json")
    launcher.wait_output("2/2 services ready")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    records = [json.loads(line) for line in launcher.output.splitlines()]
    assert all({"ts", "service"} <= record.keys() for record in records)
    lines = [r for r in records if "line" in r]
    assert {"ts": lines[0]["ts"], "service": "db", "stream": "stdout", "line": "db starting"} in lines
    events = [r["event"] for r in records if r["service"] == "launcher" and "event" in r]
    assert any(e.startswith("2/2 services ready") for e in events)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", r["ts"]) for r in records)


@pytest.mark.parametrize(
    ("env", "tty", "coloured"),
    [
        ({"NO_COLOR": None, "FORCE_COLOR": None}, False, False),
        ({"NO_COLOR": None, "FORCE_COLOR": "1"}, False, True),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, False, False),
        ({"NO_COLOR": None, "FORCE_COLOR": None}, True, True),
        ({"NO_COLOR": "1", "FORCE_COLOR": None}, True, False),
    ],
    ids=["file", "file-force", "file-force-no-color", "terminal", "terminal-no-color"],
)
def test_colour_only_on_a_terminal_or_with_force_color_and_never_with_no_color(
    project: ProjectFactory, launch: Launch, env: dict[str, str | None], tty: bool, coloured: bool
) -> None:
    root = project(f"""
        [services.hello]
        command = {toml_list(program("sleeper", "--banner", "hello there"))}
        probe = {{ log = "hello there" }}
    """)
    launcher = launch(root, env=env, tty=tty)
    launcher.wait_output("1/1 services ready")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    # The service's line, with the name coloured (when it is) and the colour reset after it.
    line = next(
        line for line in launcher.output.splitlines() if COLOUR.sub("", line).endswith("| hello there")
    )
    assert bool(COLOUR.search(line)) is coloured, repr(line)


def test_lines_of_any_length_arrive_whole_invalid_utf8_is_replaced_and_the_last_partial_line_too(
    project: ProjectFactory, launch: Launch
) -> None:
    size = 1024 * 1024
    root = project(f"""
        [services.long]
        command = {toml_list(program("longline", "--bytes", str(size), "--partial"))}
        oneshot = true
    """)
    launcher = launch(root)
    assert launcher.wait() == 0
    output = launcher.output.splitlines()
    lines = [line.split(" | ", 1)[1] for line in output if re.match(r"\S+ long +\| ", line)]
    assert lines == ["a" * size, "bad \ufffd\ufffd utf-8", "ok"]
    # The service's own log file has the same lines (and nothing of the launcher's).
    logged = (root / ".launcher" / "logs" / "long.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in logged] == lines


def test_every_service_gets_a_log_file_of_its_own_lines(project: ProjectFactory, launch: Launch) -> None:
    root, _ = small_stack(project)
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    wait_until(lambda: "api starting" in launcher.output, 10, message="api's first line")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    logs = root / ".launcher" / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["api.log", "db.log"]
    db = (logs / "db.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in db] == ["db starting", "db stopped"]
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d ", line) for line in db)


def test_secrets_are_masked_in_the_launchers_own_lines_only(project: ProjectFactory, launch: Launch) -> None:
    banner = "connected to postgres://app:hunter2@db.internal/app"
    root = project(f"""
        [services.api]
        command = {toml_list(program("sleeper", "--banner", banner))}
        probe = {{ log = "connected to" }}
    """)
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    output = launcher.output
    # The launcher's event quotes the matched line, masked; the service's own line is relayed.
    assert "[api] ready: matched: connected to postgres://app:******@db.internal/app" in output
    assert re.search(r"^\S+ api +\| connected to postgres://app:hunter2@db\.internal/app$", output, re.M)


def test_a_reader_that_stops_reading_never_stalls_the_stack_and_no_line_is_lost(
    project: ProjectFactory,
) -> None:
    count = 100_000
    stack = stack_project(project)
    stack.write(f"""
[services.flood]
command = {toml_list(program("flood", "--lines", str(count), "--length", "80", "--then", "sleep"))}
probe = {{ log = "^done " }}
[services.late]
command = {service("late", stack.events, "--listen", "--delay", "0.3")}
port = "auto"
depends_on = ["flood"]
[services.last]
command = {service("last", stack.events)}
probe = {{ log = "^last starting$" }}
depends_on = ["late"]
""")
    # The launcher's stdout is a pipe nobody reads (64 KiB fill it) until the stack is up.
    launcher = subprocess.Popen(
        [sys.executable, "-m", "launcher", "run"],
        cwd=stack.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        # Probes, readiness and spawns went on: `last` started behind flood and late.
        wait_until(
            lambda: stack.events.count("last", "started"), 30, message="last started behind a full pipe"
        )
        launcher.send_signal(signal.SIGTERM)
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.communicate()
    assert launcher.returncode == 143
    text = output.decode()
    flood = [line.split(" | ", 1)[1] for line in text.splitlines() if re.match(r"\S+ flood +\| \d", line)]
    filler = "x" * 71
    assert flood == [f"{i:08d} {filler}" for i in range(count)]
    assert "lines behind a slow reader; none were lost" in text
