"""Two small, realistic projects written for this suite (tests/projects/), each run as its users
would run it, in a copy of its own and unedited:

- linkqueue: a Procfile (`release`, `redis`, `web`, `worker`) and a `.env` using `export` and
  `${VAR}`, with no launcher.toml; the worker reaches the project's Redis through the
  `REDIS_URL` that `.env` declares (built from a `REDIS_PORT` that the environment overrides, as
  CI's would);
- notes: a FastAPI app whose settings module reads `DATABASE_URL` when it is imported, a
  `migrate` oneshot, and a `test` profile with a database of its own.

Each runs through the CLI (`run` until Ctrl-C, `run -- python -m pytest` with the project's own
tests, `up -d`/`status`/`down`) and through the pytest plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, Launch, free_port_block, wait_until

pytestmark = pytest.mark.integration

PROJECTS = REPO / "tests" / "projects"


@dataclass
class Project:
    root: Path
    env: dict[str, str]  # the environment its commands run in (os.environ and the overrides)
    overrides: dict[str, str]

    def launcher(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`launcher ARGS` in the project, as its user types it."""
        return self.run(sys.executable, "-m", "launcher", *args, timeout=timeout)

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def status(self) -> dict[str, Any]:
        result = self.launcher("status", "--json")
        assert result.stdout, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data


def copy(name: str, tmp_path: Path, **overrides: str) -> Project:
    """tests/projects/NAME, copied as it is into tmp_path (what its runs write stays there)."""
    root = tmp_path / name
    shutil.copytree(
        PROJECTS / name,
        root,
        ignore=shutil.ignore_patterns("__pycache__", ".launcher", "var", ".pytest_cache"),
    )
    low, high = free_port_block(10)
    overrides = {"NO_COLOR": "1", "LAUNCHER_PORTS": f"{low}-{high}", **overrides}
    return Project(root, {**os.environ, **overrides}, overrides)


def fetch(url: str, body: dict[str, object] | str | None = None) -> Any:
    """GET `url`, or POST `body` (JSON, or text as it is) to it; the answer's JSON."""
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# linkqueue: a Procfile project with Redis.


@pytest.fixture
def linkqueue(tmp_path: Path, free_port: int) -> Project:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: linkqueue's Procfile runs it as its queue")
    return copy("linkqueue", tmp_path, REDIS_PORT=str(free_port))


def wait_checked(web_url: str, link_id: int) -> dict[str, Any]:
    def checked() -> dict[str, Any] | None:
        link: dict[str, Any] = fetch(f"{web_url}/links/{link_id}")
        return link if link["status"] == "checked" else None

    return wait_until(checked, 10, interval=0.05, message=f"the worker's check of link {link_id}")


def test_linkqueue_runs_from_its_procfile_and_env_until_ctrl_c(linkqueue: Project, launch: Launch) -> None:
    run = launch(linkqueue.root, env=linkqueue.overrides)
    run.wait_output("4/4 services ready")
    redis_url = f"redis://127.0.0.1:{linkqueue.overrides['REDIS_PORT']}/0"
    assert "no launcher.toml: running the Procfile (honcho syntax)" in run.output
    # `.env`: `export` lines read, `${REDIS_PORT}` expanded with the environment's value.
    run.wait_output(f"worker: waiting for links on {redis_url} (links:pending)")
    web = next(s for s in linkqueue.status()["services"] if s["name"] == "web")
    created = fetch(f"{web['url']}/links", "https://example.org/guide")
    assert wait_checked(web["url"], created["id"])["host"] == "example.org"

    run.signal(signal.SIGINT)
    assert run.wait() == 130
    # The release phase ran once, before the others, and its schema is where `.env` says.
    assert run.output.count("release: migrated var/links.db") == 1
    assert run.output.index("[release] completed") < run.output.index("[web] starting")
    assert (linkqueue.root / "var" / "links.db").is_file()
    assert not accepts(int(linkqueue.overrides["REDIS_PORT"]))


