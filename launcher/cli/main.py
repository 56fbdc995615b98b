"""The command line: parse arguments, hand them to one command module, turn errors into codes.

Only this module (and the command modules it dispatches to) prints, exits or reads argv.
Each command is a module of this package: `add_arguments(parser)` declares its options, and
`main(args) -> int` runs it, and `EXAMPLES`, the end of its `--help`. This one holds the global
options and the list of commands, and imports a command's module only once it is named, so that
`--help`, `--version`, `status` and `check` stay fast. A shell's completion request (argcomplete's
`_ARGCOMPLETE` in the environment) goes to launcher/cli/completion.py before anything else.
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
    "logs": ("logs", "print the services' lines from their log files, also once stopped; -f follows"),
    "start": ("service", "start services of the running stack (none named: all)"),
    "stop": ("service", "stop services of the running stack (none named: all)"),
    "restart": ("service", "restart services of the running stack (none named: all)"),
    "attach": ("attach", "a live dashboard of the running stack: states, logs, events; keys to restart"),
    "exec": ("exec", "run `-- CMD` with the running stack's environment (a service's, in its cwd)"),
    "env": ("env", "print the running stack's environment (or a service's): export lines or --json"),
    "ls": ("ls", "list the stacks running on this machine (every project of this user)"),
    "profiles": ("profiles", "list the profiles, with their descriptions and services"),
    "check": ("check", "validate the configuration; exit 0, or 2 listing every problem"),
    "config": ("config", "print the merged configuration"),
    "graph": ("graph", "print the dependency graph"),
    "compile": ("compile", "write Procfile.d/<profile>.Procfile and its env file"),
    "export": ("export", "write the stack for systemd, supervisord, runit, docker compose or kubernetes"),
    "schema": ("schema", "print the JSON Schema of launcher.toml"),
    "init": ("init", "write a launcher.toml to start from"),
    "recommend": ("recommend", "explain which mode `--mode auto` picks here, and why"),
    "completion": ("completion", "print the shell completion script for bash, zsh or fish"),
}

# The global options are accepted before any command (the errors it may print follow the
# output's format and colour), and after the commands where they act only, which list them in
# their `--help`. `-f FILE`: every command but those that read no configuration.
WITHOUT_FILE = frozenset({"ls", "schema", "init", "completion"})
# `--log-format`: the stack's output (run, up), and the diagnostics of the commands that load
# the configuration (it is a configuration layer too, which `config --show-origin` shows).
WITH_LOG_FORMAT = frozenset(
    {"run", "up", "check", "config", "graph", "compile", "export", "recommend", "profiles"}
)
# `--no-color`: those, and the coloured lines of `logs`.
WITH_NO_COLOR = WITH_LOG_FORMAT | {"logs"}
# `-e/--env-file FILE` (repeatable, as honcho's `-e` and compose's `--env-file`): the commands
# that read the env files.
WITH_ENV_FILE = frozenset({"run", "up", "check", "config", "compile", "export"})

EXAMPLES = """\
examples:
  launcher run                      the stack in the foreground (Ctrl-C stops it)
  launcher run minimal -- pytest    start the profile minimal, run pytest against it, stop it
  launcher up -d --wait             start it in the background, return once it is ready
  launcher status                   its services; `launcher ls`: every stack on this machine
  launcher logs -f api              follow a service's lines
  launcher down                     stop it
"""


def _common(parser: argparse.ArgumentParser, command: str | None) -> None:
    """The global options: all of them on the top-level parser (`command` None), else those
    that act on `command`."""
    import argparse

    # Accepted before and after the subcommand; SUPPRESS keeps a value given before it.
    default = None if command is None else argparse.SUPPRESS
    if command not in WITHOUT_FILE:
        # `logs -f` follows (as tail's and docker's): there `-f FILE` goes before the command.
        flags = ("--file",) if command == "logs" else ("-f", "--file")
        parser.add_argument(*flags, metavar="FILE", default=default, help="configuration file")
    if command is None or command in WITH_ENV_FILE:
        parser.add_argument(
            "-e",
            "--env-file",
            action="append",
            metavar="FILE",
            default=default,
            help="an env file to read instead of [launcher] env_file (.env); repeatable, later wins",
        )
    if command is None or command in WITH_LOG_FORMAT:
        parser.add_argument("--log-format", choices=["text", "json"], default=default, help="output format")
    if command is None or command in WITH_NO_COLOR:
        parser.add_argument(
            "--no-color",
            action="store_true",
            default=False if command is None else default,
            help="no colour in the output",
        )


def build_parser(*, with_commands: bool = True) -> argparse.ArgumentParser:
    """The top-level parser: global options and the command's name; the command's own words
    go to `command_parser` (building every command's parser up front would import every
    command's module, more than a quick command may spend). Without the command's name for
    the shell completion, which adds every command's parser (launcher/cli/completion.py)."""
    import argparse

    width = max(map(len, COMMANDS))
    listing = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="launcher",
        description="Bring a Python backend's whole stack up in dependency order.",
        epilog=f"commands:\n{listing}\n\n{EXAMPLES}\n`launcher COMMAND --help` shows the options of each.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"launcher {__version__}")
    _common(parser, None)
    if with_commands:
        parser.add_argument("command", metavar="COMMAND", choices=COMMANDS, help="one of the commands below")
        parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one command's own words: the global options that act on it, the options
    its module declares, and its examples."""
    import argparse

    module = command_module(name)
    parser = argparse.ArgumentParser(
        prog=f"launcher {name}",
        description=COMMANDS[name][1],
        epilog=getattr(module, "EXAMPLES", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_command_arguments(parser, name)
    # What follows `--` (main() takes it off before parsing), at the end of the usage line.
    tail = getattr(module, "USAGE_TAIL", None)
    if tail:
        parser.usage = f"{parser.format_usage().removeprefix('usage: ').rstrip()} {tail}"
    return parser


def add_command_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The global options that act on the command `name`, then its own."""
    _common(parser, name)
    command_module(name).add_arguments(parser)


def command_module(name: str) -> ModuleType:
    """The module of a command: `add_arguments(parser)` and `main(args) -> int`."""
    return importlib.import_module(f"launcher.cli.{COMMANDS[name][0]}")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Both stages: global options (also accepted after the command) and the command's own."""
    args = build_parser().parse_args(argv)
    command_parser(args.command).parse_args(args.arguments, namespace=args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    if "_ARGCOMPLETE" in os.environ:  # a TAB in a shell that loaded `launcher completion SHELL`
        from launcher.cli.completion import complete

        complete()
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
    if not argv and not command:
        # A bare `launcher` shows what there is to do, and is no error: as `docker compose`.
        build_parser().print_help()
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
