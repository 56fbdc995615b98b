"""`launcher schema [--profile]`: the JSON Schema of launcher.toml (or of a profile file)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", action="store_true", help="the schema of a profile file instead")


def main(args: argparse.Namespace) -> int:
    import json

    from launcher.config.schema import config_schema, profile_schema

    schema = profile_schema() if args.profile else config_schema()
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0
