"""What `launcher run` does once its stack has started (launcher/cli/run.py): say where each
service is, then serve until a stop signal or until no service is left, or run `-- CMD` against
the stack and exit with CMD's code.
"""

from __future__ import annotations

import os
import sys

from launcher.core.codes import Code

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Sequence

    from launcher.cli.runsignals import Signals
    from launcher.plan.spec import Plan
    from launcher.runtime.orchestrator import Orchestrator
    from launcher.runtime.states import StateChange


def say_where(orchestrator: Orchestrator) -> None:
    """Once ready: where each service is (its URL, or its port)."""
    import dataclasses

    from launcher.cli.where import where_lines

    for line in where_lines(dataclasses.asdict(s) for s in orchestrator.snapshot().services):
        orchestrator.sink.event("launcher", line)


async def serve(orchestrator: Orchestrator, signals: Signals, *, watching: bool = False) -> int:
    """Run until a stop signal, or until no service is left running (one stopped on request
    through the control API does not count: it waits there for a start; nor does an external
    one, which runs elsewhere: `run prestart` of a oneshot and an external ends once the oneshot
    is done). With --watch, only until a stop signal: the next change of their files starts the
    services again."""
    import asyncio

    from launcher.runtime.states import ENDED, ServiceState

    external = {s.name for s in orchestrator.plan.specs if s.kind == "external"}
    said = False
    while not signals.stop.is_set():
        services = orchestrator.snapshot().services
        running = [s for s in services if s.state not in ENDED and s.name not in external]
        # A service stopped on request (held) waits for its start: the stack is not over.
        idle = not running and not any(s.held for s in services)
        if idle and not watching:
            failed = any(s.state is ServiceState.FAILED for s in services)
            orchestrator.sink.event("launcher", "no service is left running")
            return 1 if failed else 0
        if idle and not said:
            orchestrator.sink.event("launcher", "no service is left running; waiting for a change (--watch)")
        said = idle
        changed = asyncio.ensure_future(_any_change(orchestrator))
        stop = asyncio.ensure_future(signals.stop.wait())
        await asyncio.wait({changed, stop}, return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        stop.cancel()
    return signals.exit_code or 0


async def _any_change(orchestrator: Orchestrator) -> None:
    import asyncio

    changed = asyncio.Event()

    def listener(_: StateChange) -> None:
        changed.set()

    unsubscribe = orchestrator.subscribe(listener)
    try:
        await changed.wait()
    finally:
        unsubscribe()


async def run_command(plan: Plan, command: Sequence[str], signals: Signals) -> int:
    import asyncio

    from launcher.runtime.environment import child_environment, launcher_environment

    env = child_environment(launcher_environment(os.environ, plan.python), plan.env)
    try:
        process = await asyncio.create_subprocess_exec(*command, env=env)
    except OSError as exc:
        print(f"error[{Code.CANNOT_EXECUTE}]: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    signals.command = process
    code = await process.wait()
    signals.command = None
    return 128 - code if code < 0 else code
