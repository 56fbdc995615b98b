"""`run --debug SERVICE`: one Python service of a plan runs under debugpy.

A plan transformation, pure like the plan: the chosen service's argv gains `-m debugpy --listen
127.0.0.1:PORT [--wait-for-client]` right after its interpreter (and its interpreter options),
so that what followed (`-m uvicorn ...`, launcher's `DIR task_runner ...`, a script,
`-c CODE`) runs as before, under the debugger (debugpy runs a directory as Python does). In
shared mode a hosted app or task has no process of its own: the host process, which runs all
of them, is the one debugged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import NoReturn

from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.core.errors import ConfigError, PortTaken
from launcher.plan import shared_mode as hosting
from launcher.plan.spec import Plan, ProcessSpec

DEFAULT_PORT = 5678
HOST = "127.0.0.1"
INSTALL_HINT = "pip install 'launcher[debug]'"
COMMAND_LINE = Origin("command line")
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
# Interpreter options that take a value as the next word (`python -W error -m x`).
_OPTIONS_WITH_VALUE = ("-W", "-X", "--check-hash-based-pycs")


@dataclass(frozen=True)
class Debug:
    """What `--debug SERVICE [--debug-port N] [--debug-wait]` asked for."""

    service: str
    port: int = DEFAULT_PORT
    wait: bool = False
    # Where the request came from: the command line, or a profile's `debug = "SERVICE"`.
    origin: Origin = COMMAND_LINE


def debug_plan(plan: Plan, debug: Debug, *, python: str) -> Plan:
    """`plan` with `debug.service` under debugpy, and a note (printed at start) that says so.

    Raises ConfigError (LCH-1031) when the service is not in the plan, has no Python process
    of its own to debug, or runs as several processes. With `wait`, the debugged process has
    no start timeout: it waits for the debugger for as long as it takes.
    """
    specs = [s for s in plan.specs if s.service == debug.service]
    if not specs:
        names = ", ".join(dict.fromkeys(s.service for s in plan.specs if s.service != hosting.HOST))
        _refuse(
            f"service '{debug.service}' is not in this run (it runs: {names})",
            "name one of those",
            debug.origin,
        )
    if len(specs) > 1:
        _refuse(
            f"service '{debug.service}' runs {len(specs)} replicas, which cannot share one debug port",
            "debug it with replicas = 1 (in launcher.local.toml)",
            debug.origin,
        )
    target = specs[0]
    hosted = target.host is not None
    if hosted:
        target = plan.spec(target.host or hosting.HOST)
    argv = debug_argv(target, debug, python=python)
    spec = replace(
        target,
        argv=argv,
        env={**target.env, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
        start_timeout=math.inf if debug.wait else target.start_timeout,
    )
    where = f"debugpy listens on {HOST}:{debug.port}" + (
        "; it waits for a debugger before the service's code runs (no start timeout)" if debug.wait else ""
    )
    if hosted:
        note = f"[{debug.service}] runs in the shared host: debugging {hosting.HOST} ({where})"
    else:
        note = f"[{debug.service}] {where}"
    specs_out = tuple(spec if s.name == target.name else _waiting(s, target.name, debug) for s in plan.specs)
    return replace(plan, specs=specs_out, notes=(*plan.notes, note))


def _waiting(spec: ProcessSpec, host: str, debug: Debug) -> ProcessSpec:
    """A service hosted by the debugged host starts only once the host runs: with `wait`, its
    start timeout must not run out while the host waits for the debugger either."""
    return replace(spec, start_timeout=math.inf) if debug.wait and spec.host == host else spec


def debug_argv(spec: ProcessSpec, debug: Debug, *, python: str) -> tuple[str, ...]:
    """The argv of `spec` under debugpy; LCH-1031 when it does not run Python."""
    argv = spec.argv
    name = spec.service
    if spec.kind == "external":
        _refuse(
            f"service '{name}' is external: launcher does not run it",
            "debug a service launcher starts",
            debug.origin,
        )
    hint = "--debug takes an app, a task, or a command that starts with python"
    if spec.shell:
        _refuse(f"service '{name}' runs its command through a shell (shell = true)", hint, debug.origin)
    if not argv or not _is_python(argv[0], python):
        shown = argv[0] if argv else "nothing"
        _refuse(
            f"service '{name}' does not run Python (its command starts with '{shown}')", hint, debug.origin
        )
    at = _script_at(argv)
    if at >= len(argv):
        _refuse(
            f"service '{name}' runs the interpreter without a script or module", "give it one", debug.origin
        )
    listen = ["-m", "debugpy", "--listen", f"{HOST}:{debug.port}"]
    if debug.wait:
        listen.append("--wait-for-client")
    return (*argv[:at], *listen, *argv[at:])


def _is_python(word: str, python: str) -> bool:
    return word == python or bool(_PYTHON.match(PurePath(word).name))


def _script_at(argv: tuple[str, ...]) -> int:
    """Where the interpreter's own options end: `python -u -W error -m x` -> 4."""
    at = 1
    while at < len(argv) and argv[at].startswith("-") and argv[at] not in ("-m", "-c", "-"):
        at += 2 if argv[at] in _OPTIONS_WITH_VALUE else 1
    return at


def missing_debugpy(debug: Debug, python: str | None = None) -> ConfigError:
    """The error of `--debug` (or a profile's `debug`) where debugpy is not installed in the
    project's interpreter `python` (None: the launcher's own)."""
    where, hint = "this environment", f"install it with `{INSTALL_HINT}` (or `pip install debugpy`)"
    if python is not None:
        where = f"the project's interpreter ({python})"
        hint = f"install it there: `{python} -m pip install debugpy`"
    message = f"debugging {debug.service} needs debugpy, which is not installed in {where}"
    return ConfigError([Diagnostic(Code.NO_DEBUGPY, message, debug.origin, hint)])


def debug_port_taken(debug: Debug) -> PortTaken:
    """The error of `--debug` on a port another program holds (LCH-3002)."""
    diagnostic = Diagnostic(
        Code.PORT_TAKEN,
        f"debug port {debug.port} is already in use",
        debug.origin,
        "stop that program, or give --debug-port another port",
    )
    return PortTaken([diagnostic], service=debug.service)


def _refuse(message: str, hint: str, origin: Origin) -> NoReturn:
    raise ConfigError([Diagnostic(Code.CANNOT_DEBUG, f"cannot debug: {message}", origin, hint)])
