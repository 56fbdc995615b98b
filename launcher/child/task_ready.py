"""The readiness call of a `task` service, in both modes.

A task without a probe is ready once it has started. One marked `@launcher.reports_ready` is
ready when it calls `launcher.ready()` (once it has connected to what it needs, say), so that
what depends on it waits until then:

    @launcher.reports_ready
    async def run() -> None:
        async with connect() as queue:
            launcher.ready()
            ...

The call goes to whoever runs the task: the shared host (in shared mode) or the task runner (in
multi mode, which passes it on over the pipe named by LAUNCHER_READY_FD). Outside the launcher
it does nothing, so a task can be run and tested on its own. Standard library only: a task
imports this.

The children run this package as `launcher_child` (launcher/plan/childside.py), whose notifier
the runner or the host sets. A task imports `launcher`: the stub that the child offers where the
project has no launcher (which is `launcher_child`'s ready), or launcher installed in the
project's environment, whose ready() tells the `launcher_child` copy where one is loaded.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from . import PACKAGE

F = TypeVar("F", bound=Callable[..., Any])

READY_FD = "LAUNCHER_READY_FD"
_MARK = "__launcher_reports_ready__"

# Set by the host (per hosted task, in its context) or by the runner.
notifier: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "launcher_readiness", default=None
)


def reports_ready(function: F) -> F:
    """Mark a task as one that says when it is ready, by calling `launcher.ready()`."""
    setattr(function, _MARK, True)
    return function


def reports(function: object) -> bool:
    return bool(getattr(function, _MARK, False))


def ready() -> None:
    """Tell the launcher that the calling task is ready; later calls do nothing."""
    notify = notifier.get()
    copy = sys.modules.get(f"{PACKAGE}.task_ready")
    if notify is None and copy is not None and copy.notifier is not notifier:
        notify = copy.notifier.get()
    if notify is not None:
        notify()
