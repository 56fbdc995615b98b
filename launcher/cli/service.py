"""`launcher start|stop|restart SERVICE`: one service of the running stack.

The API answers once the service is ready (or completed), or stopped; a start that fails is
its error (LCH-2002 or LCH-2003 with the service's last lines), an unknown name LCH-4003.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from launcher.control.client import ServiceJson

DONE = {"start": "started", "stop": "stopped", "restart": "restarted"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", help="the service")


def main(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from launcher.control import client

    stack = client.connect(args.file)
    route = f"/v1/services/{quote(args.service, safe='')}/{args.command}"
    service: ServiceJson = stack.post(route, service=args.service)
    print(summary(args.command, service))
    return 0


def summary(action: str, service: ServiceJson) -> str:
    """`started api: ready, pid 4251, http://127.0.0.1:8000`; `stopped api`."""
    details = [] if service["state"] == "stopped" else [service["state"]]
    if service.get("pid") is not None:
        details.append(f"pid {service['pid']}")
    if service.get("url") and service["state"] != "stopped":
        details.append(str(service["url"]))
    head = f"{DONE[action]} {service['name']}"
    return f"{head}: {', '.join(details)}" if details else head
