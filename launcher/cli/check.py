"""`launcher check [PROFILE]`: validate; exit 0, or 2 with every problem listed.

A successful check of unchanged inputs is answered from `.launcher/cache/` (see checkcache.py)
without importing pydantic; anything else runs the full validation.
"""

from __future__ import annotations

import argparse
import os

from launcher.cli.options import add_profile

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_profile(parser)
    parser.add_argument("--all-profiles", action="store_true", help="also check every profile")


def main(args: argparse.Namespace) -> int:
    from launcher.config import checkcache

    config = _config_path(args)
    key = [str(config), args.profile or "", str(args.all_profiles), args.log_format or ""]
    if config is not None:
        cached = checkcache.lookup(config.parent, key, os.environ)
        if cached is not None:
            print(cached)
            return 0
    return _check(args, key)


def _config_path(args: argparse.Namespace) -> Path | None:
    """The file `load` would read, found without importing the loader (None: let it report)."""
    from pathlib import Path

    from launcher.config import discovery

    if args.file:
        return Path(args.file).resolve()
    found = discovery.find_config(os.getcwd())
    return None if found is None else Path(found)


def _check(args: argparse.Namespace, key: list[str]) -> int:
    from launcher.cli.project import plan_args
    from launcher.config import checkcache

    loaded, plan = plan_args(args, args.profile)
    lines = [
        f"{loaded.path.name}: {len(plan.specs)} processes"
        + (f" (profile {plan.profile})" if plan.profile else "")
        + ", configuration is valid"
    ]
    if args.all_profiles:
        for name in loaded.profiles:
            _, other = plan_args(args, name)
            lines.append(f"  profile {name}: {len(other.specs)} processes, valid")
    output = "\n".join(lines)
    print(output)
    root = loaded.root
    files = [loaded.path, root / "launcher.local.toml", *_env_files(loaded)]
    checkcache.store(root, key, files, os.environ, output)
    return 0


def _env_files(loaded: object) -> list[Path]:
    from launcher.config.loader import Loaded

    assert isinstance(loaded, Loaded)
    config = loaded.config
    names: list[str] = []
    for value in [config.launcher.env_file, *(s.env_file for s in config.services.values())]:
        if value is not None:
            names.extend([value] if isinstance(value, str) else value)
    return [loaded.root / name for name in names]
