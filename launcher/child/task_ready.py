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
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

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
    if notify is not None:
        notify()
