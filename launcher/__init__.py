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

# Not `from typing import TYPE_CHECKING`: importing typing costs the quick commands ~15 ms.
# Type checkers treat any name TYPE_CHECKING as true.
TYPE_CHECKING = False

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "load": "launcher.stack",
    "Stack": "launcher.stack",
    "RunningStack": "launcher.stack",
    "AsyncRunningStack": "launcher.stack",
    "ServiceStatus": "launcher.stack",
    "LauncherError": "launcher.errors",
    "ConfigError": "launcher.errors",
    "PortError": "launcher.errors",
    "PortRangeExhausted": "launcher.errors",
    "PortTaken": "launcher.errors",
    "ServiceError": "launcher.errors",
    "StartFailed": "launcher.errors",
    "ReadinessTimeout": "launcher.errors",
    "DependencyFailed": "launcher.errors",
    "SpawnError": "launcher.errors",
    "StackAlreadyRunning": "launcher.errors",
    "ready": "launcher.taskready",
    "reports_ready": "launcher.taskready",
}

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:
    from typing import Any

    # `X as X`: re-exported names, for type checkers and editors.
    from launcher.errors import ConfigError as ConfigError
    from launcher.errors import DependencyFailed as DependencyFailed
    from launcher.errors import LauncherError as LauncherError
    from launcher.errors import PortError as PortError
    from launcher.errors import PortRangeExhausted as PortRangeExhausted
    from launcher.errors import PortTaken as PortTaken
    from launcher.errors import ReadinessTimeout as ReadinessTimeout
    from launcher.errors import ServiceError as ServiceError
    from launcher.errors import SpawnError as SpawnError
    from launcher.errors import StackAlreadyRunning as StackAlreadyRunning
    from launcher.errors import StartFailed as StartFailed
    from launcher.stack import AsyncRunningStack as AsyncRunningStack
    from launcher.stack import RunningStack as RunningStack
    from launcher.stack import ServiceStatus as ServiceStatus
    from launcher.stack import Stack as Stack
    from launcher.stack import load as load
    from launcher.taskready import ready as ready
    from launcher.taskready import reports_ready as reports_ready


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
