"""Profiles: finding them (`[profiles.<name>]` tables and `profiles/<name>.toml` files),
choosing one, and the chain of what it extends.

A profile layers its [launcher], [env] and [services] over the configuration (the loader
merges them); its `select`, `watch` and `debug` say how the stack runs, and are read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from launcher.config.layers import Layered
from launcher.config.model import Profile
from launcher.config.sources import parse_toml
from launcher.config.validation import validate
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin, did_you_mean, display_path

PROFILE_DIR = "profiles"


@dataclass(frozen=True)
class RunSettings:
    """What a profile chain says about how the stack runs; the last profile that says it wins."""

    select: list[str] | None = None
    select_origin: Origin | None = None
    watch: bool = False
    # `debug = "SERVICE"`, and the line that says so.
    debug: str | None = None
    debug_origin: Origin | None = None


def read_profiles(base: Layered, root: Path, cwd: Path, problems: list[Diagnostic]) -> dict[str, Layered]:
    """Every profile: `[profiles.<name>]` tables and `profiles/<name>.toml` files."""
    found: dict[str, Layered] = {}
    inline = base.data.get("profiles")
    if isinstance(inline, dict):
        for name in inline:
            found[name] = base.sub(("profiles", name))
    directory = root / PROFILE_DIR
    for file in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
        document = parse_toml(file, display_path(file, cwd))
        if isinstance(document, Diagnostic):
            problems.append(document)
            continue
        if file.stem in found:
            problems.append(
                Diagnostic(
                    Code.PROFILE_CONFLICT,
                    f"profile '{file.stem}' is defined twice",
                    Origin(document.label),
                    f"keep either {document.label} or [profiles.{file.stem}], not both",
                )
            )
            continue
        found[file.stem] = Layered(document.data, document.origins, Origin(document.label))
    for name, layer in found.items():
        _, errors = validate(Profile, layer, ("profiles", name))
        problems.extend(errors)
    return found


def profile_name(
    explicit: str | None,
    base: Layered,
    local: Layered | None,
    env_layer: Layered,
    environ: Mapping[str, str],
) -> tuple[str | None, Origin]:
    """The profile to apply, and what chose it: the command line, LAUNCHER_PROFILE, or the
    `default_profile` setting (the local file's over the main one's)."""
    if explicit is not None:
        return explicit, Origin("command line")
    if environ.get("LAUNCHER_PROFILE"):
        return environ["LAUNCHER_PROFILE"], Origin("environment variable LAUNCHER_PROFILE")
    for layer in [x for x in (env_layer, local, base) if x is not None]:
        settings = layer.data.get("launcher")
        if isinstance(settings, dict) and isinstance(settings.get("default_profile"), str):
            return settings["default_profile"], layer.origin(("launcher", "default_profile"))
    return None, Origin("default")


def profile_chain(
    name: str, origin: Origin, profiles: dict[str, Layered], problems: list[Diagnostic]
) -> list[Layered]:
    """The profile and what it extends, oldest ancestor first."""
    chain: list[str] = []
    current: str | None = name
    while current is not None:
        if current not in profiles:
            problems.append(
                Diagnostic(
                    Code.UNKNOWN_PROFILE,
                    f"unknown profile '{current}'",
                    origin,
                    did_you_mean(current, profiles)
                    or f"known profiles: {', '.join(sorted(profiles)) or 'none'}",
                )
            )
            return []
        if current in chain:
            cycle = " -> ".join([*chain[chain.index(current) :], current])
            problems.append(
                Diagnostic(
                    Code.PROFILE_CONFLICT,
                    f"profiles extend each other in a cycle: {cycle}",
                    profiles[current].origin(("extends",)),
                    "remove one of these extends",
                )
            )
            return []
        chain.append(current)
        parent = profiles[current].data.get("extends")
        origin = profiles[current].origin(("extends",))
        current = parent if isinstance(parent, str) else None
    return [profiles[n] for n in reversed(chain)]


def run_settings(chain: list[Layered]) -> RunSettings:
    """`select`, `watch` and `debug` of the chain (oldest ancestor first)."""
    select: list[str] | None = None
    select_origin: Origin | None = None
    watch = False
    debug: str | None = None
    debug_origin: Origin | None = None
    for layer in chain:
        if isinstance(layer.data.get("select"), list):
            select, select_origin = layer.data["select"], layer.origin(("select",))
        watch = bool(layer.data.get("watch", watch))
        if isinstance(layer.data.get("debug"), str):
            debug, debug_origin = layer.data["debug"], layer.origin(("debug",))
    return RunSettings(select, select_origin, watch, debug, debug_origin)
