"""What runs before a process, for the engines that start every process at once and wait for
nothing themselves (supervisord, runit): the waits for its dependencies, and the oneshots it
runs first.

A `ready` dependency with a probe that has a command form is waited for by retrying that
command (`wait_text`); how an engine waits for the other kinds (`started`, `completed`) and runs
an inlined oneshot is its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from launcher.exports.deployment import Deployment, Unit
from launcher.exports.probecommands import check_argv, wait_script


@dataclass(frozen=True)
class Step:
    """What runs before a process: wait for a dependency (`ready`: its probe passes;
    `started`: it runs, or it has no probe to wait on; `completed`: a oneshot of its own
    completed), or run a oneshot (`oneshot`: inlined, in this process's script)."""

    kind: Literal["ready", "started", "completed", "oneshot"]
    unit: Unit


def prelude(
    deployment: Deployment, unit: Unit, inlined: Mapping[str, str] | None = None, host: str | None = None
) -> list[Step]:
    """The steps before `unit`'s own process (in `host`'s, for an inlined oneshot): its
    oneshots, after their own steps, and the waits for its other dependencies."""
    steps: list[Step] = []
    inlined = inlined or {}
    host = host or unit.name
    for dep in unit.depends_on:
        other = deployment.unit(dep.name)
        if other.spec.oneshot:
            if inlined.get(other.name) == host:
                steps.extend(prelude(deployment, other, inlined, host))
                steps.append(Step("oneshot", other))
            elif other.name not in inlined:
                steps.append(Step("completed", other))
        elif dep.condition != "started" and _check(deployment, other) is not None:
            steps.append(Step("ready", other))
        else:
            steps.append(Step("started", other))
    return steps


def wait_text(deployment: Deployment, unit: Unit) -> str:
    """sh that waits until `unit`'s probe passes, or exits 1 after its start_timeout."""
    check = _check(deployment, unit)
    assert check is not None, unit.name
    return wait_script(check, unit.name, unit.spec.start_timeout)


def _check(deployment: Deployment, unit: Unit) -> tuple[str, ...] | None:
    probe = unit.probe
    return None if probe is None else check_argv(probe, python=deployment.target.python)
