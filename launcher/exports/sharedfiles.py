"""Files that services share, for the container exports: each container has a filesystem of
its own, so a SQLite database that a migration writes and an API reads must be on a volume
both mount.

What counts: a variable of the project's image that names a database file (`*.sqlite`,
`*.sqlite3`, `*.db`, or a `sqlite:///` URL), resolved against the service's working directory,
in a directory that two or more services name. That directory becomes one volume, mounted
where it is in every service that names it.

Pure: a deployment in, volumes out.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from launcher.exports.deployment import Deployment

_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_SQLITE_URL = re.compile(r"^sqlite(?:\+\w+)?:///(?P<path>[^?#]+)")


@dataclass(frozen=True)
class SharedDirectory:
    """A directory shared between `units` (names), and the volume's name."""

    name: str
    path: str
    units: tuple[str, ...]


def shared_directories(deployment: Deployment) -> tuple[SharedDirectory, ...]:
    """The directories of database files that two or more services of the project's image
    name, in the order first named; the project's directory itself is never one (a volume
    there would hide the project)."""
    users: dict[str, list[str]] = {}
    root = posixpath.normpath(deployment.target.root)
    for unit in deployment.units:
        if unit.spec.image != deployment.target.image:
            continue
        for value in unit.env.values():
            path = data_file(value)
            if path is None:
                continue
            directory = posixpath.dirname(posixpath.normpath(posixpath.join(unit.cwd, path)))
            named = users.setdefault(directory, [])
            if unit.name not in named:
                named.append(unit.name)
    return tuple(
        SharedDirectory(volume_name(directory, root), directory, tuple(names))
        for directory, names in users.items()
        if len(names) > 1 and directory != root and directory != "/"
    )


def data_file(value: str) -> str | None:
    """The database file a variable names, as written (relative or absolute), else None."""
    match = _SQLITE_URL.match(value)
    if match:
        return match.group("path")
    if "://" in value or any(c.isspace() for c in value) or not value.endswith(_SUFFIXES):
        return None
    return value


def volume_name(directory: str, root: str) -> str:
    """A name both compose and Kubernetes take: `/app/.launcher` under `/app` is `shared-launcher`."""
    relative = posixpath.relpath(directory, root) if directory.startswith(root + "/") else directory
    label = re.sub(r"[^a-z0-9]+", "-", relative.lower()).strip("-")[:40].strip("-")
    return f"shared-{label}" if label else "shared"
