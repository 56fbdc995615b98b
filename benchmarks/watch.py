"""Hot-reload benchmarks of issue 7: from a save to the service answering again, and a save storm.

    .venv/bin/python benchmarks/watch.py [--runs N]

A generated project (in a temporary directory) has an `app` service `api` (a small ASGI app,
package `api/`, `probe = { http = "/health" }`, whose answer is the `VERSION` of its module) and
a `command` service `marker` watching `marker/`. `python -m launcher run --watch` runs it.

reload   wall time from the save of api/app.py (a new VERSION, written in place or renamed over
         it as editors do, alternately) to the first `GET /health` that answers the new VERSION
         (polled every 2 ms), median over the runs. Baseline: the app's own start time,
         measured in the same run by starting `python -m uvicorn --port P api.app:app` directly
         (from spawn to its first answer), as many times, interleaved. Target: reload minus
         baseline <= 300 ms. The launcher's own `ready again in` figure is shown beside it,
         and, for diagnosis, the app's own stop (SIGTERM to exit), which a reload includes.
storm    50 saves of api/app.py within 1 s, then a save of marker/m.txt once api answers the
         storm's last VERSION: the storm must be exactly 1 restart (the `reload:` lines naming
         api/app.py, counted once marker's reload line shows that every event was taken).

Every process the script starts is stopped by the end (the launcher by one SIGINT).
"""

from __future__ import annotations

import argparse
import functools
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET = 0.300
DEADLINE = 30.0
APP = """
VERSION = "{version}"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            elif message["type"] == "lifespan.shutdown":
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": VERSION.encode()}})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def answer(port: int) -> str | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/health")
        body = connection.getresponse().read().decode()
        connection.close()
        return body
    except OSError:
        return None


def wait_for(
    predicate: Callable[[], object], what: str, deadline: float = DEADLINE, pause: float = 0.002
) -> float:
    """Poll `predicate` until true; the monotonic time it first was."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return time.monotonic()
        time.sleep(pause)
    raise SystemExit(f"timed out waiting for {what}")


def save(path: Path, text: str, atomic: bool) -> None:
    if atomic:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        os.replace(temporary, path)
    else:
        path.write_text(text)


def direct_start(root: Path) -> tuple[float, float]:
    """The app's own start (spawn uvicorn directly, until its first answer) and stop (SIGTERM
    to its exit)."""
    port = free_port()
    begin = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--port", str(port), "--app-dir", str(root), "api.app:app"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
    )
    try:
        ready = wait_for(lambda: answer(port) is not None, "uvicorn's first answer")
    finally:
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    return ready - begin, time.monotonic() - stopping


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "api").mkdir()
        (root / "api" / "__init__.py").write_text("")
        app = root / "api" / "app.py"
        app.write_text(APP.format(version="v0"))
        (root / "marker").mkdir()
        (root / "marker" / "m.txt").write_text("0")
        port = free_port()
        (root / "launcher.toml").write_text(f"""
[launcher]
stop_timeout = 5

[services.api]
app = "api.app:app"
port = {port}
probe = {{ http = "/health" }}

[services.marker]
command = ["{sys.executable}", "-c", "import time; time.sleep(3600)"]
watch = ["marker"]
""")
        out = root / "launcher.out"
        with out.open("wb") as log:
            launcher = subprocess.Popen(
                [sys.executable, "-m", "launcher", "run", "--watch", "--mode", "multi"],
                cwd=root,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},
            )
        try:
            return measure(root, app, port, out, args.runs)
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(30)


def reload_lines(out: Path) -> list[str]:
    return re.findall(r"reload: (.*)", out.read_text(errors="replace"))


def more_reloads(out: Path, than: int) -> bool:
    return len(reload_lines(out)) > than


def answers(port: int, version: str) -> bool:
    return answer(port) == version


def measure(root: Path, app: Path, port: int, out: Path, runs: int) -> int:
    wait_for(lambda: "watching for changes" in out.read_text(errors="replace"), "the watcher", pause=0.02)
    wait_for(lambda: answer(port) == "v0", "api's first answer")
    reloads, starts, stops, reported = [], [], [], []
    for run in range(1, runs + 1):
        start, stop = direct_start(root)
        starts.append(start)
        stops.append(stop)
        before = len(reload_lines(out))
        version = f"v{run}"
        begin = time.monotonic()
        save(app, APP.format(version=version), atomic=run % 2 == 0)
        ready = wait_for(functools.partial(answers, port, version), f"api answering {version}")
        reloads.append(ready - begin)
        wait_for(functools.partial(more_reloads, out, before), "the reload line", pause=0.01)
        found = re.search(r"ready again in (\d+\.\d+)s", reload_lines(out)[-1])
        reported.append(float(found.group(1)) if found else float("nan"))
    reload, start = statistics.median(reloads), statistics.median(starts)
    print(f"reload (save -> answers again), median of {runs}: {reload * 1000:.0f} ms")
    print(
        f"  min/max {min(reloads) * 1000:.0f}/{max(reloads) * 1000:.0f} ms;"
        f" launcher's 'ready again in' median {statistics.median(reported) * 1000:.0f} ms"
    )
    print(f"baseline (uvicorn started directly), median of {runs}: {start * 1000:.0f} ms")
    print(f"  for diagnosis: its own stop (SIGTERM to exit), median {statistics.median(stops) * 1000:.0f} ms")
    overhead = reload - start
    verdict = "PASS" if overhead <= TARGET else "MISS"
    print(f"reload - baseline: {overhead * 1000:.0f} ms (target <= {TARGET * 1000:.0f}) {verdict}")

    earlier = [line for line in reload_lines(out) if "api/app.py" in line]
    begin = time.monotonic()
    for i in range(50):
        save(app, APP.format(version=f"storm{i}"), atomic=i % 2 == 1)
        time.sleep(max(0.0, begin + (i + 1) * 0.02 - time.monotonic()))
    took = time.monotonic() - begin
    wait_for(lambda: answer(port) == "storm49", "api answering the storm's last save")
    marks = len([line for line in reload_lines(out) if "marker/m.txt" in line])
    (root / "marker" / "m.txt").write_text("1")
    wait_for(
        lambda: len([line for line in reload_lines(out) if "marker/m.txt" in line]) > marks,
        "marker's reload line",
        pause=0.01,
    )
    restarts = len([line for line in reload_lines(out) if "api/app.py" in line]) - len(earlier)
    verdict = "PASS" if restarts == 1 else "MISS"
    print(f"storm: 50 saves in {took:.2f}s -> {restarts} restart(s) (target 1) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
