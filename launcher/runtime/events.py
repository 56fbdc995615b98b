"""Subscriptions to what a stack tells: each kind of event has its subscribers.

changes: Subscribers[[StateChange]] = Subscribers()
unsubscribe = changes.subscribe(listener)
changes.tell(change)          # on the loop: a subscriber must not block
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Subscribers(Generic[P]):
    def __init__(self) -> None:
        self._callbacks: list[Callable[P, None]] = []

    def subscribe(self, callback: Callable[P, None]) -> Callable[[], None]:
        """Add `callback`; return the call that removes it again (once; later calls do nothing)."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def tell(self, *args: P.args, **kwargs: P.kwargs) -> None:
        # A copy: a subscriber may unsubscribe (itself or another) while it is told.
        for callback in list(self._callbacks):
            callback(*args, **kwargs)
