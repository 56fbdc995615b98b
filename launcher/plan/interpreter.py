"""The project's interpreter: what `app` and `task` services, the shared host and `--debug` run
with, and whose bin directory comes first on every child's PATH (DESIGN.md 1).

`[launcher] python` (a path relative to the configuration file, or a command on PATH); else
`.venv/bin/python` beside the configuration file when it exists; else `$VIRTUAL_ENV/bin/python`
when that is set; else the interpreter running the launcher. So a launcher installed once as a
tool serves any project with the project's own interpreter, and a project's `uvicorn` or
`celery` is the project's own.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path


def project_python(root: Path, setting: str | None, environ: Mapping[str, str]) -> str:
    """The interpreter's path (absolute where it could be found; as written otherwise, so that
    the error of running it names what the user wrote)."""
    if setting:
        if os.sep in setting or setting.startswith("."):
            return str((root / setting).absolute())
        found = shutil.which(setting, path=environ.get("PATH", os.defpath))
        return found or setting
    venv = root / ".venv" / "bin" / "python"
    if venv.exists():
        return str(venv.absolute())
    active = environ.get("VIRTUAL_ENV")
    if active and (Path(active) / "bin" / "python").exists():
        return str(Path(active) / "bin" / "python")
    return sys.executable
