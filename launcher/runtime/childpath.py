"""The directory of launcher's child programs, written before the first child starts.

What it holds, and why, is launcher/plan/childside.py's; the plan names it (Plan.child_dir).
It is written once per launcher installation, atomically: built in a temporary directory beside
it, then renamed into place, so that a launcher starting at the same time, or one killed while
writing, never leaves a half-written one that the others would take as complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from launcher.child import PACKAGE
from launcher.core.errors import LauncherError
from launcher.plan import childside


def ensure(directory: Path) -> None:
    """Write the directory unless it is there (LauncherError when it cannot be written)."""
    if directory.is_dir():
        return
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=directory.parent))
    except OSError as exc:
        raise _unwritable(directory, exc) from None
    try:
        _write(building)
        with contextlib.suppress(OSError):  # another launcher got there first: theirs is the same
            os.rename(building, directory)
        if not directory.is_dir():
            raise _unwritable(directory, OSError(f"cannot rename {building} to {directory.name}"))
    except OSError as exc:
        raise _unwritable(directory, exc) from None
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _write(building: Path) -> None:
    run = building / childside.RUN
    run.mkdir()
    (run / "__main__.py").write_text(childside.MAIN_TEXT)
    (run / PACKAGE).symlink_to(childside.source(), target_is_directory=True)
    stub = building / childside.STUB / "launcher"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(childside.STUB_TEXT)


def _unwritable(directory: Path, exc: OSError) -> LauncherError:
    return LauncherError(
        f"cannot write launcher's child programs to {directory}: {exc.strerror or exc}"
        " (set XDG_CACHE_HOME to a directory you can write)"
    )
