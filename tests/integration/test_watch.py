"""`run --watch` end to end: real files edited in a temporary project, real services restarted.

Restarts are counted by the services' own `started` lines (tests/programs/stack_service.py), and
by the launcher's `reload:` lines. A test that asserts that something did *not* restart needs a
point after which it would have: it ends with a real change whose reload line it waits for.
Watched events arrive in order, and the ignored ones are written first, so had they counted
they would be listed in that line (same burst) or in a reload line printed before it.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import (
    Events,
    Launch,
    LauncherRun,
    ProjectFactory,
    service,
    stack_project,
    wait_until,
)
from watchdog.observers import Observer

from launcher.runtime.watching import Watcher

pytestmark = pytest.mark.integration
RELOAD = re.compile(r"reload: (.*)$", re.MULTILINE)


def reloads(run: LauncherRun) -> list[str]:
    return RELOAD.findall(run.output)


def wait_reloads(run: LauncherRun, count: int, timeout: float = 15.0) -> list[str]:
    wait_until(
        lambda: len(reloads(run)) >= count,
        timeout,
        interval=0.02,
        message=lambda: f"{count} reload line(s) in the launcher's output:\n{run.output}",
    )
    return reloads(run)


def write(path: Path, text: str) -> None:
    path.write_text(text)


def atomic_write(path: Path, text: str) -> None:
    """As vim (backupcopy=no), VS Code and code agents save: a temporary file renamed over it."""
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


@pytest.fixture
def stack(project: ProjectFactory, launch: Launch) -> tuple[Path, Events, LauncherRun]:
    """a (watches a/), b (watches b/), c follows a (restart = true), d depends on a only."""
    made = stack_project(project)
    root, events = made.root, made.events
    for name in ("a", "b"):
        (root / name).mkdir()
        write(root / name / "x.py", "VERSION = 1\n")
    (root / "other").mkdir()
    made.write(
        f"""
[services.a]
command = {service("a", events)}
probe = {{ log = "^a starting$" }}
watch = ["a"]

[services.b]
command = {service("b", events)}
probe = {{ log = "^b starting$" }}
watch = ["b"]

[services.c]
command = {service("c", events)}
probe = {{ log = "^c starting$" }}
depends_on = {{ a = {{ condition = "ready", restart = true }} }}

[services.d]
command = {service("d", events)}
probe = {{ log = "^d starting$" }}
depends_on = {{ a = "ready" }}
""",
        launcher="stop_timeout = 5",
    )
    run = launch(root, "--watch")
    run.wait_output("watching for changes: a, b")
    wait_until(lambda: len(events.names("started")) == 4, 10, message="every service's first line")
    return root, events, run


def started(events: Events) -> dict[str, int]:
    return {name: len(events.pids(name)) for name in "abcd"}


def test_an_in_place_write_restarts_exactly_the_service_watching_it(
    stack: tuple[Path, Events, LauncherRun],
) -> None:
    root, events, run = stack
    write(root / "b" / "x.py", "VERSION = 2\n")
    lines = wait_reloads(run, 1)
    assert re.fullmatch(r"b/x\.py changed -> restarted b, ready again in \d+\.\d\ds", lines[0])
    wait_until(lambda: started(events)["b"] == 2, 5, message="b's second start")
    assert started(events) == {"a": 1, "b": 2, "c": 1, "d": 1}


def test_an_atomic_save_restarts_the_service_once(stack: tuple[Path, Events, LauncherRun]) -> None:
    root, events, run = stack
    atomic_write(root / "b" / "x.py", "VERSION = 2\n")
    lines = wait_reloads(run, 1)
    assert lines[0].startswith("b/x.py changed -> restarted b,")  # the temporary file is no change
    write(root / "a" / "x.py", "VERSION = 2\n")  # the settle point: a's reload comes after
    lines = wait_reloads(run, 2)
    assert lines[1].startswith("a/x.py changed -> restarted a, c,")
    assert len(lines) == 2
    assert started(events)["b"] == 2


def test_a_storm_of_fifty_saves_in_one_second_is_one_restart(
    stack: tuple[Path, Events, LauncherRun],
) -> None:
    root, events, run = stack
    target = root / "b" / "x.py"
    begin = time.monotonic()
    for i in range(50):  # paced on a deadline, so that the storm lasts 1 s, not more
        (atomic_write if i % 2 else write)(target, f"VERSION = {i}\n")
        time.sleep(max(0.0, begin + (i + 1) * 0.02 - time.monotonic()))
    assert time.monotonic() - begin < 1.5
    lines = wait_reloads(run, 1)
    assert lines[0].startswith("b/x.py changed -> restarted b,")
    write(root / "a" / "x.py", "VERSION = 2\n")  # the settle point
    lines = wait_reloads(run, 2)
    assert len(lines) == 2, lines
    assert lines[1].startswith("a/x.py changed -> restarted a, c,")
    assert started(events)["b"] == 2


def test_swap_files_caches_and_unrelated_files_restart_nothing(
    stack: tuple[Path, Events, LauncherRun],
) -> None:
    root, events, run = stack
    b = root / "b"
    write(b / ".x.py.swp", "swap")
    write(b / "4913", "")  # vim's test of whether the directory is writable
    (b / "4913").unlink()
    write(b / "x.py~", "VERSION = 1\n")
    write(b / ".#x.py", "lock")
    (b / "__pycache__").mkdir()
    write(b / "__pycache__" / "x.cpython-311.pyc", "bytes")
    write(root / "notes.txt", "unrelated")
    write(root / "other" / "y.py", "unrelated")
    write(b / "x.py", "VERSION = 2\n")  # the settle point, after every ignored file
    lines = wait_reloads(run, 1)
    assert lines[0].startswith("b/x.py changed -> restarted b,"), lines
    assert len(reloads(run)) == 1
    wait_until(lambda: started(events)["b"] == 2, 5, message="b's second start")
    assert started(events) == {"a": 1, "b": 2, "c": 1, "d": 1}


def test_a_dependent_with_restart_true_follows_one_without_does_not(
    stack: tuple[Path, Events, LauncherRun],
) -> None:
    root, events, run = stack
    d_pid = events.pids("d")[0]
    write(root / "a" / "x.py", "VERSION = 2\n")
    lines = wait_reloads(run, 1)
    assert lines[0].startswith("a/x.py changed -> restarted a, c,")
    wait_until(lambda: started(events)["c"] == 2, 5, message="c's second start")
    assert started(events) == {"a": 2, "b": 1, "c": 2, "d": 1}
    # Dependency order: c stopped before a, and started again after a.
    assert events.times("c", "stopping")[0] < events.times("a", "stopping")[0]
    assert events.times("a", "started")[-1] < events.times("c", "started")[-1]
    assert events.pids("d") == [d_pid]


APP = """
import os

