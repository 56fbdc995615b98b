"""The command line: `launcher.cli.main` parses the arguments and hands them to one module per
command (`launcher.cli.run`, `launcher.cli.status`, ...), each declaring its options with
`add_arguments(parser: argparse.ArgumentParser) -> None` and running with
`main(args: argparse.Namespace) -> int`. `launcher.cli.options` holds the options several
commands share; `launcher.cli.project` loads the project the command line names.
"""
