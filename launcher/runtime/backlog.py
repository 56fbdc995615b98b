"""Whether the launcher's output is behind its reader: then a busy service's pipe is read in
batches even when it is full (launcher/runtime/process.py), instead of as fast as it fills.

Reading a service faster than the output's reader takes its lines does not bring them out any
sooner: it only moves them from the service's pipe into the launcher's queue, and past its
memory limit into the spill file (launcher/runtime/output.py), each byte written to disk and
read back. Read every BATCH_PAUSE instead, a pipe of 256 KiB still lets a service write 50 MB
a second: the reader sets the pace, and no service is ever held for longer than that pause.
"""

from __future__ import annotations

_behind: set[int] = set()  # the id() of each output (StreamSink) that is behind its reader


def behind() -> bool:
    """Whether any output of this process is behind its reader."""
    return bool(_behind)


def mark(owner: object, is_behind: bool) -> None:
    """Say whether `owner`'s output is behind (called from any thread: a set's add and discard
    are atomic)."""
    if is_behind:
        _behind.add(id(owner))
    else:
        _behind.discard(id(owner))
