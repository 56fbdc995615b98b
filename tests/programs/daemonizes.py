"""Daemonizes the classic way (fork, setsid, fork), and the daemon sleeps.

    daemonizes.py [--pidfile FILE] [--seconds S] [--keep-stdio]

The daemon is in a new session, is no child of whoever started this program, and (unless
--keep-stdio) has stdin, stdout and stderr on /dev/null. It writes its pid to --pidfile
(atomically), then sleeps S seconds (default 3600). The program itself prints
"daemon PID" once the daemon is set up, and exits 0.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pidfile", default=None)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--keep-stdio", action="store_true")
    args = parser.parse_args()
    ready_read, ready_write = os.pipe()
    if os.fork() > 0:
        os.close(ready_write)
        pid = os.read(ready_read, 32).decode().strip()
        print(f"daemon {pid}", flush=True)
        os._exit(0)
    os.close(ready_read)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    _daemon(args, ready_write)


def _daemon(args: argparse.Namespace, ready: int) -> None:
    if not args.keep_stdio:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
    if args.pidfile:
        temp = f"{args.pidfile}.tmp"
        with open(temp, "w") as file:
            file.write(f"{os.getpid()}\n")
        os.replace(temp, args.pidfile)
    os.write(ready, f"{os.getpid()}\n".encode())
    os.close(ready)
    time.sleep(args.seconds)
    os._exit(0)


if __name__ == "__main__":
    main()
