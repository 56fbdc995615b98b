"""The command line: parse arguments, hand them to one command module, turn errors into codes.

Only this module (and the command modules it dispatches to) prints, exits or reads argv.
Each command is a module of this package: `add_arguments(parser)` declares its options, and
`main(args) -> int` runs it. This one holds the global options and the list of commands, and
imports a command's module only once it is named, so that `--help`, `--version`, `status` and
`check` stay fast.
"""

from __future__ import annotations

import importlib
import os
import sys

from launcher.version import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs ~15 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from types import ModuleType

# command -> (its module under launcher.cli, one-line help)
COMMANDS = {
    "run": ("run", "run the stack in the foreground; with `-- CMD`, run CMD against it"),
    "up": ("up", "start the stack; with -d in the background (--wait: until it is ready)"),
    "down": ("down", "stop the running stack; return once everything is gone"),
    "status": ("status", "show the running stack and the state of each service"),
    "logs": ("logs", "print the last lines of a service (or of all); -f follows"),
    "start": ("service", "start a service of the running stack"),
    "stop": ("service", "stop a service of the running stack"),
    "restart": ("service", "restart a service of the running stack"),
    "check": ("check", "validate the configuration; exit 0, or 2 listing every problem"),
    "config": ("config", "print the merged configuration"),
    "graph": ("graph", "print the dependency graph"),
    "compile": ("compile", "write Procfile.d/<profile>.Procfile and its env file"),
    "export": ("export", "write the stack for systemd, supervisord, runit, docker compose or kubernetes"),
    "schema": ("schema", "print the JSON Schema of launcher.toml"),
    "init": ("init", "write a launcher.toml to start from"),
    "recommend": ("recommend", "explain which mode `--mode auto` picks here, and why"),
}


def _common(parser: argparse.ArgumentParser, *, top: bool, short_file: bool = True) -> None:
    import argparse

    # Accepted before and after the subcommand; SUPPRESS keeps a value given before it.
    default = None if top else argparse.SUPPRESS
    flags = ("-f", "--file") if short_file else ("--file",)
    parser.add_argument(*flags, metavar="FILE", default=default, help="configuration file")
    parser.add_argument("--log-format", choices=["text", "json"], default=default, help="output format")
    parser.add_argument(
        "--no-color",
        action="store_true",
        default=default if not top else False,
        help="no colour in the output",
    )


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: global options and the command's name; the command's own words
    go to `command_parser` (building every command's parser up front would import every
    command's module, more than a quick command may spend)."""
    import argparse

    width = max(map(len, COMMANDS))
    listing = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="launcher",
        description="Bring a Python backend's whole stack up in dependency order.",
        epilog=f"commands:\n{listing}\n\n`launcher COMMAND --help` shows the options of each.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"launcher {__version__}")
    _common(parser, top=True)
    parser.add_argument("command", metavar="COMMAND", choices=COMMANDS, help="one of the commands below")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one command's own words: the global options again, then the options its
    module declares."""
    import argparse

    text = COMMANDS[name][1]
    parser = argparse.ArgumentParser(prog=f"launcher {name}", description=text)
    # `logs -f` follows (as tail's and docker's): there `-f FILE` goes before the command.
    _common(parser, top=False, short_file=name != "logs")
    command_module(name).add_arguments(parser)
    return parser


def command_module(name: str) -> ModuleType:
    """The module of a command: `add_arguments(parser)` and `main(args) -> int`."""
    return importlib.import_module(f"launcher.cli.{COMMANDS[name][0]}")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Both stages: global options (also accepted after the command) and the command's own."""
    args = build_parser().parse_args(argv)
    command_parser(args.command).parse_args(args.arguments, namespace=args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `run ... -- CMD ...`: everything after the first `--` is the command, untouched.
    command: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    if argv == ["--version"]:
        # The commonest quick command answers before argparse is even imported.
        print(f"launcher {__version__}")
        return 0
    args = parse(argv)
    args.command_argv = command
    try:
        code: int = command_module(args.command).main(args)
    except BrokenPipeError:
        # The reader went away (`launcher config | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # Imported here: the quick commands' happy path must not pay for it.
        from launcher.core.errors import LauncherError

        if not isinstance(exc, LauncherError):
            raise
        from launcher.cli.report import print_error

        print_error(
            exc, log_format=getattr(args, "log_format", None), no_color=bool(getattr(args, "no_color", False))
        )
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code
