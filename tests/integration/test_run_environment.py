"""What real processes see (DESIGN.md 1): a `.env` read as python-dotenv reads it, the
launcher's environment over it, declared values over injected ones, PORT their own, X_URL's
scheme from the service's probe; `run -- CMD` gets the stack's part; `-e` replaces `.env`."""

from __future__ import annotations

import json
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import Launch, ProjectFactory, free_port_block, program, toml_list, wait_until

pytestmark = pytest.mark.integration

DOTENV = """\
# committed defaults
export POSTGRES_PASSWORD=pw
DATABASE_URL=postgresql://postgres:${POSTGRES_PASSWORD}@localhost/app
GREETING="hello
world"
FROM_CI=committed
PORT=1
"""


def report(path: Path) -> dict[str, Any]:
    wait_until(path.exists, 20, message=f"{path.name} from introspect.py")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def stack(root: Path, out: Path) -> None:
    low, high = free_port_block()
    (root / "launcher.toml").write_text(f"""
[launcher]
name = "envs"
ports = [{low}, {high}]

[env]
REDIS_URL = "redis://127.0.0.1:${{REDIS_PORT}}/0"

[services.redis]
command = {toml_list(program("stack_service", "redis", "--listen"))}
port = "auto"

[services.probe_me]
command = {toml_list(program("introspect", str(out)))}
port = "auto"
env = {{ OWN = "${{PORT}}/${{LAUNCHER_SERVICE}}" }}
depends_on = ["redis"]
probe = {{ log = "introspect ready" }}
""")


def test_a_service_sees_the_declared_the_injected_and_the_environments_values(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project(None, files={".env": DOTENV})
    out = root / "seen.json"
    stack(root, out)
    launcher = launch(root, env={"FROM_CI": "ci", "POSTGRES_PASSWORD": None, "DATABASE_URL": None})
    launcher.wait_output("2/2 services ready")
    env = report(out)["env"]
    assert env["DATABASE_URL"] == "postgresql://postgres:pw@localhost/app"
    assert env["GREETING"] == "hello\nworld"
    assert env["FROM_CI"] == "ci"  # the launcher's environment beats .env
    assert env["REDIS_URL"] == f"redis://127.0.0.1:{env['REDIS_PORT']}/0"  # [env] beats injected
    assert env["PORT"] == env["PROBE_ME_PORT"] != "1"
    assert env["OWN"] == f"{env['PORT']}/probe_me"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert "warning[LCH-1034]: PORT in .env is ignored" in launcher.output
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


def test_run_cmd_gets_the_stacks_part_and_e_replaces_dotenv(project: ProjectFactory, launch: Launch) -> None:
    root = project(None, files={".env": DOTENV, "ci.env": "DATABASE_URL=postgresql://ci/test\n"})
    stack(root, root / "seen.json")
    dump = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
    launcher = launch(
        root, "-e", "ci.env", "--", sys.executable, "-c", dump, "cmd.json", env={"DATABASE_URL": None}
    )
    assert launcher.wait(60) == 0, launcher.output
    env = report(root / "cmd.json")
    assert env["DATABASE_URL"] == "postgresql://ci/test"
    assert {"GREETING", "POSTGRES_PASSWORD"} & set(env) == set()  # .env is not read
    assert env["REDIS_URL"] == f"redis://127.0.0.1:{env['REDIS_PORT']}/0"
    assert env["PROBE_ME_URL"] == f"http://127.0.0.1:{env['PROBE_ME_PORT']}"
    assert env["LAUNCHER_STACK"] == "envs"
    assert {"PORT", "LAUNCHER_SERVICE", "OWN"} & set(env) == set()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_x_url_of_a_redis_service_is_a_redis_url(project: ProjectFactory, launch: Launch) -> None:
    low, high = free_port_block()
    root = project(f"""
        [launcher]
        ports = [{low}, {high}]

        [services.cache]
        command = "redis-server --port ${{PORT}} --bind 127.0.0.1 --save '' --appendonly no"
        port = "auto"
        probe = {{ redis = "127.0.0.1:${{PORT}}" }}
    """)
    dump = "import os, sys; open(sys.argv[1], 'w').write(os.environ['CACHE_URL'])"
    launcher = launch(root, "--", sys.executable, "-c", dump, "url.txt")
    assert launcher.wait(60) == 0, launcher.output
    url = (root / "url.txt").read_text()
    assert url.startswith("redis://127.0.0.1:")
    assert low <= int(url.rsplit(":", 1)[1]) <= high
