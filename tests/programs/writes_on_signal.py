"""Records every signal it gets, and when, into a file.

    writes_on_signal.py FILE [--name NAME] [--exit-on SIGS] [--code N] [--stop-delay S]

Appends one line per event to FILE, each "NAME EVENT PID MONOTONIC" (CLOCK_MONOTONIC is the
same clock in every process, so lines of several programs can be ordered by it):
"NAME ready PID T" once its handlers are installed, then "NAME SIGTERM PID T" (or SIGINT,
SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT) for each signal received, then "NAME exit PID T" just
before exiting. NAME defaults to "writes_on_signal". Signals named in --exit-on (comma
separated, default "TERM,INT,HUP") make it wait --stop-delay seconds (default 0) and exit
with --code (default 0); the others are only recorded. It also prints "NAME ready PID".
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from types import FrameType

RECORDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    parser.add_argument("--name", default="writes_on_signal")
    parser.add_argument("--exit-on", default="TERM,INT,HUP")
    parser.add_argument("--code", type=int, default=0)
    parser.add_argument("--stop-delay", type=float, default=0.0)
    args = parser.parse_args()
    exit_on = {f"SIG{n.strip().upper().removeprefix('SIG')}" for n in args.exit_on.split(",") if n.strip()}

    def record(event: str) -> None:
        with open(args.file, "a") as file:
            file.write(f"{args.name} {event} {os.getpid()} {time.monotonic():.6f}\n")

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        record(name)
        if name in exit_on:
            time.sleep(args.stop_delay)
            record("exit")
            sys.exit(args.code)

    for name in RECORDED:
        signal.signal(signal.Signals[name], handle)
    record("ready")
    print(f"{args.name} ready {os.getpid()}", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
