"""The first services of a plan, spawned before the runtime is imported.

`launcher run` with a plan from its cache (launcher/cli/plancache.py) has its plan some 60 ms
after it began, and importing asyncio and the runtime takes as long again. The services that
need nothing (no dependency, a plain command without a port or sockets of the launcher's) are
spawned at once instead, as the runtime would spawn them, and the runtime adopts them
(process.adopt()) when their supervisors come to spawn them:

- the project's launcher lock is taken first (statefile.lock); a project with a state file
  left (another launcher, or a crashed one to clean up after) is left to the runtime's claim;
- the reaper starts before them and is told each one's group at once, so a launcher killed
  from here on leaves nothing behind (launcher/runtime/reaper.py);
- each gets the environment the runtime gives it (the same run id), its own session, stdin
  from /dev/null and pipes for its output, which wait in the pipe until the loop reads them.

The orchestrator adopts a process only when the spawn it would make is exactly this one (the
argv, the directory, the environment); one it does not adopt is killed when it releases the
stack. Stdlib only, on purpose: nothing here may import what it is there to get ahead of.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from launcher.runtime.environment import child_environment, launcher_environment
from launcher.runtime.reaper import launch
from launcher.runtime.statejson import STATE_DIR, STATE_FILE, take_lock

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from launcher.plan.spec import Plan


# What a process spawned ahead is spawned from: argv, working directory, the environment its
# spec declares (plain data: the plan cache keeps it beside the plan, which it does not unpickle
# for this; see launcher/cli/plancache.py).
Ahead = tuple[list[str], str, dict[str, str]]


class FirstSpawns:
    """The lock, the reaper and the processes spawned before the runtime, for the orchestrator."""

    def __init__(self, run_id: str, lock: int, reaper: subprocess.Popen[bytes]) -> None:
        self.run_id = run_id
        self.lock = lock
        self.reaper = reaper
        self._processes: list[tuple[tuple[str, ...], str, dict[str, str], subprocess.Popen[bytes]]] = []

    def add(
        self, argv: Sequence[str], cwd: str, env: dict[str, str], process: subprocess.Popen[bytes]
    ) -> None:
        self._processes.append((tuple(argv), cwd, env, process))

    def __len__(self) -> int:
        return len(self._processes)

    def take(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], pass_fds: Sequence[int]
    ) -> subprocess.Popen[bytes] | None:
        """The process spawned ahead for exactly this spawn (taken: adopted once), or None.

        One spawned ahead with the same argv but another directory, environment or descriptors
        to pass is not this service as the runtime runs it: it is killed at once, so that the
        service never runs twice."""
        for i, (argv_, cwd_, env_, process) in enumerate(self._processes):
            if argv_ == tuple(argv):
                del self._processes[i]
                if cwd_ == str(cwd) and env_ == env and not pass_fds:
                    return process
                _kill(process)
                return None
        return None

    def discard(self) -> None:
        """Kill the groups of the processes nobody adopted, and reap them."""
        for *_, process in self._processes:
            _kill(process)
        self._processes.clear()


def ahead(plan: Plan) -> list[Ahead]:
    """What spawn_first() spawns of `plan`: its plain commands that need nothing (no dependency,
    no port to check first, no socket, ready pipe or host of the runtime's to pass them)."""
    return [
        (list(spec.argv), str(spec.cwd), dict(spec.env))
        for spec in plan.specs
        if spec.kind == "command"
        and not spec.depends_on
        and spec.port is None
        and not spec.listen
        and spec.host is None
    ]


def spawn_first(root: str, python: str, first: Sequence[Ahead]) -> FirstSpawns | None:
    """Spawn `first` (ahead() of the plan of the project at `root`, whose interpreter is
    `python`); None when there is none, or when this is the runtime's to decide (a state file
    left, the lock taken, no pidfds to watch the processes with)."""
    if not first or not has_pidfd():
        return None
    directory = os.path.join(root, STATE_DIR)
    if os.path.exists(os.path.join(directory, STATE_FILE)):
        return None
    # The project's `.launcher/` exists already: the plan cache is in it.
    try:
        lock = take_lock(directory)
    except OSError:
        return None
    if lock is None:
        return None
    run_id = os.urandom(6).hex()
    reaper = launch(run_id)
    spawned = FirstSpawns(run_id, lock, reaper)
    # The orchestrator's base environment (Orchestrator._context()).
    base = {**launcher_environment(os.environ, python), "LAUNCHER_RUN": run_id}
    for argv, cwd, declared in first:
        env = child_environment(base, declared)
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except OSError:
            continue  # the runtime spawns it again, and says why it cannot
        if reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.write(f"add {process.pid}\n".encode())
        spawned.add(argv, cwd, env, process)
    return spawned


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the group of a process spawned ahead that is not to run, and reap it."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def has_pidfd() -> bool:
    """Linux 5.3 or later (os.pidfd_open exists wherever Python was built on a recent kernel)."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True
