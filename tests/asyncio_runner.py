"""Runs `async def` tests on a fresh event loop each (a pytest plugin; see pyproject addopts).

Fifteen lines instead of a pytest-asyncio dependency: each coroutine test gets its own loop via
asyncio.run, which also closes async generators and the default executor at the end.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(pyfuncitem.obj(**kwargs))
    return True
