"""The command line: parse arguments, hand them to one command module, turn errors into codes.

Only this module (and the command modules it dispatches to) prints, exits or reads argv.
Command modules are imported lazily so that `--help`, `--version` and `check` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from launcher import __version__

# command -> (module under launcher.commands, one-line help)
COMMANDS = {
    "run": ("run", "run the stack in the foreground; with `-- CMD`, run CMD against it"),
    "check": ("check", "validate the configuration; exit 0, or 2 listing every problem"),
    "config": ("config", "print the merged configuration"),
    "graph": ("graph", "print the dependency graph"),
    "compile": ("compile", "write Procfile.d/<profile>.Procfile and its env file"),
    "schema": ("schema", "print the JSON Schema of launcher.toml"),
    "init": ("init", "write a launcher.toml to start from"),
    "recommend": ("recommend", "explain which mode `--mode auto` picks here, and why"),
}


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Accepted before and after the subcommand; SUPPRESS keeps a value given before it.
    default = None if top else argparse.SUPPRESS
    parser.add_argument("-f", "--file", metavar="FILE", default=default, help="configuration file")
    parser.add_argument("--log-format", choices=["text", "json"], default=default, help="output format")
    parser.add_argument(
        "--no-color",
        action="store_true",
        default=default if not top else False,
        help="no colour in the output",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="launcher",
        description="Bring a Python backend's whole stack up in dependency order.",
    )
    parser.add_argument("--version", action="version", version=f"launcher {__version__}")
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands = {
        name: sub.add_parser(name, help=text, description=text) for name, (_, text) in COMMANDS.items()
    }
    for command in commands.values():
        _common(command, top=False)

    run = commands["run"]
    run.add_argument("words", nargs="*", metavar="PROFILE|SERVICE", help="a profile, then services")
    run.add_argument("-p", "--profile", help="the profile (when its name could be a service's)")
    run.add_argument("--mode", choices=["auto", "multi", "shared"], help="process mode")
    run.add_argument("--no-deps", action="store_true", help="do not start dependencies")
    run.add_argument("--keep-going", action="store_true", help="keep what started if one fails")

    for name in ("check", "config", "graph", "compile"):
        commands[name].add_argument("profile", nargs="?", help="profile (default: default_profile)")
    commands["check"].add_argument("--all-profiles", action="store_true", help="also check every profile")
    commands["config"].add_argument(
        "--show-origin", action="store_true", help="show the file and line of every value"
    )
    commands["config"].add_argument("--json", action="store_true", help="print JSON")
    commands["graph"].add_argument(
        "--format", choices=["text", "mermaid", "dot"], default="text", help="output format"
    )
    commands["compile"].add_argument(
        "-o", "--output", metavar="DIR", default=None, help="directory (default: Procfile.d)"
    )
    commands["schema"].add_argument(
        "--profile", action="store_true", help="the schema of a profile file instead"
    )
    commands["init"].add_argument(
        "--from", dest="from_procfile", metavar="PROCFILE", help="convert a Procfile"
    )
    commands["init"].add_argument("--force", action="store_true", help="overwrite an existing launcher.toml")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `run ... -- CMD ...`: everything after the first `--` is the command, untouched.
    command: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_argv = command
    module_name, _ = COMMANDS[args.command]
    module = importlib.import_module(f"launcher.commands.{module_name}")
    try:
        code: int = module.main(args)
    except BrokenPipeError:
        # The reader went away (`launcher config | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # Imported here: the quick commands' happy path must not pay for it.
        from launcher.errors import LauncherError

        if not isinstance(exc, LauncherError):
            raise
        print(exc, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code
