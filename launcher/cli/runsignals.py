"""The stop signals of `launcher run`, recorded on its event loop; `run` decides what they mean
(launcher/cli/run.py). The CLI's own: the library never installs signal handlers.

The first SIGINT, SIGTERM or SIGHUP asks for a graceful stop; a second SIGINT kills every service
at once. While `-- CMD` runs, CMD gets them (it shares the launcher's process group, so the
terminal's SIGINT reached it already) and the stack comes down once CMD has exited.
"""

from __future__ import annotations

import signal
import sys

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    import asyncio

    from launcher.runtime.orchestrator import Orchestrator
    from launcher.runtime.output import Sink

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Signals:
    """Records stop signals on the loop; the run loop decides what they mean."""

    def __init__(self, sink: Sink) -> None:
        import asyncio

        self.sink = sink
        self.received: list[int] = []
        self.stop = asyncio.Event()
        self.orchestrator: Orchestrator | None = None
        self.command: asyncio.subprocess.Process | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: int) -> None:
        self.received.append(sig)
        name = signal.Signals(sig).name
        if self.command is not None and self.command.returncode is None:
            # CMD shares our process group: the terminal's SIGINT reached it already. Pass
            # SIGTERM/SIGHUP on; the stack comes down once CMD has exited.
            if sig != signal.SIGINT:
                self.command.send_signal(sig)
            return
        if len(self.received) == 1 or self.orchestrator is None:
            self.sink.event("launcher", f"{name}: stopping (Ctrl-C again to kill everything now)")
            self.stop.set()
        elif sig == signal.SIGINT:
            self.sink.event("launcher", f"{name} again: killing every service now")
            self.orchestrator.kill()

    def dashboard_closed(self, code: int) -> None:
        """`--tui`: its dashboard has ended. Ctrl-C in it (130) acts as SIGINT does; `q` as
        `launcher down`. The terminal is the launcher's again: it says what happens."""
        print("launcher: stopping the stack (Ctrl-C again to kill everything now)", file=sys.stderr)
        if code == 128 + signal.SIGINT:
            self._received(signal.SIGINT)
        elif not self.stop.is_set():
            self.sink.event("launcher", "the dashboard was closed: stopping")
            self.stop.set()

    def stop_requested(self) -> None:
        """POST /v1/stop (`launcher down`): a graceful stop, as on the first signal."""
        if not self.stop.is_set():
            self.sink.event("launcher", "stop requested through the control API: stopping")
            self.stop.set()

    @property
    def exit_code(self) -> int | None:
        return 128 + self.received[0] if self.received else None
