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
# The variable that gives the host the descriptor of the listening socket the launcher bound
# for it (launcher/plan/spec.py, Listen); without it the host binds its --port itself.
LISTEN_FD = "LAUNCHER_LISTEN_FD"


@dataclass(frozen=True)
class HostedUnit:
    """What the host needs to know of one hosted service."""

    name: str
    kind: Literal["app", "task"]
    target: str
    mount: str
    cwd: str
    stop_timeout: float


def encode_units(units: Sequence[HostedUnit]) -> str:
    return json.dumps([asdict(u) for u in units], separators=(",", ":"))


def decode_units(text: str) -> list[HostedUnit]:
    return [HostedUnit(**item) for item in json.loads(text)]
