"""The watchdog side of hot reload: observe paths, hand each file event to the event loop.

    watcher = Watcher(paths, on_change)    # on_change(kind, path, destination) runs on the loop
    note = await watcher.start()           # None, or a line saying it polls instead of inotify
    ...
    await watcher.aclose()

watchdog calls its handlers on its own threads: events cross to the loop with
`loop.call_soon_threadsafe` only (a `create_task` or `Event.set` from there may never wake the
loop). Starting and stopping the observer block (a recursive inotify watch walks the tree, and
stopping joins threads), so they run in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

Kind = Literal["created", "modified", "deleted", "moved", "closed"]
# Told of one event on the loop: its kind, its path, and a move's destination (else None).
OnChange = Callable[[Kind, Path, Path | None], None]
ObserverFactory = Callable[[], BaseObserver]
POLL_INTERVAL = 0.5  # seconds between two scans of the polling fallback
JOIN_TIMEOUT = 2.0
# "closed" is a close after a write (`touch` writes nothing, but closes a file opened for
# writing). Opened events, and closed ones without a write, come from reads (a restarting
# service imports its own modules): counting them would reload forever, so they are not even
# asked for. Directory events come with events of their files.
WANTED: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileClosedEvent,
]
COUNTED: frozenset[str] = frozenset(e.event_type for e in WANTED)


def roots(paths: Iterable[Path]) -> tuple[list[tuple[Path, bool]], list[Path]]:
    """What to schedule, as (directory, recursive) pairs, and the paths that do not exist.

    A watched directory is watched recursively; a watched file through its directory (not
    recursively), since an atomic save replaces the file's inode and a watch on the file itself
    would go with it. A directory inside another watched one is not scheduled twice.
    """
    wanted: dict[Path, bool] = {}
    missing: list[Path] = []
    for path in dict.fromkeys(p.resolve() for p in paths):
        if path.is_dir():
            wanted[path] = True
        elif path.exists():
            wanted.setdefault(path.parent, False)
        else:
            missing.append(path)
    recursive = [p for p, r in wanted.items() if r]
    kept = [(p, r) for p, r in wanted.items() if not any(q != p and p.is_relative_to(q) for q in recursive)]
    return kept, missing


class _Relay(FileSystemEventHandler):
    def __init__(self, loop: asyncio.AbstractEventLoop, on_change: OnChange) -> None:
        self._loop, self._on_change = loop, on_change

    def on_any_event(self, event: FileSystemEvent) -> None:  # on an observer thread
        if event.is_directory or event.event_type not in COUNTED:
            return
        kind: Kind = event.event_type  # type: ignore[assignment]  # one of COUNTED
        path = Path(os.fsdecode(event.src_path))
        destination = Path(os.fsdecode(event.dest_path)) if event.dest_path else None
        with contextlib.suppress(RuntimeError):  # the loop is closed: the run is over
            self._loop.call_soon_threadsafe(self._on_change, kind, path, destination)


class Watcher:
    def __init__(
        self,
        directories: Sequence[tuple[Path, bool]],
        on_change: OnChange,
        *,
        observer: ObserverFactory = Observer,
    ) -> None:
        self.directories = list(directories)
        self.on_change = on_change
        self._factory = observer
        self._observer: BaseObserver | None = None
        self.polling = False

    async def start(self) -> str | None:
        """Start observing; a line to show when it fell back to polling, else None."""
        relay = _Relay(asyncio.get_running_loop(), self.on_change)
        try:
            self._observer = await asyncio.to_thread(self._started, self._factory(), relay)
            return None
        except OSError as exc:
            # The per-user inotify limits (watches: ENOSPC, instances: EMFILE) are reached
            # easily by recursive watches of big trees; polling is slower but always works.
            self._observer = await asyncio.to_thread(
                self._started, PollingObserver(timeout=POLL_INTERVAL), relay
            )
            self.polling = True
            return f"watch: {_why(exc)}; polling every {POLL_INTERVAL:g}s instead"

    def _started(self, observer: BaseObserver, relay: _Relay) -> BaseObserver:
        try:
            for path, recursive in self.directories:
                observer.schedule(relay, str(path), recursive=recursive, event_filter=WANTED)
            observer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                observer.stop()  # emitters that did start are stopped with it
            raise
        return observer

    async def aclose(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            await asyncio.to_thread(_stop, observer)


def _stop(observer: BaseObserver) -> None:
    observer.stop()
    observer.join(JOIN_TIMEOUT)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the inotify watch limit is reached ({exc}; raise fs.inotify.max_user_watches)"
    if exc.errno == errno.EMFILE:
        return f"the inotify instance limit is reached ({exc}; raise fs.inotify.max_user_instances)"
    return f"inotify is not available ({exc})"
