"""A child's environment, built here and nowhere else.

    base = launcher_environment(os.environ, plan.python)  # once per stack
    env = child_environment(base, spec.env, inherited)  # per spawn

Later wins: the launcher's environment (the project's interpreter's bin directory first on
PATH), then
what the plan declared for the process (its spec's env, final), then the variables that only
the spawn knows: the descriptors the child inherits (its listening sockets, a task's ready
pipe, the shared host's control socket).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def launcher_environment(environ: Mapping[str, str], python: str = "") -> dict[str, str]:
    """The base of every child's environment, and of `run -- CMD`'s and `exec`'s: `python` is
    the project's interpreter (launcher/plan/interpreter.py; default: the launcher's)."""
    env = dict(environ)
    # Commands that say `python`, `uvicorn` or `celery` mean the project's (as npm puts
    # node_modules/.bin first): its interpreter's directory comes first on PATH.
    bindir = str(Path(python or sys.executable).parent)
    path = env.get("PATH", "")
    if path.split(os.pathsep)[0] != bindir:
        env["PATH"] = bindir + (os.pathsep + path if path else "")
    return env


def child_environment(
    base: Mapping[str, str], declared: Mapping[str, str], inherited: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {**base, **declared, **(inherited or {})}
