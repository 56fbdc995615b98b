"""Ports on this machine: bind one for a service, ask whether one is free, and who holds it."""

from __future__ import annotations

import socket

import psutil

LOCALHOST = "127.0.0.1"


def bind_port(port: int, host: str = LOCALHOST) -> socket.socket:
    """A listening socket on host:port that a child can inherit (uvicorn's `--fd N`).

    The launcher binds it before the service starts, so no other program can take the port
    between choosing it and serving on it, and it stays bound across restarts of the service.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # uvicorn's --fd wraps an inherited socket as AF_UNIX, so asyncio never sets
        # TCP_NODELAY on its connections; set on the listener, Linux gives it to each accepted
        # one. Without it a keep-alive response written in two pieces waits ~40 ms for the
        # client's delayed ACK (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port in TIME_WAIT is free to use; a listening one is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_holder(port: int) -> tuple[int, str] | None:
    """The pid and command line of the process listening on `port`, when the system tells."""
    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.Error, OSError):
        return None
    for connection in connections:
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
            if connection.pid is None:
                return None
            try:
                command = " ".join(psutil.Process(connection.pid).cmdline())
            except psutil.Error:
                command = "?"
            return connection.pid, command[:200]
    return None
