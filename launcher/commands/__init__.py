"""One module per CLI command; each exposes `main(args: argparse.Namespace) -> int`."""
