"""A fake PostgreSQL server: "the database system is starting up" for a while, then ready.

    fake_postgres.py [--port N] [--starting S] [--listen-after S]

Listens on 127.0.0.1 on --port, else $PORT, after --listen-after seconds (default 0), and
prints "listening on 127.0.0.1:PORT". For the first --starting seconds after that (default 5)
it answers every startup message with an ErrorResponse, severity FATAL, SQLSTATE 57P03,
"the database system is starting up", and closes the connection, as a real server does
during recovery. Afterwards it answers AuthenticationOk, a few ParameterStatus messages,
BackendKeyData and ReadyForQuery ('I'), then answers each simple Query with
EmptyQueryResponse + ReadyForQuery until the client sends Terminate or hangs up.
An SSLRequest or GSSENCRequest is declined with "N". Exits 0 on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import socketserver
import struct
import sys
import time

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def error_starting_up() -> bytes:
    fields = [b"SFATAL", b"VFATAL", b"C57P03", b"Mthe database system is starting up"]
    return message(b"E", b"".join(f + b"\0" for f in fields) + b"\0")


def ready() -> bytes:
    parameters = [(b"server_version", b"16.0"), (b"server_encoding", b"UTF8"), (b"client_encoding", b"UTF8")]
    return b"".join(
        [
            message(b"R", struct.pack("!I", 0)),  # AuthenticationOk
            *(message(b"S", name + b"\0" + value + b"\0") for name, value in parameters),
            message(b"K", struct.pack("!II", os.getpid(), 12345)),  # BackendKeyData
            message(b"Z", b"I"),  # ReadyForQuery, idle
        ]
    )


def read_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_startup(sock: socket.socket) -> int | None:
    """The protocol code of the startup packet, after declining SSL/GSS encryption."""
    while True:
        head = read_exact(sock, 8)
        if head is None:
            return None
        length, code = struct.unpack("!II", head)
        if length > 8 and read_exact(sock, length - 8) is None:
            return None
        if code in (SSL_REQUEST, GSSENC_REQUEST):
            sock.sendall(b"N")
            continue
        return int(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--starting", type=float, default=5.0)
    parser.add_argument("--listen-after", type=float, default=0.0)
    args = parser.parse_args()
    port = args.port if args.port is not None else int(os.environ["PORT"])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(args.listen_after)
    ready_at = time.monotonic() + args.starting

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            code = read_startup(sock)
            if code is None or code == CANCEL_REQUEST:
                return
            if time.monotonic() < ready_at:
                sock.sendall(error_starting_up())
                return
            sock.sendall(ready())
            while (head := read_exact(sock, 5)) is not None:
                kind, length = head[:1], struct.unpack("!I", head[1:])[0]
                if length > 4 and read_exact(sock, length - 4) is None:
                    return
                if kind == b"X":  # Terminate
                    return
                if kind == b"Q":
                    sock.sendall(message(b"I", b"") + message(b"Z", b"I"))

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
