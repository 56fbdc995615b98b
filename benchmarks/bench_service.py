"""A service for the runtime benchmarks (stdlib only).

    bench_service.py [--delay S] [--listen-log FILE] [--stop-delay S] [--ignore-term] [--grandchild]
                     [--http]

Binds 127.0.0.1:$PORT after --delay seconds and appends "<name> <time.time()>" to --listen-log
right after listen(); on SIGTERM waits --stop-delay seconds then exits (unless --ignore-term).
With --http it answers every request on that port with `200 ok` (one request a connection).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import time

parser = argparse.ArgumentParser()
parser.add_argument("--delay", type=float, default=0.0)
parser.add_argument("--listen-log")
parser.add_argument("--stop-delay", type=float, default=0.0)
parser.add_argument("--ignore-term", action="store_true")
parser.add_argument("--grandchild", action="store_true")
parser.add_argument("--http", action="store_true")
args = parser.parse_args()


def on_term(signum: int, frame: object) -> None:
    time.sleep(args.stop_delay)
    os._exit(0)


signal.signal(signal.SIGTERM, signal.SIG_IGN if args.ignore_term else on_term)
if args.grandchild:
    subprocess.Popen(["sleep", "300"])
time.sleep(args.delay)
if "PORT" in os.environ:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(os.environ["PORT"])))
    listener.listen()
    if args.listen_log:
        with open(args.listen_log, "a") as log:
            log.write(f"{os.environ.get('LAUNCHER_SERVICE', '?')} {time.time()}\n")
    while args.http:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)  # a probe's request fits in one read
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
while True:
    time.sleep(3600)
