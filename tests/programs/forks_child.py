"""Spawns a grandchild that inherits (and so keeps open) stdout and stderr, then exits or waits.

    forks_child.py [--then exit|wait] [--code N] [--child-seconds S] [--pidfile FILE]

Starts `python -c "sleep S"` (default 3600 s) in the same process group, with stdout and
stderr inherited: a reader of this program's output sees no EOF while the grandchild lives.
Writes the grandchild's pid to --pidfile (atomically) and prints "parent PID child PID".
Then --then exit (default) exits with --code (default 0) at once, leaving the grandchild
behind; --then wait sleeps until a signal ends it (SIGTERM: exit 0, the grandchild left alive).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--then", choices=["exit", "wait"], default="exit")
    parser.add_argument("--code", type=int, default=0)
    parser.add_argument("--child-seconds", type=float, default=3600.0)
    parser.add_argument("--pidfile", default=None)
    args = parser.parse_args()
    child = subprocess.Popen(
        [sys.executable, "-c", f"import time; time.sleep({args.child_seconds})"],
        stdin=subprocess.DEVNULL,
    )
    if args.pidfile:
        temp = f"{args.pidfile}.tmp"
        with open(temp, "w") as file:
            file.write(f"{child.pid}\n")
        os.replace(temp, args.pidfile)
    print(f"parent {os.getpid()} child {child.pid}", flush=True)
    if args.then == "wait":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        while True:
            signal.pause()
    # os._exit: do not wait for the grandchild, and let nothing reap or kill it.
    os._exit(args.code)


if __name__ == "__main__":
    main()
