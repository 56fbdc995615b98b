"""A secret in a command reaches the service intact, on every engine that runs here, from that
engine's own environment mechanism: supervisord's environment, runit's envdir, honcho's
environment. A real redis-server gets `--requirepass ${REDIS_PASSWORD}`, its dependent waits
for its password-protected probe (redis-cli with REDISCLI_AUTH), then PINGs it with the same
password from its own command and gets PONG. The password holds a space and a glob character,
and appears in no generated file. systemd's units (EnvironmentFile) are checked by
systemd-analyze and the mapping tests; compose and Kubernetes in test_export_containers.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import (
    BIN,
    Area,
    deploy_area,
    runit_missing,
    runit_services,
    start,
    stop,
    stop_runit,
    supervisord_conf,
)
from helpers import cli, free_port_block, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PASSWORD = "s3cr3t pass*word"
CACHE = (
    "redis-server --port ${PORT} --bind 127.0.0.1 --save '' --appendonly no --requirepass ${REDIS_PASSWORD}"
)
# A shell command, which expands the secret itself (quoted, as in any shell script).
AGENT = (
    'redis-cli -p ${CACHE_PORT} -a "${REDIS_PASSWORD}" --no-auth-warning ping > ${RESULT} && exec sleep 120'
)
STACK = """
[launcher]
name = "vault"
ports = [{low}, {high}]

[env]
RESULT = "{result}"

[services.cache]
command = {cache}
port = "auto"
probe = {{ redis = "redis://:${{REDIS_PASSWORD}}@127.0.0.1:${{PORT}}" }}

[services.agent]
command = {agent}
shell = true
depends_on = {{ cache = "ready" }}
"""


def config(low: int, high: int, result: Path) -> str:
    return STACK.format(low=low, high=high, result=result, cache=json.dumps(CACHE), agent=json.dumps(AGENT))


@pytest.fixture
def area(tmp_path: Path) -> Iterator[Area]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are not installed")
    with deploy_area(tmp_path) as made:
        yield made


def vault(area: Area, name: str) -> tuple[Path, Path]:
    """The project, and the file its agent writes redis's answer to."""
    root = area.root / name
    root.mkdir()
    result = area.own(area.root / f"{name}-result") / "answer"
    low, high = free_port_block()
    (root / "launcher.toml").write_text(config(low, high, result))
    return root, result


def assert_pong(result: Path, log: Path, files: Path) -> None:
    wait_until(
        lambda: result.exists() and result.read_text().strip(),
        timeout=60,
        interval=0.2,
        message=lambda: (
            f"the agent's answer; the engine's output:\n{log.read_text(errors='replace')[-4000:]}"
        ),
    )
    assert result.read_text().strip() == "PONG"
    for path in files.rglob("*"):
        if path.is_file():
            assert "pass*word" not in path.read_text(errors="replace"), path


def test_supervisord_passes_its_environment_on(area: Area, tmp_path: Path) -> None:
    root, result = vault(area, "supervisord")
    programs = area.export(root, "supervisord", None, tmp_path / "programs")
    conf = supervisord_conf(tmp_path, programs, {"REDIS_PASSWORD": PASSWORD})
    log = tmp_path / "supervisord.out"
    daemon = start([str(BIN / "supervisord"), "-n", "-c", str(conf)], log)
    try:
        assert_pong(result, log, programs)
    finally:
        stop(daemon)


def test_runit_reads_it_from_the_envdir(area: Area, tmp_path: Path) -> None:
    missing = runit_missing()
    if missing:
        pytest.skip(missing)
    root, result = vault(area, "runit")
    exported = area.export(root, "runit", None, tmp_path / "export")
    svdir = tmp_path / "service"
    svdir.mkdir()
    services = runit_services(exported, svdir)
    for service in services:  # what the header of each run script asks for
        secret = service / "env" / "REDIS_PASSWORD"
        secret.write_text(PASSWORD + "\n")
        secret.chmod(0o600)
    log = tmp_path / "runsvdir.log"
    runsvdir = start(["runsvdir", "-P", str(svdir)], log)
    try:
        assert_pong(result, log, exported)
    finally:
        stop_runit(runsvdir, services)


def test_honcho_passes_its_environment_on(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are not installed")
    root = tmp_path / "honcho"
    root.mkdir()
    result = tmp_path / "answer"
    low, high = free_port_block()
    (root / "launcher.toml").write_text(config(low, high, result))
    assert cli(root, "compile").returncode == 0
    log = tmp_path / "honcho.log"
    env = {"REDIS_PASSWORD": PASSWORD, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    argv = ["-f", "Procfile.d/default.Procfile", "-e", "Procfile.d/default.env", "start"]
    honcho = start([str(BIN / "honcho"), "--no-colour", *argv], log, env=env, cwd=root)
    try:
        assert_pong(result, log, root / "Procfile.d")
    finally:
        stop(honcho)


def test_systemd_reads_it_from_its_environment_file(area: Area, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    root, _ = vault(area, "systemd")
    out = area.export(root, "systemd", None, tmp_path / "units")
    cache = (out / "vault-cache.service").read_text()
    assert "EnvironmentFile=-/etc/vault/secrets.env" in cache
    assert ' --requirepass "${REDIS_PASSWORD}"\n' in cache
    assert 'REDISCLI_AUTH=\\"$${REDIS_PASSWORD}\\" redis-cli' in cache
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, out.iterdir())], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
