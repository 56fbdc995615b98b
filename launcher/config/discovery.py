"""Finding a project's configuration: the first `launcher.toml`, or `pyproject.toml` with a
`[tool.launcher]` table, walking up from a directory.

The one rule for the loader, the client commands (`status`, `logs`, ...) and a cached `check`.
The last two must not pay for the loader (pydantic), so this module imports os and nothing
else; the error classes only when nothing is found.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: importing typing costs ~6 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    from launcher.core.errors import ConfigError

CONFIG_FILE = "launcher.toml"
PYPROJECT = "pyproject.toml"


def find_config(start: str) -> str | None:
    """The configuration file found walking up from the directory `start`, or None."""
    directory = start
    while True:
        candidate = os.path.join(directory, CONFIG_FILE)
        if os.path.isfile(candidate):
            return candidate
        pyproject = os.path.join(directory, PYPROJECT)
        if _has_launcher_table(pyproject):
            return pyproject
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def not_found(start: str, hint: str) -> ConfigError:
    """LCH-1015 for a walk up from `start` that found nothing; `hint` says what to do."""
    from launcher.core.codes import Code
    from launcher.core.diagnostics import Diagnostic, Origin
    from launcher.core.errors import ConfigError

    message = f"no {CONFIG_FILE} found in {start} or any parent directory"
    return ConfigError([Diagnostic(Code.NO_CONFIG, message, Origin(start), hint)])


def _has_launcher_table(path: str) -> bool:
    # A text search, not a TOML parse (tomllib's import is not free); the loader reports a
    # pyproject.toml whose [tool.launcher...] is not the table it reads.
    try:
        with open(path, errors="replace") as file:
            return "[tool.launcher" in file.read()
    except OSError:
        return False
