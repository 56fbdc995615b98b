"""`launcher run` with its plan cache (launcher/cli/plancache.py), on real processes: a second run
of an unchanged project takes the plan kept by the first (its entry is not written again: no
planning child made one) and says what the first said, warnings included; an edit plans again;
a corrupt entry is ignored. Its first services are spawned before the runtime is imported
(launcher/runtime/firstspawn.py): what they write is relayed, the reaper ends them when the
launcher is killed, and a launcher refused by a running one spawns nothing ahead."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from helpers import Launch, ProjectFactory, alive, cli, program, toml_list, wait_until

pytestmark = pytest.mark.integration

STAMP = re.compile(r"^\d\d:\d\d:\d\d(\.\d+)? ")
TIMES = re.compile(r"\d+\.\d\ds")


def _config(banner: str) -> str:
    return f"""
[services.api]
command = {toml_list(program("sleeper", "--banner", banner + " ${GREETING}"))}
probe = {{ log = "^{banner}" }}
"""


def _run(launch: Launch, root: Path, banner: str) -> list[str]:
    """The lines of one run until it is ready and stopped, without their times."""
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    launcher.wait_output(f"{banner} hi")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    return [TIMES.sub("N.NNs", STAMP.sub("", line)) for line in launcher.output.splitlines()]


def _entry(root: Path) -> Path:
    [entry] = (root / ".launcher" / "cache").glob("plan-*.pickle")
    return entry


def test_a_second_run_uses_the_kept_plan_and_says_the_same(project: ProjectFactory, launch: Launch) -> None:
    # PORT in the env file is ignored with a warning (the launcher's own variable).
    root = project(_config("hello"), files={".env": "PORT=1\nGREETING=hi\n"})
    first = _run(launch, root, "hello")
    assert any("PORT" in line for line in first), first
    entry = _entry(root)
    kept = entry.stat().st_mtime_ns
    second = _run(launch, root, "hello")
    assert second == first
    assert entry.stat().st_mtime_ns == kept  # not written again: no child planned

    (root / "launcher.toml").write_text(_config("howdy"))
    third = _run(launch, root, "howdy")  # the edit is seen
    assert any("howdy hi" in line for line in third)


def test_a_corrupt_entry_is_ignored(project: ProjectFactory, launch: Launch) -> None:
    root = project(_config("hello"), files={".env": "GREETING=hi\n"})
    _run(launch, root, "hello")
    entry = _entry(root)
    entry.write_bytes(b"\x80\x05garbage")
    lines = _run(launch, root, "hello")
    assert not any("Traceback" in line or "error" in line for line in lines), lines
    assert entry.read_bytes() != b"\x80\x05garbage"  # made again, and kept


def test_a_launcher_killed_after_spawning_ahead_leaves_nothing(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project(_config("hello"), files={".env": "GREETING=hi\n"})
    _run(launch, root, "hello")  # keeps the plan: the next run spawns api before the runtime
    launcher = launch(root)
    launcher.wait_output("1/1 services ready")
    services = launcher.services()
    assert services
    launcher.signal(signal.SIGKILL)
    launcher.wait()
    wait_until(
        lambda: not any(alive(p.pid) for p in services), 10, message="the services ended by the reaper"
    )


def test_a_second_launcher_spawns_nothing_ahead_of_its_refusal(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project(_config("hello"), files={".env": "GREETING=hi\n"})
    _run(launch, root, "hello")
    running = launch(root)
    running.wait_output("1/1 services ready")
    before = {p.pid for p in running.services()}
    second = cli(root, "run")
    assert second.returncode != 0
    assert "LCH-4002" in second.stdout + second.stderr
    assert {p.pid for p in running.services()} == before
    assert (root / ".launcher" / "logs" / "api.log").read_text().count("hello hi") == 2  # not a third
    running.signal(signal.SIGINT)
    assert running.wait() == 130
