"""Prints a banner, then sleeps; exits 0 on SIGTERM.

    sleeper.py [--banner TEXT] [--seconds S]

Prints TEXT (default "sleeper ready pid=PID") on stdout at once, then sleeps S seconds
(default 3600) and exits 0. SIGTERM makes it exit 0 at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--banner", default=f"sleeper ready pid={os.getpid()}")
    parser.add_argument("--seconds", type=float, default=3600.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(args.banner, flush=True)
    time.sleep(args.seconds)


if __name__ == "__main__":
    main()
