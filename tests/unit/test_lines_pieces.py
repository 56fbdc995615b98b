"""Writing the relay's pieces by writev(2): every byte, in order, however the writes are cut."""

from __future__ import annotations

import os
import threading

from launcher.runtime.pieces import IOV_MAX, write_pieces


def read_all(fd: int, into: list[bytes]) -> None:
    while data := os.read(fd, 65536):
        into.append(data)


def test_pieces_larger_than_a_pipe_and_more_than_iov_max_all_arrive_in_order() -> None:
    pieces: list[bytes | memoryview] = [b"%06d\n" % i for i in range(IOV_MAX * 3)]
    pieces.append(memoryview(b"x" * (1024 * 1024))[10:])  # more than a pipe holds
    pieces.append(b"")
    pieces.append(b"end\n")
    read_fd, write_fd = os.pipe()
    got: list[bytes] = []
    reader = threading.Thread(target=read_all, args=(read_fd, got))
    reader.start()
    try:
        assert write_pieces(write_fd, pieces) == sum(len(p) for p in pieces)
    finally:
        os.close(write_fd)
        reader.join(30)
        os.close(read_fd)
    assert b"".join(got) == b"".join(pieces)


def test_a_full_non_blocking_descriptor_is_waited_for_not_cut_short() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    data = os.urandom(512 * 1024)
    got: list[bytes] = []
    reader = threading.Thread(target=read_all, args=(read_fd, got))
    reader.start()
    try:
        assert write_pieces(write_fd, [data[:1000], memoryview(data)[1000:]]) == len(data)
    finally:
        os.close(write_fd)
        reader.join(30)
        os.close(read_fd)
    assert b"".join(got) == data
