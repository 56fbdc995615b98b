"""The run state of a stack in its project: the launcher lock, `.launcher/state.json`, and the
clean-up of what a crashed launcher of the same project left behind.

    run_state = RunState(plan.root, sink, run_id, plan.config_path)
    run_state.claim()              # refuse to run twice; reap a dead launcher's leftovers
    run_state.write(snapshot)      # or write_soon(make_snapshot), once per burst of changes
    run_state.release()            # remove the state file, then let the next launcher in

Once its state file is written, the stack is also listed in the user's registry of running
stacks (launcher/runtime/registry.py, read by `launcher ls`) until it is released.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import psutil

from launcher.core.errors import StackAlreadyRunning
from launcher.runtime import leftovers, registry, statefile
from launcher.runtime.output import Sink
from launcher.runtime.status import StackState, StackStatus

# State changes come in bursts (a level of services turning ready, then its dependents
# starting): the state file is rewritten at most once per this many seconds, off the path from
# one service's readiness to its dependents' spawn. Each write costs about a millisecond and more
# (an ext4 rename over a file flushes its data), so writing on every change delayed each level
# by several. The start and the stop end with a write of their own; the reaper, not this file,
# covers a launcher killed in between.
STATE_WRITE_DELAY = 0.05


class RunState:
    def __init__(self, root: Path, sink: Sink, run_id: str, config: Path, lock: int | None = None) -> None:
        """`lock`: the project's lock, taken already (launcher/runtime/firstspawn.py, which
        takes it only where no state file is left: claim() has nothing more to do)."""
        self.root = root
        self.config = config  # the configuration file, recorded for the client commands
        self.sink = sink
        self.run_id = run_id
        # The control API's unix socket, recorded for the clients. `launcher run` binds it (and
        # it listens) before the stack starts: a client that comes before the API serves it waits.
        self.api: str | None = None
        self._lock = lock  # the project's launcher lock (statefile.lock)
        self._pending: asyncio.TimerHandle | None = None
        self._unwritable = False  # said once: the state file could not be written
        self._registered: int | None = None  # the pid listed in the registry
        self._create_time = psutil.Process().create_time()

    @property
    def path(self) -> Path:
        return statefile.state_dir(self.root) / statefile.STATE_FILE

    def claim(self) -> None:
        """Refuse to run twice; reap what a crashed launcher of this project left behind."""
        if self._lock is not None:
            return
        self._lock = statefile.lock(self.root)
        previous = statefile.read(self.root)
        if self._lock is None:
            raise StackAlreadyRunning(self.path, previous.pid if previous else None)
        if previous is not None:
            self.sink.event("launcher", leftovers.reap_dead_stack(self.root, previous))

    def write(self, status: StackStatus) -> None:
        """Write the state file now (and drop a pending delayed write: this one covers it)."""
        self._cancel_pending()
        if status.state is StackState.STOPPED:
            return
        try:
            statefile.write(self.root, self._record(status))
        except OSError as exc:
            # The stack runs on; but `status` and the next run's clean-up after a crash need
            # this file, so say once that it is missing.
            if not self._unwritable:
                self._unwritable = True
                self.sink.event(
                    "launcher",
                    f"cannot write {self.path}: {exc.strerror or exc}; "
                    "`launcher status` will not find this stack",
                )
        else:
            self._unwritable = False
            if self._registered is None:
                self._register(status)

    def write_soon(self, status: Callable[[], StackStatus]) -> None:
        """Write within STATE_WRITE_DELAY, once for every change until then."""
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.call_later(STATE_WRITE_DELAY, lambda: self.write(status()))

    def release(self) -> None:
        """The stack has stopped: remove the state file, then the lock (last: the next launcher
        may start once the state is gone)."""
        self._cancel_pending()
        if self._registered is not None:
            registry.unregister(self.root, self._registered)
            self._registered = None
        statefile.remove(self.root)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _register(self, status: StackStatus) -> None:
        try:
            registry.register(self.root, status.stack, status.pid, self._create_time)
        except OSError as exc:  # the stack runs on; only `launcher ls` will not see it
            self.sink.event(
                "launcher",
                f"cannot write {registry.directory()}: {exc.strerror or exc}; "
                "`launcher ls` will not list this stack",
            )
        # Tried once, listed or not: the error is said once.
        self._registered = status.pid

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _record(self, status: StackStatus) -> statefile.StackRecord:
        services = [
            statefile.ServiceRecord(
                name=s.name,
                state=str(s.state),
                pid=s.pid,
                pgid=s.pgid,
                create_time=s.create_time,
                port=s.port,
                url=s.url,
                restarts=s.restarts,
                exit_code=s.exit_code,
                started_at=s.started_at,
                ready_at=s.ready_at,
            )
            for s in status.services
        ]
        return statefile.StackRecord(
            stack=status.stack,
            state=str(status.state),
            pid=status.pid,
            create_time=self._create_time,
            run_id=self.run_id,
            config=str(self.config.absolute()),
            profile=status.profile,
            mode=status.mode,
            started_at=status.started_at,
            api=self.api,
            services=services,
        )
