"""`launcher graph [PROFILE] [--format text|mermaid|dot]`: the dependency graph."""

from __future__ import annotations

import argparse

from launcher.cli.options import add_profile

EXAMPLES = """\
examples:
  launcher graph                    the dependency graph, as text
  launcher graph full --format mermaid > docs/stack.mmd
  launcher graph --format dot | dot -Tsvg > stack.svg
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_profile(parser)
    parser.add_argument("--format", choices=["text", "mermaid", "dot"], default="text", help="output format")


def main(args: argparse.Namespace) -> int:
    from launcher.cli.project import plan_args
    from launcher.plan.diagram import RENDERERS

    _, plan = plan_args(args, args.profile)
    print(RENDERERS[args.format](plan), end="")
    return 0
