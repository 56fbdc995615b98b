"""The kinds of probe, in one table: each kind's value in launcher.toml and its check as a command.

Adding a kind is its name in `ProbeKind` and one entry in `PROBE_KINDS` here (the configuration
model takes its key from the table, the exports its check command), plus its check in the
runtime's registry (launcher/runtime/probes.py).

The check command is for the engines that run checks themselves (a compose `healthcheck`, a
systemd `ExecStartPost`, a script waiting for a dependency, a Kubernetes init container): one
command that exits 0 when the service is ready. `http` and `tcp` become a line of Python (the
stack is a Python stack: its images have an interpreter, not necessarily curl), the protocol
probes the usual client tools (`redis-cli ping`, `pg_isready`), `cmd` stays itself. A `log`
probe has none: it needs the service's output, which only the launcher sees. Pure functions.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ProbeKind = Literal["http", "tcp", "cmd", "log", "redis", "postgres"]


class ProbeTarget(Protocol):
    """What a check command is made from (a `launcher.plan.spec.ProbeSpec`)."""

    @property
    def target(self) -> str: ...
    @property
    def argv(self) -> tuple[str, ...]: ...
    @property
    def expect(self) -> int: ...
    @property
    def timeout(self) -> float: ...


@dataclass(frozen=True)
class KindOfProbe:
    """One kind of probe: its key in launcher.toml, and how an exported stack checks it."""

    name: ProbeKind
    value: Any  # the type of its value in launcher.toml (the probe's target), as pydantic takes it
    # The check as one command, given the Python to run it with; None when there is none.
    command: Callable[[ProbeTarget, str], tuple[str, ...] | None]
    # Its target is an address, which a check run on another machine can be aimed at.
    remote: bool = True


# http.client does not raise on an error status, so `expect` is compared as the launcher does
# (0: any answer at all). Only double quotes inside: the check goes into single-quoted shell
# words, where a single quote would have to be spelled '"'"'.
HTTP_CHECK = (
    "import http.client as h,sys,urllib.parse as p;u=p.urlsplit(sys.argv[1]);"
    'c=(h.HTTPSConnection if u.scheme=="https" else h.HTTPConnection)'
    "(u.hostname,u.port,timeout=float(sys.argv[2]));"
    'c.request("GET",(u.path or "/")+("?"+u.query if u.query else ""));'
    "s=c.getresponse().status;e=int(sys.argv[3]);sys.exit(0 if e in (0,s) else 1)"
)
TCP_CHECK = (
    "import socket,sys;socket.create_connection((sys.argv[1],int(sys.argv[2])),float(sys.argv[3])).close()"
)


def _http(probe: ProbeTarget, python: str) -> tuple[str, ...]:
    return (python, "-c", HTTP_CHECK, probe.target, f"{probe.timeout:g}", str(probe.expect))


def _tcp(probe: ProbeTarget, python: str) -> tuple[str, ...]:
    host, _, port = probe.target.rpartition(":")
    return (python, "-c", TCP_CHECK, host or "127.0.0.1", port, f"{probe.timeout:g}")


def _cmd(probe: ProbeTarget, python: str) -> tuple[str, ...]:
    return probe.argv


def _log(probe: ProbeTarget, python: str) -> None:
    return None


def _redis(probe: ProbeTarget, python: str) -> tuple[str, ...]:
    url = probe.target if "://" in probe.target else f"redis://{probe.target}"
    # redis-cli exits 0 on an error answer too (LOADING): only PONG is ready.
    return ("sh", "-c", f"redis-cli -u {shlex.quote(url)} ping | grep -q PONG")


def _postgres(probe: ProbeTarget, python: str) -> tuple[str, ...]:
    return ("pg_isready", "-q", "-d", probe.target, "-t", str(max(1, math.ceil(probe.timeout))))


PROBE_KINDS: dict[ProbeKind, KindOfProbe] = {
    kind.name: kind
    for kind in (
        KindOfProbe("http", str, _http),
        KindOfProbe("tcp", str, _tcp),
        KindOfProbe("cmd", str | list[str], _cmd, remote=False),
        KindOfProbe("log", str, _log, remote=False),
        KindOfProbe("redis", str, _redis),
        KindOfProbe("postgres", str, _postgres),
    )
}
