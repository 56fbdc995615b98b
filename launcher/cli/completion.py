"""`launcher completion bash|zsh|fish`: the shell's completion script, and the completion itself.

Both are argcomplete's. The script it writes runs `launcher` on each TAB with `_ARGCOMPLETE`
set; main.py then hands over to `complete()` before anything else, which builds the parser of
every command (each command's module declares its options, and imports nothing heavy for it),
names the completers of the words that are names, and lets argcomplete answer and exit.
Profile and service names come from `launcher profiles`' catalogue, cached while the
configuration is unchanged, so that a TAB pays for loading the configuration once.

argcomplete (its import costs 16 ms) is imported only here: `--help`, `--version` and the other
quick commands never import this module.
"""

from __future__ import annotations

import argparse
import os

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

SHELLS = ("bash", "zsh", "fish")

EXAMPLES = """\
examples:
  eval "$(launcher completion bash)"          in ~/.bashrc
  eval "$(launcher completion zsh)"           in ~/.zshrc, after compinit
  launcher completion fish > ~/.config/fish/completions/launcher.fish
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help=" | ".join(SHELLS))


def main(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    print(shellcode(["launcher"], shell=args.shell), end="")
    return 0


def complete() -> NoReturn:
    """Answer the shell's completion request that the environment holds, and exit."""
    import argcomplete

    line = os.environ.get("COMP_LINE", "")[: int(os.environ.get("COMP_POINT") or 0)]
    if " -- " in line:
        os._exit(1)  # the words of `-- CMD` are CMD's: the shell completes them on its own
    # Options once a `-` is typed, as git's and docker's completions do: a bare TAB offers the
    # commands, or the names the command takes.
    argcomplete.autocomplete(full_parser(), always_complete_options=False)
    os._exit(1)  # not a completion request after all (autocomplete returns only then)


def full_parser() -> argparse.ArgumentParser:
    """Every command's parser under the global options, as argcomplete reads them."""
    from launcher.cli import main

    parser = main.build_parser(with_commands=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, text) in main.COMMANDS.items():
        command = commands.add_parser(name, help=text, description=text)
        main.add_command_arguments(command, name)
        for action in command._actions:
            completer = COMPLETERS.get(action.dest)
            if completer is not None and action.choices is None and action.nargs != 0:
                action.completer = completer  # type: ignore[attr-defined]
    return parser


def _profiles(parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    return [p["name"] for p in _catalogue(parsed_args)["profiles"]]


def _services(parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    return list(_catalogue(parsed_args)["services"])


def _profiles_then_services(parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    # `run [PROFILE] [SERVICE...]`: a profile is the first word only.
    first = not getattr(parsed_args, "words", None)
    return (_profiles(parsed_args) if first else []) + _services(parsed_args)


def _catalogue(parsed_args: argparse.Namespace) -> Any:
    from launcher.cli.profiles import catalogue
    from launcher.core.errors import LauncherError

    try:
        return catalogue(getattr(parsed_args, "file", None))
    except LauncherError:  # no configuration here, or an invalid one: nothing to offer
        return {"profiles": [], "services": []}


# The completer of each kind of name, by the `dest` of the arguments that take one.
COMPLETERS: dict[str, Callable[..., list[str]]] = {
    "profile": _profiles,
    "words": _profiles_then_services,
    "service": _services,
    "services": _services,
    "debug": _services,
}
