"""Exits with a given code after a given delay.

    crashes.py [--code N] [--after S] [--message TEXT] [--lines N]

Prints --lines numbered lines ("line 1" ...; default 0) on stdout, then sleeps --after seconds
(default 0), prints TEXT (default "crashing with code N") on stderr and exits with --code
(default 1).
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code", type=int, default=1)
    parser.add_argument("--after", type=float, default=0.0)
    parser.add_argument("--message", default=None)
    parser.add_argument("--lines", type=int, default=0)
    args = parser.parse_args()
    for n in range(1, args.lines + 1):
        print(f"line {n}", flush=True)
    time.sleep(args.after)
    print(args.message or f"crashing with code {args.code}", file=sys.stderr, flush=True)
    sys.exit(args.code)


if __name__ == "__main__":
    main()
