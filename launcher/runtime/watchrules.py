"""The rules of hot reload, without I/O: which file changes count, whose they are, which services
restart for them, and when a burst of changes is over.

    burst = Debouncer()
    burst.changed(path, now)          # each event, as the watcher reports it
    burst.deadline()                  # when the burst is over (None: nothing pending)
    files = burst.take()              # the changed files, once it is over
    restart_order(plan.specs, owners(plan.specs, files, root))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from launcher.plan.spec import ProcessSpec
from launcher.runtime.policy import followers

# Directories whose content never triggers: caches, VCS metadata, the launcher's own state.
IGNORED_DIRS = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".launcher"})
# Editors' swap and backup files (vim writes `4913` to test that a directory is writable,
# emacs `.#name` locks and `name~` backups) and compiled Python.
IGNORED_NAMES = ("*.swp", "*.swx", "*~", ".#*", "4913", "*.pyc")
# A burst is over once no change came for QUIET seconds (an editor's save is 3-4 events within
# a few milliseconds, a formatter's run of many files a few hundred), or MAX_WAIT seconds after
# its first change, so that a stream that never pauses still reloads. MAX_WAIT is above the one
# second of a long save storm (`git checkout`, a formatter over a tree): such a storm must stay
# one restart, not one plus a second for its tail.
QUIET = 0.1
MAX_WAIT = 2.0


def _relative(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


def ignored(path: Path, root: Path, patterns: Sequence[str] = ()) -> bool:
    """Whether a change of `path` never triggers: a default rule, or one of `patterns`.

    A pattern (`watch_ignore`) matches the path relative to the project `root` (`fnmatch`: `*`
    also matches `/`), or any one component of it: `"*.log"`, `"fixtures"`, `"api/tests/*"`.
    """
    relative = _relative(path, root)
    parts = relative.parts
    if any(part in IGNORED_DIRS for part in parts):
        return True
    if any(fnmatchcase(path.name, rule) for rule in IGNORED_NAMES):
        return True
    text = relative.as_posix()
    return any(fnmatchcase(text, p) or any(fnmatchcase(part, p) for part in parts) for p in patterns)


def watched_by(spec: ProcessSpec, path: Path, root: Path) -> bool:
    """Whether `path` is under one of the spec's watch paths (the path itself included), and
    not ignored for it."""
    inside = any(path == w or path.is_relative_to(w) for w in spec.watch)
    return inside and not ignored(path, root, spec.watch_ignore)


def owners(specs: Sequence[ProcessSpec], files: Iterable[Path], root: Path) -> list[str]:
    """The services (in the order of `specs`) that watch at least one of `files`."""
    files = list(files)
    return [s.name for s in specs if any(watched_by(s, f, root) for f in files)]


def restart_order(specs: Sequence[ProcessSpec], changed: Iterable[str]) -> list[str]:
    """What restarts when the services `changed` do, in dependency order (the order of `specs`).

    A hosted service (shared mode) restarts its host, and every service of a restarting host
    follows it (they run inside it); a service that declares `depends_on = { x = { restart =
    true } }` follows x, transitively. Nothing else.
    """
    by_name = {s.name: s for s in specs}
    chosen = {by_name[n].host or n for n in changed if n in by_name}
    chosen |= {s.name for s in specs if s.host is not None and s.host in chosen}
    chosen |= set(followers(specs, chosen))
    return [s.name for s in specs if s.name in chosen]


def short_list(files: Sequence[Path], root: Path, most: int = 3) -> str:
    """`api/routes.py, api/models.py and 4 more`: paths relative to the project."""
    names = [_relative(f, root).as_posix() for f in files]
    shown = ", ".join(names[:most])
    return f"{shown} and {len(names) - most} more" if len(names) > most else shown


@dataclass
class Burst:
    files: list[Path]
    first: float  # when its first change came (the clock of the Debouncer's callers)


@dataclass
class Debouncer:
    """Collects the changes of one burst; says when it is over (see QUIET and MAX_WAIT).

    Editors save atomically (write a temporary file, rename it over the target) or rename the
    target to a backup first: a file created and then moved away or removed within the burst
    is no change of its own (its destination is), and any other move counts as a removal of
    its source and a change of its destination.
    """

    quiet: float = QUIET
    max_wait: float = MAX_WAIT
    _files: dict[Path, None] = field(default_factory=dict)  # ordered: first change first
    _created: set[Path] = field(default_factory=set)
    _first: float | None = None
    _last: float | None = None

    def _touch(self, now: float) -> None:
        if self._first is None:
            self._first = now
        self._last = now

    def changed(self, path: Path, now: float, *, created: bool = False) -> None:
        self._files[path] = None
        if created:
            self._created.add(path)
        self._touch(now)

    def removed(self, path: Path, now: float) -> None:
        if path in self._created:  # came and went within the burst: a temporary file
            self._created.discard(path)
            self._files.pop(path, None)
        else:
            self._files[path] = None
        self._touch(now)

    def moved(self, source: Path | None, destination: Path | None, now: float) -> None:
        """A rename; None for a side that does not count (ignored, or not watched)."""
        if source is not None:
            self.removed(source, now)
        if destination is not None:
            self.changed(destination, now)

    def deadline(self) -> float | None:
        """When the pending burst is over; None when nothing is pending."""
        if self._first is None or self._last is None:
            return None
        return min(self._last + self.quiet, self._first + self.max_wait)

    def take(self) -> Burst | None:
        """The burst's files (None if they all cancelled out), and start a new burst."""
        first = self._first
        files = list(self._files)
        self._files, self._created, self._first, self._last = {}, set(), None, None
        if not files or first is None:
            return None
        return Burst(files, first)
