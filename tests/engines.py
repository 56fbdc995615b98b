"""The real engines the exports are run by, for the tests (tests/integration/test_export_engines.py,
test_export_secrets.py): where a project is deployed, with which user and interpreter, and each
engine started, awaited and stopped within a deadline, leaving no process behind.

Run as root, the exports are deployed with `--user nobody`: the project goes to a directory
nobody can read, and the interpreter is one nobody can run (the tests' own, or a virtualenv of
the system's Python of the same version that sees the tests' packages). Otherwise, as the user
running the tests, without `--user`.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from helpers import cli, copy_demo, free_port_block, wait_until

BIN = Path(sys.executable).parent
NEEDED = "import launcher, uvicorn, fastapi, aiohttp"


@dataclass(frozen=True)
class Area:
    """Where projects are deployed: a directory `user` can read, and an interpreter it can run."""

    root: Path
    user: str | None
    python: str

    def own(self, path: Path) -> Path:
        """`path` made (a directory) and handed to the user, as an operator does for data."""
        path.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return path

    def export(self, root: Path, fmt: str, profile: str | None, out: Path, *extra: str) -> Path:
        user = ("--user", self.user) if self.user else ()
        named = (profile,) if profile else ()
        done = cli(root, "export", fmt, *named, "-o", str(out), "--python", self.python, *user, *extra)
        assert done.returncode == 0, done.stderr
        return out


@contextmanager
def deploy_area(tmp_path: Path) -> Iterator[Area]:
    if os.geteuid() != 0 or not _user_exists("nobody"):
        yield Area(tmp_path, None, sys.executable)
        return
    base = Path(tempfile.mkdtemp(prefix="launcher-engines-"))
    base.chmod(0o755)
    try:
        yield Area(base, "nobody", _python_for("nobody", base))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _python_for(user: str, base: Path) -> str:
    """This interpreter if `user` can run it; else a virtualenv of the system's Python of the
    same version whose site-packages include ours."""
    if _runs(sys.executable, user):
        return sys.executable
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = Path(f"/usr/bin/python{version}")
    if not system.exists():
        pytest.skip(f"{user} cannot run {sys.executable}, and there is no {system} to run instead")
    venv = base / "venv"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    ours = sysconfig.get_paths()["purelib"]
    site = Path(
        subprocess.check_output(
            [str(venv / "bin" / "python"), "-c", "import site; print(site.getsitepackages()[0])"], text=True
        ).strip()
    )
    (site / "tests-packages.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    python = str(venv / "bin" / "python")
    if not _runs(python, user):
        pytest.skip(f"{user} cannot run this interpreter's packages from {python}")
    return python


def _runs(python: str, user: str) -> bool:
    try:
        done = subprocess.run([python, "-c", NEEDED], user=user, cwd="/", capture_output=True, timeout=120)
    except OSError:
        return False
    return done.returncode == 0


def demo(area: Area, name: str) -> tuple[Path, int]:
    """The demo project under the area, on a free port block; its data directory the user's.
    Returns it and the gateway's port (the first of the block: nothing before it has one)."""
    root = copy_demo(area.root / name)
    low, high = free_port_block()
    config = root / "launcher.toml"
    config.write_text(config.read_text().replace("ports = [8000, 8010]", f"ports = [{low}, {high}]"))
    area.own(root / ".launcher")
    return root, low


def status(url: str) -> int | None:
    """The HTTP status of a GET, None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            code: int = response.status
            return code
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_for_jobs(port: int, log: Path, timeout: float = 60) -> None:
    wait_until(
        lambda: status(f"http://127.0.0.1:{port}/jobs") == 200,
        timeout=timeout,
        interval=0.2,
        message=lambda: (
            f"/jobs answering 200; the engine's output:\n{log.read_text(errors='replace')[-4000:]}"
        ),
    )


def start(
    argv: list[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """An engine in a session of its own, its output to `log`.

    Run as root, the engine runs its services as nobody, who cannot write the coverage data of
    the tests' run (its directory is root's): coverage's subprocess patch is left out of their
    environment, or each would print a traceback on exit.
    """
    environ = {**os.environ, **(env or {})}
    if os.geteuid() == 0:
        environ.pop("COVERAGE_PROCESS_CONFIG", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """The engine stopped by `sig`, then whatever it left of its descendants killed: the test
    leaves nothing running even when the engine did not stop its services."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except psutil.TimeoutExpired:
            child.kill()
        except psutil.Error:
            continue


def supervisord_conf(directory: Path, programs: Path, environment: Mapping[str, str] | None = None) -> Path:
    """A minimal supervisord configuration that includes an export; `environment`: what its
    [supervisord] section passes on to every program (where an operator puts secrets)."""
    env = ",".join(f'{k}="{v}"' for k, v in (environment or {}).items())
    conf = directory / "supervisord.conf"
    conf.write_text(
        f"""[supervisord]
logfile={directory}/supervisord.log
pidfile={directory}/supervisord.pid
childlogdir={directory}
{f"environment={env}" if env else ""}

[unix_http_server]
file={directory}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{directory}/supervisor.sock

[include]
files = {programs}/*.conf
"""
    )
    conf.chmod(0o600)
    return conf


def supervisor_states(conf: Path) -> dict[str, tuple[str, int | None]]:
    """Each program's state and pid, as supervisorctl shows them."""
    result = subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(conf), "status"], capture_output=True, text=True, timeout=20
    )
    states = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) > 1:
            pid = re.search(r"pid (\d+)", line)
            states[words[0]] = (words[1], int(pid.group(1)) if pid else None)
    return states


def runit_missing() -> str | None:
    missing = [tool for tool in ("runsvdir", "runsv", "sv", "chpst") if shutil.which(tool) is None]
    return (
        f"runit is not installed ({', '.join(missing)} missing; apt-get install runit)" if missing else None
    )


def runit_pid(service: Path) -> int | None:
    """The pid of a runit service that is up, from `sv status`."""
    done = subprocess.run(["sv", "status", str(service)], capture_output=True, text=True, timeout=20)
    found = re.match(r"run: [^:]+: \(pid (\d+)\)", done.stdout)
    return int(found.group(1)) if found else None


def runit_services(export: Path, svdir: Path) -> list[Path]:
    """The exported service directories copied into a runsvdir directory, without their log
    services (svlogd would write under /var/log: their output goes to runsvdir's instead)."""
    services = []
    for directory in sorted(export.iterdir()):
        target = svdir / directory.name
        shutil.copytree(directory, target, symlinks=True)
        shutil.rmtree(target / "log", ignore_errors=True)
        services.append(target)
    return services


def stop_runit(runsvdir: subprocess.Popen[bytes], services: list[Path]) -> None:
    """What an operator does: stop every service (the stop signal, SIGKILL after 15 s), then
    runsvdir, which takes the runsv processes with it."""
    for service in services:
        subprocess.run(["sv", "-w", "15", "force-stop", str(service)], capture_output=True, timeout=30)
    stop(runsvdir, signal.SIGHUP)
