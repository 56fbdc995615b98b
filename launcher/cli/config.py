"""`launcher config [PROFILE] [--show-origin] [--json]`: the merged configuration.

Values of secret-looking keys and passwords inside URLs are masked.
"""

from __future__ import annotations

import argparse

from launcher.cli.options import add_profile
from launcher.core.masking import MASK, is_secret_key, mask_text

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from typing import Any


EXAMPLES = """\
examples:
  launcher config                   the merged configuration, secrets masked
  launcher config ci --show-origin  with the profile ci, each value's file and line
  launcher config --json | jq .services.api
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_profile(parser)
    parser.add_argument("--show-origin", action="store_true", help="show the file and line of every value")
    parser.add_argument("--json", action="store_true", help="print JSON")


def main(args: argparse.Namespace) -> int:
    import json

    import tomli_w

    from launcher.cli.project import load_args

    loaded = load_args(args, args.profile)
    data = _masked(loaded.config.model_dump(mode="json", exclude_unset=True, exclude={"profiles"}))
    if args.json:
        print(json.dumps({"profile": loaded.profile, **data}, indent=2))
    elif args.show_origin:
        for key, value in _flatten(data):
            origin = loaded.layered.origin(key)
            print(f"{origin!s:<28} {'.'.join(key)} = {json.dumps(value)}")
        _print_environments(loaded)
    else:
        header = f"# {loaded.path.name}" + (f", profile {loaded.profile}" if loaded.profile else "")
        print(header + " (merged; secrets masked)\n" + tomli_w.dumps(data), end="")
    return 0


def _print_environments(loaded: Any) -> None:
    """What each process really gets over the launcher's own environment, and from where: the
    injected variables, the env files, the tables, and the env-file entries that the launcher's
    environment overrides (planned here without asking the machine which ports are free)."""
    import json
    import os

    from launcher.core.errors import ConfigError
    from launcher.core.masking import mask_value
    from launcher.plan.compiler import build_plan
    from launcher.plan.environment import explain

    try:
        plan = build_plan(loaded, environ=os.environ)
    except ConfigError as error:
        print(
            f"# no environments: {len(error.diagnostics)} problem(s) in the configuration (`launcher check`)"
        )
        return
    print("# the environment of each process, over the launcher's own")
    for process, variables in explain(loaded, plan, os.environ).items():
        for key, (value, origin) in variables.items():
            print(f"{origin!s:<28} {process}: {key} = {json.dumps(mask_value(key, value))}")


def _masked(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if isinstance(value, str):
        return MASK if is_secret_key(key) and value else mask_text(value)
    return value


def _flatten(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict) and value:
        return [item for k, v in value.items() for item in _flatten(v, (*prefix, k))]
    return [(prefix, value)]
