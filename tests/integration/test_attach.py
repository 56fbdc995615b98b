"""`launcher attach` against real stacks: the dashboard driven headless by textual's pilot
(the table fills, a change of state reaches it, restart from the keyboard restarts the service,
the filter narrows the logs, quitting leaves the stack running); the command's errors (no
terminal, a terminal too small, no stack) in one line; in a real terminal under tmux, `attach`
and `run --tui`; and what the API serves it (cpu and rss, the sampled log stream).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import termios
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import serve
from helpers import ProjectFactory, cli, toml_list, wait_until, wait_until_async, web_stack

from launcher.control import client
from launcher.tui.app import Dashboard
from launcher.tui.source import ApiSource
from launcher.tui.widgets import LogView, ServicesTable

pytestmark = pytest.mark.integration

# A line a tenth of a second: `tick 0`, `tick 1`, ...
TICKER = "import time\ni = 0\nwhile True:\n    print(f'tick {i}', flush=True); i += 1; time.sleep(0.1)"
# 200,000 lines as fast as it can, once the file named by its argument exists.
FLOOD = (
    "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.01)\n"
    "for i in range(200_000):\n    sys.stdout.write(f'flood {i}\\n')\nsys.stdout.flush()\ntime.sleep(300)"
)


def ticking(project: ProjectFactory) -> Path:
    """A project of web and a ticker after it."""
    return web_stack(project, "ticker", [sys.executable, "-c", TICKER])


@pytest.fixture
def stack(project: ProjectFactory) -> Iterator[Path]:
    """A project whose stack runs detached (`up -d --wait`), brought down at the end."""
    root = ticking(project)
    started = cli(root, "up", "-d", "--wait")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield root
    finally:
        cli(root, "down")


def attached(root: Path) -> Dashboard:
    """The dashboard `launcher attach` runs, pointed at the stack of `root`."""
    running = client.connect(str(root / "launcher.toml"))
    assert running.socket is not None
    return Dashboard(ApiSource(running.socket), running.get("/v1/status"), project=str(root))


async def until(predicate: Callable[[], object], timeout: float = 15, what: str = "") -> None:
    """wait_until_async(), at the dashboard's pace."""
    await wait_until_async(predicate, timeout, interval=0.05, message=what)


def cell(app: Dashboard, service: str, column: str) -> str:
    return str(app.query_one(ServicesTable).get_cell(service, column))


async def test_the_table_fills_from_the_stack_with_its_figures(stack: Path) -> None:
    app = attached(stack)
    async with app.run_test(size=(140, 36)):
        await until(lambda: app.query_one(ServicesTable).row_count == 2, what="a row per service")
        status = client.connect(str(stack / "launcher.toml")).get("/v1/status")
        web = next(s for s in status["services"] if s["name"] == "web")
        assert cell(app, "web", "state") == "ready"
        assert cell(app, "web", "pid") == str(web["pid"])
        assert cell(app, "web", "url") == web["url"]
        assert cell(app, "web", "probe").startswith("ok: HTTP 200")
        # CPU and memory come with the status once sampled (docs/api.md).
        await until(lambda: cell(app, "web", "rss").endswith("M"), what="web's memory")
        await until(lambda: cell(app, "web", "cpu").endswith("%"), what="web's CPU")
        await until(lambda: any("tick" in e.text for e in app.query_one(LogView).shown), what="ticks")


async def test_a_change_of_state_reaches_the_table(stack: Path) -> None:
    app = attached(stack)
    async with app.run_test(size=(140, 36)):
        await until(lambda: cell(app, "ticker", "state") == "ready")
        stopped = await asyncio.to_thread(cli, stack, "stop", "ticker")
        assert stopped.returncode == 0, stopped.stderr
        await until(lambda: cell(app, "ticker", "state").startswith("stopped"), what="the stop in the table")
        await until(lambda: cell(app, "ticker", "pid") == "-", what="its pid gone from the table")


async def test_restart_from_the_keyboard_restarts_the_selected_service(stack: Path) -> None:
    app = attached(stack)
    async with app.run_test(size=(140, 36)) as pilot:
        await until(lambda: cell(app, "web", "pid") != "-")
        before = cell(app, "web", "pid")
        assert app.query_one(ServicesTable).selected == "web"
        await pilot.press("r")
        await until(lambda: cell(app, "web", "pid") not in ("-", before), what="a new pid in the table")
        await until(lambda: cell(app, "web", "state") == "ready")
        after = cell(app, "web", "pid")
    status = client.connect(str(stack / "launcher.toml")).get("/v1/status")
    assert str(next(s for s in status["services"] if s["name"] == "web")["pid"]) == after


