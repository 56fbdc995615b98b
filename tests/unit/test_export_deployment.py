"""The deployment view every export renders from, and probes as check commands."""

from __future__ import annotations

import itertools
from pathlib import Path

from helpers import ProjectFactory

from launcher.config.loader import load
from launcher.exports.deployment import (
    CONTAINER_BIND,
    Deployment,
    Target,
    deployment,
    image_problems,
    secret_environ,
)
from launcher.exports.probecommands import check_argv, rehost, wait_script
from launcher.plan.compiler import LOCALHOST, build_plan
from launcher.plan.spec import Plan, ProbeSpec

STACK = """
[launcher]
name = "shop"
ports = [9000, 9010]

[env]
LOG_LEVEL = "info"
API_TOKEN = "s3cret-token"

[services.migrate]
command = "python -m shop.migrate"
oneshot = true

[services.cache]
command = "redis-server --port ${PORT} --bind 127.0.0.1"
port = "auto"
probe = { redis = "127.0.0.1:${PORT}" }
image = "redis:7"

[services.api]
app = "shop.api:app"
cwd = "src"
port = "auto"
depends_on = ["migrate", "cache"]
probe = { http = "/health" }
env.DATABASE_URL = "postgresql://shop:hunter2@127.0.0.1:5432/shop"
env.CACHE = "redis://127.0.0.1:${CACHE_PORT}/0"

[services.worker]
task = "shop.worker:run"
depends_on = { api = "started" }
probe = { log = "^ready$" }

[services.pg]
external = true
probe = { postgres = "postgresql://shop:hunter2@127.0.0.1:5432/shop" }
"""
_count = itertools.count()


def plan(project: ProjectFactory, text: str = STACK, bind: str = LOCALHOST) -> Plan:
    root: Path = project(text, name=f"stack-{next(_count)}")
    return build_plan(load(root / "launcher.toml", environ={}), environ={}, python="python", bind=bind)


def containers(plan_: Plan) -> Deployment:
    return deployment(
        plan_, "compose", version="9.9", target=Target("/app"), hosts=lambda s: f"{s.name}-host"
    )


def test_units_are_in_dependency_order_with_levels_and_externals_apart(project: ProjectFactory) -> None:
    view = deployment(plan(project), "systemd", version="9.9", target=Target("/srv/shop"))
    assert [(u.name, u.level) for u in view.units] == [
        ("migrate", 0),
        ("cache", 0),
        ("api", 1),
        ("worker", 2),
    ]
    assert [s.name for s in view.external] == ["pg"]
    assert view.unit("api").cwd == "/srv/shop/src"
    assert view.unit("migrate").cwd == "/srv/shop"
    # A dependency on an external service is the engine's business, not an ordering.
    assert [d.name for d in view.unit("api").depends_on] == ["migrate", "cache"]


def test_secrets_are_names_never_values(project: ProjectFactory) -> None:
    view = containers(plan(project, bind=CONTAINER_BIND))
    api = view.unit("api")
    assert api.secrets == ("API_TOKEN", "DATABASE_URL")  # a secret name; a URL with a password
    assert "API_TOKEN" not in api.env
    assert "DATABASE_URL" not in api.env
    # (The specs keep every value: they are what `run` starts. Formats render from units.)
    rendered = repr([(u.env, u.argv, u.secrets) for u in view.units]) + view.header()
    assert "s3cret-token" not in rendered
    assert "hunter2" not in rendered
    assert view.secrets == ("API_TOKEN", "DATABASE_URL")


def test_containers_reach_each_other_by_host_name_and_apps_listen_on_all_interfaces(
    project: ProjectFactory,
) -> None:
    view = containers(plan(project, bind=CONTAINER_BIND))
    api, cache = view.unit("api"), view.unit("cache")
    assert api.env["CACHE"] == f"redis://cache-host:{cache.spec.port}/0"
    assert api.env["API_URL"] == f"http://api-host:{api.spec.port}"
    # The plan is compiled for containers: the argv and the socket the launcher would bind agree.
    assert api.argv[api.argv.index("--host") + 1] == "0.0.0.0"
    assert [(listen.host, listen.port) for listen in api.spec.listen] == [("0.0.0.0", api.spec.port)]
    # Its own probe runs beside it: loopback; from elsewhere, by host name.
    assert api.spec.probe is not None
    assert api.spec.probe.target == f"http://127.0.0.1:{api.spec.port}/health"
    remote = view.remote_probe(api)
    assert remote is not None
    assert remote.target == f"http://api-host:{api.spec.port}/health"
    # What cannot be rewritten is said in the header.
    header = view.header()
    assert "cache: its command binds 127.0.0.1" in header
    assert "pg: external, not exported" in header
    assert "worker: its log probe has no equivalent here" in header
    assert "worker: tasks run as `python -m launcher.child.task_runner" in header


