"""A cache of successful `launcher check` results, so that re-checking an unchanged
configuration does not pay pydantic's import (about 100 ms) again.

An entry remembers every input of the check: the content hash of each file read (and which
looked-for files were absent), that each app's and task's module is still there, the value
of every environment variable the files refer to or the launcher reads, the arguments and the
launcher version. It is used only when all of them
are unchanged. Only successes are cached: a failing check always runs in full, so its
diagnostics are always fresh. Stdlib only, on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from launcher.version import __version__

_REFERENCE = re.compile(rb"\$\{([A-Za-z_][A-Za-z0-9_]*)")
LAUNCHER_VARIABLES = (
    "LAUNCHER_MODE",
    "LAUNCHER_PROFILE",
    "LAUNCHER_PORTS",
    "LAUNCHER_START_TIMEOUT",
    "LAUNCHER_STOP_TIMEOUT",
    "LAUNCHER_LOG_FORMAT",
    "LAUNCHER_LOG_LEVEL",
)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _entry_path(root: Path, key: Sequence[str]) -> Path:
    name = hashlib.sha256("\0".join([__version__, *key]).encode()).hexdigest()[:24]
    return root / ".launcher" / "cache" / f"check-{name}.json"


def _profile_files(root: Path) -> list[Path]:
    directory = root / "profiles"
    return sorted(directory.glob("*.toml")) if directory.is_dir() else []


def lookup(root: Path, key: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The cached output of a successful check with these inputs, or None."""
    try:
        entry = json.loads(_entry_path(root, key).read_text())
    except (OSError, ValueError):
        return None
    files: dict[str, str | None] = entry.get("files", {})
    if sorted(files) != sorted({*files, *map(str, _profile_files(root))}):
        return None  # a profile file appeared
    if any(_digest(Path(path)) != digest for path, digest in files.items()):
        return None
    if any(environ.get(name) != value for name, value in entry.get("env", {}).items()):
        return None
    if not all(os.path.exists(path) for path in entry.get("present", [])):
        return None  # an app's or a task's module is gone
    output = entry.get("output")
    return output if isinstance(output, str) else None


def store(
    root: Path,
    key: Sequence[str],
    files: Iterable[Path],
    environ: Mapping[str, str],
    output: str,
    present: Iterable[Path] = (),
) -> None:
    """Remember a successful check of `files` (their content), and of `present` (only that they
    exist); failures to write are not errors (it is only a cache)."""
    paths = sorted({*map(Path, files), *_profile_files(root)})
    digests = {str(p): _digest(p) for p in paths}
    names = set(LAUNCHER_VARIABLES)
    for path in paths:
        try:
            names.update(m.decode() for m in _REFERENCE.findall(path.read_bytes()))
        except OSError:
            continue
    entry = {
        "files": digests,
        "env": {n: environ.get(n) for n in sorted(names)},
        "present": sorted(map(str, present)),
        "output": output,
    }
    target = _entry_path(root, key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(entry))
        os.replace(temp, target)
    except OSError:
        return
