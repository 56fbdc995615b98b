"""Control API benchmark of issue 6: 200 status requests a second while 50 services run.

    .venv/bin/python benchmarks/api.py [--services 50] [--rate 200] [--seconds 10] [--gc-freeze]

The stack (SERVICES bench_service.py --http processes, each with an http readiness probe and,
but s00, an http liveness probe every 0.25 s) and its ApiServer run in this process, on a loop
thread, as in `launcher run`. A client process sends `GET /v1/status` over the unix socket at
RATE a second, a new connection each (as `launcher status` does), open loop: each request is
timed from its scheduled send, so a slow answer delays the next ones and shows in theirs too.

Windows of SECONDS without load, with the status load, and with 10 /metrics scrapes a second
(far beyond any scraper), each measure:

- liveness lateness: the gap between consecutive liveness checks of each service, less the
  interval (a check that comes late because the loop was busy shows here);
- loop lag: how late a 5 ms sleep on the launcher's loop wakes up.

Then two windows of SECONDS / 2, without and with the status load, restart s00 20 times and
measure listen() to ready: from the moment it listens (its own timestamp) to the launcher
marking it ready, the readiness probe's part of a start.

--gc-freeze calls gc.freeze() once the stack is ready, as `launcher run` does (the library does not).

Targets: status p99 < 50 ms; no effect on probes: under the status load, the p99 liveness
lateness and the median listen()-to-ready within 5 ms of the same without load, and no failed
probe check. For scale it also times /metrics for the 50 services, made anew and not.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import http.client
import io
import itertools
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from freeports import free_block  # benchmarks/ is first on sys.path

import launcher
from launcher.control.metrics import FRESH
from launcher.control.server import ApiServer
from launcher.library.loopthread import LoopThread
from launcher.library.stack import AsyncRunningStack
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.output import make_sink
from launcher.runtime.probes import ProbeResult

HERE = Path(__file__).resolve().parent
SERVICE = [sys.executable, str(HERE / "bench_service.py"), "--http"]
INTERVAL = 0.25  # liveness period of every service
RESTARTS = 20
SCRAPES = 10  # a second, in the window with /metrics under load: far more than any scraper
P99_TARGET = 0.050
PROBE_TOLERANCE = 0.005


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def config(services: int, listen_log: Path) -> str:
    low, high = free_block(services + 10)
    command = "[" + ", ".join(f'"{w}"' for w in [*SERVICE, "--listen-log", str(listen_log)]) + "]"
    parts = [f"[launcher]\nports = [{low}, {high}]\n"]
    for i in range(services):
        # s00 is the one restarted: without liveness, as each restart of a service with one
        # leaves its old liveness watcher running (a bug of Supervisor._watch, reported).
        liveness = f'liveness = {{ http = "/health", interval = {INTERVAL} }}\n' if i else ""
        parts.append(
            f'[services.s{i:02d}]\ncommand = {command}\nport = "auto"\n'
            'probe = { http = "/health" }\n' + liveness
        )
    return "\n".join(parts)


# -- the client (a process of its own) ------------------------------------------------------


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def client(path: str, route: str, rate: float, seconds: float) -> None:
    """GET `route` at `rate` a second; print each latency from its scheduled send (JSON)."""
    period = 1 / rate
    start = time.perf_counter() + 0.05
    latencies = []
    for i in range(int(rate * seconds)):
        scheduled = start + i * period
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        connection = UnixConnection(path)
        connection.request("GET", route)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 200:
            raise SystemExit(f"GET {route} answered {response.status}")
        latencies.append(time.perf_counter() - scheduled)
    print(json.dumps(latencies))


# -- the launcher's side -------------------------------------------------------------------


class Checks:
    """Every probe check, as the orchestrator reports it (a probe listener, like the API's)."""

    def __init__(self) -> None:
        self.liveness: dict[str, list[float]] = defaultdict(list)
        self.failures = 0

    def observe(self, service: str, use: str, result: ProbeResult) -> None:
        if use == "liveness":
            self.liveness[service].append(time.monotonic())
            self.failures += not result.ok

    def reset(self) -> None:
        self.liveness.clear()
        self.failures = 0

    def lateness(self) -> list[float]:
        return [
            later - earlier - INTERVAL
            for times in self.liveness.values()
            for earlier, later in itertools.pairwise(times)
        ]


async def loop_lag(seconds: float) -> list[float]:
    loop = asyncio.get_running_loop()
    lags = []
    end = loop.time() + seconds
    while loop.time() < end:
        before = loop.time()
        await asyncio.sleep(0.005)
        lags.append(loop.time() - before - 0.005)
    return lags


async def restarts(orchestrator: Orchestrator, seconds: float) -> list[float]:
    """Restart s00 RESTARTS times, spread over `seconds`; the time it was ready each time."""
    running = AsyncRunningStack(orchestrator)
    supervisor = orchestrator.supervisors["s00"]
    ready = []
    for _ in range(RESTARTS):
        await asyncio.sleep(seconds / (RESTARTS + 1))
        await running.restart("s00")
        assert supervisor.ready_at is not None
        ready.append(supervisor.ready_at)
    return ready


def listen_to_ready(listen_log: Path, ready: list[float]) -> list[float]:
    """Each restart's ready time less its listen() time (the last lines of s00 in the log)."""
    listened = [
        float(line.split()[1]) for line in listen_log.read_text().splitlines() if line.startswith("s00 ")
    ]
    return [at - listen for at, listen in zip(ready, listened[-len(ready) :], strict=True)]


@dataclass
class Window:
    """What one window measured."""

    lateness: list[float]  # of the liveness checks
    lag: list[float]  # of the loop
    ready: list[float]  # listen() to ready, each restart (none in a window without restarts)
    failures: int  # failed probe checks
    latencies: list[float]  # of the load's requests (none without load)


def window(
    thread: LoopThread,
    orchestrator: Orchestrator,
    checks: Checks,
    listen_log: Path,
    seconds: float,
    load: list[str] | None = None,
    restart: bool = False,
) -> Window:
    """Measure for `seconds`, with the load client `load` (--client arguments) running, and
    restarting s00 when `restart` (separately: a restart's process-wide sweep for escaped
    daemons and its spawn weigh on the loop too, and would blur the API's own part)."""
    checks.reset()
    client_process = None
    if load is not None:
        client_process = subprocess.Popen(
            [sys.executable, __file__, "--seconds", str(seconds), "--client", *load], stdout=subprocess.PIPE
        )

    async def measure() -> tuple[list[float], list[float]]:
        restarting = restarts(orchestrator, seconds) if restart else asyncio.sleep(0, [])
        lags, ready = await asyncio.gather(loop_lag(seconds), restarting)
        return lags, ready

    lags, ready = thread.run(measure(), seconds + 60)
    latencies = []
    if client_process is not None:
        out, _ = client_process.communicate(timeout=seconds * 10)
        if client_process.returncode:
            raise SystemExit("the load client failed")
        latencies = json.loads(out)
    gaps = listen_to_ready(listen_log, ready) if ready else []
    return Window(checks.lateness(), lags, gaps, checks.failures, latencies)


def report(name: str, windows: dict[str, list[float]]) -> None:
    figures = " | ".join(
        f"{label} p50 {ms(statistics.median(v))}, p99 {ms(percentile(v, 0.99))}, max {ms(max(v))}"
        for label, v in windows.items()
    )
    print(f"  {name:<22} {figures}")


def scrape_time(socket_path: Path, runs: int = 5) -> tuple[list[float], float]:
    """`runs` fresh scrapes, each more than a second after the last (each made anew), and one
    right after the last (answered with the same text)."""
    times: list[float] = []
    for _ in range(runs + 1):
        time.sleep(FRESH + 0.1 if len(times) < runs else 0)
        started = time.perf_counter()
        connection = UnixConnection(str(socket_path))
        connection.request("GET", "/metrics")
        connection.getresponse().read()
        connection.close()
        times.append(time.perf_counter() - started)
    return times[:-1], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() once the stack is ready")
    # The load process: --client SOCKET ROUTE (with --rate and --seconds).
    parser.add_argument("--client", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.client[0], args.client[1], args.rate, args.seconds)
        return
    with tempfile.TemporaryDirectory(prefix="lch-apibench-") as tmp:
        root = Path(tmp)
        listen_log = root / "listen.log"
        (root / "launcher.toml").write_text(config(args.services, listen_log))
        plan = launcher.load(root / "launcher.toml").plan()
        sink = make_sink(io.StringIO(), names=[*plan.names, "launcher"], environ={})
        orchestrator = Orchestrator(plan, sink=sink, state_file=False)
        server = ApiServer(orchestrator, on_stop=lambda: None)
        checks = Checks()
        orchestrator.probe_listeners.append(checks.observe)
        socket_path = root / "api.sock"
        thread = LoopThread()
        try:
            thread.run(server.start(socket_path), 10)
            started = time.perf_counter()
            thread.run(orchestrator.start(), 120)
            print(f"{args.services} services ready in {time.perf_counter() - started:.2f} s")
            if args.gc_freeze:
                # What `launcher run` could do once started: the objects of start-up (pydantic,
                # aiohttp, the plan) out of the collector's sight, so that a full collection
                # (20-36 ms here, a stall of the loop) scans only what came since.
                gc.freeze()
            run(args, thread, orchestrator, checks, listen_log, socket_path)
        finally:
            thread.run(orchestrator.stop(), 60)
            thread.run(server.aclose(), 10)
            thread.close()
            sink.close()


def run(
    args: argparse.Namespace,
    thread: LoopThread,
    orchestrator: Orchestrator,
    checks: Checks,
    listen_log: Path,
    socket_path: Path,
) -> None:
    time.sleep(1.0)  # every service's liveness checks under way
    measure = functools.partial(window, thread, orchestrator, checks, listen_log, args.seconds)
    status_load = [str(socket_path), "/v1/status", "--rate", str(args.rate)]
    scrape_load = [str(socket_path), "/metrics", "--rate", str(SCRAPES)]
    idle, status, scraped = measure(), measure(status_load), measure(scrape_load)
    restarts = functools.partial(
        window, thread, orchestrator, checks, listen_log, args.seconds / 2, restart=True
    )
    idle_ready, status_ready = restarts(), restarts(status_load)
    scrapes = scrape_time(socket_path)

    latencies = status.latencies
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    achieved = len(latencies) / args.seconds
    print(f"\nGET /v1/status, {len(latencies)} requests ({achieved:.0f}/s), {args.services} services:")
    print(f"  p50 {ms(p50)}, p90 {ms(percentile(latencies, 0.9))}, p99 {ms(p99)}, max {ms(max(latencies))}")
    print(f"  target p99 < {ms(P99_TARGET)}: {'PASS' if p99 < P99_TARGET else 'MISS'}")
    print(f"  (while s00 restarts twice a second: p99 {ms(percentile(status_ready.latencies, 0.99))})")
    print(f"\nwithout load | with the status load | with {SCRAPES} scrapes a second:")
    windows = (("idle", idle), ("status", status), ("scrapes", scraped))
    report("liveness lateness", {label: w.lateness for label, w in windows})
    report("loop lag (5 ms sleep)", {label: w.lag for label, w in windows})
    report("listen() to ready", {"idle": idle_ready.ready, "status": status_ready.ready})
    failures = [w.failures for w in (idle, status, scraped, idle_ready, status_ready)]
    print(f"  failed probe checks    {' | '.join(map(str, failures))}")
    late = percentile(status.lateness, 0.99) - percentile(idle.lateness, 0.99)
    ready = statistics.median(status_ready.ready) - statistics.median(idle_ready.ready)
    unaffected = late <= PROBE_TOLERANCE and ready <= PROBE_TOLERANCE and not any(failures)
    print(
        f"  under the status load: liveness p99 {late * 1000:+.2f} ms, listen() to ready median "
        f"{ready * 1000:+.2f} ms (target within {ms(PROBE_TOLERANCE)}, no failures): "
        f"{'PASS' if unaffected else 'MISS'}"
    )
    fresh, again = scrapes
    print(
        f"\nGET /metrics, {args.services} services: made anew median {ms(statistics.median(fresh))}, "
        f"max {ms(max(fresh))} ({len(fresh)} scrapes); within a second of the last {ms(again)}"
    )


if __name__ == "__main__":
    main()
