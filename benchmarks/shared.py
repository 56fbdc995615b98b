"""Shared-mode benchmarks of issue 5: six FastAPI apps in one host process against one process each.

    .venv/bin/python benchmarks/shared.py [--runs N] [--requests N]

A generated project (in a temporary directory) has six small FastAPI apps (`app = "appN:app"`,
three routes each, a lifespan that sets `app.state.greeting`). Each run starts it twice with
`python -m launcher run`, once with `--mode multi` (one uvicorn process per app) and once with
`--mode shared` (one `launcher.child.shared_host` process serving every app on its own port), from two
project directories so that both stacks run side by side; the order of the two modes
alternates from run to run. Once a stack printed `N/N services ready`, every app is checked
to answer (its lifespan's state included) before anything is measured.

memory   USS (`memory_full_info().uss`: what the process alone holds) summed over the
         launcher's process and all its descendants (the reaper, the apps or the host), once
         every app answered. Baseline: multi mode. Target: shared <= 0.35 x multi.
start    wall time from spawning `python -m launcher run` to its `N/N services ready` line,
         median over the runs. Baseline: multi mode. Target: shared <= 1.0 x multi.
latency  median latency of a keep-alive GET of app0's `/health` over one reused
         `http.client.HTTPConnection` (after a warm-up), in blocks that rotate between the
         contenders, through the shared host (app0's port: the same URL as in multi mode).
         Baseline: `python -m uvicorn --port P app0:app` started by this script, outside any
         launcher (the same app served alone). Target: shared <= 1.1 x alone. For diagnosis it
         also times multi mode's app0 (`uvicorn --fd N` under the launcher, a quarter of the
         requests) and launcher.child.router's Router over the six apps, each on its own port,
         served by one uvicorn outside the launcher: what the router costs without the launcher
         around it.

Every process the script starts is stopped by the end: each launcher by one SIGINT to its pid
(a launcher stops its own services), then its descendants are checked to be gone.
"""

from __future__ import annotations

import argparse
import contextlib
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil
from freeports import free_block  # benchmarks/ is first on sys.path

Mode = Literal["multi", "shared"]
APPS = 6
START_DEADLINE = 60.0
STOP_DEADLINE = 30.0
WARMUP = 100
BLOCK = 200
MEMORY_TARGET = 0.35
START_TARGET = 1.0
LATENCY_TARGET = 1.1
READY = re.compile(rb"(\d+)/(\d+) services ready in")

APP = '''\
"""App {i} of the shared-mode benchmark."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.greeting = "hello from app{i}"
    yield


app = FastAPI(title="app{i}", lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, str]:
    return {{"status": "ok"}}


@app.get("/whoami")
async def whoami(request: Request) -> dict[str, str]:
    return {{"app": "app{i}", "greeting": request.app.state.greeting}}


@app.get("/items/{{item}}")
async def item(item: int, q: str = "") -> dict[str, object]:
    return {{"item": item, "q": q}}
'''

ROUTER = """\
import asyncio
import importlib
import sys

import uvicorn

from launcher.child.router import Lifespan, Route, Router
from launcher.runtime.sockets import bind_port


async def main(port: int) -> None:
    router = Router()
    sockets = []
    for i in range(int(sys.argv[2])):
        route = Route(f"app{i}", port + i, importlib.import_module(f"app{i}").app)
        router.add(route)
        await Lifespan(route.app, route.state).startup()
        route.serving = True
        sockets.append(bind_port(port + i))  # as the launcher binds them (TCP_NODELAY)
    await uvicorn.Server(uvicorn.Config(router, lifespan="off")).serve(sockets=sockets)


asyncio.run(main(int(sys.argv[1])))
"""


def write_project(root: Path, base: int) -> None:
    """Six apps on the fixed ports base..base+5 (in both modes), an automatic range above them
    for anything else."""
    root.mkdir(parents=True, exist_ok=True)
    parts = [f'[launcher]\nname = "shared-bench"\nports = [{base + APPS}, {base + APPS + 3}]\n']
    for i in range(APPS):
        (root / f"app{i}.py").write_text(APP.format(i=i))
        parts.append(f'[services.app{i}]\napp = "app{i}:app"\nport = {base + i}\n')
    (root / "launcher.toml").write_text("\n".join(parts))


