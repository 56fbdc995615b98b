"""`launcher recommend`: which mode `--mode auto` picks here, and why."""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """None of its own: the options of every command only."""


def main(args: argparse.Namespace) -> int:
    from launcher.cli.project import load_args
    from launcher.plan.modes import decide_mode

    loaded = load_args(args)
    choice = decide_mode(loaded.config.launcher.mode, os.environ, sys.stdout.isatty())
    print(choice.reason)
    for factor in choice.factors:
        print(f"  - {factor}")
    if choice.mode == "shared":
        print("  shared: the apps and tasks run in one host process; commands and externals as their own")
    return 0
