"""Writes one very long line, then a line of invalid UTF-8, then "ok".

    longline.py [--bytes N] [--partial] [--then exit|sleep]

On stdout, as raw bytes: a line of N "a" bytes (default 1 MiB, no newline inside it), then
b"bad \\xff\\xfe utf-8", then "ok". With --partial the last line has no final newline. Then
exits 0 (--then sleep: sleeps until SIGTERM, then exits 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bytes", type=int, default=1024 * 1024)
    parser.add_argument("--partial", action="store_true")
    parser.add_argument("--then", choices=["exit", "sleep"], default="exit")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    out = sys.stdout.buffer
    out.write(b"a" * args.bytes + b"\n")
    out.write(b"bad \xff\xfe utf-8\n")
    out.write(b"ok" if args.partial else b"ok\n")
    out.flush()
    if args.then == "sleep":
        time.sleep(3600)


if __name__ == "__main__":
    main()
