"""launcher: bring a Python backend's whole stack up in dependency order, keep it running,
take it down cleanly.

    import launcher

    stack = launcher.load("launcher.toml", profile="minimal")
    with stack.start(timeout=60) as running:       # returns when every service is ready
        running.url("api_gateway")

Nothing heavy is imported here: `launcher --version` and the quick commands import this
package, so the public names below are loaded on first use (PEP 562).
"""

from __future__ import annotations

from launcher.version import __version__

# Not `from typing import TYPE_CHECKING`: importing typing costs the quick commands ~15 ms.
# Type checkers treat any name TYPE_CHECKING as true.
TYPE_CHECKING = False

# public name -> the module that defines it
_LAZY = {
    "load": "launcher.library.stack",
    "Stack": "launcher.library.stack",
    "RunningStack": "launcher.library.stack",
    "AsyncRunningStack": "launcher.library.stack",
    "ServiceStatus": "launcher.runtime.status",
    "LauncherError": "launcher.core.errors",
    "ConfigError": "launcher.core.errors",
    "PortError": "launcher.core.errors",
    "PortRangeExhausted": "launcher.core.errors",
    "PortTaken": "launcher.core.errors",
    "ServiceError": "launcher.core.errors",
    "StartFailed": "launcher.core.errors",
    "ReadinessTimeout": "launcher.core.errors",
    "DependencyFailed": "launcher.core.errors",
    "SpawnError": "launcher.core.errors",
    "StackAlreadyRunning": "launcher.core.errors",
    "ready": "launcher.child.task_ready",
    "reports_ready": "launcher.child.task_ready",
}

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:
    from typing import Any

    from launcher.child.task_ready import ready as ready
    from launcher.child.task_ready import reports_ready as reports_ready

    # `X as X`: re-exported names, for type checkers and editors.
    from launcher.core.errors import ConfigError as ConfigError
    from launcher.core.errors import DependencyFailed as DependencyFailed
    from launcher.core.errors import LauncherError as LauncherError
    from launcher.core.errors import PortError as PortError
    from launcher.core.errors import PortRangeExhausted as PortRangeExhausted
    from launcher.core.errors import PortTaken as PortTaken
    from launcher.core.errors import ReadinessTimeout as ReadinessTimeout
    from launcher.core.errors import ServiceError as ServiceError
    from launcher.core.errors import SpawnError as SpawnError
    from launcher.core.errors import StackAlreadyRunning as StackAlreadyRunning
    from launcher.core.errors import StartFailed as StartFailed
    from launcher.library.stack import AsyncRunningStack as AsyncRunningStack
    from launcher.library.stack import RunningStack as RunningStack
    from launcher.library.stack import Stack as Stack
    from launcher.library.stack import load as load
    from launcher.runtime.status import ServiceStatus as ServiceStatus


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'launcher' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