async def test_the_filter_narrows_the_log_view(stack: Path) -> None:
    app = attached(stack)
    async with app.run_test(size=(140, 36)) as pilot:
        log = app.query_one(LogView)
        await until(lambda: any("tick 1" in e.text for e in log.shown), what="ticks")
        await until(lambda: any(e.service == "web" for e in log.shown), what="web's lines")
        everything = len(log.shown)
        await pilot.press("f", *"tick 1", "enter")
        assert log.shown
        assert all("tick 1" in e.text for e in log.shown)
        assert len(log.shown) < everything


async def test_quitting_leaves_the_stack_running(stack: Path) -> None:
    app = attached(stack)
    async with app.run_test(size=(140, 36)) as pilot:
        await until(lambda: app.query_one(ServicesTable).row_count == 2)
        await pilot.press("q")
    assert app.return_code == 0
    assert app.farewell is None
    assert cli(stack, "status").returncode == 0  # running, every service ready


# -- the command's errors: one line, no traceback ---------------------------------------------


def test_attach_without_a_terminal_says_so_in_one_line(stack: Path) -> None:
    piped = subprocess.run(
        f"{sys.executable} -m launcher attach | cat", shell=True, cwd=stack, capture_output=True, text=True
    )
    assert piped.returncode == 0  # cat's: the pipe
    done = cli(stack, "attach")  # stdin and stdout not a terminal
    assert done.returncode == 2
    assert done.stderr == "error: launcher attach needs a terminal (its input or output is not one)\n"
    assert "Traceback" not in piped.stdout + piped.stderr


