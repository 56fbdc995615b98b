"""How launcher's child programs run in the project's interpreter (DESIGN.md 1).

The task runner and the shared host (launcher/child) need only the standard library and, for
apps, uvicorn: they run in the project's interpreter, which need not have launcher installed, so
that a launcher installed once as a tool serves any project, whatever it pins. They come from a
directory in the user's cache, one per launcher installation, that the launcher writes before
its first child starts (launcher/runtime/childpath.py):

    ${XDG_CACHE_HOME:-~/.cache}/launcher/child/KEY/
        run/__main__.py             `python .../run PROGRAM ARGS...` runs launcher_child.PROGRAM
        run/launcher_child          a symbolic link to this launcher's launcher/child
        stub/launcher/__init__.py   `launcher.ready` and `launcher.reports_ready` for a project
                                    that has no launcher, put last on the child's import path

Running the directory `run` makes it the first entry of the child's import path, and it holds
nothing but launcher_child: never the tool's site-packages, whose pydantic or uvicorn would
shadow the project's own. Nothing is added to the child's environment (PYTHONPATH), so the
processes a task starts get the project's environment as it is. A link rather than a copy: the
children run the installed files themselves (an editable install's, measured by coverage), and
KEY changes with the installation and with the two files written here.

Where launcher is installed beside the children (exports: their target's interpreter), they
run `python -m launcher.child.PROGRAM` instead.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from launcher import child
from launcher.child import PACKAGE

RUN = "run"  # the directory the child runs: its first import path entry
STUB = "stub"  # the directory of the stub `launcher`, appended to the import path

MAIN_TEXT = f'''"""launcher's child programs in the project's interpreter (written by launcher).

`python THIS_DIRECTORY PROGRAM ARGS...` runs {PACKAGE}.PROGRAM (task_runner, shared_host).
"""
import os
import sys
from importlib import import_module

if __name__ == "__main__":
    # `launcher` for a project that has none (launcher.ready, launcher.reports_ready): last on
    # the import path, so that a launcher installed in the project's environment comes first.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.append(os.path.join(os.path.dirname(here), "{STUB}"))
    program = import_module("{PACKAGE}." + sys.argv[1])
    sys.exit(program.main(sys.argv[2:]))
'''

STUB_TEXT = f'''"""launcher's task API for a project that does not install launcher (written by launcher).

Offered to launcher's child programs last on the import path: an installed launcher comes first.
"""
from {PACKAGE}.task_ready import ready, reports_ready

__all__ = ["ready", "reports_ready"]
'''


@dataclass(frozen=True)
class ChildSide:
    """How the children run launcher's programs (task_runner, shared_host): with `python`,
    from `directory` (None: launcher is installed where they run)."""

    python: str
    directory: Path | None = None

    def argv(self, program: str, *args: str) -> tuple[str, ...]:
        if self.directory is None:
            return (self.python, "-m", f"launcher.child.{program}", *args)
        return (self.python, str(self.directory / RUN), program, *args)


def in_cache(python: str, environ: Mapping[str, str]) -> ChildSide:
    """The child side for the project's interpreter `python`, from the user's cache."""
    cache = environ.get("XDG_CACHE_HOME")
    if not cache or not os.path.isabs(cache):
        cache = os.path.join(os.path.expanduser("~"), ".cache")
    return ChildSide(python, Path(cache) / "launcher" / "child" / _key())


def source() -> Path:
    """The installed launcher/child, which `run/launcher_child` links to."""
    return Path(child.__file__).resolve().parent


@functools.cache
def _key() -> str:
    digest = hashlib.sha256()
    for part in (str(source()), MAIN_TEXT, STUB_TEXT):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]
