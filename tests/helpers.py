"""Helpers shared by the tests: `from helpers import wait_until` (tests/ is on pytest's pythonpath).

Tests wait on conditions with deadlines, never with bare sleeps: a condition that holds early
ends the wait early, and one that never holds fails with a message saying what was awaited.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, TypeVar

T = TypeVar("T")

PROGRAMS = Path(__file__).parent / "programs"


class ProjectFactory(Protocol):
    """The type of the `project` fixture (tests/conftest.py)."""

    def __call__(
        self,
        config: str | None = "",
        files: Mapping[str, str | bytes] | None = None,
        *,
        name: str | None = None,
    ) -> Path: ...


def program(name: str, *args: str) -> list[str]:
    """The argv that runs tests/programs/<name>.py with this interpreter: `program("sleeper")`."""
    return [sys.executable, str(PROGRAMS / f"{name}.py"), *args]


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str | Callable[[], str] | None = None,
) -> T:
    """Call `predicate` until it returns something truthy, and return that; raise on the deadline.

    `message` says what was awaited (a callable is evaluated only on failure, so that it can
    show the state at that moment, such as a process's output so far).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            what = message() if callable(message) else message
            name = getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"timed out after {timeout} s waiting for {what or name}")
        time.sleep(interval)
