"""The head of an HTTP/1.x answer, read by hand: its status, its header fields, and how its
body ends.

Two clients speak the little HTTP/1.1 they need without http.client: the http probe's plain
`GET` (launcher/runtime/probes.py: steady probing through aiohttp cost twice the CPU) and the
control client (launcher/control/client.py: `status` cannot afford http.client's 22 ms of
imports). Each reads from its own kind of socket; this is what they read. No imports at all.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs ~6 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def status_code(line: bytes) -> int:
    """The code of a status line (`HTTP/1.1 200 OK`); ValueError for anything else, such as
    another protocol's greeting."""
    words = line.split(None, 2)
    if len(words) < 2 or not words[0].startswith(b"HTTP/") or not words[1].isdigit():
        raise ValueError(f"not an HTTP answer: {line[:80]!r}")
    return int(words[1])


def header_fields(lines: Iterable[bytes]) -> dict[str, str]:
    """The header lines as a dict, names in lower case."""
    fields: dict[str, str] = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status code and the header fields of a whole head (without its blank line)."""
    status, *lines = head.split(b"\n")
    return status_code(status), header_fields(line for line in lines if line.strip())


def framing(status: int, fields: Mapping[str, str]) -> tuple[int | None, bool]:
    """How the body ends: its length (None: at the close) and whether it comes in chunks."""
    if status in (204, 304) or 100 <= status < 200:
        return 0, False  # never a body
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return None, True
    length = fields.get("content-length", "")
    return (int(length) if length.isdigit() else None), False
