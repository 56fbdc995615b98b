"""Where an `app`'s or a `task`'s module is, found without importing it.

The service's process imports `pkg.sub.mod` with the service's cwd first on `sys.path`, so it is
looked for there as the import system would find it: `pkg/sub/mod.py`, `pkg/sub/mod/__init__.py`,
a namespace package directory `pkg/sub/mod/`, or an extension module (`pkg/sub/mod.*.so`).
What the project's environment has installed is not looked at: a module that is only there is
reported as not found under the cwd.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from launcher.config.model import Service
from launcher.config.sources import Key
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin, display_path

_SUFFIXES = (".py", ".so", ".pyd")


def module_path(dotted: str, cwd: Path) -> Path | None:
    """The file or directory of module `dotted` under `cwd`, or None."""
    *packages, last = dotted.split(".")
    directory = cwd.joinpath(*packages)
    if not directory.is_dir():
        return None
    if (directory / f"{last}.py").is_file():
        return directory / f"{last}.py"
    if (directory / last).is_dir():
        return directory / last
    return next(directory.glob(f"{last}.*.so"), None) or next(directory.glob(f"{last}.so"), None)


def missing_module(
    name: str, service: Service, cwd: Path, origin: Callable[[Key], Origin]
) -> list[Diagnostic]:
    """LCH-1037 when the module of service `name`'s app or task is not under `cwd`."""
    field = "app" if service.app is not None else "task"
    target = service.app or service.task
    if target is None:
        return []
    dotted = target.partition(":")[0]
    if module_path(dotted, cwd) is not None:
        return []
    where = f"{display_path(cwd)} (the service's cwd)"
    return [
        Diagnostic(
            Code.MODULE_NOT_FOUND,
            f"services.{name}.{field}: module '{dotted}' not found under {where}",
            origin(("services", name, field)),
            _suggestion(dotted, cwd)
            or f"create {dotted.replace('.', '/')}.py under the service's cwd, or set cwd to the directory"
            f" that {dotted.split('.')[0]} is imported from",
        )
    ]


def _suggestion(dotted: str, cwd: Path) -> str | None:
    """A close name for the first part of `dotted` that is not there, among the modules and
    packages of the directory it was looked for in."""
    import difflib  # a missing module's only

    parts = dotted.split(".")
    directory = cwd
    for i, part in enumerate(parts):
        if module_path(part, directory) is None:
            close = difflib.get_close_matches(part, _modules_in(directory), n=1, cutoff=0.6)
            return f"did you mean '{'.'.join([*parts[:i], close[0], *parts[i + 1 :]])}'?" if close else None
        directory = directory / part
    return None


def _modules_in(directory: Path) -> list[str]:
    """The names of the modules and packages (directories) directly in `directory`."""
    if not directory.is_dir():
        return []
    names = []
    for entry in directory.iterdir():
        if entry.name.startswith(".") or entry.name in ("__pycache__", "__init__.py"):
            continue
        if entry.is_dir():
            names.append(entry.name)
        elif entry.suffix in _SUFFIXES:
            names.append(entry.name.split(".")[0])
    return sorted(set(names))
