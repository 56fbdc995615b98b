"""`launcher schema [config|profile]`: the JSON Schema of launcher.toml, or of a profile file
(`profiles/NAME.toml`)."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  launcher schema > launcher.schema.json
  launcher schema profile > profile.schema.json     the schema of a profiles/NAME.toml
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind",
        nargs="?",
        choices=["config", "profile"],
        default="config",
        metavar="config|profile",
        help="the schema of launcher.toml (the default) or of a profile file",
    )
    # Once a flag, where `--profile` takes a NAME everywhere else: still understood.
    parser.add_argument("--profile", dest="profile_flag", action="store_true", help=argparse.SUPPRESS)


def main(args: argparse.Namespace) -> int:
    import json

    from launcher.config.schema import config_schema, profile_schema

    schema = profile_schema() if args.profile_flag or args.kind == "profile" else config_schema()
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0