@dataclass
class Stack:
    mode: Mode
    root: Path
    base: int
    process: subprocess.Popen[bytes] | None = None
    output: Path = field(init=False)
    seen: list[psutil.Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.output = self.root / "output.txt"

    def url(self, i: int, path: str) -> tuple[int, str]:
        """(port, request path) of app i's `path`: the same in both modes."""
        return self.base + i, path

    def start(self) -> float:
        """Spawn `launcher run`; the seconds until it printed `N/N services ready`."""
        env = {**os.environ, "NO_COLOR": "1"}
        argv = [sys.executable, "-m", "launcher", "--no-color", "run", "--mode", self.mode]
        with self.output.open("ab") as sink:
            offset = sink.tell()
            started = time.perf_counter()
            self.process = subprocess.Popen(
                argv,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a Ctrl-C of the benchmark must not reach it twice
            )
        deadline = started + START_DEADLINE
        with self.output.open("rb") as reader:
            reader.seek(offset)
            text = b""
            while True:
                text += reader.read()
                now = time.perf_counter()
                match = READY.search(text)
                if match:
                    if match[1] != match[2]:
                        raise SystemExit(f"{self.mode}: not every service is ready:\n{self.tail()}")
                    return now - started
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise SystemExit(f"{self.mode}: launcher exited ({code}):\n{self.tail()}")
                if now > deadline:
                    raise SystemExit(f"{self.mode}: not ready within {START_DEADLINE:g}s:\n{self.tail()}")
                time.sleep(0.002)

    def tail(self) -> str:
        return self.output.read_text(errors="replace")[-3000:]

    def check(self) -> None:
        """Every app answers, with its own lifespan's state."""
        for i in range(APPS):
            port, path = self.url(i, "/whoami")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
            finally:
                connection.close()
            wanted = f'"greeting":"hello from app{i}"'.encode()
            if response.status != 200 or wanted not in body:
                raise SystemExit(f"{self.mode}: app{i} answered {response.status} {body!r}")

    def tree(self) -> list[psutil.Process]:
        assert self.process is not None
        top = psutil.Process(self.process.pid)
        processes = [top, *top.children(recursive=True)]
        self.seen.extend(p for p in processes if p not in self.seen)
        return processes

    def memory(self) -> dict[str, float]:
        """USS in MB of the launcher and each of its descendants, by role."""
        roles: dict[str, float] = {}
        for process in self.tree():
            role = describe(process, self.process.pid if self.process else -1)
            roles[role] = roles.get(role, 0.0) + process.memory_full_info().uss / 1e6
        return roles

    def stop(self) -> list[str]:
        """One SIGINT to the launcher, then wait; what is left of its tree (should be nothing)."""
        process = self.process
        if process is None:
            return []
        if process.poll() is None:
            with contextlib.suppress(psutil.Error):
                self.tree()  # remember every descendant, to check that none is left
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                print(f"{self.mode}: launcher not gone {STOP_DEADLINE:g}s after SIGINT", file=sys.stderr)
        self.process = None
        left = []
        for child in self.seen:
            with contextlib.suppress(psutil.Error):  # gone meanwhile: as it should be
                if child.pid != process.pid and child.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{child.pid} {' '.join(child.cmdline())[:80]}")
                    child.kill()  # by pid and create time (psutil checks), never by name
        self.seen = []
        if process.returncode not in (0, 128 + signal.SIGINT, -signal.SIGINT):
            print(f"{self.mode}: launcher exited {process.returncode}:\n{self.tail()}", file=sys.stderr)
        return left


def describe(process: psutil.Process, launcher_pid: int) -> str:
    if process.pid == launcher_pid:
        return "launcher"
    words = process.cmdline()
    text = " ".join(words)
    if "reaper.py" in text:
        return "reaper"
    if "shared_host" in words:  # launcher's host, from its directory in the user's cache
        return "host"
    if "uvicorn" in words:
        return words[-1].partition(":")[0]
    return text[:60]


class Server:
    """A server started by this script, outside any launcher, for the latency comparison."""

    def __init__(self, root: Path, port: int, argv: list[str]) -> None:
        self.port = port
        self.log = (root / f"server-{port}.txt").open("ab")
        self.process = subprocess.Popen(
            argv,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_DEADLINE
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"{' '.join(argv)} did not start") from None
                time.sleep(0.01)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def uvicorn_alone(root: Path, port: int) -> Server:
    """`python -m uvicorn --port P app0:app`: uvicorn binds its own socket."""
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", ".", "--host", "127.0.0.1"]
    return Server(root, port, [*argv, "--port", str(port), "app0:app"])


def router_alone(root: Path, port: int) -> Server:
    """The six apps under launcher.child.router's Router, their lifespans run by its Lifespan,
    served by one uvicorn on ports port..port+5: the shared host's dispatch without the launcher."""
    (root / "router_alone.py").write_text(ROUTER)
    return Server(root, port, [sys.executable, "router_alone.py", str(port), str(APPS)])


class Client:
    """One keep-alive connection, reused for every request (opened again, untimed, only when
    the server closed it while idle: uvicorn's keep-alive timeout is 5 s)."""

    def __init__(self, port: int, path: str, block: int) -> None:
        self.port, self.path, self.block = port, path, block
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.samples: list[float] = []
        self.reconnects = 0

    def get(self, count: int, keep: bool) -> None:
        path, samples = self.path, self.samples
        clock = time.perf_counter
        for _ in range(count):
            connection = self.connection
            started = clock()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                self.reconnect()
                continue
            response.read()
            elapsed = clock() - started
            if response.status != 200:
                raise SystemExit(f"GET {path} answered {response.status}")
            if keep:
                samples.append(elapsed)

    def reconnect(self) -> None:
        self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.reconnects += 1

    def close(self) -> None:
        self.connection.close()


def latencies(clients: dict[str, Client], requests: int, rotation: int) -> dict[str, float]:
    """Median latency of each client over `requests` x its share, in blocks that rotate."""
    for client in clients.values():
        client.get(WARMUP, keep=False)
    names = list(clients)
    for block in range(max(1, requests // BLOCK)):
        shift = (block + rotation) % len(names)
        for name in names[shift:] + names[:shift]:
            clients[name].get(clients[name].block, keep=True)
    return {name: statistics.median(client.samples) for name, client in clients.items()}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass
class Results:
    start: dict[Mode, list[float]] = field(default_factory=lambda: {"multi": [], "shared": []})
    memory: dict[Mode, list[dict[str, float]]] = field(default_factory=lambda: {"multi": [], "shared": []})
    latency: dict[str, list[float]] = field(default_factory=dict)
    reconnects: int = 0
    left: list[str] = field(default_factory=list)
    runs: int = 0

    def add(self, run: Results) -> None:
        for mode in ("multi", "shared"):
            self.start[mode] += run.start[mode]
            self.memory[mode] += run.memory[mode]
        for name, values in run.latency.items():
            self.latency.setdefault(name, []).extend(values)
        self.reconnects += run.reconnects
        self.runs += 1


def one_run(
    stacks: dict[Mode, Stack], servers: dict[str, Server], run: int, requests: int, results: Results | None
) -> None:
    """Start both stacks, measure, stop both; the figures go to `results` only once the run
    is complete (None: a warm-up run, nothing measured)."""
    order: list[Mode] = ["multi", "shared"] if run % 2 == 0 else ["shared", "multi"]
    this = Results()
    clients: dict[str, Client] = {}
    try:
        for mode in order:
            this.start[mode].append(stacks[mode].start())
        for mode in order:
            stacks[mode].check()
        if results is None:
            return  # the warm-up run: bytecode compiled, caches filled
        for mode in order:
            this.memory[mode].append(stacks[mode].memory())
        clients = {
            "shared": Client(*stacks["shared"].url(0, "/health"), BLOCK),
            "alone": Client(servers["alone"].port, "/health", BLOCK),
            "router": Client(servers["router"].port, "/health", BLOCK),
            # For scale only, and slow (see the README): a quarter of the requests.
            "multi": Client(*stacks["multi"].url(0, "/health"), BLOCK // 4),
        }
        for name, value in latencies(clients, requests, run).items():
            this.latency.setdefault(name, []).append(value)
            this.reconnects += clients[name].reconnects
        results.add(this)
    finally:
        for client in clients.values():
            client.close()
        for mode in reversed(order):
            left = stacks[mode].stop()
            if results is not None:
                results.left.extend(f"{mode}: {item}" for item in left)
            elif left:
                print(f"{mode}: left behind: {left}", file=sys.stderr)


def ratios(mine: list[float], base: list[float], digits: int = 2) -> str:
    return " ".join(f"{m / b:.{digits}f}" for m, b in zip(mine, base, strict=True))


def report(results: Results, runs: int, requests: int, load: float) -> None:
    print(
        f"shared-mode benchmarks, {runs} runs, {APPS} FastAPI apps, python {sys.version.split()[0]}, "
        f"load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    totals = {mode: [sum(m.values()) for m in results.memory[mode]] for mode in ("multi", "shared")}
    multi, shared = statistics.median(totals["multi"]), statistics.median(totals["shared"])
    ratio = shared / multi
    print(
        f"memory: multi {multi:.1f} MB, shared {shared:.1f} MB (USS, the launcher and every descendant), "
        f"ratio {ratio:.3f} (target <= {MEMORY_TARGET:.2f}) {verdict(ratio <= MEMORY_TARGET)}"
    )
    print(f"        ratio of each run: {ratios(totals['shared'], totals['multi'], 3)}")
    for mode in ("multi", "shared"):
        roles = sorted({r for m in results.memory[mode] for r in m})
        parts = [f"{r} {statistics.median(m.get(r, 0.0) for m in results.memory[mode]):.1f}" for r in roles]
        print(f"        {mode}, median MB by process: {', '.join(parts)}")
    multi, shared = statistics.median(results.start["multi"]), statistics.median(results.start["shared"])
    ratio = shared / multi
    print(
        f"start: multi {multi * 1e3:.0f} ms, shared {shared * 1e3:.0f} ms (spawn to 'N/N services ready'), "
        f"ratio {ratio:.3f} (target <= {START_TARGET:.2f}) {verdict(ratio <= START_TARGET)}"
    )
    print(f"       ratio of each run: {ratios(results.start['shared'], results.start['multi'])}")
    latency = {name: statistics.median(values) for name, values in results.latency.items()}
    ratio = latency["shared"] / latency["alone"]
    print(
        f"latency: shared router {latency['shared'] * 1e6:.0f} us, app0 alone (python -m uvicorn --port) "
        f"{latency['alone'] * 1e6:.0f} us (median keep-alive GET, {requests} a run), "
        f"ratio {ratio:.3f} (target <= {LATENCY_TARGET:.2f}) {verdict(ratio <= LATENCY_TARGET)}"
    )
    print(f"         ratio of each run: {ratios(results.latency['shared'], results.latency['alone'])}")
    print(
        f"         for scale: multi mode's app0 (uvicorn --fd under the launcher) "
        f"{latency['multi'] * 1e6:.0f} us "
        f"= {latency['multi'] / latency['alone']:.2f} x alone; launcher.child.router's Router over the "
        f"six apps on one uvicorn, outside the launcher, {latency['router'] * 1e6:.0f} us "
        f"= {latency['router'] / latency['alone']:.2f} x alone; "
        f"{results.reconnects} idle connections closed by a server and opened again"
    )
    print(f"nothing left: {verdict(not results.left)}{''.join(chr(10) + '  ' + x for x in results.left)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per contender a run")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    results = Results()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base, _ = free_block(3 * 10)
        stacks: dict[Mode, Stack] = {
            "multi": Stack("multi", root / "multi", base),
            "shared": Stack("shared", root / "shared", base + 10),
        }
        for stack in stacks.values():
            write_project(stack.root, stack.base)
        servers: dict[str, Server] = {}
        failure = None
        try:
            servers["alone"] = uvicorn_alone(root / "multi", base + 20)
            servers["router"] = router_alone(root / "shared", base + 21)
            one_run(stacks, servers, 0, args.requests, None)
            for run in range(args.runs):
                try:
                    one_run(stacks, servers, run, args.requests, results)
                except (SystemExit, OSError, http.client.HTTPException) as exc:
                    failure = f"run {run + 1}/{args.runs} failed: {exc}"
                    break
                print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
        finally:
            for server in servers.values():
                server.stop()
            for stack in stacks.values():
                stack.stop()
    if results.runs:
        report(results, results.runs, args.requests, load)
    if failure is not None:
        raise SystemExit(failure)


if __name__ == "__main__":
    main()
