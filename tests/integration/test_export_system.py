"""`launcher export systemd|supervisord|runit`, checked by the real tools: systemd-analyze
verify, supervisord's own configuration parser, supervisord running a two-service stack, and
sh running the scripts runit would run. The demo on the real engines (runit included):
test_export_engines.py; secrets: test_export_secrets.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Events, ProjectFactory, alive, cli, free_port_block, program, toml_list, wait_until

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def stack(events: Path, *, db_timeout: float = 30) -> str:
    """db listens after a delay; api needs it ready; migrate runs before api; tidy is a
    oneshot nothing depends on."""
    low, high = free_port_block()
    return f"""
    [launcher]
    name = "shop"
    ports = [{low}, {high}]

    [env]
    LOG_LEVEL = "info"
    RATIO = "100% of $HOME, 'quoted' here"
    API_TOKEN = "t0ps3cret"

    [services.migrate]
    command = {toml_list(program("stack_service", "migrate", "--events", str(events), "--exit", "0"))}
    oneshot = true

    [services.tidy]
    command = ["/bin/true"]
    oneshot = true

    [services.db]
    command = {toml_list(program("stack_service", "db", "--listen", "--delay", "1", "--events", str(events)))}
    port = "auto"
    probe = {{ tcp = "127.0.0.1:${{PORT}}" }}
    start_timeout = {db_timeout}
    stop_signal = "SIGINT"
    stop_timeout = 5

    [services.api]
    command = {toml_list(program("stack_service", "api", "--events", str(events)))}
    depends_on = {{ migrate = "completed", db = "ready" }}
    restart = "on-failure"
    """


def export(root: Path, fmt: str, out: Path) -> Path:
    result = cli(root, "export", fmt, "-o", str(out), "--python", sys.executable)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("fmt", ["systemd", "supervisord", "runit"])
def test_an_export_is_the_same_bytes_every_time(project: ProjectFactory, tmp_path: Path, fmt: str) -> None:
    root = project(stack(tmp_path / "events"))
    first, second = export(root, fmt, tmp_path / "a"), export(root, fmt, tmp_path / "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for path in files:
        assert (first / path).read_bytes() == (second / path).read_bytes(), path
        assert "t0ps3cret" not in (first / path).read_text()


def test_systemd_analyze_verifies_the_units(project: ProjectFactory, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    out = export(project(stack(tmp_path / "events")), "systemd", tmp_path / "units")
    units = sorted(str(p) for p in out.iterdir())
    assert {Path(u).name for u in units} >= {"shop.target", "shop-api.service", "shop-db.target"}
    # Default options: without a running systemd, verify reads the files given and the ones
    # they name beside them, and checks that each command exists.
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    mentioned = [line for line in (result.stdout + result.stderr).splitlines() if str(out) in line]
    assert not mentioned, mentioned
    api = (out / "shop-api.service").read_text()
    assert "Requires=shop-db.service" in api
    assert "After=shop-migrate.service" in api
    assert "ExecStartPost=/bin/sh -c" in (out / "shop-db.service").read_text()


def supervisord_conf(tmp_path: Path, programs: Path) -> Path:
    """A minimal supervisord configuration that includes the export, with its control socket,
    logs and pid file in tmp_path."""
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"""[supervisord]
logfile={tmp_path}/supervisord.log
pidfile={tmp_path}/supervisord.pid
childlogdir={tmp_path}

[unix_http_server]
file={tmp_path}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{tmp_path}/supervisor.sock

