"""`launcher recommend`: which mode `--mode auto` picks here, and why."""

from __future__ import annotations

import argparse
import os
import sys

EXAMPLES = """\
examples:
  launcher recommend                why `--mode auto` would run shared or multi here
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """None of its own: the options of every command only."""


def main(args: argparse.Namespace) -> int:
    from launcher.cli.project import load_args
    from launcher.plan.compiler import build_plan
    from launcher.plan.modes import decide_mode

    loaded = load_args(args)
    choice = decide_mode(loaded.config.launcher.mode, os.environ, sys.stdout.isatty())
    # The plan settles the rest (is there something to share?), as `run` does: its reason is
    # the mode line `run` prints.
    plan = build_plan(loaded, mode=choice.mode, mode_reason=choice.reason, environ=os.environ)
    print(plan.mode_reason)
    for factor in choice.factors:
        print(f"  - {factor}")
    kinds = {s.service: s.kind for s in plan.specs if s.kind in ("app", "task")}
    print(f"  - apps and tasks selected: {', '.join(kinds) or 'none'}")
    if plan.mode == "shared":
        print("  shared: the apps and tasks run in one host process; commands and externals as their own")
    return 0
