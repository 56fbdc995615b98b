"""The command line: `launcher.cli.main` parses the arguments and hands them to one module per
command (`launcher.cli.run`, `launcher.cli.status`, ...), each exposing
`main(args: argparse.Namespace) -> int`.
"""
