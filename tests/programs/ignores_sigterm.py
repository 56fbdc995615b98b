"""Ignores SIGTERM: only SIGKILL (or SIGINT) stops it.

    ignores_sigterm.py [--seconds S] [--record FILE]

Prints "ignoring SIGTERM pid=PID" once SIGTERM is ignored, then sleeps S seconds (default
3600) and exits 0. With --record, appends "SIGTERM <monotonic time>" to FILE for every SIGTERM
it receives (and ignores).
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from types import FrameType


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--record", default=None)
    args = parser.parse_args()
    if args.record:

        def record(signum: int, frame: FrameType | None) -> None:
            with open(args.record, "a") as file:
                file.write(f"SIGTERM {time.monotonic():.6f}\n")

        signal.signal(signal.SIGTERM, record)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"ignoring SIGTERM pid={os.getpid()}", flush=True)
    time.sleep(args.seconds)  # a handled signal does not cut it short (PEP 475)


if __name__ == "__main__":
    main()
