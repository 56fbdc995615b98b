"""Port planning: fixed ports first, then the lowest free port of the range for each `auto`.

Pure: whether a port is held by another program is asked through `is_taken`, so that the
plan can be made without touching the network (compile) or against the live machine (run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.core.errors import ConfigError, PortRangeExhausted


@dataclass(frozen=True)
class PortRequest:
    name: str
    want: Literal["auto"] | int
    origin: Origin


def never_taken(port: int) -> bool:
    return False


def assign_ports(
    requests: Sequence[PortRequest],
    port_range: tuple[int, int],
    is_taken: Callable[[int], bool] = never_taken,
) -> Mapping[str, int]:
    """A port for every request, in request order; raise when they cannot all be had."""
    assigned: dict[str, int] = {}
    holders: dict[int, PortRequest] = {}
    clashes = []
    for request in requests:
        if request.want == "auto":
            continue
        other = holders.get(request.want)
        if other is not None:
            clashes.append(
                Diagnostic(
                    Code.PORT_CLASH,
                    f"services '{other.name}' and '{request.name}' both use port {request.want}",
                    request.origin,
                    'give one of them another port, or port = "auto"',
                )
            )
            continue
        holders[request.want] = request
        assigned[request.name] = request.want
    if clashes:
        raise ConfigError(clashes)
    low, high = port_range
    candidates = iter(range(low, high + 1))
    for request in requests:
        if request.want != "auto":
            continue
        port = next((p for p in candidates if p not in holders and not is_taken(p)), None)
        if port is None:
            wanted = sum(1 for r in requests if r.want == "auto")
            raise PortRangeExhausted(
                [
                    Diagnostic(
                        Code.PORT_RANGE_EXHAUSTED,
                        f"no free port left in {low}-{high} for '{request.name}'"
                        f" ({wanted} services want an automatic port)",
                        request.origin,
                        "widen [launcher] ports, or free ports held by other programs",
                    )
                ]
            )
        holders[port] = request
        assigned[request.name] = port
    return assigned
