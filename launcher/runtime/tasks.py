"""Ownership of tasks: every task the runtime starts belongs to a scope that ends it.

The orchestrator's and each supervisor's tasks live in a `TaskScope`: closing the scope
cancels what is still running and waits for it, so no task outlives its owner (as trio's
nurseries and asyncio.TaskGroup promise; a scope, unlike a TaskGroup, is not tied to one
`async with` block, since a stack starts in one call and stops in another). `first()` is the
one "wait for whichever comes first" of the runtime: the others are cancelled and awaited
before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class TaskScope:
    """A set of tasks with one owner. `aclose()` cancels the tasks still running and waits for
    them; a task that ends by itself leaves the scope at once."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(
        self, coroutine: Coroutine[Any, Any, T], on_done: Callable[[asyncio.Task[T]], None] | None = None
    ) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if on_done is not None:
            task.add_done_callback(on_done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def aclose(self) -> None:
        await cancel_all(list(self._tasks))


async def cancel_all(tasks: list[asyncio.Task[Any]] | list[asyncio.Future[Any]]) -> None:
    """Cancel `tasks` and wait until each has ended (its exceptions are its owner's business)."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def first(*awaitables: Awaitable[Any]) -> tuple[int, Any]:
    """Wait until one of `awaitables` is done; cancel and await the others; return the index
    and the result of the one that finished (raising what it raised). When several are done at
    once, the first in argument order wins: put the one to prefer first.

    Cancelled while waiting, it cancels and awaits them all before the cancellation goes on.
    """
    futures = [asyncio.ensure_future(a) for a in awaitables]
    try:
        done, _ = await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_all([f for f in futures if not f.done()])
    # The winner is decided before the others are cancelled: a cancelled gather() may end
    # looking like a finished future that raises CancelledError.
    index = next(i for i, f in enumerate(futures) if f in done)
    return index, futures[index].result()
