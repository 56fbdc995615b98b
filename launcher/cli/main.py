"""The command line: parse arguments, hand them to one command module, turn errors into codes.

Only this module (and the command modules it dispatches to) prints, exits or reads argv.
Command modules are imported lazily so that `--help`, `--version` and `check` stay fast.
"""

from __future__ import annotations

import importlib
import os
import sys

from launcher.version import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs ~15 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

# command -> (module under launcher.commands, one-line help)
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
    go to `command_parser` (building all eight command parsers up front would cost more than
    a quick command may spend)."""
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
    """The parser of one command's own words."""
    import argparse

    text = COMMANDS[name][1]
    parser = argparse.ArgumentParser(prog=f"launcher {name}", description=text)
    # `logs -f` follows (as tail's and docker's): there `-f FILE` goes before the command.
    _common(parser, top=False, short_file=name != "logs")
    if name in _OPTIONS:
        _OPTIONS[name](parser)
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Both stages: global options (also accepted after the command) and the command's own."""
    args = build_parser().parse_args(argv)
    command_parser(args.command).parse_args(args.arguments, namespace=args)
    return args


def _run_options(command: argparse.ArgumentParser) -> None:
    import argparse

    command.add_argument("words", nargs="*", metavar="PROFILE|SERVICE", help="a profile, then services")
    command.add_argument("-p", "--profile", help="the profile (when its name could be a service's)")
    command.add_argument("--mode", choices=["auto", "multi", "shared"], help="process mode")
    command.add_argument("--no-deps", action="store_true", help="do not start dependencies")
    command.add_argument("--keep-going", action="store_true", help="keep what started if one fails")
    command.add_argument("--watch", action="store_true", help="restart services when their files change")
    command.add_argument("--debug", metavar="SERVICE", help="run this Python service under debugpy")
    command.add_argument(
        "--debug-port", type=_port, default=5678, metavar="N", help="debugpy's port (default 5678)"
    )
    command.add_argument("--debug-wait", action="store_true", help="with --debug: wait for the debugger")
    # Set by `up -d` on the launcher it starts: services' lines go to their log files only.
    command.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)


def _up_options(command: argparse.ArgumentParser) -> None:
    _run_options(command)
    command.add_argument("-d", "--detach", action="store_true", help="run the stack in the background")
    command.add_argument("--wait", action="store_true", help="with -d: return once every service is ready")
    command.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="with --wait: give up after S seconds"
    )


def _profile_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("profile", nargs="?", help="profile (default: default_profile)")


def _check_options(command: argparse.ArgumentParser) -> None:
    _profile_option(command)
    command.add_argument("--all-profiles", action="store_true", help="also check every profile")


def _config_options(command: argparse.ArgumentParser) -> None:
    _profile_option(command)
    command.add_argument("--show-origin", action="store_true", help="show the file and line of every value")
    command.add_argument("--json", action="store_true", help="print JSON")


def _graph_options(command: argparse.ArgumentParser) -> None:
    _profile_option(command)
    command.add_argument("--format", choices=["text", "mermaid", "dot"], default="text", help="output format")


def _compile_options(command: argparse.ArgumentParser) -> None:
    _profile_option(command)
    command.add_argument(
        "-o", "--output", metavar="DIR", default=None, help="directory (default: Procfile.d)"
    )


def _export_options(command: argparse.ArgumentParser) -> None:
    from launcher.exports import FORMATS

    command.add_argument("format", choices=FORMATS, metavar="FORMAT", help=", ".join(FORMATS))
    _profile_option(command)
    command.add_argument(
        "-o", "--output", metavar="DIR", default=None, help="directory (default: deploy/FORMAT)"
    )
    command.add_argument(
        "--root",
        metavar="DIR",
        default=None,
        help="where the project is where it runs (default: its directory here; /app in an image)",
    )
    command.add_argument("--python", metavar="PATH", default="python", help="its interpreter there")
    command.add_argument(
        "--user", metavar="NAME", default=None, help="the user it runs as (systemd, supervisord, runit)"
    )


def _schema_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--profile", action="store_true", help="the schema of a profile file instead")


def _init_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--from", dest="from_procfile", metavar="PROCFILE", help="convert a Procfile")
    command.add_argument("--force", action="store_true", help="overwrite an existing launcher.toml")


def _down_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="give up after S seconds (default 120)"
    )


def _status_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--json", action="store_true", help="print the API's JSON")


def _logs_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("service", nargs="?", help="the service (default: every service)")
    command.add_argument("-f", "--follow", action="store_true", help="go on printing new lines")
    command.add_argument(
        "-n", "--tail", type=_count, default=100, metavar="N", help="the last N lines (default 100)"
    )


def _service_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("service", help="the service")


def _count(text: str) -> int:
    import argparse

    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of lines: {text!r}")
    return int(text)


def _port(text: str) -> int:
    import argparse

    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


_OPTIONS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "run": _run_options,
    "up": _up_options,
    "check": _check_options,
    "config": _config_options,
    "graph": _graph_options,
    "compile": _compile_options,
    "export": _export_options,
    "schema": _schema_options,
    "init": _init_options,
    "down": _down_options,
    "status": _status_options,
    "logs": _logs_options,
    "start": _service_options,
    "stop": _service_options,
    "restart": _service_options,
}


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
    module_name, _ = COMMANDS[args.command]
    module = importlib.import_module(f"launcher.cli.{module_name}")
    try:
        code: int = module.main(args)
    except BrokenPipeError:
        # The reader went away (`launcher config | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # Imported here: the quick commands' happy path must not pay for it.
        from launcher.core.errors import LauncherError

        if not isinstance(exc, LauncherError):
            raise
        print(exc, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code
