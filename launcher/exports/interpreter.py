"""The project's interpreter where an export runs, and the PATH its processes get.

An engine runs a command as it is written, without launcher's PATH in front: `python` is then
whatever the machine calls that (Debian has none), and systemd refuses a command it cannot
find. So an export names the interpreter by its absolute path there: `--python`, else
`[launcher] python`, each relative to the project's directory there (`--root`) unless
absolute; else, exporting for this machine, the interpreter `run` would use here
(launcher/plan/interpreter.py); else `.venv/bin/python` under the root, which the image of a
container export holds (launcher/exports/dockerfile.py). `app` and `task` services run with it,
a command whose first word is `python` or `python3` too, and every process gets PATH with its
bin directory first, as under launcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

# What a service's PATH continues with: the usual directories of a Linux system.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The commands that mean "the project's interpreter" when they start a service's command.
PYTHON_WORDS = ("python", "python3")
VENV_PYTHON = ".venv/bin/python"


def resolve(
    given: str | None, setting: str | None, root: str, here: Path | None, environ: Mapping[str, str]
) -> str:
    """The interpreter's path where the export runs. `here`: the project's directory on this
    machine, when the export is for this machine (no --root, no container)."""
    chosen = given or setting
    if chosen and "/" in chosen:
        return str(PurePosixPath(root) / chosen)  # an absolute path stays as it is
    if here is not None:
        from launcher.plan.interpreter import project_python

        return project_python(here, chosen, environ)  # a command is looked for on PATH here
    return chosen or str(PurePosixPath(root) / VENV_PYTHON)  # a command: on PATH there


def with_python(argv: tuple[str, ...], python: str) -> tuple[str, ...]:
    """`argv` with its first word the project's interpreter when it says `python`."""
    return (python, *argv[1:]) if argv[:1] and argv[0] in PYTHON_WORDS else argv


def search_path(python: str, declared: str | None) -> str | None:
    """PATH with the interpreter's bin directory first (None: a bare command, nothing to add)."""
    if not python.startswith("/"):
        return None
    first = str(PurePosixPath(python).parent)
    rest = declared or SYSTEM_PATH
    return rest if rest.split(":")[:1] == [first] else f"{first}:{rest}"
