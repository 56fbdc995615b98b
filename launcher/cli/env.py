"""`launcher env [SERVICE] [--json]`: the running stack's environment, values in clear.

    eval "$(launcher env)"                        # then: curl "$API_GATEWAY_URL/health"
    launcher env --json | jq -r .DATABASE_URL

Without SERVICE, the environment `run -- CMD` gets (the launcher's, its interpreter's directory
first on PATH, under the plan's: `[env]`, env files, `X_PORT`/`X_URL`, `LAUNCHER_STACK`); with
SERVICE, the one that service's process gets (its own `env`, `PORT` included). It comes from
`GET /v1/env` (`/v1/services/{name}/env`) on the unix socket, the one route of the API that
does not mask secrets, and which the TCP listener refuses. A quick command, as `status`: the
client and json, nothing of the runtime.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from launcher.control.client import EnvJson


EXAMPLES = """\
examples:
  eval "$(launcher env)"                  the stack's variables in this shell
  launcher env api                        the environment of api's process
  launcher env --json | jq -r .API_URL
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "service",
        nargs="?",
        metavar="SERVICE",
        help="that service's environment (default: the stack's, as `run -- CMD` gets it)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object, NAME to value")


def main(args: argparse.Namespace) -> int:
    import json

    env = fetch(args.file, args.service)["env"]
    if args.json:
        print(json.dumps(env, indent=2, sort_keys=True))
    else:
        print(exports(env), end="")
    return 0


def fetch(file: str | None, service: str | None) -> EnvJson:
    """The environment from the running stack's API (LCH-4001 when none runs, LCH-4003 for an
    unknown service); a service's comes with its name and cwd."""
    from launcher.control import client

    stack = client.connect(file)
    if service is None:
        answer: EnvJson = stack.get("/v1/env")
        return answer
    from urllib.parse import quote

    answer = stack.get(f"/v1/services/{quote(service, safe='')}/env", service=service)
    return answer


def exports(env: Mapping[str, str]) -> str:
    """`export NAME='value'` lines, sorted, that any POSIX shell evaluates back to `env`: each
    value in single quotes, a quote in it as '\\''. A name no shell can hold (not a letter or
    `_` then letters, digits and `_`: bash's exported functions, say) is left out."""
    return "".join(
        f"export {name}={_quoted(value)}\n" for name, value in sorted(env.items()) if _shell_name(name)
    )


def _quoted(value: str) -> str:
    # Inside single quotes nothing is special but the quote itself, which cannot be escaped
    # there: close the quotes, an escaped quote, open them again.
    return "'" + value.replace("'", "'\\''") + "'"


def _shell_name(name: str) -> bool:
    return name.isascii() and name.isidentifier()