def in_pty(
    root: Path, args: list[str], size: tuple[int, int] = (120, 36), timeout: float = 30
) -> tuple[int, str]:
    """`launcher ARGS` on a pseudo-terminal of `size` (columns, lines): its exit code and output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "launcher", *args], cwd=root, stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    output = b""
    try:
        process.wait(timeout)
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return process.returncode, output.decode(errors="replace")


def test_attach_without_a_stack_says_so_in_one_line(project: ProjectFactory) -> None:
    root = ticking(project)
    code, output = in_pty(root, ["attach"])
    assert code == 1
    assert output.strip().splitlines() == [
        f"error[LCH-4001]: no stack of this project is running ({root / '.launcher' / 'state.json'}); "
        "start one with `launcher up -d` or `launcher run`"
    ]


def test_attach_in_a_terminal_too_small_says_so_in_one_line(stack: Path) -> None:
    code, output = in_pty(stack, ["attach"], size=(40, 10))
    assert code == 1
    assert output.strip().splitlines() == [
        "error: the terminal is too small for launcher attach: 40x10, it needs 60x16"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--tui", "--", "true"], "--tui and `-- CMD` exclude each other"),
        (["--log-format", "json", "run", "--tui"], "--tui and --log-format json exclude each other"),
        (["run", "--tui"], "launcher run --tui needs a terminal"),
    ],
)
def test_run_tui_refuses_what_it_cannot_show(project: ProjectFactory, args: list[str], message: str) -> None:
    root = ticking(project)
    done = cli(root, *args)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {message}")
    assert len(done.stderr.splitlines()) == 1
    assert not (root / ".launcher" / "state.json").exists()  # nothing started


# -- in a real terminal (tmux) ----------------------------------------------------------------

needs_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (apt-get install tmux): no real terminal to test in",
)


class Tmux:
    """A tmux server of its own (its socket under tmp_path) with one window of 120x36."""

    def __init__(self, directory: Path) -> None:
        self.socket = str(directory / "tmux.sock")

    def run(self, *args: str) -> str:
        # Without COLUMNS and LINES (pytest's environment has 80 and 24): the terminal's own size.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        done = subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, timeout=10, env=env
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, root: Path, command: str) -> None:
        shell = f"cd {root} && {command}; echo EXIT=$?; sleep 300"
        self.run("new-session", "-d", "-x", "120", "-y", "36", "sh", "-c", shell)

    def screen(self) -> str:
        return self.run("capture-pane", "-p")

    def wait_for(self, text: str, timeout: float = 30) -> str:
        return wait_until(
            lambda: self.screen() if text in self.screen() else None,
            timeout,
            interval=0.1,
            message=lambda: f"{text!r} on the screen:\n{self.screen()}",
        )

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    terminal = Tmux(tmp_path)
    try:
        yield terminal
    finally:
        terminal.close()


@needs_tmux
def test_attach_in_a_real_terminal(stack: Path, tmux: Tmux) -> None:
    tmux.start(stack, f"{sys.executable} -m launcher attach")
    tmux.wait_for("2/2 ready")
    screen = tmux.wait_for(" q quit")  # the keys, in the footer (drawn last)
    assert "SERVICE" in screen
    assert "ticker" in screen
    tmux.wait_for("tick")
    tmux.run("send-keys", "3")
    tmux.wait_for("(when ready)")  # the dependency tree: ticker needs web ready
    tmux.run("send-keys", "q")
    assert "Traceback" not in tmux.wait_for("EXIT=0")
    assert cli(stack, "status").returncode == 0  # still running


@needs_tmux
def test_run_tui_in_a_real_terminal_stops_the_stack_on_quit(project: ProjectFactory, tmux: Tmux) -> None:
    root = ticking(project)
    tmux.start(root, f"{sys.executable} -m launcher run --tui")
    tmux.wait_for("running, 2/2 ready")  # started (a stop while starting is exit code 1)
    tmux.wait_for("quit and stop the stack")
    tmux.run("send-keys", "q")
    screen = tmux.wait_for("EXIT=0")
    assert "launcher: stopping the stack" in screen
    assert "Traceback" not in screen
    assert cli(root, "status").returncode == 3  # nothing running
    log = (root / ".launcher" / "logs" / "launcher.log").read_text()
    assert "the dashboard was closed: stopping" in log


@needs_tmux
def test_ctrl_c_in_run_tui_acts_as_sigint(project: ProjectFactory, tmux: Tmux) -> None:
    root = ticking(project)
    tmux.start(root, f"{sys.executable} -m launcher run --tui")
    tmux.wait_for("running, 2/2 ready")
    tmux.run("send-keys", "C-c")
    tmux.wait_for("EXIT=130")
    assert cli(root, "status").returncode == 3


# -- what the API serves the dashboard -----------------------------------------------------------


def test_each_service_object_has_cpu_and_rss(project: ProjectFactory) -> None:
    with serve(ticking(project)) as served:

        def figures() -> dict[str, Any] | None:
            web = next(s for s in served.get("/v1/status").json()["services"] if s["name"] == "web")
            return web if web["cpu"] is not None else None

        web = wait_until(figures, timeout=10, interval=0.2, message="web's CPU in the status")
        assert web["rss"] > 1_000_000
        assert 0 <= web["cpu"] < 400
        detail = served.get("/v1/services/web").json()
        assert {"cpu", "rss"} <= set(detail)


def test_a_sampled_log_stream_sends_the_newest_lines_and_counts_the_rest(project: ProjectFactory) -> None:
    root = project("")
    go = root / "go"
    (root / "launcher.toml").write_text(f"""
[services.flood]
command = {toml_list([sys.executable, "-c", FLOOD, str(go)])}
""")
    with serve(root) as served:
        connection = served.unix(timeout=30)
        connection.request("GET", "/v1/logs?tail=50&follow=true&sample=0.2")
        response = connection.getresponse()
        objects: list[dict[str, Any]] = []
        try:
            assert response.status == 200
            go.touch()
            while not any(o.get("line") == "flood 199999" for o in objects):
                objects.append(json.loads(response.readline()))
        finally:
            connection.close()
    skipped = sum(o.get("skipped", 0) for o in objects)
    lines = [o for o in objects if "line" in o]
    assert skipped > 100_000  # far more came than a sample holds
    assert len(lines) + skipped == 200_000  # each line sent or counted
    numbers = [int(o["line"].split()[1]) for o in lines]
    assert numbers == sorted(numbers)  # in order, gaps and all
    assert all(isinstance(o["ts"], float) for o in lines[-50:])


@pytest.mark.parametrize("value", ["0", "0.01", "61", "soon"])
def test_a_sample_out_of_range_is_refused(project: ProjectFactory, value: str) -> None:
    with serve(ticking(project)) as served:
        answer = served.get(f"/v1/logs?follow=true&sample={value}")
        assert answer.status == 400
        assert "sample must be a number of seconds from 0.05 to 60" in answer.json()["error"]
