"""`launcher init [--from Procfile] [--force]`: write launcher.toml here."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  launcher init                     a launcher.toml to start from, here
  launcher init --from Procfile     one that runs a Procfile's processes
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_procfile", metavar="PROCFILE", help="convert a Procfile")
    parser.add_argument("--force", action="store_true", help="overwrite an existing launcher.toml")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from launcher.config.loader import load
    from launcher.config.procfile import procfile_document
    from launcher.config.scaffold import from_procfile, scaffold, target
    from launcher.core.codes import Code
    from launcher.core.diagnostics import Diagnostic, Origin
    from launcher.core.errors import ConfigError

    here = Path.cwd()
    path = target(here)
    if path.exists() and not args.force:
        raise ConfigError(
            [
                Diagnostic(
                    Code.WOULD_OVERWRITE,
                    "launcher.toml already exists here",
                    Origin("launcher.toml"),
                    "pass --force to overwrite it",
                )
            ]
        )
    if args.from_procfile:
        source = Path(args.from_procfile)
        if not source.is_file():
            raise ConfigError(
                [
                    Diagnostic(
                        Code.NO_CONFIG,
                        f"{source} does not exist",
                        Origin(str(source)),
                        "name an existing Procfile",
                    )
                ]
            )
        document = procfile_document(source, str(source), source.read_text(errors="replace"))
        if isinstance(document, Diagnostic):
            raise ConfigError([document])
        text = from_procfile(document.data, here.name)
    else:
        text = scaffold(here.name)
    previous = path.read_text() if path.exists() else None
    path.write_text(text)
    try:
        load(path)
    except ConfigError:
        # Never leave a file behind that does not load: put back what was there.
        if previous is None:
            path.unlink()
        else:
            path.write_text(previous)
        raise
    print(f"wrote {path}; check it with `launcher check`")
    return 0
