"""The runner of a `task` service in multi mode:
`python -m launcher.child.task_runner [--app-dir DIR] module:attr` (in the project's interpreter,
`python CHILD_DIR task_runner ...`: see launcher/plan/childside.py).

It imports the module (DIR first on sys.path), checks that the attribute is an `async def`
taking no required arguments, and runs it. SIGTERM or SIGINT cancels the task and lets its
cleanup (`finally`, `async with`) run before the process exits. It tells the launcher when the
task is ready (launcher/child/task_ready.py): once it started, or when it calls `launcher.ready()`.

Exit codes: 0 when the task returned or was stopped by a signal; 1 when it raised; 2 when it
could not be loaded (bad path, import error, wrong shape).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from . import task_ready as taskready

TaskFunction = Callable[[], Coroutine[Any, Any, Any]]


class LoadError(Exception):
    pass


def resolve(path: str, what: str = "task") -> Any:
    """The object `module:attr` names (the module imported); LoadError when there is none."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise LoadError(f"{what} {path!r} is not of the form 'module:attr'")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise LoadError(f"{what} {path!r}: no module named {exc.name!r}") from None
        raise
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise LoadError(f"{what} {path!r}: {module_name!r} has no attribute {attribute!r}") from None
    return target


def load(path: str) -> TaskFunction:
    target = resolve(path)
    if not inspect.iscoroutinefunction(target) or _required(target):
        raise LoadError(f"task {path!r} must be an async function taking no required arguments")
    function: TaskFunction = target
    return function


def _required(function: Callable[..., Any]) -> bool:
    parameters = inspect.signature(function).parameters.values()
    return any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters)


async def run(function: TaskFunction) -> bool:
    """Run the task; True if a signal stopped it."""
    loop = asyncio.get_running_loop()
    pipe = os.environ.pop(taskready.READY_FD, None)  # not for the task's own children
    notify = _ReadyPipe(int(pipe)) if pipe else None
    taskready.notifier.set(notify)
    task = asyncio.ensure_future(function())
    if notify is not None and not taskready.reports(function):
        notify()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        await task
    except asyncio.CancelledError:
        if not stopped:
            raise
    return stopped


class _ReadyPipe:
    """The launcher's end of `launcher.ready()`: one line on the pipe it passed, then closed."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self) -> None:
        if self.fd < 0:
            return
        fd, self.fd = self.fd, -1
        with contextlib.suppress(OSError):  # the launcher stopped listening: nothing to tell
            os.write(fd, b"ready\n")
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="task_runner")
    parser.add_argument("--app-dir", default=".")
    parser.add_argument("task")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.app_dir)
    try:
        function = load(args.task)
    except LoadError as exc:
        print(f"error[LCH-2005]: {exc}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        print(f"error[LCH-2005]: task {args.task!r}: importing it raised (traceback above)", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(function))
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
