"""The control API of `launcher run`, served from its first client on (asyncio and the standard
library only, until then).

aiohttp, prometheus-client and the API's modules are some 12 MiB of the launcher's memory, and
most stacks run for hours with nobody asking. So the sockets bound before the start
(launcher/control/listening.py) are only watched at first: the first connection imports the API
on a thread (the loop goes on relaying output and probing meanwhile), builds the ApiServer,
and hands it the listening sockets, from whose backlog it accepts that client and whoever came
after. The probe checks are counted from the start all the same (ProbeCounts, stdlib only), and
the API's metrics are made of them at each scrape.

    api = LazyApi(orchestrator, sockets, token=token, on_stop=request_stop)  # counts probes
    api.listen()          # once the first services are spawned: a client is answered from now
    ...
    await api.aclose()    # serving or not: ends it, closes the sockets
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from launcher.control.probe_counts import ProbeCounts

if TYPE_CHECKING:
    from launcher.control.listening import ApiSockets
    from launcher.control.server import ApiServer
    from launcher.runtime.orchestrator import Orchestrator

SERVER = "launcher.control.server"


class LazyApi:
    """One stack's control API, built when a client first connects to `sockets`."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        sockets: ApiSockets,
        *,
        token: str | None,
        on_stop: Callable[[], None],
    ) -> None:
        self._orchestrator = orchestrator
        self._sockets = sockets
        self._token = token
        self._on_stop = on_stop
        self._probes = ProbeCounts(orchestrator.plan)
        self._unobserve = orchestrator.observe_probes(self._probes.observe)
        self._watched: list[int] = []  # the listening sockets' descriptors, while watched
        self._opening: asyncio.Task[None] | None = None
        self._imported: concurrent.futures.Future[None] | None = None
        self.server: ApiServer | None = None  # once a client connected

    def listen(self) -> None:
        """Watch the listening sockets: the first client that connects opens the API. Clients
        are answered from now on: they wait in the backlog while it opens."""
        loop = asyncio.get_running_loop()
        for sock in self._sockets.listening:
            loop.add_reader(sock.fileno(), self._knocked)
            self._watched.append(sock.fileno())

    def _knocked(self) -> None:
        # Not accepted here: the connection waits in the backlog for the server's own accept.
        self._unwatch()
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())

    def _unwatch(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in self._watched:
            loop.remove_reader(fd)
        self._watched = []

    async def _open(self) -> None:
        try:
            self._imported = import_aside(SERVER)
            await asyncio.wrap_future(self._imported)
            from launcher.control.server import ApiServer

            self.server = ApiServer(
                self._orchestrator, on_stop=self._on_stop, token=self._token, probes=self._probes
            )
            await self.server.start(self._sockets.path, bound=self._sockets)
        except Exception as exc:  # whatever it is, the stack runs on without its API
            self._orchestrator.sink.event(
                "launcher", f"the control API could not start: {exc}", level="error"
            )
            self._close_sockets()  # its clients are refused rather than left waiting

    async def aclose(self) -> None:
        """Stop serving (or watching), and close the sockets; remove the socket file."""
        self._unobserve()
        self._unwatch()
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
            await asyncio.gather(self._opening, return_exceptions=True)
        if self._imported is not None and not self._imported.done():  # no exit amid an import
            await asyncio.gather(asyncio.wrap_future(self._imported), return_exceptions=True)
        if self.server is not None:
            await self.server.aclose()  # removes the socket file, unless another launcher's
            self._close_sockets(unlink=False)  # any that a cancelled start had not handed over
        else:
            self._close_sockets()

    def _close_sockets(self, *, unlink: bool = True) -> None:
        if unlink:
            self._sockets.close()
        else:
            for sock in self._sockets.listening:
                sock.close()


def import_aside(module: str) -> concurrent.futures.Future[None]:
    """Import `module` on a thread of its own; the future is done once it is imported.

    The event loop keeps the interpreter meanwhile, taking it back every switch interval to
    relay output and probe, rather than stopping for the whole import (aiohttp's is 100 ms and
    more). The future is running from the start: cancelling what awaits it leaves it be.
    """
    imported: concurrent.futures.Future[None] = concurrent.futures.Future()
    imported.set_running_or_notify_cancel()

    def run() -> None:
        try:
            importlib.import_module(module)
        except BaseException as exc:  # raised where it is awaited
            imported.set_exception(exc)
        else:
            imported.set_result(None)

    threading.Thread(target=run, name="launcher-import", daemon=True).start()
    return imported
