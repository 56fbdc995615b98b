"""Where a ready stack is: one line per service that has an address, as `run` and `up --wait`
print them once every service is ready.

    api_gateway   http://127.0.0.1:8001   (8000 was held by pid 4242 (python -m http.server))
    redis         redis://127.0.0.1:8002
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def where_lines(services: Iterable[Mapping[str, object]]) -> list[str]:
    """From status objects (`name`, `url`, `port`, and `port_note` when an automatic port had to
    move): the URL, else the port, of each service that has one."""
    rows = []
    for service in services:
        url, port = service.get("url"), service.get("port")
        if url is None and port is None:
            continue
        note = service.get("port_note")
        rows.append((str(service["name"]), str(url) if url is not None else f"port {port}", note))
    width = max((len(name) for name, _, _ in rows), default=0)
    return [f"{name:<{width}}  {where}" + (f"  ({note})" if note else "") for name, where, note in rows]
