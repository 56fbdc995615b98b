"""Free ports for the benchmarks' generated projects, away from the launcher's default range
(other test suites run on this machine, on 8000-8010 among others)."""

from __future__ import annotations

import random
import socket


def free_block(size: int) -> tuple[int, int]:
    """`size` consecutive ports of 127.0.0.1, all free a moment ago, at a random place in
    20000-60000: (first, last)."""
    for _ in range(200):
        low = random.randrange(20000, 60000 - size)
        if all(_free(port) for port in range(low, low + size)):
            return low, low + size - 1
    raise SystemExit(f"no {size} consecutive free ports found in 20000-60000")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
