"""Test doubles for the runtime's seams: a virtual clock and scripted processes.

They let unit tests drive a Supervisor, or a whole Orchestrator, through starts, crashes,
retries, restarts and stops without a real process or a real second passing:

    clock = FakeClock()
    spawner = FakeSpawner({"api": [Script(ready=True), Script(exit_code=1, after=5)]})
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from launcher.core.errors import SpawnError
from launcher.plan.spec import ProbeSpec
from launcher.runtime.probes import LogWatch, ProbeResult


class FakeClock:
    """Virtual time: sleep() returns at once (after yielding) and moves time forward."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await asyncio.sleep(0)


@dataclass
class Script:
    """What one spawned process does.

    exit_code: it exits with this code by itself (None: it runs until stopped);
    after: how many loop turns it takes before exiting (0: at once);
    ready: whether its readiness probe passes while it runs;
    output: lines it prints when it starts;
    ignores_stop: it does not react to the stop signal (only to SIGKILL);
    stop_turns: how many loop turns it takes to exit after the stop signal (0: at once).
    """

    exit_code: int | None = None
    after: int = 0
    ready: bool = True
    output: Sequence[str] = ()
    ignores_stop: bool = False
    stop_turns: int = 0


class FakeProcess:
    _pids = itertools.count(40000)

    def __init__(self, argv: Sequence[str], script: Script) -> None:
        self.argv = tuple(argv)
        self.script = script
        self.pid = self.pgid = next(self._pids)
        self.create_time = 0.0
        self.returncode: int | None = None
        self.signals: list[int] = []
        self._exited = asyncio.Event()
        if script.exit_code is not None:
            asyncio.get_running_loop().create_task(self._exit_later(script.exit_code, script.after))

    async def _exit_later(self, code: int, turns: int) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)
        self.exit(code)

    def exit(self, code: int) -> None:
        """It exits now with `code` (a crash at the moment the test chooses); no-op once exited."""
        if self.returncode is None:
            self.returncode = code
            self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode

    async def wait_started(self) -> None:
        return None  # it says it started as soon as it is spawned (a shared host's confirmation)

    async def stop(self, sig: int, timeout: float) -> int:
        self.signals.append(sig)
        if self.script.ignores_stop:
            self.signals.append(9)
            self.exit(-9)
        for _ in range(self.script.stop_turns):
            await asyncio.sleep(0)
        self.exit(-sig)
        return await self.wait()

    def kill(self) -> None:
        self.signals.append(9)
        self.exit(-9)

    async def aclose(self) -> None:
        return None


@dataclass
class FakeSpawner:
    """Spawns FakeProcesses: each service name takes its scripts in order (the last repeats);
    a name without scripts cannot be spawned (SpawnError, as for a program that is not there)."""

    scripts: Mapping[str, Sequence[Script]]
    spawned: list[FakeProcess] = field(default_factory=list)
    by_name: dict[str, list[FakeProcess]] = field(default_factory=dict)
    name_of: Callable[[Sequence[str]], str] = lambda argv: argv[0]

    async def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_output: Callable[[str, list[str]], None],
        pass_fds: Sequence[int] = (),
    ) -> FakeProcess:
        name = self.name_of(argv)
        scripts = self.scripts.get(name)
        if not scripts:
            raise SpawnError(name, f"cannot run {argv[0]!r}: [Errno 2] No such file or directory")
        runs = self.by_name.setdefault(name, [])
        script = scripts[min(len(runs), len(scripts) - 1)]
        process = FakeProcess(argv, script)
        runs.append(process)
        self.spawned.append(process)
        if script.output:
            on_output("stdout", list(script.output))
        return process


class FakeProber:
    """Readiness follows the script of the process that runs: ready while a ready script runs."""

    def __init__(self, spawner: FakeSpawner) -> None:
        self.spawner = spawner

    def _ready(self, probe: ProbeSpec) -> bool:
        runs = self.spawner.by_name.get(probe.target, [])
        return bool(runs) and runs[-1].returncode is None and runs[-1].script.ready

    async def check(self, probe: ProbeSpec, *, log: LogWatch | None = None) -> ProbeResult:
        ok = self._ready(probe)
        return ProbeResult(ok, "ok" if ok else "not ready", 0.0)

    async def wait_ready(
        self, prober: object, probe: ProbeSpec, *, log: LogWatch | None = None, clock: object = None
    ) -> ProbeResult:
        while not self._ready(probe):  # noqa: ASYNC110 - scripted processes change between turns
            await asyncio.sleep(0)
        return ProbeResult(True, "ok", 0.0)

    async def watch_liveness(
        self, prober: object, probe: ProbeSpec, *, log: LogWatch | None = None, clock: object = None
    ) -> ProbeResult:
        while self._ready(probe):  # noqa: ASYNC110 - scripted processes change between turns
            await asyncio.sleep(0)
        return ProbeResult(False, "not ready", 0.0)


class RecordingSink:
    """A Sink that keeps everything it is given, for assertions."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, str]] = []
        self.progress_rows: list[list[object]] = []

    def line(self, service: str, stream: str, text: str) -> None:
        self.received.append((service, stream, text))

    def lines(self, service: str, stream: str, texts: Sequence[str]) -> None:
        self.received.extend((service, stream, t) for t in texts)

    def event(self, service: str, text: str, **fields: object) -> None:
        self.events.append((service, text))

    def progress(self, rows: Sequence[object]) -> None:
        self.progress_rows.append(list(rows))

    def end_progress(self) -> None:
        return None

    def close(self, timeout: float = 5.0) -> None:
        return None
