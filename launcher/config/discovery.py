"""Finding a project's configuration, walking up from a directory: in each directory,
`launcher.toml`, then `pyproject.toml` with a `[tool.launcher]` table, then a `Procfile`.

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
PROCFILE = "Procfile"


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
        procfile = os.path.join(directory, PROCFILE)
        if os.path.isfile(procfile):
            return procfile
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def is_procfile(path: str | os.PathLike[str]) -> bool:
    """Whether the loader reads `path` as a Procfile: any file that is not TOML."""
    return not os.fspath(path).endswith(".toml")


def procfile_note(verb: str) -> str:
    """The line a command says when the configuration it found is a Procfile."""
    return f"no {CONFIG_FILE}: {verb} the {PROCFILE} (honcho syntax)"


def not_found(start: str, hint: str) -> ConfigError:
    """LCH-1015 for a walk up from `start` that found nothing; `hint` says what to do."""
    from launcher.core.codes import Code
    from launcher.core.diagnostics import Diagnostic, Origin
    from launcher.core.errors import ConfigError

    message = (
        f"no {CONFIG_FILE} found in {start} or any parent directory "
        f"(nor a {PYPROJECT} with [tool.launcher], nor a {PROCFILE})"
    )
    return ConfigError([Diagnostic(Code.NO_CONFIG, message, Origin(start), hint)])


def _has_launcher_table(path: str) -> bool:
    # A look at the table headers, not a TOML parse (tomllib's import is not free): a
    # `[tool.launcher]` or `[tool.launcher.SOMETHING]` line. The loader reports a pyproject.toml
    # whose table is not one it reads.
    try:
        with open(path, errors="replace") as file:
            text = file.read()
    except OSError:
        return False
    for line in text.splitlines():
        header = line.strip().replace(" ", "")
        if header.startswith(("[tool.launcher]", "[tool.launcher.")):
            return True
    return False
