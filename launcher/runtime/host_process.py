"""The launcher's end of the shared host (launcher/child/shared_host.py).

The host's supervisor spawns it through `HostLink.spawn_host`, which adds the control socket;
each hosted service's supervisor "spawns" through `HostLink.unit_spawner(name)`, which asks the
host to start that service and returns a `UnitHandle` that behaves as a process would: it
"exits" when the service ends inside the host (its task returned or raised, its lifespan
failed, it was stopped) or when the host itself does. So each hosted service keeps its own
supervisor, state, restarts and output, and the host's output is split back into the lines of
the services that wrote them (launcher/child/tagged_output.py tags them).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from launcher.child import tagged_output as hostio
from launcher.core.errors import SpawnError
from launcher.plan.spec import ProcessSpec
from launcher.runtime.context import Context
from launcher.runtime.process import Handle, OnOutput, Spawner
from launcher.runtime.tasks import TaskScope, first

# How much longer than its stop_timeout a hosted service may take to be reported stopped before
# the launcher stops waiting for the host to say so.
STOP_MARGIN = 2.0


class HostLink:
    def __init__(self, spawner: Spawner) -> None:
        self._spawner = spawner
        self._process: Handle | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._scope = TaskScope()  # the reader of the host's messages
        self._units: dict[str, UnitHandle] = {}
        self._routes: dict[str, OnOutput] = {}
        self._alive = asyncio.Event()
        self._gone = False  # the host will not come back: its supervisor gave up or stopped

    # -- the host ------------------------------------------------------------------------

    async def spawn_host(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_output: OnOutput,
        pass_fds: Sequence[int] = (),
    ) -> HostHandle:
        self._gone = False
        # A new host is coming: hosted starts wait for it (a stopped host's host_ended() left
        # the event set, and the old, exited process would fail them at once).
        self._alive.clear()
        ours, theirs = socket.socketpair()
        try:
            process = await self._spawner(
                argv,
                cwd=cwd,
                env={**env, "LAUNCHER_CONTROL_FD": str(theirs.fileno())},
                on_output=self._demultiplex(on_output),
                pass_fds=(*pass_fds, theirs.fileno()),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        host = HostHandle(process, self)
        self._process, self._writer = process, writer
        self._scope.spawn(self._read(reader, process, host))
        self._alive.set()
        return host

    def _demultiplex(self, on_output: OnOutput) -> OnOutput:
        """Relay each tagged line under the name of the service that wrote it."""

        def relay(stream: str, lines: Sequence[str]) -> None:
            batches: list[tuple[OnOutput, list[str]]] = []
            for line in lines:
                name, text = hostio.split_tag(line)
                route = self._routes.get(name, on_output) if name is not None else on_output
                if name is not None and route is on_output:
                    text = f"[{name}] {text}"  # a service the launcher does not run (yet)
                if batches and batches[-1][0] is route:
                    batches[-1][1].append(text)
                else:
                    batches.append((route, [text]))
            for route, batch in batches:
                route(stream, batch)

        return relay

    async def _read(self, reader: asyncio.StreamReader, process: Handle, host: HostHandle) -> None:
        with contextlib.suppress(ConnectionError):
            async for line in reader:
                message: dict[str, Any] = json.loads(line)
                event = message.get("event")
                if event == "serving":
                    host.serving.set()
                    continue
                unit = self._units.get(message.get("unit", ""))
                if unit is None:
                    continue
                if event == "started":
                    unit.started.set()
                elif event == "exited":
                    unit.exited(int(message.get("code", 1)))
        # The host is gone: so is every service it ran.
        code = await process.wait()
        self._alive.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for unit in self._units.values():
            unit.exited(code)

    def send(self, message: dict[str, Any]) -> bool:
        writer = self._writer
        if writer is None or writer.is_closing():
            return False
        writer.write(json.dumps(message).encode() + b"\n")
        return True

    def host_ended(self) -> None:
        """The host's supervisor gave up on it, or stopped it: hosted starts fail at once."""
        self._gone = True
        self._alive.set()  # wake the waiters of unit_spawner

    async def aclose(self) -> None:
        await self._scope.aclose()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- the hosted services -------------------------------------------------------------

    def unit_spawner(self, name: str, wait: float) -> Spawner:
        """The spawner of one hosted service: start it inside the host (waiting up to `wait`
        seconds for a host that is itself starting or restarting)."""

        async def spawn(
            argv: Sequence[str],
            *,
            cwd: Path,
            env: Mapping[str, str],
            on_output: OnOutput,
            pass_fds: Sequence[int] = (),
        ) -> UnitHandle:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._alive.wait()
            process = self._process
            if self._gone or process is None or process.returncode is not None:
                raise SpawnError(name, "cannot start: the shared host is not running")
            self._routes[name] = on_output
            unit = UnitHandle(name, process, self)
            self._units[name] = unit
            self.send({"op": "start", "unit": name})
            return unit

        return spawn


