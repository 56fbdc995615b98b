"""Load benchmark of issue 9: 200 services each probed at 5 Hz, and 200 status requests a second.

    .venv/bin/python benchmarks/load.py [--services 200] [--duration 60] [--hz 5] [--status-rate 200]
                                        [--baseline-hz 1] [--connections 8]

`python -m launcher run` (the CLI, a process of its own, as a user runs it) runs SERVICES
bench_service.py --http processes (one small stdlib HTTP server each, started with `-S`), each
with an http readiness probe and an http liveness probe every 1/HZ s. Once every service is
ready (and a settling second has passed), three windows of DURATION seconds each:

probes          the liveness checks, and a client sampling `GET /v1/status` SAMPLE_RATE (5) times
                a second, one at a time, for every check's latency (below);
probes+status   the same, while a client process sends STATUS_RATE `GET /v1/status` a second
                over the control API's unix socket (a new connection each, as `launcher status`
                does; open loop, up to CONNECTIONS under way at once: each request is timed
                from its scheduled send, and the rate reached is printed);
baseline        a second launcher run of the same services with liveness every 1/BASELINE_HZ s
                (the probes window again, at the lower rate), measured in the same run.

Each window measures:

- the launcher's CPU: user + system time of the launcher process (psutil; not its children:
  the services and the reaper are not the launcher) over the window, as a share of one core;
- the probe latency as the launcher measures it, from the start of a check to its result on
  the launcher's event loop (so a check delayed by a busy loop shows here too). Exactly: the
  status answers carry every service's `last_probe` (latency and time of its latest check), and
  the sampling client (or the status load) reads them often enough to see nearly every check,
  which gives their p50/p99/max and the period between two checks of a service (the liveness
  loop sleeps the interval after each check). Coarsely: the `launcher_probe_duration_seconds`
  histogram of GET /metrics (probe="liveness", summed over the services), scraped before and
  after the window, its p99 given as the bucket it falls in. A scrape of 200 services holds
  the launcher's loop for 150-400 ms (its psutil and prometheus work on a worker thread, with
  the GIL), and the checks it delays are in the histogram, not in the sampled figures, which
  are therefore the verdict;
- the checks made a second (against SERVICES x HZ) and the failed ones;
- in probes+status: the status requests' latency p50/p99 and the rate reached.

Targets (issue 9): the launcher under 50 % of one core and probe p99 under 50 ms, with 200
services at 5 Hz and the status load (the probes+status window; the probes window is printed
against the same targets). The baseline gives the CPU cost of one check
((CPU at HZ - CPU at BASELINE_HZ) / (checks at HZ - checks at BASELINE_HZ)), and the difference
of the two 5 Hz windows the cost of the status load. It also prints the RSS of the launcher and
of the services (summed).

Each launcher is stopped with SIGTERM to its pid (SIGKILL to its session's group if it lingers);
every process seen under it is then checked to be gone.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from freeports import free_block  # benchmarks/ is first on sys.path

HERE = Path(__file__).resolve().parent
SERVICE = [sys.executable, "-S", str(HERE / "bench_service.py"), "--http"]
CPU_TARGET = 0.50  # of one core
P99_TARGET = 0.050  # seconds
SAMPLE_RATE = 5.0  # status requests a second that sample the checks in the windows without the load
START_DEADLINE = 180.0
STOP_DEADLINE = 60.0
SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def config(services: int, hz: float) -> str:
    low, high = free_block(services + 10)
    command = json.dumps(SERVICE)
    parts = [f'[launcher]\nname = "load"\nports = [{low}, {high}]\nstart_timeout = 120\n']
    for i in range(services):
        parts.append(
            f'[services.s{i:03d}]\ncommand = {command}\nport = "auto"\nprobe = {{ http = "/health" }}\n'
            f'liveness = {{ http = "/health", interval = {1 / hz:g} }}\n'
        )
    return "\n".join(parts)


# -- the control API, over its unix socket --------------------------------------------------------


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.socket_path)


def get(path: str, route: str) -> bytes:
    connection = UnixConnection(path)
    try:
        connection.request("GET", route)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"GET {route} answered {response.status}")
    return body


def client(path: str, rate: float, seconds: float, connections: int, out: str) -> None:
    """GET /v1/status at `rate` a second for `seconds`; write each request's latency (from its
    scheduled send) and every probe check seen in the answers, once each, to `out` (JSON).

    Open loop: request i is sent at start + i / rate by whichever of `connections` threads is
    free (each request on a connection of its own), so up to that many wait for their answers at
    once and a slow answer does not hold the next requests back. When all of them are busy, the
    requests go late (and their latency shows it); the window ends at its time with fewer of
    them, so the rate reached is printed too.
    """
    period = 1 / rate
    latencies: list[float] = []
    checks: dict[str, dict[float, float]] = defaultdict(dict)  # service -> at -> latency
    lock = threading.Lock()
    numbers = itertools.count()
    print("go", flush=True)  # set up: the window starts now
    start = time.perf_counter() + 0.05
    end = start + seconds

    def worker() -> None:
        while True:
            scheduled = start + next(numbers) * period
            if scheduled >= end:
                return
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif time.perf_counter() >= end:
                return  # behind the schedule at the window's end
            body = get(path, "/v1/status")
            latency = time.perf_counter() - scheduled
            seen = [
                (s["name"], s["last_probe"]["at"], s["last_probe"]["latency"])
                for s in json.loads(body)["services"]
                if s["last_probe"] is not None
            ]
            with lock:
                latencies.append(latency)
                for name, at, took in seen:
                    checks[name][at] = took

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    span = time.perf_counter() - start
    Path(out).write_text(json.dumps({"latencies": latencies, "checks": checks, "span": span}))


# -- /metrics ---------------------------------------------------------------------------------------


@dataclass
class Histogram:
    """The liveness checks of every service, summed: count per bucket bound, failures."""

    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    count: float = 0.0
    total: float = 0.0  # seconds
    failures: float = 0.0

    def minus(self, other: Histogram) -> Histogram:
        return Histogram(
            {le: n - other.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            self.count - other.count,
            self.total - other.total,
            self.failures - other.failures,
        )

    def quantile_bucket(self, q: float) -> tuple[float, float]:
        """The bucket (lower, upper bound) that holds the q-quantile."""
        wanted = q * self.count
        lower = 0.0
        for le in sorted(self.buckets):
            if self.buckets[le] >= wanted:
                return lower, le
            lower = le
        return lower, float("inf")


def scrape(path: str) -> Histogram:
    histogram = Histogram()
    for line in get(path, "/metrics").decode().splitlines():
        match = SAMPLE.match(line)
        if match is None:
            continue
        name, labels, value = match.group(1), dict(LABEL.findall(match.group(2))), float(match.group(3))
        if labels.get("probe") != "liveness":
            continue
        if name == "launcher_probe_duration_seconds_bucket":
            le = float(labels["le"])
            histogram.buckets[le] = histogram.buckets.get(le, 0.0) + value
        elif name == "launcher_probe_duration_seconds_count":
            histogram.count += value
        elif name == "launcher_probe_duration_seconds_sum":
            histogram.total += value
        elif name == "launcher_probe_failures_total":
            histogram.failures += value
    return histogram


# -- a launcher run -----------------------------------------------------------------------------------


@dataclass
class Window:
    """What one window measured."""

    name: str
    seconds: float
    cpu: float  # share of one core
    checks: Histogram
    scraped: float  # seconds between the two scrapes, which the histogram's counts cover
    status: dict[str, list[float]] | None = None  # "latencies", "checks", "periods"


class Launcher:
    """`python -m launcher run` of a generated project, in a session of its own."""

    def __init__(self, root: Path, services: int, hz: float, connections: int) -> None:
        self.root, self.services, self.hz, self.connections = root, services, hz, connections
        root.mkdir(parents=True)
        (root / "launcher.toml").write_text(config(services, hz))
        self.output = root / "launcher.out"
        self.seen: set[tuple[int, float]] = set()
        with self.output.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "launcher", "--no-color", "run"],
                cwd=root,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "NO_COLOR": "1"},
            )
        self.me = psutil.Process(self.process.pid)
        self.socket = ""

    def wait_ready(self) -> float:
        """Until every service is ready (GET /v1/status); the seconds it took."""
        started = time.monotonic()
        wanted = f"{self.services}/{self.services} services ready"
        while wanted not in self.output.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() - started > START_DEADLINE:
                raise SystemExit(f"the stack did not start:\n{self.output.read_text()[-3000:]}")
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        self.socket = json.loads((self.root / ".launcher" / "state.json").read_text())["api"]
        states = [s["state"] for s in json.loads(get(self.socket, "/v1/status"))["services"]]
        if states.count("ready") != self.services:
            raise SystemExit(f"not every service is ready: {sorted(set(states))}")
        for child in self.me.children(recursive=True):
            try:
                self.seen.add((child.pid, child.create_time()))
            except psutil.Error:
                continue
        self.seen.add((self.me.pid, self.me.create_time()))
        return elapsed

    def rss_mb(self) -> tuple[float, float]:
        """(the launcher's RSS, the services' RSS summed), MB."""
        total = 0
        for child in self.me.children(recursive=True):
            try:
                if "bench_service.py" in " ".join(child.cmdline()):
                    total += child.memory_info().rss
            except psutil.Error:
                continue
        return self.me.memory_info().rss / 2**20, total / 2**20

    def cpu(self) -> float:
        times = self.me.cpu_times()
        return times.user + times.system

    def window(self, name: str, seconds: float, status_rate: float, connections: int) -> Window:
        before, scraped = scrape(self.socket), time.monotonic()
        load = None
        out = self.root / f"{name}.json"
        if status_rate:
            argv = [sys.executable, __file__, "--client", self.socket, str(out)]
            argv += ["--status-rate", str(status_rate), "--duration", str(seconds)]
            argv += ["--connections", str(connections)]
            load = subprocess.Popen(argv, stdout=subprocess.PIPE)
            assert load.stdout is not None
            load.stdout.readline()  # "go": its imports are done
        cpu, started = self.cpu(), time.monotonic()
        if load is not None:
            try:
                load.wait(seconds * 3 + 30)
            except subprocess.TimeoutExpired:
                load.kill()
                load.wait()
                raise SystemExit("the status client did not finish") from None
            if load.returncode:
                raise SystemExit(f"the status client failed ({load.returncode})")
        else:
            time.sleep(seconds)
        cpu, elapsed = self.cpu() - cpu, time.monotonic() - started
        time.sleep(max(0.0, 1.1 - elapsed))  # a scrape within a second of the last is the same text
        checks = scrape(self.socket).minus(before)
        window = Window(name, elapsed, cpu / elapsed, checks, time.monotonic() - scraped)
        if load is not None:
            measured = json.loads(out.read_text())
            seen = measured["checks"]
            periods = []
            for times in seen.values():
                ats = sorted(map(float, times))
                periods += [b - a for a, b in itertools.pairwise(ats)]
            window.status = {
                "span": [measured["span"]],
                "latencies": measured["latencies"],
                "checks": [latency for times in seen.values() for latency in times.values()],
                "periods": periods,
            }
        return window

    def stop(self) -> list[str]:
        """SIGTERM to the launcher (SIGKILL to its group if it lingers); what is left, described."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        deadline = time.monotonic() + 5
        while True:
            left = []
            for pid, started in self.seen:
                try:
                    process = psutil.Process(pid)
                    if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE:
                        left.append(f"pid {pid}")
                except psutil.Error:
                    continue
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)


