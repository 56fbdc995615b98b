"""`launcher compile [PROFILE] [-o DIR]`: Procfile.d/<profile>.Procfile and its env file."""

from __future__ import annotations

import argparse
import os

from launcher.cli.options import add_profile

EXAMPLES = """\
examples:
  launcher compile                  Procfile.d/default.Procfile and its env file
  launcher compile ci -o deploy     deploy/ci.Procfile, for `honcho -f deploy/ci.Procfile start`
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_profile(parser)
    parser.add_argument("-o", "--output", metavar="DIR", default=None, help="directory (default: Procfile.d)")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from launcher.cli.project import load_args
    from launcher.exports.deployment import secret_environ
    from launcher.exports.procfile import render_procfile
    from launcher.plan.compiler import build_plan
    from launcher.version import __version__

    loaded = load_args(args, args.profile)
    # "python", not this interpreter's path, and no machine environment: the output must be
    # the same on every machine, since the repository keeps it. A secret the project does not
    # declare stays `${NAME}`, for the shell to expand from honcho's environment.
    plan = build_plan(loaded, environ=secret_environ(loaded.config), python="python")
    directory = Path(args.output) if args.output else loaded.root / "Procfile.d"
    # The header's honcho command is run from the project root: name the directory from there.
    shown = os.path.relpath(directory.resolve(), loaded.root.resolve())
    shown = shown if not shown.startswith("..") else str(directory.resolve())
    procfile, env = render_procfile(plan, __version__, shown)
    directory.mkdir(parents=True, exist_ok=True)
    name = plan.profile or "default"
    (directory / f"{name}.Procfile").write_text(procfile)
    env_path = directory / f"{name}.env"
    env_path.write_text(env)
    os.chmod(env_path, 0o600)
    print(f"wrote {directory / (name + '.Procfile')} and {env_path}")
    return 0
