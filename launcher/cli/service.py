"""`launcher start|stop|restart [SERVICE...]`: services of the running stack, none named: all.

One request a service to the API's per-service route, whose answer comes once the service is
ready (or completed), or stopped: starts and restarts in dependency order, stops dependents
first, as the stack itself starts and stops. The names are checked before anything is done:
an unknown one is LCH-4003. A start that fails is its error (LCH-2002 or LCH-2003 with the
service's last lines), and the services after it are left as they are.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Sequence

    from launcher.control.client import ServiceJson, StackClient

EXAMPLES = """\
examples:
  launcher restart api                    stop api, start it again; return once it is ready
  launcher stop worker scheduler          stop both (dependents first)
  launcher start                          start every service that is not running
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "services", nargs="*", metavar="SERVICE", help="the services (none named: every service of the stack)"
    )


def main(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from launcher.control import cells, client

    stack = client.connect(args.file)
    for name in in_order(stack, args.services, reverse=args.command == "stop"):
        route = f"/v1/services/{quote(name, safe='')}/{args.command}"
        service: ServiceJson = stack.post(route, service=name)
        print(cells.summary(args.command, service), flush=True)
    return 0


def in_order(stack: StackClient, names: Sequence[str], *, reverse: bool) -> list[str]:
    """`names` (none: all) in the stack's dependency order (the plan's, which the status keeps),
    or reversed; UnknownService for a name the stack does not have."""
    known = [s["name"] for s in stack.get("/v1/status")["services"]]
    unknown = [name for name in names if name not in known]
    if unknown:
        from launcher.core.errors import UnknownService

        raise UnknownService(unknown[0], known)
    chosen = [name for name in known if not names or name in names]
    return chosen[::-1] if reverse else chosen