[include]
files = {programs}/*.conf
"""
    )
    return conf


def test_supervisord_reads_the_programs_as_meant(project: ProjectFactory, tmp_path: Path) -> None:
    from supervisor.datatypes import RestartWhenExitUnexpected  # type: ignore[import-untyped]
    from supervisor.options import ServerOptions  # type: ignore[import-untyped]

    root = project(stack(tmp_path / "events"))
    conf = supervisord_conf(tmp_path, export(root, "supervisord", tmp_path / "programs"))
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    (group,) = options.process_group_configs
    assert group.name == "shop"
    programs = {p.name: p for p in group.process_configs}
    assert sorted(programs) == ["api", "db", "migrate", "tidy"]
    api, db, tidy = programs["api"], programs["db"], programs["tidy"]
    assert programs["migrate"].priority < api.priority
    assert db.priority < api.priority
    assert (db.stopsignal, db.stopwaitsecs) == (signal.SIGINT, 5)
    assert all(p.stopasgroup and p.killasgroup for p in programs.values())
    assert api.autorestart is RestartWhenExitUnexpected
    assert db.autorestart is False
    assert (tidy.autorestart, tidy.startsecs, db.startsecs) == (False, 0, 1)
    assert api.environment["RATIO"] == "100% of $HOME, 'quoted' here"
    assert "API_TOKEN" not in api.environment
    assert api.directory == str(root.resolve())
    # api waits for migrate's marker, then for db's port.
    assert api.command.startswith("/bin/sh -c ")
    assert "launcher-shop-migrate.$PPID" in api.command
    assert "launcher-shop-migrate.$PPID" in programs["migrate"].command


def test_supervisord_runs_the_stack_in_dependency_order(project: ProjectFactory, tmp_path: Path) -> None:
    events = Events(tmp_path / "events")
    root = project(stack(events.path))
    conf = supervisord_conf(tmp_path, export(root, "supervisord", tmp_path / "programs"))
    daemon = subprocess.Popen(
        [str(BIN / "supervisord"), "-n", "-c", str(conf)],
        # The oneshots' markers go to TMPDIR, which supervisord passes on to its programs.
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: {"db ready", "api started"} <= {" ".join(p) for p in events.pairs()},
            timeout=30,
            message=lambda: f"db ready and api started, events: {events.lines()}",
        )
        wait_until(
            lambda: _all_running(conf), timeout=15, message="the services RUNNING, the oneshots EXITED"
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    assert (tmp_path / f"launcher-shop-migrate.{daemon.pid}").exists()
    lines = events.lines()
    at = {f"{w[0]} {w[1]}": float(w[-1]) for w in lines}
    assert at["migrate started"] < at["api started"]
    assert at["db ready"] < at["api started"]
    pids = [int(w[2]) for w in lines if w[1] == "started"]
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout=10, message=f"{pids} to exit")


def _all_running(conf: Path) -> str | None:
    """supervisorctl's status once the services run and the oneshots have exited."""
    result = subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(conf), "status"], capture_output=True, text=True, timeout=10
    )
    state = {words[0]: words[1] for words in map(str.split, result.stdout.splitlines()) if len(words) > 1}
    expected = {"shop:api": "RUNNING", "shop:db": "RUNNING", "shop:migrate": "EXITED", "shop:tidy": "EXITED"}
    return result.stdout if state == expected else None


def test_runit_scripts_are_valid_sh_and_executable(project: ProjectFactory, tmp_path: Path) -> None:
    out = export(project(stack(tmp_path / "events")), "runit", tmp_path / "sv")
    assert sorted(p.name for p in out.iterdir()) == ["shop-api", "shop-db", "shop-tidy"]
    scripts = [p for p in out.rglob("*") if p.is_file() and p.parent.name != "env"]
    assert {p.relative_to(out).as_posix() for p in scripts} >= {
        "shop-api/run",
        "shop-api/log/run",
        "shop-api/finish",
        "shop-db/check",
        "shop-db/control/t",
        "shop-tidy/finish",
    }
    for script in scripts:
        assert os.access(script, os.X_OK), script
        assert script.read_text().startswith("#!/bin/sh\n# Generated by launcher "), script
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, (script, result.stderr)
    env = out / "shop-api" / "env"
    assert (env / "RATIO").read_text() == "100% of $HOME, 'quoted' here\n"
    assert not (env / "API_TOKEN").exists()
    assert not os.access(env / "RATIO", os.X_OK)


def test_a_runit_run_script_waits_for_its_dependency_port(project: ProjectFactory, tmp_path: Path) -> None:
    root = project(stack(tmp_path / "events", db_timeout=2))
    out = export(root, "runit", tmp_path / "sv")
    port = int((out / "shop-db" / "env" / "PORT").read_text())
    waits = _waits(out / "shop-api" / "run")
    assert "127.0.0.1" in waits
    assert str(port) in waits
    refused = subprocess.run(["sh", "-c", waits], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1
    assert "db is not ready after 2 s" in refused.stderr
    with socket.create_server(("127.0.0.1", port)):
        ready = subprocess.run(["sh", "-c", waits], capture_output=True, text=True, timeout=30)
    assert ready.returncode == 0, ready.stderr


def _waits(run: Path) -> str:
    """The lines of a run script that wait for a dependency's probe (not the oneshot it runs)."""
    return "\n".join(line for line in run.read_text().splitlines() if line.startswith("deadline="))
