"""The words of a stack, each defined once: the kinds of service, the conditions a dependency
waits for, the restart policies. The configuration model, the plan, the runtime and the
exports all take them from here.

The probe kinds are a table of their own (launcher/core/probekinds.py), since each carries its
value in launcher.toml and its export check as well as its name.
"""

from __future__ import annotations

from typing import Literal, get_args

ServiceKind = Literal["command", "app", "task", "external"]
# A process of the plan runs a service, or is the "host": the shared-mode process that serves
# the stack's apps and runs its tasks.
ProcessKind = Literal[ServiceKind, "host"]
Condition = Literal["started", "ready", "completed"]
RestartPolicy = Literal["no", "on-failure", "always"]

SERVICE_KINDS: tuple[ServiceKind, ...] = get_args(ServiceKind)
CONDITIONS: tuple[Condition, ...] = get_args(Condition)