# -- the report ------------------------------------------------------------------------------------


def p99(window: Window) -> float:
    """The p99 latency of the checks seen in the status answers."""
    return percentile(window.status["checks"], 0.99) if window.status else float("inf")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def describe(window: Window, services: int, hz: float, targets: bool) -> None:
    checks = window.checks
    rate = checks.count / window.scraped
    low, high = checks.quantile_bucket(0.99)
    mean = checks.total / checks.count if checks.count else 0.0
    print(f"\n{window.name} ({window.seconds:.1f} s):")
    line = f"  launcher CPU {window.cpu * 100:.1f} % of one core"
    if targets:
        line += f"; target < {CPU_TARGET * 100:g} %: {verdict(window.cpu < CPU_TARGET)}"
    print(line)
    print(
        f"  liveness checks {rate:.0f}/s (of {services * hz:g}/s asked), {checks.failures:.0f} failed; "
        f"latency mean {ms(mean)}, p99 in ({ms(low)}, {ms(high)}] (the histogram, with the scrape's stall)"
    )
    if window.status is not None:
        status = window.status
        latencies, seen, periods = status["latencies"], status["checks"], status["periods"]
        print(
            f"  checks seen in the status answers: {len(seen)} ({len(seen) / checks.count:.0%}); "
            f"latency p50 {ms(statistics.median(seen))}, "
            f"p99 {ms(percentile(seen, 0.99))}, max {ms(max(seen))}"
        )
        if targets:
            p99 = percentile(seen, 0.99)
            print(f"  target probe p99 < {ms(P99_TARGET)}: {verdict(p99 < P99_TARGET)}")
        if periods:
            print(
                f"  period between checks of a service p50 {ms(statistics.median(periods))}, "
                f"p99 {ms(percentile(periods, 0.99))}, max {ms(max(periods))} (interval {ms(1 / hz)})"
            )
        print(
            f"  GET /v1/status: {len(latencies)} requests ({len(latencies) / status['span'][0]:.0f}/s), "
            f"p50 {ms(statistics.median(latencies))}, p99 {ms(percentile(latencies, 0.99))}, "
            f"max {ms(max(latencies))}"
        )


