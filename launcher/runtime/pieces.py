"""Writing bytes given in pieces to a file descriptor, all of them, by writev(2).

The relay's text comes in pieces (launcher/runtime/lines.py `Lines.prefixed_parts`: a prefix,
then a view of a chunk's prefixed lines): one writev takes them as they are, where joining them
first would copy every byte once more.
"""

from __future__ import annotations

import os
import select
from collections.abc import Sequence

Buffer = bytes | memoryview
# At most this many pieces a call (Linux's IOV_MAX is 1024; POSIX guarantees 16).
IOV_MAX = max(16, min(os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16, 1024))


def write_pieces(fd: int, pieces: Sequence[Buffer]) -> int:
    """Write every byte of `pieces` to `fd`, in order; the number of bytes written.

    A write that a signal interrupts returns a short count, and a non-blocking descriptor that
    is full takes nothing (EAGAIN): both go on from where they stopped, the latter once `fd`
    can take more. Errors other than that are raised."""
    todo = [piece for piece in pieces if len(piece)]
    total = 0
    while todo:
        try:
            written = os.writev(fd, todo[:IOV_MAX])
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        total += written
        # Drop what was written: whole pieces, then the start of the next one.
        done = 0
        while done < len(todo) and written >= len(todo[done]):
            written -= len(todo[done])
            done += 1
        del todo[:done]
        if written:
            todo[0] = memoryview(todo[0])[written:]
    return total