def test_system_engines_keep_loopback(project: ProjectFactory) -> None:
    view = deployment(plan(project), "supervisord", version="9.9", target=Target("/srv"))
    api = view.unit("api")
    assert api.argv[api.argv.index("--host") + 1] == "127.0.0.1"
    assert [listen.host for listen in api.spec.listen] == ["127.0.0.1"]
    assert api.env["CACHE"].startswith("redis://127.0.0.1:")


def test_the_header_names_version_profile_and_command_and_wraps(project: ProjectFactory) -> None:
    view = deployment(plan(project), "runit", version="9.9", target=Target("/srv"), shared_note=True)
    lines = view.header("#").splitlines()
    assert lines[0] == "# Generated by launcher 9.9 from launcher.toml, profile default:"
    assert lines[1] == "#   launcher export runit default"
    assert "multi-process plan" in view.header()
    assert all(len(line) <= 100 for line in lines)
    assert view.header("//").startswith("// Generated")


def test_a_service_without_an_image_is_lch_1033_at_its_line(project: ProjectFactory) -> None:
    root = project(STACK, name="images")
    loaded = load(root / "launcher.toml", environ={})
    problems = image_problems(build_plan(loaded, environ={}), loaded.layered.origin)
    assert [(p.code, p.message) for p in problems] == [
        ("LCH-1033", "service 'migrate' has no image to run in"),
        ("LCH-1033", "service 'api' has no image to run in"),
        ("LCH-1033", "service 'worker' has no image to run in"),
    ]
    line = STACK.splitlines().index("[services.api]") + 1
    assert str(problems[1].origin).endswith(f"images/launcher.toml:{line}")


def test_probes_as_check_commands() -> None:
    http = ProbeSpec("http", "http://127.0.0.1:8000/health", timeout=2)
    assert check_argv(http)[:2] == ("python", "-c")
    assert check_argv(http)[3:] == ("http://127.0.0.1:8000/health", "2", "200")
    assert check_argv(ProbeSpec("tcp", "127.0.0.1:8000"), python="/v/python")[3:] == (
        "127.0.0.1",
        "8000",
        "1",
    )
    assert check_argv(ProbeSpec("cmd", "true", argv=("true",))) == ("true",)
    assert check_argv(ProbeSpec("redis", "127.0.0.1:6379")) == (
        "sh",
        "-c",
        "redis-cli -u redis://127.0.0.1:6379 ping | grep -q PONG",
    )
    assert check_argv(ProbeSpec("postgres", "postgresql://u@h:5432/d", timeout=0.5)) == (
        "pg_isready",
        "-q",
        "-d",
        "postgresql://u@h:5432/d",
        "-t",
        "1",
    )
    assert check_argv(ProbeSpec("log", "^ready$")) is None


def test_rehost_aims_loopback_probes_elsewhere() -> None:
    assert rehost(ProbeSpec("tcp", "127.0.0.1:80"), "web").target == "web:80"
    assert rehost(ProbeSpec("http", "http://localhost:80/x?y=1"), "web").target == "http://web:80/x?y=1"
    assert rehost(ProbeSpec("postgres", "postgresql://u@db.example:5432/d"), "web").target.endswith(
        "@db.example:5432/d"
    )
    cmd = ProbeSpec("cmd", "true", argv=("true",))
    assert rehost(cmd, "web") is cmd


def test_wait_script_gives_up_after_its_timeout() -> None:
    script = wait_script(("false",), "api", 3)
    assert script.startswith("deadline=$(($(date +%s) + 3)); until false >/dev/null 2>&1; do ")
    assert "'api is not ready after 3 s'" in script


def test_a_secret_in_a_command_or_a_probe_is_a_reference(project: ProjectFactory) -> None:
    text = """
[env]
REDIS_PASSWORD = "hunter2-long"

[services.cache]
command = "redis-server --requirepass ${REDIS_PASSWORD}"
port = 6390
probe = { redis = "redis://:${REDIS_PASSWORD}@127.0.0.1:6390" }
liveness = { tcp = "127.0.0.1:6390" }
"""
    view = deployment(plan(project, text), "systemd", version="9.9", target=Target("/srv"))
    cache = view.unit("cache")
    assert cache.argv == ("redis-server", "--requirepass", "${REDIS_PASSWORD}")
    assert cache.secrets == ("REDIS_PASSWORD",)
    # The probe is carried over, its password read from the environment where it runs.
    assert cache.probe is not None
    assert cache.probe.target == "redis://:${REDIS_PASSWORD}@127.0.0.1:6390"
    assert check_argv(cache.probe) == (
        "sh",
        "-c",
        'REDISCLI_AUTH="${REDIS_PASSWORD}" redis-cli -u redis://127.0.0.1:6390 ping | grep -q PONG',
    )
    header = view.header()
    assert "cache: its command holds secret values, written as ${NAME}" in header
    assert "cache: its liveness probe is not carried over: systemd restarts" in header
    assert "hunter2" not in header + repr((cache.argv, cache.probe, cache.env))