VERSION = "{version}"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                with open(os.environ["EVENTS"], "a") as out:
                    out.write(f"web started {{os.getpid()}}\\n")
                await send({{"type": "lifespan.startup.complete"}})
            elif message["type"] == "lifespan.shutdown":
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": VERSION.encode()}})
"""

WORKER = """
import asyncio
import os


async def run():
    with open(os.environ["EVENTS"], "a") as out:
        out.write(f"worker started {os.getpid()}\\n")
    await asyncio.sleep(3600)
"""


def test_shared_mode_a_hosted_change_restarts_the_host_and_nothing_else(
    project: ProjectFactory, launch: Launch, free_port: int
) -> None:
    root = project()
    events = Events(root / "events")
    (root / "webpkg").mkdir()
    write(root / "webpkg" / "__init__.py", "")
    write(root / "webpkg" / "app.py", APP.format(version="one"))
    write(root / "webpkg" / "worker.py", WORKER)
    (root / "launcher.toml").write_text(f"""
[launcher]
stop_timeout = 5

[env]
EVENTS = "{events.path}"

[services.web]
app = "webpkg.app:app"
port = {free_port}

[services.worker]
task = "webpkg.worker:run"

[services.cmd]
command = {service("cmd", events)}
probe = {{ log = "^cmd starting$" }}
""")
    run = launch(root, "--mode", "shared", "--watch")
    run.wait_output("watching for changes")
    url = f"http://127.0.0.1:{free_port}/web/"

    def answer() -> str:
        with urllib.request.urlopen(url, timeout=5) as response:
            body: bytes = response.read()
        return body.decode()

    wait_until(lambda: len(events.pids("worker")) == 1 and len(events.pids("cmd")) == 1, 10)
    assert answer() == "one"
    web, cmd = events.pids("web"), events.pids("cmd")
    atomic_write(root / "webpkg" / "app.py", APP.format(version="two"))
    lines = wait_reloads(run, 1, timeout=30)
    assert lines[0].startswith("webpkg/app.py changed -> restarted shared-host, web, worker,"), lines
    wait_until(lambda: len(events.pids("worker")) == 2, 10, message="the worker's second start")
    assert answer() == "two"  # a new host process imported the changed module
    assert events.pids("web")[-1] not in web
    assert events.pids("cmd") == cmd  # the command service kept its process


class _FullObserver(Observer):  # type: ignore[misc,valid-type]
    """inotify with its watch limit reached, as watchdog reports it."""

    def schedule(self, *args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


async def test_the_inotify_watch_limit_falls_back_to_polling(tmp_path: Path) -> None:
    seen: asyncio.Queue[Path] = asyncio.Queue()
    watcher = Watcher(
        [(tmp_path, True)], lambda kind, path, dest: seen.put_nowait(path), observer=_FullObserver
    )
    note = await watcher.start()
    try:
        assert note is not None
        assert "max_user_watches" in note
        assert "polling" in note
        assert watcher.polling
        (tmp_path / "x.py").write_text("changed")
        async with asyncio.timeout(5):
            while (await seen.get()) != tmp_path / "x.py":
                pass
    finally:
        started_stop = time.monotonic()
        await watcher.aclose()
        assert time.monotonic() - started_stop < 2


async def test_events_cross_to_the_loop_thread_safely_under_asyncio_debug(tmp_path: Path) -> None:
    """pitfalls T7.6: in debug mode asyncio raises on a loop call from another thread; every
    event must reach the callback on the loop's own thread, and the observer stop promptly."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    errors: list[object] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    threads: set[int] = set()
    seen: set[Path] = set()
    names = [tmp_path / f"f{i}.py" for i in range(200)]
    all_seen = asyncio.Event()

    def on_change(kind: str, path: Path, dest: Path | None) -> None:
        threads.add(threading.get_ident())
        seen.add(path)
        if set(names) <= seen:
            all_seen.set()

    hook, thread_errors = threading.excepthook, []
    threading.excepthook = thread_errors.append
    try:
        watcher = Watcher([(tmp_path, True)], on_change)
        assert await watcher.start() is None
        for path in names:
            path.write_text("x")
        async with asyncio.timeout(10):
            await all_seen.wait()
        started_stop = time.monotonic()
        await watcher.aclose()
        assert time.monotonic() - started_stop < 1
    finally:
        threading.excepthook = hook
        loop.set_debug(False)
    assert threads == {threading.get_ident()}
    assert errors == []
    assert thread_errors == []


