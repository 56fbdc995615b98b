"""The command line: `launcher.cli.main` parses the arguments and hands them to one module per
command (`launcher.cli.run`, `launcher.cli.status`, ...), each declaring its options with
`add_arguments(parser: argparse.ArgumentParser) -> None` and running with
`main(args: argparse.Namespace) -> int`. `launcher.cli.options` holds the options several
commands share; `launcher.cli.project` loads the project the command line names.

A command's module imports at its top what `add_arguments` needs and a few light modules, and
the rest (the configuration, the runtime, the client, their libraries) in the functions that
use it (what only annotations name, under TYPE_CHECKING): so `launcher COMMAND --help` costs
little more than `launcher --help` (tests/integration/test_quick_commands.py).
"""
