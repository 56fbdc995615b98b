"""The options that several commands declare alike: the PROFILE word (check, config, graph,
compile, export) and `run`'s options, which `up` shares.

Light on purpose (argparse only): `check` imports it, and must stay quick.
"""

from __future__ import annotations

import argparse


def add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", nargs="?", help="profile (default: default_profile)")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """`run`'s options; `up` passes them on to the `run` it starts (up.py's `_run_words`)."""
    parser.add_argument("words", nargs="*", metavar="PROFILE|SERVICE", help="a profile, then services")
    parser.add_argument("-p", "--profile", help="the profile (when its name could be a service's)")
    parser.add_argument("--mode", choices=["auto", "multi", "shared"], help="process mode")
    parser.add_argument("--no-deps", action="store_true", help="do not start dependencies")
    parser.add_argument("--keep-going", action="store_true", help="keep what started if one fails")
    parser.add_argument("--watch", action="store_true", help="restart services when their files change")
    parser.add_argument("--debug", metavar="SERVICE", help="run this Python service under debugpy")
    parser.add_argument(
        "--debug-port", type=_port, default=5678, metavar="N", help="debugpy's port (default 5678)"
    )
    parser.add_argument("--debug-wait", action="store_true", help="with --debug: wait for the debugger")
    # Set by `up -d` on the launcher it starts: services' lines go to their log files only.
    parser.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)