def test_changes_during_a_restart_make_exactly_one_more_restart_never_two_copies(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    events = Events(root / "events")
    (root / "slow").mkdir()
    write(root / "slow" / "x.py", "VERSION = 1\n")
    (root / "launcher.toml").write_text(f"""
[launcher]
stop_timeout = 5

[services.slow]
command = {service("slow", events, "--stop-delay", "0.8")}
probe = {{ log = "^slow starting$" }}
watch = ["slow"]
""")
    run = launch(root, "--watch")
    run.wait_output("watching for changes: slow")
    wait_until(lambda: len(events.pids("slow")) == 1, 10)
    most = 0

    def instances() -> int:
        nonlocal most
        count = 0
        for process in run.services():
            try:
                count += "slow" in process.cmdline()
            except Exception:
                continue
        most = max(most, count)
        return count

    write(root / "slow" / "x.py", "VERSION = 2\n")
    wait_until(lambda: instances() and events.count("slow", "stopping") == 1, 10, message="the first stop")
    for i in range(10):  # during its 0.8 s stop
        write(root / "slow" / "x.py", f"VERSION = {3 + i}\n")
        instances()
    wait_until(lambda: instances() >= 0 and len(reloads(run)) == 2, 20, message="two reloads")
    wait_until(lambda: len(events.pids("slow")) == 3, 5, message="the third start")
    assert most <= 1
    assert events.count("slow", "stopping") == 2
    assert len(reloads(run)) == 2


RUNS_MODULE = """
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pkg import mod  # noqa: E402

if mod.BROKEN:
    sys.exit(1)
print("run ready", flush=True)
time.sleep(3600)
"""


def test_a_failed_service_starts_again_once_the_change_fixes_it(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    (root / "pkg").mkdir()
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "mod.py", "BROKEN = False\n")
    write(root / "run.py", RUNS_MODULE)
    (root / "launcher.toml").write_text("""
[services.run]
command = "python run.py"
probe = { log = "^run ready$" }
start_retries = 0
watch = ["pkg"]
""")
    run = launch(root, "--watch")
    run.wait_output("watching for changes: run")
    write(root / "pkg" / "mod.py", "BROKEN = True\n")
    lines = wait_reloads(run, 1)
    assert lines[0].startswith("pkg/mod.py changed -> restarted run, run is failed: exited with code 1"), (
        lines
    )
    atomic_write(root / "pkg" / "mod.py", "BROKEN = False\n")
    lines = wait_reloads(run, 2)
    assert re.fullmatch(r"pkg/mod\.py changed -> restarted run, ready again in \d+\.\d\ds", lines[1]), lines
    assert run.process.poll() is None  # the stack kept running while its only service had failed
