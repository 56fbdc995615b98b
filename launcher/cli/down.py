"""`launcher down [--timeout S]`: stop the running stack and return once its launcher is gone.

`POST /v1/stop` only starts the stop (202): the launcher stops the services in reverse
dependency order, each within its own stop_timeout, then exits. The client does not know those
timeouts, so it waits for the launcher process itself (pid and start time from the state file,
so that a reused pid is not mistaken for it), up to --timeout.
"""

from __future__ import annotations

import argparse
import time

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from launcher.control import client

POLL = 0.05  # seconds between looks at the launcher process: a stop takes 100 ms or more


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="give up after S seconds (default 120)"
    )


def main(args: argparse.Namespace) -> int:
    from launcher.control import client

    stack = client.connect(args.file)
    stack.post("/v1/stop", timeout=client.TIMEOUT)
    wait_gone(stack, args.timeout)
    print("stopped")
    return 0


def wait_gone(stack: client.StackClient, timeout: float) -> None:
    """Return once the stack's launcher has exited; LauncherError after `timeout` seconds."""
    # psutil (through leftovers) only here: importing it takes 16 ms or more.
    from launcher.runtime.leftovers import alive

    deadline = time.monotonic() + timeout
    while alive(stack.pid, stack.create_time):
        if time.monotonic() >= deadline:
            from launcher.core.errors import LauncherError

            raise LauncherError(
                f"error: the launcher (pid {stack.pid}) has not exited within {timeout:g} s\n"
                "  hint: a service may take long to stop (its stop_timeout); see `launcher status`,"
                " or wait longer with `launcher down --timeout S`"
            )
        time.sleep(POLL)
