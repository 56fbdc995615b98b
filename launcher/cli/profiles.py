"""`launcher profiles [--names] [--json]`: each profile of the configuration with its
description and the services it runs (its `select`, after `extends`, with what they depend on).

The shell completion (launcher/cli/completion.py) takes its profile and service names from here.
What it finds is remembered in `.launcher/cache/` while the configuration's files and the
variables they name are unchanged (launcher/config/checkcache.py, as `check` does), so that a
TAB does not pay for loading the configuration (pydantic) each time.
"""

from __future__ import annotations

import argparse
import os

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from typing import TypedDict

    class ProfileJson(TypedDict):
        name: str
        description: str | None
        default: bool  # the one `launcher run` runs here without a PROFILE
        services: list[str]

    class Catalogue(TypedDict):
        profiles: list[ProfileJson]
        services: list[str]  # every service of the configuration and of its profiles


EXAMPLES = """\
examples:
  launcher profiles                 each profile, its description and its services
  launcher profiles --names         the names alone, one a line
  launcher run $(launcher profiles --names | fzf)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--names", action="store_true", help="only the profiles' names, one a line")
    parser.add_argument("--json", action="store_true", help="print JSON")


def main(args: argparse.Namespace) -> int:
    import json

    found = catalogue(args.file)
    if args.json:
        print(json.dumps(found["profiles"], indent=2))
    elif args.names:
        for profile in found["profiles"]:
            print(profile["name"])
    else:
        print(render(found), end="")
    return 0


def render(found: Catalogue) -> str:
    """Two lines a profile: its name and description, then its services (pure, for tests)."""
    if not found["profiles"]:
        return f"no profiles: `launcher run` runs every enabled service ({', '.join(found['services'])})\n"
    names = [p["name"] + (" (default)" if p["default"] else "") for p in found["profiles"]]
    width = max(map(len, names))
    lines = []
    for name, profile in zip(names, found["profiles"], strict=True):
        lines.append(f"{name:<{width}}  {profile['description'] or '-'}".rstrip())
        lines.append(f"{'':<{width}}  services: {', '.join(profile['services']) or 'none'}")
    return "\n".join(lines) + "\n"


def catalogue(file: str | None) -> Catalogue:
    """The profiles and services of the configuration at `file` (or found from here): from the
    cache while its inputs are unchanged, else loaded (ConfigError when it is invalid)."""
    import json
    from pathlib import Path

    from launcher.config import checkcache, discovery

    path = os.path.abspath(file) if file else discovery.find_config(os.getcwd())
    if path is None:
        return _loaded(file)  # which says that there is no configuration
    root = Path(path).parent
    key = ["profiles", path]
    cached = checkcache.lookup(root, key, os.environ)
    if cached is not None:
        found: Catalogue = json.loads(cached)
        return found
    found = _loaded(path)
    checkcache.store(root, key, [Path(path), root / "launcher.local.toml"], os.environ, json.dumps(found))
    return found


def _loaded(file: str | None) -> Catalogue:
    from launcher.config.loader import load
    from launcher.plan.selection import selected

    base = load(file)
    services = list(base.config.services)
    profiles: list[ProfileJson] = []
    for name in base.profiles:
        loaded = load(file, profile=name)
        chosen = selected(loaded, [], False, [])
        services += [s for s in loaded.config.services if s not in services]
        profiles.append(
            {
                "name": name,
                "description": base.descriptions.get(name),
                "default": name == base.profile,
                "services": [s for s in loaded.config.services if s in chosen],
            }
        )
    return {"profiles": profiles, "services": services}
