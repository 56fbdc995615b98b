"""`launcher compile`'s Procfile: each line waits for what its process depends on, since honcho
starts every line at once. Run by real honcho: tests/integration/test_export_engines.py."""

from __future__ import annotations

import subprocess

from export_plans import SHOP, compile_text
from helpers import ProjectFactory

from launcher.exports.procfile import render_procfile

STACK = (
    SHOP
    + """
[services.migrate]
command = "python -m shop.migrate"
oneshot = true

[services.tidy]
command = "true"
oneshot = true

[services.api]
command = "python -m shop.api --port ${PORT}"
cwd = "src"
port = "auto"
depends_on = ["migrate"]
probe = { http = "/health" }

[services.report]
command = "python -m shop.report"
depends_on = { migrate = "completed", api = "started" }

[services.cache]
command = "redis-server --port ${PORT} --requirepass ${REDIS_PASSWORD}"
port = "auto"
probe = { redis = "redis://:${REDIS_PASSWORD}@127.0.0.1:${PORT}" }

[services.worker]
command = "python -m shop.worker"
depends_on = { api = "ready", cache = "ready" }

[services.pg]
external = true
probe = { postgres = "postgresql://shop@127.0.0.1:5432/shop" }
"""
)


def compiled(project: ProjectFactory) -> tuple[dict[str, str], str]:
    procfile, env = render_procfile(compile_text(project, STACK, secrets=True), "9.9")
    lines = dict(line.split(": ", 1) for line in procfile.splitlines() if not line.startswith("#"))
    for command in lines.values():
        assert subprocess.run(["sh", "-n", "-c", command], timeout=10).returncode == 0, command
    return lines, procfile + env


def test_a_oneshot_runs_in_front_of_its_first_dependent_and_marks_it_done_for_the_others(
    project: ProjectFactory,
) -> None:
    lines, _ = compiled(project)
    assert list(lines) == ["cache", "api", "report", "worker"]
    api = lines["api"]
    assert api.startswith("(env LAUNCHER_SERVICE=migrate python -m shop.migrate) || exit $?; ")
    marker = '"${TMPDIR:-/tmp}/launcher-shop-migrate.$PPID"'
    assert f": >{marker}; cd src && exec env LAUNCHER_SERVICE=api PORT=9001 python -m shop.api" in api
    # report waits for migrate's marker (honcho's pid: $PPID), and for api only as started.
    report = lines["report"]
    assert report.startswith(f"deadline=$(($(date +%s) + 60)); until test -e {marker} ")
    assert "shop.api" not in report
    assert "/health" not in report


def test_a_ready_dependency_is_waited_for_by_its_probe(project: ProjectFactory) -> None:
    lines, _ = compiled(project)
    worker = lines["worker"]
    assert "until python -c " in worker
    assert "http://127.0.0.1:9001/health 1 200" in worker
    assert 'REDISCLI_AUTH="${REDIS_PASSWORD}" redis-cli -u redis://127.0.0.1:9000 ping' in worker
    assert worker.index("9001/health") < worker.index("redis-cli") < worker.index("exec env")


def test_secrets_come_from_honchos_environment(project: ProjectFactory) -> None:
    lines, everything = compiled(project)
    assert lines["cache"].endswith('redis-server --port 9000 --requirepass "${REDIS_PASSWORD}"')
    assert "s3cret-token" not in everything
    assert "# API_TOKEN is secret: supply it from the environment" in everything
    assert "# REDIS_PASSWORD is secret: supply it from the environment" in everything


def test_what_is_not_run_is_said(project: ProjectFactory) -> None:
    _, everything = compiled(project)
    assert "# tidy: a oneshot nothing depends on; run it first by hand" in everything
    assert "# pg: external, only probed by launcher; not run here" in everything
    assert "#   honcho -f Procfile.d/default.Procfile -e Procfile.d/default.env start" in everything
