"""Hot reload (`run --watch`): restart exactly the services whose watched files changed.

    watching = await Reloader(orchestrator).start()   # once the stack has started
    ...
    await watching.aclose()                           # before orchestrator.stop()

One task takes the debounced bursts one at a time: a change that comes during a restart joins
the next burst, which is taken once that restart is over. So a service is never restarted by
two reloads at once, and a whole burst during a restart is exactly one more restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

from launcher.runtime import watchrules
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.tasks import TaskScope
from launcher.runtime.watching import Kind, ObserverFactory, Watcher, roots


class Reloader:
    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.plan = orchestrator.plan
        # Resolved, as the watcher schedules (and so reports) them.
        self.root = self.plan.root.resolve()
        self.specs = [
            dataclasses.replace(s, watch=tuple(p for w in s.watch for p in _resolved(w)))
            for s in self.plan.specs
        ]
        self.clock = orchestrator.clock
        self.debouncer = watchrules.Debouncer()
        self._wake = asyncio.Event()
        self._scope = TaskScope()  # the reload loop
        self._watcher: Watcher | None = None

    async def start(self, *, observer: ObserverFactory | None = None) -> Reloader:
        """Watch every service's `watch` paths; print what is watched, and any fallback."""
        sink = self.orchestrator.sink
        specs = [s for s in self.specs if s.watch]
        directories, missing = roots(p for s in specs for p in s.watch)
        for path in missing:
            sink.event("launcher", f"watch: {self._short(path)} does not exist; not watched")
        extra = {} if observer is None else {"observer": observer}
        self._watcher = Watcher(directories, self.changed, **extra)
        note = await self._watcher.start()
        if note:
            sink.event("launcher", note)
        names = ", ".join(s.name for s in specs) or "no service (none has watch paths)"
        sink.event("launcher", f"watching for changes: {names}")
        self._scope.spawn(self._run())
        return self

    async def aclose(self) -> None:
        if self._watcher is not None:
            await self._watcher.aclose()
            self._watcher = None
        await self._scope.aclose()

    # -- events (on the loop) ------------------------------------------------------------

    def changed(self, kind: Kind, path: Path, destination: Path | None) -> None:
        now = self.clock.now()
        counted = self._counted(path)
        if kind == "moved":
            target = destination if destination is not None and self._counted(destination) else None
            if not counted and target is None:
                return
            self.debouncer.moved(path if counted else None, target, now)
        elif not counted:
            return
        elif kind == "deleted":
            self.debouncer.removed(path, now)
        else:
            self.debouncer.changed(path, now, created=kind == "created")
        self._wake.set()

    def _counted(self, path: Path) -> bool:
        return any(watchrules.watched_by(s, path, self.root) for s in self.specs)

    # -- reloads -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            deadline = self.debouncer.deadline()
            if deadline is None or deadline > self.clock.now():
                self._wake.clear()
                wait = None if deadline is None else deadline - self.clock.now()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                continue
            burst = self.debouncer.take()
            if burst is not None:
                await self.reload(burst)

    async def reload(self, burst: watchrules.Burst) -> None:
        """Restart the services of `burst`'s files and their followers; print one line."""
        root = self.root
        names = watchrules.restart_order(self.specs, watchrules.owners(self.specs, burst.files, root))
        if not names:
            return
        ready = await self.orchestrator.restart_services(names)
        took = self.clock.now() - burst.first
        files = watchrules.short_list(burst.files, root)
        snapshot = self.orchestrator.snapshot()
        failed = [snapshot.service(name) for name, ok in ready.items() if not ok]
        outcome = (
            f"ready again in {took:.2f}s"
            if not failed
            else "; ".join(f"{s.name} is {s.state}: {s.reason}" for s in failed)
        )
        self.orchestrator.sink.event(
            "launcher", f"reload: {files} changed -> restarted {', '.join(names)}, {outcome}"
        )

    def _short(self, path: Path) -> str:
        return watchrules.short_list([path], self.root)


def _resolved(path: Path) -> tuple[Path, ...]:
    """The paths as the watcher reports them. The default watch of an app or task that is a module
    of its own (`main:app`) names `main`: its file is `main.py`, and the modules it imports from
    beside it (`settings.py`, `models.py`) are the Python files of its directory, all watched."""
    path = path.resolve()
    module = path.with_name(path.name + ".py")
    if path.exists() or not module.is_file():
        return (path,)
    return tuple(sorted(module.parent.glob("*.py")))
