"""`launcher logs` reads the per-service files of `.launcher/logs/`: against real stacks, while
they run and after they stopped (`down`, a failed `run`), with every option; and in a project
where no stack has run yet.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from helpers import Launch, ProjectFactory, cli, following, program, toml_list, wait_until

from launcher.runtime.palette import COLOURS, RESET

pytestmark = pytest.mark.integration

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"


def logs(root: Path, *args: str, colour: str = "NO_COLOR") -> subprocess.CompletedProcess[str]:
    """`launcher logs ARGS` in `root`; `colour` names the one of NO_COLOR and FORCE_COLOR set."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "launcher", "logs", *args],
        cwd=root,
        env={**env, colour: "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def sh(script: str) -> str:
    """The TOML `command` running a shell script."""
    return toml_list(["sh", "-c", script])


@pytest.fixture
def down_after() -> Iterator[list[Path]]:
    """Projects to bring down at the end, whatever the test did."""
    roots: list[Path] = []
    yield roots
    for root in roots:
        if (root / ".launcher" / "state.json").exists():
            cli(root, "down")


def test_n_1500_of_2000_lines_gives_1500_while_up_and_after_down(
    project: ProjectFactory, down_after: list[Path]
) -> None:
    root = project(f"""
        [services.flood]
        command = {toml_list(program("flood", "--lines", "2000", "--length", "20", "--then", "sleep"))}
        probe = {{ log = "^done 2000$" }}
    """)
    down_after.append(root)
    up = cli(root, "up", "-d", "--wait")
    assert up.returncode == 0, up.stderr
    filler = "x" * 11
    expected = [f"{i:08d} {filler}" for i in range(500, 2000)] + ["done 2000"]
    while_up = logs(root, "flood", "-n", "1501", "--no-prefix")
    assert (while_up.returncode, while_up.stderr) == (0, "")
    assert while_up.stdout.splitlines() == expected
    assert len(logs(root, "-n", "1500").stdout.splitlines()) == 1500
    assert cli(root, "down").returncode == 0
    after = logs(root, "flood", "-n", "1500")
    assert (after.returncode, after.stderr) == (0, "")
    assert after.stdout.splitlines() == [f"flood    | {line}" for line in expected[1:]]
    everything = logs(root, "--no-prefix").stdout.splitlines()
    assert everything == [f"{i:08d} {filler}" for i in range(2000)] + ["done 2000"]


def test_after_a_failed_run_logs_prints_the_lines_of_that_run(project: ProjectFactory) -> None:
    root = project(f"""
        [services.db]
        command = {sh("echo db listening; exec sleep 300")}
        probe = {{ log = "listening" }}

        [services.api]
        command = {sh("echo connecting to db; echo cannot connect, giving up >&2; exit 3")}
        depends_on = ["db"]
        start_retries = 0
    """)
    run = cli(root, "run")
    assert run.returncode == 1
    result = logs(root, "api")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "api      | connecting to db",
        "api      | cannot connect, giving up",
    ]
    every = logs(root, "--no-prefix").stdout.splitlines()
    assert every == ["db listening", "connecting to db", "cannot connect, giving up"]


def merged_stack(project: ProjectFactory) -> Path:
    """Two services that take turns (each waits for the other's file): a1, b1, a2, b2, each
    line at least 50 ms after the one before."""
    root = project()
    wait = "until [ -e {0} ]; do sleep 0.01; done; sleep 0.05"
    a = f"echo a1; touch a1; {wait.format('b1')}; echo a2; touch a2; exec sleep 300"
    b = f"{wait.format('a1')}; echo b1; touch b1; {wait.format('a2')}; echo b2; exec sleep 300"
    (root / "launcher.toml").write_text(
        f"[services.alpha]\ncommand = {sh(a)}\n\n"
        f"[services.b]\ncommand = {sh(b)}\nprobe = {{ log = '^b2$' }}\n"
    )
    return root


def test_two_services_merged_in_time_order_with_their_times(project: ProjectFactory, launch: Launch) -> None:
    root = merged_stack(project)
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    result = logs(root, "-t")
    assert result.returncode == 0, result.stderr
    rows = [re.fullmatch(rf"({STAMP}) (\w+) +\| (\w+)", line) for line in result.stdout.splitlines()]
    assert all(rows), result.stdout
    pairs = [(row[2], row[3]) for row in rows if row]
    assert pairs == [("alpha", "a1"), ("b", "b1"), ("alpha", "a2"), ("b", "b2")]
    times = [datetime.fromisoformat(row[1]) for row in rows if row]
    assert times == sorted(times)
    assert (times[-1] - times[0]).total_seconds() >= 0.15
    bare = logs(root, "-t", "--no-prefix", "b").stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in bare] == ["b1", "b2"]
    assert all(re.fullmatch(rf"{STAMP} b\d", line) for line in bare)
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    assert logs(root, "--no-prefix").stdout.splitlines() == ["a1", "b1", "a2", "b2"]


