"""The plan `run` made last time, kept under `.launcher/cache/`, so that a `run` of an unchanged
project spawns its first services without forking a planning child (pydantic, the configuration
model and the compiler: 100-180 ms).

An entry is the plan, the output's format and the warnings the load printed, with everything
they were made from:

- the key (the entry's file name): the launcher's version and interpreter, the working
  directory, the configuration file found from it (or `-f`), the arguments that shape the plan
  (profile, services, --mode, --no-deps, -e, --log-format) and whether stdout is a terminal
  (mode auto looks);
- checked on use: the content of every file the load read or looked for (launcher.toml or the
  pyproject.toml or Procfile found, launcher.local.toml, `profiles/*.toml` and which there are,
  every env file), a digest of the whole environment (the plan interpolates it), the project's
  interpreter and its site-packages (`run` refuses an interpreter without uvicorn), the answer
  of every "is this port taken" the plan asked (an automatic port moves past a taken one), and
  the launcher's own planning code (its files' sizes and times).

Anything that differs is a miss, and `run` plans in its child as before, which stores the new
entry. So is an entry that cannot be read or unpickled: never an error. `--debug` (or a profile's
`debug`) is never cached: it asks the interpreter for debugpy and its port each time.

The entry's head is builtins only: checking it imports nothing of the plan's (dataclasses and
pathlib alone cost some 20 ms); the plan is unpickled only once it holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys

from launcher.version import __version__

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any, Literal

    from launcher.config.loader import Loaded
    from launcher.core.diagnostics import Diagnostic
    from launcher.plan.spec import Plan
    from launcher.runtime.firstspawn import Ahead

CACHE_DIR = os.path.join(".launcher", "cache")
FORMAT = 2  # of an entry; a change makes older ones misses
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What makes the plan, besides the configuration model's and compiler's dependencies: a change
# of any of these files (an editable install being worked on) makes every entry a miss.
PLANNING_CODE = ("config", "plan", "core")
PLANNING_FILES = ("cli/project.py", "cli/planning.py", "cli/plancache.py", "runtime/interpreter.py")


class Cached:
    """A plan served from the cache: what the planning child would have sent, and the warnings
    it would have printed. `first` and `root` come from the entry's head; the plan is unpickled
    (importing its classes) only when asked for, after `run` has spawned `first`."""

    def __init__(self, head: dict[str, Any], payload: bytes) -> None:
        self.root: str = head["root"]
        self.python: str = head["python"]
        self.first: list[Ahead] = head["first"]
        self.has_warnings: bool = head["warnings"]
        self._payload = payload
        self._unpickled: tuple[Plan, Literal["text", "json"], list[Diagnostic]] | None = None

    def _loaded(self) -> tuple[Plan, Literal["text", "json"], list[Diagnostic]]:
        if self._unpickled is None:
            self._unpickled = pickle.loads(self._payload)
        return self._unpickled

    @property
    def plan(self) -> Plan:
        return self._loaded()[0]

    @property
    def log_format(self) -> Literal["text", "json"]:
        return self._loaded()[1]

    @property
    def warnings(self) -> list[Diagnostic]:
        return self._loaded()[2] if self.has_warnings else []


class Entry:
    """Where the entry of one `run` command line is, and the environment's digest: computed
    once, before the planning child forks, so that the child stores what the parent looks up."""

    def __init__(self, root: str, path: str, environ: str) -> None:
        self.root = root
        self.path = path
        self.environ = environ


def entry_for(args: argparse.Namespace) -> Entry | None:
    """The entry `run` with `args` uses here; None when it is not cached (--debug, or no
    configuration found: the loader says why)."""
    if getattr(args, "debug", None):
        return None
    cwd = os.getcwd()
    if getattr(args, "file", None):
        config: str | None = os.path.abspath(os.path.join(cwd, args.file))
    else:
        from launcher.config import discovery

        config = discovery.find_config(cwd)
    if config is None:
        return None
    parts = [
        str(FORMAT),
        __version__,
        sys.executable,
        cwd,
        config,
        repr(list(args.words)),
        repr(args.profile),
        repr(args.mode),
        repr(bool(args.no_deps)),
        repr(getattr(args, "env_file", None)),
        repr(getattr(args, "log_format", None)),
        repr(_isatty()),
    ]
    name = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]
    root = os.path.dirname(config)
    return Entry(root, os.path.join(root, CACHE_DIR, f"plan-{name}.pickle"), _environ_digest(os.environ))


def lookup(entry: Entry) -> Cached | None:
    """The plan of `entry` when everything it was made from is unchanged; None otherwise."""
    try:
        with open(entry.path, "rb") as file:
            head, payload = pickle.loads(file.read())
        if not _holds(head, entry):
            return None
        cached = Cached(head, payload)
        if cached.has_warnings:
            cached.warnings  # noqa: B018 (unpickled now: an entry that cannot be is a miss)
        return cached
    except Exception:  # unreadable, truncated, of other code, not ours: any of them is a miss
        return None


def store(
    entry: Entry,
    loaded: Loaded,
    plan: Plan,
    log_format: Literal["text", "json"],
    taken: Mapping[int, bool],
) -> None:
    """Keep the plan `run` made of `loaded`; failing to is not an error (it is only a cache)."""
    if loaded.debug:  # a profile's `debug`: asked for each run, as `--debug` is
        return
    root = loaded.root
    files = [loaded.path, root / "launcher.local.toml", *_profile_files(str(root)), *loaded.env_files.paths]
    from launcher.runtime.firstspawn import ahead

    temporary = f"{entry.path}.{os.getpid()}.tmp"
    try:
        head = {
            "files": {str(path): _digest(str(path)) for path in files},
            "profiles": _profile_files(entry.root),  # as lookup() lists them
            "environ": entry.environ,
            "stats": {path: _stat(path) for path in _interpreter_paths(root, plan)},
            "taken": dict(taken),
            "code": _code_signature(),
            "root": str(root),
            "python": plan.python,
            "first": ahead(plan),
            "warnings": bool(loaded.env_files.warnings),
        }
        payload = pickle.dumps((plan, log_format, list(loaded.env_files.warnings)))
        from launcher.runtime.statefile import make_state_dir

        make_state_dir(root)
        os.makedirs(os.path.dirname(entry.path), exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(pickle.dumps((head, payload)))
        os.replace(temporary, entry.path)
    except (OSError, pickle.PicklingError):
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def clear(root: Path) -> None:
    """Remove every plan kept for the project at `root`."""
    directory = root / CACHE_DIR
    for path in directory.glob("plan-*.pickle") if directory.is_dir() else []:
        with contextlib.suppress(OSError):
            path.unlink()


def _holds(head: dict[str, Any], entry: Entry) -> bool:
    files: dict[str, str | None] = head["files"]
    stats: dict[str, tuple[int, int, int] | None] = head["stats"]
    taken: dict[int, bool] = head["taken"]
    if head["environ"] != entry.environ or head["code"] != _code_signature():
        return False
    if head["profiles"] != _profile_files(entry.root):
        return False  # a profile file came or went
    if any(_digest(path) != digest for path, digest in files.items()):
        return False
    if any(_stat(path) != stat for path, stat in stats.items()):
        return False
    if taken:
        from launcher.runtime.sockets import port_is_free

        return all(port_is_free(port) is not was for port, was in taken.items())
    return True


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except OSError:
        return None


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_size, found.st_mtime_ns, found.st_ino)


def _environ_digest(environ: Mapping[str, str]) -> str:
    """The whole environment: the plan reads it (interpolation, the services' environment, mode
    auto's and the interpreter's choices) in more places than can be listed."""
    digest = hashlib.sha256()
    for name, value in sorted(environ.items()):
        digest.update(f"{name}={value}\0".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _profile_files(root: str) -> list[str]:
    directory = os.path.join(root, "profiles")
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".toml"))
    except OSError:
        return []
    return [os.path.join(directory, name) for name in names]


def _interpreter_paths(root: Path, plan: Plan) -> list[str]:
    """What the project's interpreter was chosen by (`.venv/bin/python` when there is one), and
    what says whether it has uvicorn: its site-packages, whose time changes on an install or an
    uninstall."""
    paths = [str(root / ".venv" / "bin" / "python")]
    if plan.python:
        paths.append(plan.python)
        prefix = os.path.dirname(os.path.dirname(plan.python))
        lib = os.path.join(prefix, "lib")
        with contextlib.suppress(OSError):
            versions = [name for name in os.listdir(lib) if name.startswith("python")]
            paths += sorted(os.path.join(lib, name, "site-packages") for name in versions)
    return paths


def _code_signature() -> list[tuple[str, int, int]]:
    found = []
    for directory in PLANNING_CODE:
        with contextlib.suppress(OSError), os.scandir(os.path.join(PACKAGE, directory)) as entries:
            for item in entries:
                if item.name.endswith(".py"):
                    stat = item.stat()
                    found.append((f"{directory}/{item.name}", stat.st_size, stat.st_mtime_ns))
    for name in PLANNING_FILES:
        stat = os.stat(os.path.join(PACKAGE, name))
        found.append((name, stat.st_size, stat.st_mtime_ns))
    return sorted(found)


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
