"""Where the control API listens: its sockets, bound before the stack starts (stdlib only).

`launcher run` binds them first, so that an address that is taken stops it with nothing started
(LCH-4004), and serves them (launcher/control/lazy.py, then launcher/control/server.py) from the
first client on. A client waits in the listen backlog while the API is imported and built.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path

BACKLOG = 128  # aiohttp's


@dataclass
class ApiSockets:
    path: Path  # the unix socket's
    unix: socket.socket
    tcp: list[socket.socket] = field(default_factory=list)  # each address of the TCP listener

    @property
    def listening(self) -> list[socket.socket]:
        return [self.unix, *self.tcp]

    def close(self) -> None:
        """Close them unserved, and remove the socket file (the project's lock is still ours)."""
        for sock in self.listening:
            sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def bind_api(path: Path, tcp: tuple[str, int] | None = None) -> ApiSockets:
    """The unix socket at `path` and, with `tcp`, the TCP listener; OSError if one cannot be."""
    unix = bind_unix(path)
    try:
        sockets = ApiSockets(path, unix, bind_tcp(*tcp) if tcp is not None else [])
    except BaseException:
        unix.close()
        path.unlink(missing_ok=True)
        raise
    for sock in (sockets.unix, *sockets.tcp):
        sock.listen(BACKLOG)  # clients wait here until the API serves them
    return sockets


def bind_unix(path: Path) -> socket.socket:
    """A unix socket bound at `path`, mode 0600 from the start: bound under umask 0177 rather
    than chmod-ed afterwards, which would leave a moment in which anyone may connect. A stale
    socket there is removed first (the project's lock says no launcher serves it)."""
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise FileExistsError(errno.EEXIST, "exists and is not a socket", str(path))
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # The umask is the process's: set on the loop thread and restored at once, with no await
    # between (a thread creating a file meanwhile would only get a stricter mode).
    previous = os.umask(0o177)
    try:
        sock.bind(os.fspath(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(previous)
    return sock


def bind_tcp(host: str, port: int) -> list[socket.socket]:
    """A socket for each address of `host`, bound to `port` as asyncio's create_server binds
    (SO_REUSEADDR, IPv6 sockets IPv6 only), with its error message."""
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                what = f"error while attempting to bind on address {address!r}"
                raise OSError(exc.errno, f"{what}: {(exc.strerror or str(exc)).lower()}") from None
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