def test_linkqueue_own_tests_run_against_its_stack(linkqueue: Project) -> None:
    result = linkqueue.launcher("run", "--", "python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_linkqueue_up_detached_then_status_and_down_without_naming_the_procfile(linkqueue: Project) -> None:
    up = linkqueue.launcher("up", "-d", "--wait")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        states = {s["name"]: s["state"] for s in linkqueue.status()["services"]}
        assert states == {"release": "completed", "redis": "ready", "web": "ready", "worker": "ready"}
        assert linkqueue.launcher("status").returncode == 0
        assert accepts(int(linkqueue.overrides["REDIS_PORT"]))
    finally:
        down = linkqueue.launcher("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (linkqueue.root / ".launcher" / "state.json").exists()
    assert not accepts(int(linkqueue.overrides["REDIS_PORT"]))


def test_linkqueue_through_the_pytest_plugin(linkqueue: Project, tmp_path: Path) -> None:
    """A Procfile has no profiles: the plugin's `launcher_stack`, given the Procfile."""
    tests = tmp_path / "plugin"
    tests.mkdir()
    (tests / "test_linkqueue_stack.py").write_text(
        textwrap.dedent(
            """
            import json
            import os
            import time
            import urllib.request


            def test_the_worker_checks_a_link_through_the_projects_redis(launcher_stack):
                port = os.environ["REDIS_PORT"]  # the environment's, over the .env's
                assert launcher_stack.env["REDIS_URL"] == "redis://127.0.0.1:%s/0" % port
                web = launcher_stack.url("web")
                request = urllib.request.Request(web + "/links", data=b"https://example.org/")
                with urllib.request.urlopen(request, timeout=5) as response:
                    link_id = json.loads(response.read())["id"]
                deadline = time.monotonic() + 10
                while True:
                    with urllib.request.urlopen("%s/links/%s" % (web, link_id), timeout=5) as response:
                        if json.loads(response.read())["status"] == "checked":
                            break
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            """
        )
    )
    result = linkqueue.run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(linkqueue.root),
        "--launcher-config",
        "Procfile",
        str(tests),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


# notes: settings read at import time.


@pytest.fixture
def notes(tmp_path: Path) -> Project:
    return copy("notes", tmp_path)


def test_notes_runs_its_default_profile_until_ctrl_c(notes: Project, launch: Launch) -> None:
    run = launch(notes.root, env=notes.overrides)
    run.wait_output("2/2 services ready")
    api = notes.status()["services"][1]
    assert api["name"] == "api"
    assert fetch(f"{api['url']}/health") == {"status": "ok", "database": "sqlite:///var/dev.db"}
    fetch(f"{api['url']}/notes", {"text": "water the plants"})
    assert [n["text"] for n in fetch(f"{api['url']}/notes")] == ["water the plants"]
    run.signal(signal.SIGINT)
    assert run.wait() == 130
    assert (notes.root / "var" / "dev.db").is_file()
    assert not (notes.root / "var" / "test.db").exists()


def test_notes_own_tests_run_against_the_test_profile(notes: Project) -> None:
    result = notes.launcher("run", "test", "--", "python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert not (notes.root / "var" / "dev.db").exists()


def test_notes_up_detached_then_status_and_down(notes: Project) -> None:
    up = notes.launcher("up", "test", "-d", "--wait")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        status = notes.status()
        assert status["profile"] == "test"
        api = next(s for s in status["services"] if s["name"] == "api")
        assert fetch(f"{api['url']}/health")["database"] == "sqlite:///var/test.db"
    finally:
        down = notes.launcher("down")
    assert down.returncode == 0, down.stdout + down.stderr
    after = notes.launcher("status")
    assert after.returncode == 3, after.stdout + after.stderr


def test_notes_own_tests_through_the_pytest_plugin(notes: Project) -> None:
    """Its settings are read when the tests are collected: the profile's stack must be up and in
    os.environ by then. Without the plugin's profile, the same tests fail."""
    pytest_argv = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    result = notes.run(*pytest_argv, "--launcher-profile", "test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    alone = notes.run(*pytest_argv)
    assert alone.returncode == 1, alone.stdout + alone.stderr
    assert "2 failed" in alone.stdout


def test_nothing_of_the_projects_is_left_to_commit(notes: Project) -> None:
    """After a run, `git add -A` takes the project's own files only."""
    result = notes.launcher("run", "test", "--", "python", "-c", "pass")
    assert result.returncode == 0, result.stdout + result.stderr
    subprocess.run(["git", "init", "-q"], cwd=notes.root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=notes.root, check=True)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only"], cwd=notes.root, check=True, capture_output=True, text=True
    ).stdout.split()
    assert not [name for name in staged if name.startswith(".launcher")], staged
    assert "launcher.toml" in staged
