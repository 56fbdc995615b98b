"""A configurable service for stack tests (stdlib only).

    stack_service.py NAME [--listen] [--http] [--delay S] [--events FILE] [--stop-delay S]
                          [--ignore-term] [--exit CODE] [--exit-after S] [--exit-when TEXT]
                          [--grandchild] [--daemon PIDFILE] [--lines N]
                          [--fail-times N --counter FILE]

Prints "NAME starting" at once. With --listen, binds 127.0.0.1:$PORT after --delay seconds
(with --http it answers every GET with 200 "NAME"). Appends "NAME started PID", "NAME ready"
and, on SIGTERM/SIGINT, "NAME stopping" lines to --events FILE (each line ends with its
CLOCK_MONOTONIC time, the same clock in every process), waits --stop-delay seconds, then exits
0. --ignore-term ignores SIGTERM. --exit CODE exits with CODE after --exit-after seconds, or
(--exit-when) once TEXT appears in the events file. --grandchild starts a `sleep 300` that
inherits stdout (it holds the pipe); --daemon leaves a daemon (fork, setsid, fork: in no group
of ours) that sleeps, its pid in PIDFILE. --lines prints "NAME line I" for I in 1..N after
"NAME starting". --fail-times N: the first N runs counted in the --counter file print
"NAME failing run K" and exit 1 at once.
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time


def record(path: str | None, text: str) -> None:
    if path:
        with open(path, "a") as file:
            file.write(f"{text} {time.monotonic():.6f}\n")


def read(path: str | None) -> str:
    try:
        with open(path or "") as file:
            return file.read()
    except FileNotFoundError:
        return ""


def count_run(path: str) -> int:
    """This run's number (1 for the first), counted in the file at `path`."""
    run = len(read(path)) + 1
    with open(path, "a") as file:
        file.write("x")
    return run


def daemonize(pidfile: str) -> None:
    middle = os.fork()
    if middle > 0:
        os.waitpid(middle, 0)
        return
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    with open(f"{pidfile}.tmp", "w") as file:
        file.write(f"{os.getpid()}\n")
    os.replace(f"{pidfile}.tmp", pidfile)
    time.sleep(3600)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--listen", action="store_true")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--events")
    parser.add_argument("--stop-delay", type=float, default=0.0)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit", type=int)
    parser.add_argument("--exit-after", type=float, default=0.0)
    parser.add_argument("--exit-when")
    parser.add_argument("--grandchild", action="store_true")
    parser.add_argument("--daemon")
    parser.add_argument("--lines", type=int, default=0)
    parser.add_argument("--fail-times", type=int, default=0)
    parser.add_argument("--counter")
    args = parser.parse_args()
    if args.fail_times:
        run = count_run(args.counter)
        if run <= args.fail_times:
            print(f"{args.name} failing run {run}", flush=True)
            record(args.events, f"{args.name} failed {os.getpid()}")
            sys.exit(1)

    def on_stop(signum: int, frame: object) -> None:
        record(args.events, f"{args.name} stopping")
        time.sleep(args.stop_delay)
        print(f"{args.name} stopped", flush=True)
        os._exit(0)

    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTERM, signal.SIG_IGN if args.ignore_term else on_stop)
    # Only now, with the handlers in place, does it say it started: tests wait for this line.
    print(f"{args.name} starting", flush=True)
    record(args.events, f"{args.name} started {os.getpid()}")
    for n in range(1, args.lines + 1):
        print(f"{args.name} line {n}", flush=True)
    if args.grandchild:
        subprocess.Popen(["sleep", "300"])
    if args.daemon:
        daemonize(args.daemon)
    time.sleep(args.delay)
    if args.listen:
        port = int(os.environ["PORT"])
        if args.http:
            name = args.name.encode()

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self) -> None:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(name)))
                    self.end_headers()
                    self.wfile.write(name)

                def log_message(self, *args: object) -> None:
                    pass

            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        else:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen()
        record(args.events, f"{args.name} ready")
    if args.exit is not None:
        if args.exit_when:
            while args.exit_when not in read(args.events):
                time.sleep(0.01)
        else:
            time.sleep(args.exit_after)
        print(f"{args.name} exiting with {args.exit}", flush=True)
        sys.exit(args.exit)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