def run_stack(
    root: Path, args: argparse.Namespace, hz: float, windows: list[str], targets: bool
) -> tuple[list[Window], list[str]]:
    """Start a launcher with liveness at `hz`, measure and report `windows` (names: with
    "status" in it, under the status load), stop it; the windows and what was left running."""
    stack = Launcher(root, args.services, hz, args.connections)
    measured = []
    try:
        ready = stack.wait_ready()
        time.sleep(1.0)  # every service's liveness checks under way
        rss, services_rss = stack.rss_mb()
        print(
            f"\n{args.services} services, liveness at {hz:g} Hz: ready in {ready:.1f} s; launcher RSS "
            f"{rss:.1f} MB, services' RSS {services_rss:.0f} MB ({services_rss / args.services:.1f} MB each)",
            flush=True,
        )
        for name in windows:
            # Without the status load, a sampling client still reads every check's latency.
            loaded = "status" in name
            rate = args.status_rate if loaded else SAMPLE_RATE
            measured.append(stack.window(name, args.duration, rate, args.connections if loaded else 1))
            describe(measured[-1], args.services, hz, targets)
    finally:
        left = stack.stop()
    return measured, left


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of each window (default 60)")
    parser.add_argument("--hz", type=float, default=5.0, help="liveness checks a second (default 5)")
    parser.add_argument("--status-rate", type=float, default=200.0, help="status requests a second")
    parser.add_argument("--baseline-hz", type=float, default=1.0, help="the baseline's checks a second")
    parser.add_argument(
        "--connections", type=int, default=8, help="status requests under way at once, at most (default 8)"
    )
    # The status load's process: --client SOCKET OUT (with --status-rate, --duration, --connections).
    parser.add_argument("--client", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.client[0], args.status_rate, args.duration, args.connections, args.client[1])
        return 0
    print(
        f"load: {args.services} services, liveness at {args.hz:g} Hz, {args.status_rate:g} status/s, "
        f"windows of {args.duration:g} s; python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="lch-load-") as tmp:
        (probes, loaded), left = run_stack(
            Path(tmp) / "main", args, args.hz, ["probes", "probes+status"], True
        )
        (base,), base_left = run_stack(
            Path(tmp) / "baseline",
            args,
            args.baseline_hz,
            [f"baseline: liveness at {args.baseline_hz:g} Hz"],
            False,
        )
    print()
    extra = (probes.checks.count / probes.scraped) - (base.checks.count / base.scraped)
    if extra > 0:
        per_check = (probes.cpu - base.cpu) / extra
        print(f"CPU per liveness check ({args.hz:g} Hz against the baseline): {per_check * 1e6:.0f} µs")
    if loaded.status and probes.status:
        rates = [len(w["latencies"]) / w["span"][0] for w in (loaded.status, probes.status)]
        per_request = (loaded.cpu - probes.cpu) / (rates[0] - rates[1])
        print(f"CPU per status request (probes+status against probes): {per_request * 1e6:.0f} µs")
    nothing = not left and not base_left
    print(f"nothing left running: {verdict(nothing)}{'' if nothing else ' ' + ', '.join(left + base_left)}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    ok = all(w.cpu < CPU_TARGET and p99(w) < P99_TARGET for w in (probes, loaded))
    return 0 if ok and nothing else 1


if __name__ == "__main__":
    sys.exit(main())
