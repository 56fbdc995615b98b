"""What runs before a process, for the engines that start every process at once and wait for
nothing themselves (supervisord, runit, honcho): the waits for its dependencies, and the
oneshots it runs first.

A `ready` dependency with a probe that has a command form is waited for by retrying that
command (`wait_text`). A oneshot runs in front of its first dependent, in that dependent's
script (`inline_oneshots`, `oneshot_text`), on the engines that have no notion of a process
that completes (runit, honcho); on the others it leaves a marker once it succeeded, which its
dependents wait for (`marker`, `marker_wait`). How an engine waits for the other kinds is its
own.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from launcher.exports.deployment import Deployment, Unit
from launcher.exports.probecommands import check_argv, wait_script

_PLACEHOLDER = "LAUNCHER_ONESHOT_MARKER"


@dataclass(frozen=True)
class Step:
    """What runs before a process: wait for a dependency (`ready`: its probe passes;
    `started`: it runs, or it has no probe to wait on; `completed`: a oneshot of its own
    completed), or run a oneshot (`oneshot`: inlined, in this process's script)."""

    kind: Literal["ready", "started", "completed", "oneshot"]
    unit: Unit


def prelude(
    deployment: Deployment,
    unit: Unit,
    inlined: Mapping[str, str] | None = None,
    host: str | None = None,
    *,
    markers: bool = False,
) -> list[Step]:
    """The steps before `unit`'s own process (in `host`'s, for an inlined oneshot): its
    oneshots, after their own steps, and the waits for its other dependencies. A oneshot run by
    another process's script is waited for only with `markers` (it leaves one)."""
    steps: list[Step] = []
    inlined = inlined or {}
    host = host or unit.name
    for dep in unit.depends_on:
        other = deployment.unit(dep.name)
        if other.spec.oneshot:
            if inlined.get(other.name) == host:
                steps.extend(prelude(deployment, other, inlined, host, markers=markers))
                steps.append(Step("oneshot", other))
            elif other.name not in inlined or markers:
                steps.append(Step("completed", other))
        elif dep.condition != "started" and ready_check(deployment, other) is not None:
            steps.append(Step("ready", other))
        else:
            steps.append(Step("started", other))
    return steps


def wait_text(deployment: Deployment, unit: Unit, runner: tuple[str, ...] = ()) -> str:
    """sh that waits until `unit`'s probe passes, or exits 1 after its start_timeout; the
    check run by `runner` (which gives it the dependency's environment, for its secrets)."""
    argv = ready_check(deployment, unit)
    assert argv is not None, unit.name
    return wait_script((*runner, *argv), unit.name, unit.spec.start_timeout)


def ready_check(deployment: Deployment, unit: Unit) -> tuple[str, ...] | None:
    """`unit`'s readiness probe as a command, run beside it (None: nothing to run)."""
    probe = unit.probe
    return None if probe is None or unit.spec.oneshot else check_argv(probe, python=deployment.target.python)


def inline_oneshots(deployment: Deployment) -> dict[str, str]:
    """Each oneshot that runs before a dependent: oneshot name -> that dependent's name (the
    first one that needs it, directly or through another oneshot, in dependency order)."""
    claimed: dict[str, str] = {}
    for unit in deployment.units:
        if not unit.spec.oneshot:
            for oneshot in _oneshots_before(deployment, unit, claimed):
                claimed[oneshot.name] = unit.name
    return claimed


def _oneshots_before(deployment: Deployment, unit: Unit, claimed: Mapping[str, str]) -> Iterator[Unit]:
    for dep in unit.depends_on:
        other = deployment.unit(dep.name)
        if other.spec.oneshot and other.name not in claimed:
            yield from _oneshots_before(deployment, other, claimed)
            yield other


def oneshot_text(oneshot: Unit, host: Unit, runner: str = "", command: str | None = None) -> str:
    """sh that runs `oneshot` in its own directory and environment from `host`'s process
    (whose environment is `host.env`, once `runner` is in front), exiting with its code if it
    fails. `command`: its argv as sh text, when that is not simply its words quoted."""
    unset = [f"-u {shlex.quote(k)}" for k in host.env if k not in oneshot.env]
    assign = [shlex.quote(f"{k}={v}") for k, v in oneshot.env.items() if host.env.get(k) != v]
    words = [runner] if runner else []
    words += ["env", *unset, *assign] if unset or assign else []
    text = command if command is not None else shlex.join(oneshot.argv)
    return f"(cd {shlex.quote(oneshot.cwd)} && {' '.join([*words, text])}) || exit $?"


def marker(app: str, unit: Unit) -> str:
    """Where a oneshot says it completed, for this run of the engine: `$PPID` is the engine's
    process (supervisord, honcho), the parent of every program's shell, so that a marker of an
    earlier run never counts. Double-quoted sh text, expanded where it is used."""
    from honcho.export.base import dashrepl

    return f'"${{TMPDIR:-/tmp}}/launcher-{app}-{dashrepl(unit.name)}.$PPID"'


def marker_wait(deployment: Deployment, app: str, oneshot: Unit) -> str:
    """sh that waits for `oneshot`'s marker, within its start_timeout after its dependencies'."""
    # The marker's name expands in this shell (the check is quoted by wait_script): a bare
    # placeholder word, swapped for the expansion afterwards.
    script = wait_script(("test", "-e", _PLACEHOLDER), oneshot.name, _budget(deployment, oneshot))
    return script.replace(_PLACEHOLDER, marker(app, oneshot))


def _budget(deployment: Deployment, unit: Unit) -> float:
    """How long a oneshot may take to complete: its start_timeout after its dependencies'."""
    deps = [_budget(deployment, deployment.unit(d.name)) for d in unit.depends_on]
    return unit.spec.start_timeout + max(deps, default=0.0)