def test_grep_and_since_select_lines(project: ProjectFactory, launch: Launch) -> None:
    root = merged_stack(project)
    # A line of an earlier run, two days old: the files are appended across runs.
    (root / ".launcher" / "logs").mkdir(parents=True)
    (root / ".launcher" / "logs" / "alpha.log").write_text("2020-01-02T03:04:05.678+00:00 from long ago\n")
    launcher = launch(root)
    launcher.wait_output("2/2 services ready")
    assert logs(root, "--grep", "^b|long", "--no-prefix").stdout.splitlines() == ["from long ago", "b1", "b2"]
    assert logs(root, "--grep", "2$", "-n", "1", "alpha").stdout.splitlines() == ["alpha    | a2"]
    assert logs(root, "--since", "1h", "--no-prefix").stdout.splitlines() == ["a1", "b1", "a2", "b2"]
    assert logs(root, "--since", "2020-01-02T03:00:00Z", "--no-prefix", "alpha").stdout.splitlines() == [
        "from long ago",
        "a1",
        "a2",
    ]
    assert logs(root, "--since", "2999-01-01T00:00:00+01:00").stdout == ""
    bad = logs(root, "--since", "yesterday")
    assert bad.returncode == 2
    assert "nor a duration (10m, 2h, 30s): 'yesterday'" in bad.stderr
    assert logs(root, "--grep", "(").returncode == 2


def test_follow_sees_a_new_line_then_ends_when_the_stack_stops(
    project: ProjectFactory, launch: Launch
) -> None:
    script = "echo first; echo noise; until [ -e go ]; do sleep 0.02; done; echo second; exec sleep 300"
    root = project(f"""
        [services.api]
        command = {sh(script)}
        probe = {{ log = "^noise$" }}
    """)
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    with following(root, "--grep", "^[fs]") as output:
        wait_until(lambda: "first" in output.read_text(), 10, message="the lines already written")
        (root / "go").write_text("")
        wait_until(lambda: "second" in output.read_text(), 10, message="the new line")
        launcher.signal(signal.SIGTERM)
    assert output.read_text().splitlines() == ["api      | first", "api      | second"]
    assert launcher.wait() == 143


def test_prefixes_have_runs_colours_while_up_and_the_sorted_order_after(
    project: ProjectFactory, launch: Launch
) -> None:
    # In the plan `zeta` comes first: its colour is the first while the state file says so.
    root = project(f"""
        [services.zeta]
        command = {sh("echo zeta here; exec sleep 300")}
        probe = {{ log = "here" }}

        [services.alpha]
        command = {sh("echo alpha here; exec sleep 300")}
        probe = {{ log = "here" }}
        depends_on = ["zeta"]
    """)
    launcher = launch(root, env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    launcher.wait_output("2/2 services ready")
    printed = {line.split(" ", 1)[1] for line in launcher.output.splitlines() if line.endswith(" here")}
    coloured = logs(root, colour="FORCE_COLOR")
    assert set(coloured.stdout.splitlines()) == printed  # `run`'s prefixes, to the byte
    assert f"{COLOURS[0]}zeta     | {RESET}zeta here" in printed
    assert logs(root, "--no-color", colour="FORCE_COLOR").stdout.splitlines() == [
        "zeta     | zeta here",
        "alpha    | alpha here",
    ]
    assert "\x1b" not in logs(root).stdout  # NO_COLOR; and no terminal
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    after = logs(root, colour="FORCE_COLOR").stdout.splitlines()
    assert after == [f"{COLOURS[1]}zeta     | {RESET}zeta here", f"{COLOURS[0]}alpha    | {RESET}alpha here"]


def test_with_no_stack_ever_run_logs_says_so_and_exits_0(project: ProjectFactory) -> None:
    root = project('[services.web]\ncommand = "sleep 300"\n')
    for args in ([], ["web"], ["-f"], ["-n", "5", "web"]):
        result = logs(root, *args)
        assert (result.returncode, result.stdout) == (0, "")
        assert result.stderr == (
            f"no logs: no stack of this project has run here yet ({root / '.launcher' / 'logs'} has none)\n"
        )


def test_an_unknown_service_after_the_stack_stopped_is_lch_4003_naming_those_logged(
    project: ProjectFactory,
) -> None:
    root = project('[services.web]\ncommand = "sleep 300"\n')
    directory = root / ".launcher" / "logs"
    directory.mkdir(parents=True)
    for name in ("web.log", "worker.log", "launcher.log"):
        (directory / name).write_text("2024-05-01T12:00:00.000+00:00 hello\n")
    result = logs(root, "web", "nope")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("error[LCH-4003]: no service 'nope' in this stack (it has: web, worker)")


def test_a_rotated_log_is_said_first_unless_only_the_last_lines_are_asked(project: ProjectFactory) -> None:
    root = project('[services.web]\ncommand = "sleep 300"\n')
    directory = root / ".launcher" / "logs"
    directory.mkdir(parents=True)
    (directory / "web.log.1").write_text("2024-05-01T12:00:00.000+00:00 older\n")
    (directory / "web.log").write_text("2024-05-01T12:00:01.000+00:00 newer\n")
    (directory / "db.log").write_text("2024-05-01T12:00:00.500+00:00 between\n")
    result = logs(root)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["web      | older", "db       | between", "web      | newer"]
    assert result.stderr == (
        "note: web's log reached its size bound and was rotated: its oldest lines kept are in "
        ".launcher/logs/web.log.1, any older are gone\n"
    )
    for args in (["-n", "5"], ["--since", "2024-05-01T12:00:00.500Z"]):
        quiet = logs(root, *args)
        assert (quiet.returncode, quiet.stderr) == (0, ""), args
