"""The demo stack deployed as launcher writes it, on the real engines: honcho runs the compiled
`full` Procfile, supervisord and runit the exports. The gateway's `/jobs` answers 200 (the
migration ran before it, in the same database), the agents came up after it and keep running;
runit's `sv restart` restarts; run as root, every process runs as `--user nobody`, the
migration included. Engines: tests/engines.py. The formats' mappings: test_export_system.py."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import (
    BIN,
    Area,
    demo,
    deploy_area,
    runit_missing,
    runit_pid,
    runit_services,
    start,
    status,
    stop,
    stop_runit,
    supervisor_states,
    supervisord_conf,
    wait_for_jobs,
)
from helpers import cli, copy_demo, free_port_block, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

AGENTS = ("writer_agent", "reviewer_agent")


@pytest.fixture
def area(tmp_path: Path) -> Iterator[Area]:
    with deploy_area(tmp_path) as made:
        yield made


def test_honcho_runs_the_compiled_full_profile(tmp_path: Path) -> None:
    root = copy_demo(tmp_path / "demo")
    low, high = free_port_block()
    config = root / "launcher.toml"
    config.write_text(config.read_text().replace("ports = [8000, 8010]", f"ports = [{low}, {high}]"))
    done = cli(root, "compile", "full")
    assert done.returncode == 0, done.stderr
    log = tmp_path / "honcho.log"
    # As honcho users run it: from the project root, with the project's virtualenv active.
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    honcho = start(
        [
            str(BIN / "honcho"),
            "--no-colour",
            "-f",
            "Procfile.d/full.Procfile",
            "-e",
            "Procfile.d/full.env",
            "start",
        ],
        log,
        env={"PATH": path, "VIRTUAL_ENV": str(BIN.parent)},
        cwd=root,
    )
    try:
        wait_for_jobs(low, log)
        wait_until(
            lambda: all(f"{role}: working for" in log.read_text() for role in ("writer", "reviewer")),
            timeout=30,
            message=lambda: f"both agents working: {log.read_text()[-4000:]}",
        )
        time.sleep(2)  # a crash of an agent would stop every process now
        assert honcho.poll() is None, log.read_text()[-4000:]
        assert status(f"http://127.0.0.1:{low}/jobs") == 200
    finally:
        stop(honcho)
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    assert "Connection refused" not in text
    assert text.index("schema at version") < text.index("Uvicorn running on")


def test_supervisord_runs_the_demo(area: Area, tmp_path: Path) -> None:
    root, port = demo(area, "supervisord")
    programs = area.export(root, "supervisord", "full", tmp_path / "programs")
    conf = supervisord_conf(tmp_path, programs)
    log = tmp_path / "supervisord.out"
    # The oneshot's marker goes to TMPDIR, which supervisord passes on to its programs.
    tmp = area.own(area.root / "tmp")
    daemon = start([str(BIN / "supervisord"), "-n", "-c", str(conf)], log, env={"TMPDIR": str(tmp)})
    try:
        wait_for_jobs(port, tmp_path / "supervisord.log")
        wait_until(lambda: _agents_running(conf), timeout=30, message=lambda: str(supervisor_states(conf)))
        before = supervisor_states(conf)
        time.sleep(3)
        after = supervisor_states(conf)
        assert after == before, "an agent restarted"
        assert after["infinitescribe:migrate"][0] == "EXITED"
        _assert_runs_as(area, [pid for _, pid in after.values() if pid], root)
    finally:
        stop(daemon)


def _agents_running(conf: Path) -> bool:
    states = supervisor_states(conf)
    return all(
        states.get(f"infinitescribe:{name}", ("",))[0] == "RUNNING" for name in ("api_gateway", *AGENTS)
    )


def _assert_runs_as(area: Area, pids: list[int], root: Path) -> None:
    """Every process, and the database the migration wrote, belong to the area's user."""
    if area.user is None:
        return
    uid = pwd.getpwnam(area.user).pw_uid
    for pid in pids:
        assert os.stat(f"/proc/{pid}").st_uid == uid, pid
    database = root / ".launcher" / "demo.sqlite3"
    assert database.stat().st_uid == uid


def test_runit_runs_the_demo_and_sv_restart_restarts(area: Area, tmp_path: Path) -> None:
    missing = runit_missing()
    if missing:
        pytest.skip(missing)
    root, port = demo(area, "runit")
    exported = area.export(root, "runit", "full", tmp_path / "export")
    svdir = tmp_path / "service"
    svdir.mkdir()
    services = runit_services(exported, svdir)
    names = {path.name.removeprefix("infinitescribe-"): path for path in services}
    assert sorted(names) == sorted(("api_gateway", *AGENTS))  # migrate runs in the gateway's run
    log = tmp_path / "runsvdir.log"
    runsvdir = start(["runsvdir", "-P", str(svdir)], log)
    try:
        wait_for_jobs(port, log)
        pids = wait_until(
            lambda: _all_up(names),
            timeout=30,
            message=lambda: f"every service up:\n{log.read_text()[-4000:]}",
        )
        time.sleep(3)
        assert _all_up(names) == pids, f"a service restarted:\n{log.read_text()[-4000:]}"
        _assert_runs_as(area, list(pids.values()), root)
        assert "Traceback" not in log.read_text(), log.read_text()[-4000:]
        # `sv restart` restarts, on a service that stays down after an exit of its own
        # (restart = "no") and on one that exits 0 on SIGTERM (restart = "on-failure").
        for name in ("api_gateway", "writer_agent"):
            _restart(names[name], pids[name], log)
        wait_for_jobs(port, log)
        assert not (names["api_gateway"] / "supervise" / "stopping").exists()
    finally:
        stop_runit(runsvdir, services)


def _restart(service: Path, pid: int, log: Path) -> None:
    done = subprocess.run(["sv", "restart", str(service)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    wait_until(
        lambda: runit_pid(service) not in (None, pid),
        timeout=30,
        message=lambda: f"{service.name} up again:\n{log.read_text()[-4000:]}",
    )


def _all_up(names: dict[str, Path]) -> dict[str, int] | None:
    pids = {name: runit_pid(path) for name, path in names.items()}
    return {name: pid for name, pid in pids.items() if pid} if all(pids.values()) else None


def test_systemd_analyze_verifies_the_demo_units(area: Area, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    root, _ = demo(area, "systemd")
    out = area.export(root, "systemd", "full", tmp_path / "units")
    units = sorted(str(p) for p in out.iterdir())
    # Default options: ExecStart= must name an executable that exists, and it does.
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    problems = [
        line for line in result.stderr.splitlines() if str(out) in line and "Special user" not in line
    ]
    assert not problems, problems
    gateway = (out / "infinitescribe-api_gateway.service").read_text()
    assert f"ExecStart={area.python} -m uvicorn" in gateway
    assert f'Environment="PATH={Path(area.python).parent}:' in gateway
