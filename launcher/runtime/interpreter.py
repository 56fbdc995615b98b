"""The project's interpreter, asked before anything runs in it (DESIGN.md 1): can it run the
plan's apps and tasks? It must exist, and for apps (their own servers, and the shared host's)
have uvicorn, UVICORN_FLOOR or later; `--debug` asks it for debugpy.

Found without importing them (an import costs, and runs their code): in the launcher's own
interpreter with importlib's find_spec (its uvicorn is launcher's dependency, of a version
launcher accepts); in any other with one short subprocess that does the same and reads the
installed version from the package's metadata. `check` and `run` ask, only for a plan that has
apps or tasks.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.core.errors import ConfigError
from launcher.plan.spec import Plan

# `--timeout-graceful-shutdown`, which an app's own server is given, came with uvicorn 0.22.
UVICORN_FLOOR = (0, 22)
# What the subprocess runs: the version of each module it finds, "-" for one it does not, "?"
# for one whose version it cannot read. Python 3.8 and later.
_PROBE = """
import importlib.util, sys
for name in sys.argv[1:]:
    version = "-"
    if importlib.util.find_spec(name) is not None:
        try:
            from importlib.metadata import version as installed
            version = installed(name)
        except Exception:
            version = "?"
    print(name, version)
"""
TIMEOUT = 30.0


class Unusable(Exception):
    """The interpreter cannot be run at all."""


def installed(python: str, modules: Sequence[str], cwd: Path) -> dict[str, str | None]:
    """The version of each of `modules` that `python` has ("" where it cannot tell), None for
    each it does not have; Unusable when it cannot be run. Looked for from `cwd`, as its
    children would find them."""
    if python == sys.executable:
        return {name: "" if importlib.util.find_spec(name) is not None else None for name in modules}
    if not modules:  # only whether it can be run at all: no need to run it
        if not os.access(python, os.X_OK) or os.path.isdir(python):
            raise Unusable("no such executable file")
        return {}
    return dict(_asked(python, tuple(modules), str(cwd)))


@functools.cache
def _asked(python: str, modules: tuple[str, ...], cwd: str) -> tuple[tuple[str, str | None], ...]:
    """One subprocess per interpreter and question (`run` asks once, `check` once per plan)."""
    try:
        done = subprocess.run(
            [python, "-c", _PROBE, *modules],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Unusable(f"it did not answer within {TIMEOUT:g}s") from None
    except OSError as exc:
        raise Unusable(exc.strerror or str(exc)) from None
    found = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    if done.returncode != 0 or set(found) != set(modules):
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise Unusable(last)
    return tuple((name, None if found[name] == "-" else found[name].replace("?", "")) for name in modules)


def require(plan: Plan, origin: Origin | None = None) -> None:
    """ConfigError (LCH-1038) when the plan's interpreter cannot run its apps and tasks;
    `origin` is where `[launcher] python` was set, if it was."""
    apps = list(dict.fromkeys(s.service for s in plan.specs if s.kind == "app"))
    if not apps and not any(s.kind == "task" for s in plan.specs):
        return
    python = plan.python or sys.executable
    shown = _shown(python, plan.root)
    try:
        versions = installed(python, ["uvicorn"] if apps else [], plan.root)
    except Unusable as exc:
        raise _error(
            f"the project's interpreter {shown} cannot be run ({exc})",
            origin,
            "create the project's virtualenv (`python3 -m venv .venv`), or set [launcher] python",
        ) from None
    if not apps:
        return
    version, serves = versions["uvicorn"], f"to serve the apps here ({', '.join(apps)})"
    floor = ".".join(map(str, UVICORN_FLOOR))
    if version is None:
        message = f"the project's interpreter {shown} has no uvicorn, which launcher needs {serves}"
        hint = f"install it there: `{python} -m pip install uvicorn`"
    elif version and _release(version) < UVICORN_FLOOR:
        message = f"the project's interpreter {shown} has uvicorn {version}"
        message += f"; launcher needs {floor} or later {serves}"
        hint = f"upgrade it there: `{python} -m pip install 'uvicorn>={floor}'`"
    else:
        return
    raise _error(message, origin, hint + ", or set [launcher] python to an interpreter that has it")


def _error(message: str, origin: Origin | None, hint: str) -> ConfigError:
    return ConfigError([Diagnostic(Code.INTERPRETER_CANNOT_RUN, message, origin, hint)])


def _shown(python: str, root: Path) -> str:
    """The interpreter as the user knows it: relative to the project's directory, within it."""
    try:
        return str(Path(python).relative_to(root))
    except ValueError:
        return python


def _release(version: str) -> tuple[int, ...]:
    """`0.20.0.post1` -> (0, 20, 0), `0.22rc1` -> (0, 22): the release's numbers."""
    release = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(n) for n in release.group().split(".")) if release else ()
