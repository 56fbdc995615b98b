"""Prints many lines, as fast as it can.

    flood.py [--lines N] [--length L] [--stream stdout|stderr|both] [--then exit|sleep]

Writes N lines (default 10000) of exactly L characters each (default 100, at least 9): line i
is i as 8 digits, a space, then "x" up to L, so a reader can check that none is lost, cut or
reordered. With --stream both, even lines go to stdout and odd ones to stderr. Then prints
"done N" on stdout and exits 0 (--then sleep: sleeps until SIGTERM, then exits 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--stream", choices=["stdout", "stderr", "both"], default="stdout")
    parser.add_argument("--then", choices=["exit", "sleep"], default="exit")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    filler = "x" * max(args.length - 9, 0)
    streams = {"stdout": (sys.stdout, sys.stdout), "stderr": (sys.stderr, sys.stderr)}
    even, odd = streams.get(args.stream, (sys.stdout, sys.stderr))
    for i in range(args.lines):
        (odd if i % 2 else even).write(f"{i:08d} {filler}\n")
    sys.stderr.flush()
    print(f"done {args.lines}", flush=True)
    if args.then == "sleep":
        time.sleep(3600)


if __name__ == "__main__":
    main()
