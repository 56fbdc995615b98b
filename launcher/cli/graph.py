"""`launcher graph [PROFILE] [--format text|mermaid|dot]`: the dependency graph."""

from __future__ import annotations

import argparse

from launcher.cli.project import plan_args
from launcher.plan.diagram import RENDERERS


def main(args: argparse.Namespace) -> int:
    _, plan = plan_args(args, args.profile)
    print(RENDERERS[args.format](plan), end="")
    return 0
