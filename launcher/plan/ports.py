"""Port planning: fixed ports first, then the lowest free port of the range for each `auto`.

Pure: whether a port is held by another program is asked through `is_taken`, so that the
plan can be made without touching the network (compile) or against the live machine (run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin


@dataclass(frozen=True)
class PortRequest:
    name: str
    want: Literal["auto"] | int
    origin: Origin


@dataclass
class Ports:
    """A port for each request that could have one, and why the others could not."""

    assigned: dict[str, int] = field(default_factory=dict)
    # Two requests of one fixed port: a configuration error (LCH-1018).
    clashes: list[Diagnostic] = field(default_factory=list)
    # The range ran out (LCH-3001): the machine cannot give what the stack needs.
    exhausted: list[Diagnostic] = field(default_factory=list)
    # An automatic port that had to move: the port it would have had, held by another program.
    moved: dict[str, int] = field(default_factory=dict)


def never_taken(port: int) -> bool:
    return False


def assign_ports(
    requests: Sequence[PortRequest],
    port_range: tuple[int, int],
    is_taken: Callable[[int], bool] = never_taken,
) -> Ports:
    """A port for every request, in request order. Every problem is found: the second of two
    requests of one fixed port gets that port too, so that the rest of the plan can be checked."""
    ports = Ports()
    holders: dict[int, PortRequest] = {}
    for request in requests:
        if request.want == "auto":
            continue
        other = holders.setdefault(request.want, request)
        if other is not request:
            ports.clashes.append(
                Diagnostic(
                    Code.PORT_CLASH,
                    f"services '{other.name}' and '{request.name}' both use port {request.want}",
                    request.origin,
                    'give one of them another port, or port = "auto"',
                )
            )
        ports.assigned[request.name] = request.want
    low, high = port_range
    candidates = iter(range(low, high + 1))
    for request in requests:
        if request.want != "auto":
            continue
        port = None
        for candidate in candidates:
            if candidate in holders:
                continue
            if not is_taken(candidate):
                port = candidate
                break
            ports.moved.setdefault(request.name, candidate)
        if port is None:
            wanted = sum(1 for r in requests if r.want == "auto")
            ports.exhausted.append(
                Diagnostic(
                    Code.PORT_RANGE_EXHAUSTED,
                    f"no free port left in {low}-{high} for '{request.name}'"
                    f" ({wanted} services want an automatic port)",
                    request.origin,
                    "widen [launcher] ports, or free ports held by other programs",
                )
            )
            break
        holders[port] = request
        ports.assigned[request.name] = port
    return ports
