"""Test-fixture benchmarks of issue 4: a stack started the way `launcher_stack` starts it.

    .venv/bin/python benchmarks/fixture.py [--runs N]

single  one HTTP service that binds 0.5 s after it starts: the time from entering
        `stack.start()` (what the pytest fixtures call) until it returns ready, minus those
        0.5 s. Baseline: mirakuru's HTTPExecutor (`executor.start()` until its HTTP check
        passes) on the same program, in the same run. Target: launcher's overhead at most
        0.5 x mirakuru's.
dag     the 12-service DAG of benchmarks/runtime.py (4 levels of 3, each binding 0.3 s after
        start) through `stack.start()`. Baseline: its critical path, a chain of 4 started one
        after another by a plain loop polling every 5 ms. Target: at most 1.15 x.

mirakuru is a benchmark-only dependency: `.venv/bin/pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import launcher

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from runtime import baseline_chain, dag_config  # noqa: E402

DELAY = 0.5
SERVER = f"""
import http.server, os, time
time.sleep({DELAY})

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    do_HEAD = do_GET
    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Health).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def mirakuru_overhead() -> float:
    from mirakuru import HTTPExecutor

    port = free_port()
    executor = HTTPExecutor(
        [sys.executable, "-c", SERVER],
        url=f"http://127.0.0.1:{port}/health",
        timeout=30,
        envvars={**os.environ, "PORT": str(port)},
    )
    started = time.perf_counter()
    executor.start()
    elapsed = time.perf_counter() - started
    executor.stop()
    return elapsed - DELAY


def launcher_overhead(root: Path) -> float:
    script = root / "server.py"
    script.write_text(SERVER)
    (root / "launcher.toml").write_text(
        f'[services.web]\ncommand = ["{sys.executable}", "{script}"]\n'
        'port = "auto"\nprobe = { http = "/health" }\n'
    )
    stack = launcher.load(root / "launcher.toml")
    started = time.perf_counter()
    with stack.start(timeout=30):
        elapsed = time.perf_counter() - started
    return elapsed - DELAY


def dag_ratio(root: Path) -> tuple[float, float]:
    (root / "launcher.toml").write_text(dag_config(root / "listen.log"))
    stack = launcher.load(root / "launcher.toml")
    started = time.perf_counter()
    with stack.start(timeout=60):
        elapsed = time.perf_counter() - started
    return elapsed, baseline_chain()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ours, theirs, dags, paths = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        launcher_overhead(Path(tmp))  # imports and caches: paid once per test session
    for run in range(args.runs):
        # Interleaved, so that a noisy moment of the machine hits both alike.
        theirs.append(mirakuru_overhead())
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(launcher_overhead(Path(tmp)))
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, path = dag_ratio(Path(tmp))
        dags.append(elapsed)
        paths.append(path)
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    mine, base = statistics.median(ours), statistics.median(theirs)
    ratio = mine / base
    print(f"fixture benchmarks, {args.runs} runs each, python {sys.version.split()[0]}")
    print(
        f"single: launcher overhead {mine * 1e3:.1f} ms, mirakuru HTTPExecutor {base * 1e3:.1f} ms, "
        f"ratio {ratio:.2f} (target <= 0.50) {verdict(ratio <= 0.5)}"
    )
    dag, path = statistics.median(dags), statistics.median(paths)
    print(
        f"dag: 12 services {dag * 1e3:.0f} ms, critical path {path * 1e3:.0f} ms, "
        f"ratio {dag / path:.2f} (target <= 1.15) {verdict(dag / path <= 1.15)}"
    )


if __name__ == "__main__":
    main()