def test_a_password_no_variable_holds_cannot_be_written(project: ProjectFactory) -> None:
    text = """
[services.cache]
command = "redis-server"
port = 6390
probe = { redis = "redis://:hunter2-long@127.0.0.1:6390" }

[services.db]
command = "postgres"
port = 5433
probe = { postgres = "postgresql://shop:hunter2-long@127.0.0.1:5433/shop" }
"""
    view = deployment(plan(project, text), "runit", version="9.9", target=Target("/srv"))
    assert view.unit("cache").probe is None
    assert "cache: its redis probe holds a password, so it is not exported." in view.header()
    # pg_isready needs no password: the probe is carried over without it.
    db = view.unit("db").probe
    assert db is not None
    assert db.target == "postgresql://shop@127.0.0.1:5433/shop"
    assert "hunter2" not in view.header()


def test_a_secret_the_project_does_not_declare_stays_a_reference(project: ProjectFactory) -> None:
    text = """
[services.cache]
command = "redis-server --port ${PORT} --requirepass ${REDIS_PASSWORD}"
port = 6390
probe = { redis = "redis://:${REDIS_PASSWORD}@127.0.0.1:${PORT}" }
env = { DATABASE_URL = "postgresql://app:${DB_PASSWORD}@db:5432/app", MODE = "${MODE:-x}" }
"""
    root: Path = project(text, name=f"stack-{next(_count)}")
    loaded = load(root / "launcher.toml", environ={})
    assert secret_environ(loaded.config) == {
        "DB_PASSWORD": "${DB_PASSWORD}",
        "REDIS_PASSWORD": "${REDIS_PASSWORD}",
    }
    compiled = build_plan(loaded, environ=secret_environ(loaded.config), python="python")
    view = deployment(compiled, "supervisord", version="9.9", target=Target("/srv"))
    cache = view.unit("cache")
    assert cache.argv[-1] == "${REDIS_PASSWORD}"
    assert cache.secrets == ("DATABASE_URL", "REDIS_PASSWORD")
    assert cache.env["MODE"] == "x"


def test_the_project_interpreter_runs_python_commands_with_its_bin_first_on_path(
    project: ProjectFactory,
) -> None:
    text = """
[services.job]
command = "python -m shop.job"
probe = { cmd = "python3 -m shop.check" }
env = { PATH = "/opt/tools" }

[services.cache]
command = "redis-server"
image = "redis:7"
"""
    target = Target("/srv", python="/srv/.venv/bin/python", image="shop:1")
    view = deployment(plan(project, text), "systemd", version="9.9", target=target)
    job = view.unit("job")
    assert job.argv == ("/srv/.venv/bin/python", "-m", "shop.job")
    assert job.probe is not None
    assert job.probe.argv == ("/srv/.venv/bin/python", "-m", "shop.check")
    assert job.env["PATH"] == "/srv/.venv/bin:/opt/tools"
    assert view.unit("cache").env["PATH"].startswith("/srv/.venv/bin:/usr/local/sbin:")
    # In containers, only the project's image has the project's interpreter.
    view = deployment(plan(project, text), "compose", version="9.9", target=target, hosts=lambda s: s.name)
    assert view.unit("cache").argv == ("redis-server",)
    assert "PATH" not in view.unit("cache").env


def test_a_probe_of_another_services_port_is_aimed_at_that_service(project: ProjectFactory) -> None:
    text = """
[services.api]
command = "serve ${PORT}"
port = 9100
probe = { tcp = "127.0.0.1:9100" }

[services.worker]
command = "work"
probe = { http = "http://127.0.0.1:9100/health" }
liveness = { tcp = "localhost:9100" }
"""
    view = containers(plan(project, text, bind=CONTAINER_BIND))
    worker, api = view.unit("worker"), view.unit("api")
    assert worker.probe is not None
    assert worker.liveness is not None
    assert worker.probe.target == "http://api-host:9100/health"
    assert worker.liveness.target == "api-host:9100"
    assert api.probe is not None
    assert api.probe.target == "127.0.0.1:9100"  # its own port: beside it
