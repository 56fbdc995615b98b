"""The control API's sockets, bound before the stack starts: listening at once, an address that
is taken refused with nothing left behind."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from launcher.control.listening import bind_api


def test_the_sockets_listen_at_once_and_close_removes_the_socket_file(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    sockets = bind_api(path, ("127.0.0.1", 0))
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))  # waits in the backlog until the API serves it
        (tcp,) = sockets.tcp
        with socket.create_connection(tcp.getsockname()[:2], timeout=5):
            pass
    finally:
        sockets.close()
    assert not path.exists()


def test_a_taken_tcp_address_says_where_and_leaves_no_socket(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            OSError, match=rf"error while attempting to bind on address \('127.0.0.1', {port}\)"
        ):
            bind_api(tmp_path / "api.sock", ("127.0.0.1", port))
    assert not (tmp_path / "api.sock").exists()
