"""The ports of a plan on this machine: the sockets the launcher binds for its processes
(`ProcessSpec.listen`), and the one answer to "is this port free, and who holds it".

    listeners = Listeners.bind(plan.specs)    # PortTaken, naming the holder, before any spawn
    env, fds = listeners.inherited(spec)      # what the process gets: the fds, and their variables
    listeners.close()
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Mapping

from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic
from launcher.core.errors import LauncherError, PortTaken
from launcher.plan.spec import ProcessSpec
from launcher.runtime.sockets import bind_port, port_holder, port_is_free


class Listeners:
    def __init__(self) -> None:
        self._sockets: dict[str, list[socket.socket]] = {}

    @classmethod
    def bind(cls, specs: Iterable[ProcessSpec]) -> Listeners:
        """Bind every socket the plan asks for and check that every other port is free; raise
        PortTaken (and hold nothing) when one is not."""
        listeners = cls()
        try:
            for spec in specs:
                if spec.listen:
                    listeners._bind(spec)
                elif spec.port is not None and spec.kind == "command" and not port_is_free(spec.port):
                    raise port_taken(spec.name, spec.port)
        except LauncherError:
            listeners.close()
            raise
        return listeners

    def _bind(self, spec: ProcessSpec) -> None:
        bound = self._sockets.setdefault(spec.name, [])
        for listen in spec.listen:
            try:
                bound.append(bind_port(listen.port, listen.host))
            except OSError:
                raise port_taken(spec.name, listen.port) from None

    def inherited(self, spec: ProcessSpec) -> tuple[Mapping[str, str], tuple[int, ...]]:
        """The variables that tell `spec`'s process its sockets' descriptors, and those fds."""
        bound = self._sockets.get(spec.name, [])
        env = {
            listen.fd_variable: str(sock.fileno()) for listen, sock in zip(spec.listen, bound, strict=True)
        }
        return env, tuple(sock.fileno() for sock in bound)

    def close(self) -> None:
        for bound in self._sockets.values():
            for sock in bound:
                sock.close()
        self._sockets.clear()


def port_taken(service: str, port: int) -> PortTaken:
    return PortTaken(
        [
            Diagnostic(
                Code.PORT_TAKEN,
                f"port {port} of service '{service}' is already in use{held_by(port)}",
                None,
                'stop that program, or give the service another port (or port = "auto")',
            )
        ],
        service=service,
    )


async def conflict(port: int) -> str | None:
    """None when `port` is free; else why not ("already in use by pid N (command)")."""
    if port_is_free(port):
        return None
    return f"port {port} is already in use{await asyncio.to_thread(held_by, port)}"


def held_by(port: int) -> str:
    """` by pid N (command)` when the system tells who listens on `port`, else ``."""
    holder = port_holder(port)
    return f" by pid {holder[0]} ({holder[1]})" if holder else ""
