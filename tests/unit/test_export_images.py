"""The project's image (Dockerfile) and the volumes of shared files, for the container exports."""

from __future__ import annotations

import itertools
from pathlib import Path

from helpers import ProjectFactory

from launcher.config.loader import load
from launcher.exports import dockerfile
from launcher.exports.deployment import CONTAINER_BIND, Deployment, Target, deployment
from launcher.exports.sharedfiles import data_file, shared_directories, volume_name
from launcher.plan.compiler import build_plan

STACK = """
[launcher]
name = "shop"
image = "shop:1"

[env]
DB = "../data/shop.sqlite3"

[services.migrate]
command = "python -m shop.migrate"
cwd = "src"
oneshot = true

[services.api]
command = "python -m shop.api"
cwd = "src"
depends_on = ["migrate"]
env = { CACHE = "sqlite:////var/cache/shop/c.db" }

[services.worker]
task = "shop.worker:run"
cwd = "src"

[services.cache]
command = "redis-server"
image = "redis:7"
"""
_count = itertools.count()


def view(project: ProjectFactory, text: str = STACK, python: str = "/app/.venv/bin/python") -> Deployment:
    root: Path = project(text, name=f"stack-{next(_count)}")
    (root / "src").mkdir()
    plan = build_plan(
        load(root / "launcher.toml", environ={}), environ={}, python=python, bind=CONTAINER_BIND
    )
    target = Target("/app", python=python, image="shop:1")
    return deployment(plan, "compose", version="9.9", target=target, hosts=lambda s: s.name)


def test_a_database_directory_named_by_several_services_is_shared(project: ProjectFactory) -> None:
    (shared,) = shared_directories(view(project))
    assert (shared.name, shared.path, shared.units) == (
        "shared-data",
        "/app/data",
        ("migrate", "worker", "api"),
    )
    assert data_file("sqlite:///rel/x.db?mode=rw") == "rel/x.db"
    assert data_file("postgresql://h/db") is None
    assert data_file("notes.txt") is None
    assert volume_name("/app/.launcher", "/app") == "shared-launcher"
    assert volume_name("/var/lib/x", "/app") == "shared-var-lib-x"


def test_the_dockerfile_installs_what_the_project_declares(project: ProjectFactory, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "requirements.txt").write_text("fastapi\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\nrequires-python = ">=3.11"\n')
    sources = dockerfile.find_sources(tmp_path, [tmp_path / "src", tmp_path])
    assert sources == dockerfile.Sources(("src/requirements.txt",), installable=True, python_version="3.11")
    files = dockerfile.render(view(project), sources, version="9.9")
    assert [f.path for f in files] == ["Dockerfile", "Dockerfile.dockerignore"]
    text = files[0].content
    assert "#   docker build -t shop:1 -f DIR/Dockerfile .\n" in text
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == [
        "FROM python:3.11-slim",
        "WORKDIR /app",
        "COPY . /app",
        "RUN python -m venv /app/.venv \\",
        "    && /app/.venv/bin/python -m pip install --no-cache-dir -r src/requirements.txt \\",
        "    && /app/.venv/bin/python -m pip install --no-cache-dir /app \\",
        "    && /app/.venv/bin/python -m pip install --no-cache-dir launcher==9.9",
        "ENV PATH=/app/.venv/bin:$PATH",
    ]
    ignored = files[1].content.splitlines()
    assert {".venv", ".env", "**/secrets.env", ".launcher"} <= set(ignored)


def test_another_interpreter_is_used_as_the_base_image_has_it(project: ProjectFactory) -> None:
    sources = dockerfile.Sources(is_launcher=True, installable=True)
    files = dockerfile.render(view(project, python="/usr/local/bin/python"), sources, version="9.9")
    body = [line for line in files[0].content.splitlines() if not line.startswith("#")]
    # launcher itself is the project: installing it is enough for the tasks.
    assert body[3:] == ["RUN /usr/local/bin/python -m pip install --no-cache-dir /app"]
