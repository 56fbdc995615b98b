"""The examples, run for real in a copy of the repository's demo project: the CI recipes of
examples/ci/github-actions.yml (the steps marked "runs in launcher's own CI"), and the commands
of examples/README.md, in a terminal (where `mode = "auto"` runs shared) and in a pipe."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
from helpers import copy_demo, wait_until

from launcher.plan.modes import CI_VARIABLES

REPO = Path(__file__).parents[2]
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yml"
MARK = "# runs in launcher's own CI"
README = REPO / "examples" / "README.md"
pytestmark = pytest.mark.integration


def marked_steps(text: str) -> list[tuple[str, str]]:
    """(name, run) of every step that follows the mark."""
    steps = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == MARK:
            name = re.sub(r"^\s*- name:\s*", "", lines[i + 1])
            run = re.sub(r"^\s*run:\s*", "", lines[i + 2])
            steps.append((name, run))
    return steps


STEPS = marked_steps(WORKFLOW.read_text())


def test_the_workflow_marks_both_recipes() -> None:
    runs = [run for _, run in STEPS]
    assert runs == [
        "python -m launcher run ci -- python -m pytest -q examples/smoke",
        "cd examples && python -m pytest -q",
    ]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "demo")


@pytest.mark.parametrize(("name", "run"), STEPS, ids=[n for n, _ in STEPS])
def test_recipe(demo: Path, name: str, run: str) -> None:
    # `python` of the workflow is this interpreter, as actions/setup-python makes it.
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        ["bash", "-c", run],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        start_new_session=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"\b3 passed\b", output), output
    assert "skipped" not in output, output


def readme_commands() -> list[str]:
    """Every line of examples/README.md's `sh` blocks, its interpreter this one."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    python = shlex.quote(sys.executable)
    return [line.replace(".venv/bin/python", python) for block in blocks for line in block.splitlines()]


class Shell:
    """One README line run by bash in the demo, its output a terminal or a pipe, read as it comes."""

    def __init__(self, line: str, cwd: Path, *, terminal: bool) -> None:
        env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES} | {"NO_COLOR": "1"}
        env.pop("PYTEST_ADDOPTS", None)
        self.output = bytearray()
        leader, follower = pty.openpty() if terminal else os.pipe()
        try:
            self.process = subprocess.Popen(
                ["bash", "-c", line],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=follower,
                stderr=follower,
                start_new_session=True,  # its own group, as a terminal's foreground job
            )
        finally:
            os.close(follower)
        self.reader = threading.Thread(target=self._read, args=(leader,), daemon=True)
        self.reader.start()

    def _read(self, fd: int) -> None:
        with contextlib.suppress(OSError):  # EIO once the terminal's last writer closed it
            while chunk := os.read(fd, 65536):
                self.output += chunk
        os.close(fd)

    def text(self) -> str:
        return self.output.decode(errors="replace")

    def wait(self, timeout: float = 90) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.reader.join(10)
        return code

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to its process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.wait()


def left_behind(demo: Path) -> list[str]:
    """The processes still running from the demo's directory (a launcher that exited leaves none)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or ())
        if str(demo) in command:
            found.append(f"{process.pid} {command[:200]}")
    return found


def status(demo: Path) -> dict[str, object] | None:
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "status", "--json"], cwd=demo, capture_output=True, text=True
    )
    stack: dict[str, object] = json.loads(done.stdout) if done.stdout.strip() else {}
    return stack if stack.get("state") == "running" else None


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_the_readme_commands_answer_in_a_terminal_and_in_a_pipe(demo: Path, terminal: bool) -> None:
    lines = readme_commands()
    run_full, one_off = (
        next(line for line in lines if re.search(r"launcher run full\s+(#|$)", line)),
        next(line for line in lines if "launcher run full -- " in line),
    )
    talk = [line for line in lines if line.startswith("curl ")]
    assert len(talk) == 3
    mode = "mode shared: an interactive developer machine" if terminal else "mode multi: stdout is not"
    # `run full -- CMD`: the command gets 200 from the gateway (curl -f fails on any HTTP error).
    shell = Shell(one_off, demo, terminal=terminal)
    assert shell.wait() == 0, shell.text()
    assert mode in shell.text()
    assert re.search(r"^\[", shell.text(), re.M), shell.text()  # the chapters, as JSON
    assert not left_behind(demo), shell.text()
    # `run full` in one terminal, the README's curl commands in another.
    stack = Shell(run_full, demo, terminal=terminal)
    try:
        running = wait_until(lambda: status(demo), timeout=60, message=stack.text)
        services = {s["name"]: s for s in running["services"]}  # type: ignore[attr-defined]
        gateway = services["api_gateway"]["url"]  # http://127.0.0.1:8000 unless 8000 was taken
        for line in talk:
            done = subprocess.run(
                ["bash", "-c", line.replace("http://127.0.0.1:8000", gateway)],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert done.returncode == 0, (line, done.stdout, done.stderr)

        def approved() -> bool:
            done = subprocess.run(["curl", "-fsS", gateway + "/chapters"], capture_output=True, text=True)
            return "Chapter two" in done.stdout

        wait_until(approved, timeout=30, message=stack.text)
    finally:
        code = stack.interrupt()
    assert mode in stack.text()
    assert code == 128 + signal.SIGINT, stack.text()
