"""What the launcher tells the shared host about each hosted service: the `--units JSON` argument.

The plan encodes it (launcher/plan/shared_mode.py) and the host decodes it
(launcher/child/shared_host.py): one definition for both ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

# When an app's server stops, requests still open (a stream nobody closes) get this long before
# they are cancelled, in both modes, so that shutdown is bounded and lifespans still run.
REQUEST_GRACE = 1


def listen_variable(port: int) -> str:
    """The variable that gives the host the descriptor of the listening socket the launcher
    bound for the app served on `port` (launcher/plan/spec.py, Listen): one per hosted app."""
    return f"LAUNCHER_LISTEN_FD_{port}"


@dataclass(frozen=True)
class HostedUnit:
    """What the host needs to know of one hosted service."""

    name: str
    kind: Literal["app", "task"]
    target: str
    cwd: str
    stop_timeout: float
    port: int | None = None  # an app's: the host serves it at the root of this port


def encode_units(units: Sequence[HostedUnit]) -> str:
    return json.dumps([asdict(u) for u in units], separators=(",", ":"))


def decode_units(text: str) -> list[HostedUnit]:
    return [HostedUnit(**item) for item in json.loads(text)]