class HostHandle:
    """The host process, stopped by asking it first: it stops what still runs, then its server."""

    def __init__(self, process: Handle, link: HostLink) -> None:
        self.process = process
        self.link = link
        self.pid, self.pgid, self.create_time = process.pid, process.pgid, process.create_time
        self.serving = asyncio.Event()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        return await self.process.wait()

    async def wait_started(self) -> None:
        await first(self.serving.wait(), self.process.wait())

    async def stop(self, sig: int, timeout: float) -> int:
        """Ask for a shutdown; SIGKILL the group after `timeout` (or signal it at once when
        the control socket is gone); end whatever is left in the group either way."""
        if self.returncode is None and self.link.send({"op": "shutdown"}):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self.process.wait()
            return await self.process.stop(signal.SIGKILL, 0)
        return await self.process.stop(sig, timeout)

    def kill(self) -> None:
        self.process.kill()

    async def aclose(self) -> None:
        await self.process.aclose()


class UnitHandle:
    """A hosted service, seen as a process: its pid is the host's; it exits when the host says so."""

    def __init__(self, name: str, process: Handle, link: HostLink) -> None:
        self.name = name
        self.link = link
        self.pid, self.pgid, self.create_time = process.pid, process.pgid, process.create_time
        self.started = asyncio.Event()
        self._done = asyncio.Event()
        self._code: int | None = None

    def exited(self, code: int) -> None:
        if self._code is None:
            self._code = code
            self._done.set()

    @property
    def returncode(self) -> int | None:
        return self._code

    async def wait(self) -> int:
        await self._done.wait()
        return self._code if self._code is not None else -1

    async def wait_started(self) -> None:
        await first(self.started.wait(), self._done.wait())

    async def stop(self, sig: int, timeout: float) -> int:
        if self._code is None and self.link.send({"op": "stop", "unit": self.name}):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout + STOP_MARGIN):
                    return await self.wait()
        self.exited(-int(signal.SIGKILL))  # the host is gone, or stuck: it is stopped with it
        return await self.wait()

    def kill(self) -> None:
        """Nothing of its own to kill: killing the host ends it."""

    async def aclose(self) -> None:
        await self._done.wait()


def context_of(spec: ProcessSpec, context: Context, link: HostLink | None) -> Context:
    """A service's context in shared mode: the host is spawned with its control socket, and the
    hosted services are started through it (no processes of the reaper's to add or remove)."""
    if link is None:
        return context
    if spec.kind == "host":
        return dataclasses.replace(context, spawner=link.spawn_host)
    if spec.host is not None:
        return dataclasses.replace(
            context,
            spawner=link.unit_spawner(spec.name, spec.start_timeout),
            on_spawn=_no_process,
            on_exit=_no_process,
        )
    return context


def _no_process(name: str, handle: Handle) -> None:
    pass
