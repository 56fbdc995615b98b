"""A fake Redis server (RESP) that is "loading the dataset" for a while, then answers PONG.

    fake_redis_loading.py [--port N] [--loading S] [--listen-after S]

Listens on 127.0.0.1 on --port, else $PORT, after --listen-after seconds (default 0), and
prints "listening on 127.0.0.1:PORT". PING (as a RESP array or an inline command) is
answered "-LOADING Redis is loading the dataset in memory" during the first --loading seconds
after that (default 5), then "+PONG". QUIT answers "+OK" and closes; any other command is
answered "-ERR unknown command". Exits 0 on SIGTERM.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socketserver
import sys
import time

LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"


def read_command(stream: io.BufferedIOBase) -> list[bytes] | None:
    """One command: a RESP array of bulk strings, or an inline line of words (None: EOF)."""
    line = stream.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.split()
    words = []
    for _ in range(int(line[1:])):
        size = int(stream.readline()[1:])
        words.append(stream.read(size + 2)[:-2])
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--loading", type=float, default=5.0)
    parser.add_argument("--listen-after", type=float, default=0.0)
    args = parser.parse_args()
    port = args.port if args.port is not None else int(os.environ["PORT"])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(args.listen_after)
    loaded_at = time.monotonic() + args.loading

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while (command := read_command(self.rfile)) is not None:
                name = command[0].upper() if command else b""
                if name == b"PING":
                    self.wfile.write(LOADING if time.monotonic() < loaded_at else b"+PONG\r\n")
                elif name == b"QUIT":
                    self.wfile.write(b"+OK\r\n")
                    return
                elif name:
                    self.wfile.write(b"-ERR unknown command '" + command[0] + b"'\r\n")
                self.wfile.flush()

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
