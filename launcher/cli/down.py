"""`launcher down [--timeout S]`: stop the running stack and return once its launcher is gone.

Nothing running is not an error (exit 0, said on stdout), as `docker compose down` of a project
without containers: a CI clean-up step that runs whether `up` succeeded or not does not fail.

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


EXAMPLES = """\
examples:
  launcher down                     stop the running stack; return once everything is gone
  launcher down --timeout 30        give up (exit 1) after 30 s
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="give up after S seconds (default 120)"
    )


def main(args: argparse.Namespace) -> int:
    from launcher.control import client
    from launcher.core.errors import NoStackRunning

    try:
        stack = client.connect(args.file)
        stack.post("/v1/stop", timeout=client.TIMEOUT)
    except NoStackRunning as exc:
        if exc.note:  # a dead launcher's leftovers, just ended
            print(exc.note)
        print(f"nothing to stop: no stack of this project is running ({exc.state_file})")
        return 0
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
