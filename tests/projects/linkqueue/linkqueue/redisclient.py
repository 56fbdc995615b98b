"""A small Redis client (RESP over a socket): the few commands the queue needs."""

from __future__ import annotations

import socket
import time
from typing import BinaryIO
from urllib.parse import urlsplit


class RedisError(Exception):
    """An error answer of the server."""


class Redis:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.db = int(parts.path.lstrip("/") or 0)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: BinaryIO | None = None

    @classmethod
    def connect(cls, url: str, wait: float = 0.0) -> Redis:
        """A client connected to `url`, retrying for `wait` seconds while the server is not up."""
        client = cls(url)
        deadline = time.monotonic() + wait
        while True:
            try:
                client._open()
                return client
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def _open(self) -> None:
        self._sock = socket.create_connection(self.address, timeout=self.timeout)
        self._file = self._sock.makefile("rb")
        if self.db:
            self.command("SELECT", str(self.db))

    def command(self, *words: str) -> object:
        """The answer: a str, an int, None, or a list of them (RedisError for an error)."""
        assert self._sock is not None, "not connected"
        request = [b"*%d\r\n" % len(words)]
        for word in words:
            data = word.encode()
            request.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._sock.sendall(b"".join(request))
        return self._answer()

    def _answer(self) -> object:
        assert self._file is not None
        line = self._file.readline()
        if not line:
            raise ConnectionError("the Redis server closed the connection")
        kind, rest = line[:1], line[1:].rstrip(b"\r\n")
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._file.read(size + 2)[:-2].decode()
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._answer() for _ in range(count)]
        raise RedisError(f"unexpected answer {line!r}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = self._file = None
