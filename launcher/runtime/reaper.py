"""The reaper: a tiny watchdog that ends a stack's processes when its launcher dies.

    python -I -S path/to/launcher/runtime/reaper.py RUN_ID

(`python -m launcher.runtime.reaper RUN_ID` works too.)

It runs in its own session, with a pipe as stdin whose write end only the launcher holds. The
launcher writes `add PGID`, `del PGID` and, on a normal exit, `exit`. End of file without
`exit` means the launcher died (SIGKILL, OOM, a crash): the reaper then sends SIGTERM to every
registered process group, SIGKILL shortly after, kills whatever still carries the run's
`LAUNCHER_RUN` marker (daemons that left their group), and exits. Parent-death signals cannot do
this: they reach only direct children, and follow the thread that forked, not the process.

Stdlib only, and it imports nothing of the launcher but this file: it starts while the stack's
first services start, competing with them for the CPU, so it must start fast: it is run with
`-I -S` (no site, no environment, no project directory on sys.path) and imports only what it
needs, not even contextlib, whose imports (collections, functools) cost more than the rest.
"""

from __future__ import annotations

import os
import sys
import time

try:
    # The C module behind `signal`, without its enum wrappers: importing enum would cost more
    # CPU than all the rest of the reaper's start-up (about 8 ms).
    import _signal as signal  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # not CPython
    import signal

TYPE_CHECKING = False  # not typing's: the reaper imports as little as it can
if TYPE_CHECKING:
    import subprocess

GRACE = 0.5


def launch(run_id: str) -> subprocess.Popen[bytes]:
    """Start the reaper of the run `run_id` (the launcher's side, launcher/runtime/process.py
    Reaper and launcher/runtime/firstspawn.py): a fork and an exec, nothing waits for it to run.

    A plain Popen, not asyncio's subprocess: the event loop has nothing to watch in this child
    until the end. Run as a script with `-I -S`: it is stdlib only, so it needs no site (the
    .pth files of the environment), no PYTHON* variables, no user site, and must not find the
    project's own modules first on sys.path (a project's enum.py would break it). That also
    halves its start-up, which competes for the CPU with the stack's first services.
    """
    import subprocess

    return subprocess.Popen(
        [sys.executable, "-I", "-S", os.path.abspath(__file__), run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        bufsize=0,
    )


def _signal_groups(groups: set[int], sig: int) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except OSError:
            continue  # already gone


def marked(run_id: str, service: str | None = None) -> list[int]:
    """Pids of processes whose environment carries `LAUNCHER_RUN=<run_id>` (readable ones),
    and `LAUNCHER_SERVICE=<service>` when a service is named; never this process.

    Shared with the launcher (launcher/runtime/leftovers.py), which sweeps with it after a stop."""
    needles = [f"\0LAUNCHER_RUN={run_id}\0".encode()]
    if service is not None:
        needles.append(f"\0LAUNCHER_SERVICE={service}\0".encode())
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as file:
                # Preceded by NUL: a whole variable, not the tail of another one's value.
                environ = b"\0" + file.read()
        except OSError:
            continue
        if all(needle in environ for needle in needles):
            found.append(int(entry))
    return found


def main(argv: list[str]) -> int:
    run_id = argv[1] if len(argv) > 1 else ""
    # The launcher's Ctrl-C must not reach us (we are in our own session anyway).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin.buffer:
        words = line.split()
        if words[:1] == [b"add"] and len(words) > 1:
            groups.add(int(words[1]))
        elif words[:1] == [b"del"] and len(words) > 1:
            groups.discard(int(words[1]))
        elif words[:1] == [b"exit"]:
            return 0
    # EOF without "exit": the launcher is gone.
    _signal_groups(groups, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline and groups:
        groups = {g for g in groups if _group_alive(g)}
        time.sleep(0.02)
    _signal_groups(groups, signal.SIGKILL)
    if run_id:
        for pid in marked(run_id):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue  # already gone
    return 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
