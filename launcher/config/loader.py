"""Finding, reading and layering the configuration files into one validated `Config`.

Layers, later wins: defaults < launcher.toml < profile (after what it extends) <
launcher.local.toml < LAUNCHER_* environment variables < command-line flags.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.config import discovery
from launcher.config.checks import check_services
from launcher.config.envfile import EnvFiles, read_env_files
from launcher.config.layers import Layered
from launcher.config.model import Config, Service, Settings
from launcher.config.procfile import procfile_document
from launcher.config.profiles import profile_chain, profile_name, read_profiles, run_settings
from launcher.config.sources import Document, parse_toml, pyproject_document
from launcher.config.validation import valid_part, validate
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin, did_you_mean, display_path, in_file_order
from launcher.core.errors import ConfigError

LOCAL_NAME = "launcher.local.toml"


@dataclass
class Loaded:
    """A validated configuration with its profile applied, and where each value came from."""

    config: Config
    layered: Layered
    path: Path
    profile: str | None
    select: list[str] | None
    select_origin: Origin | None
    watch: bool
    env_files: EnvFiles = field(default_factory=EnvFiles)
    # The layers that declare variables, lowest first: the main file, each profile of the
    # chain, launcher.local.toml (their [env] and services' `env`, before they are merged).
    env_layers: list[Layered] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    # A profile's `debug = "SERVICE"`, and the line that says so.
    debug: str | None = None
    debug_origin: Origin | None = None
    # Each profile's `description` (`launcher profiles` shows them).
    descriptions: dict[str, str] = field(default_factory=dict)
    # What is wrong, when loaded with `partial=True`: `config` is then the part that validated.
    problems: list[Diagnostic] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def stack_name(self) -> str:
        return self.config.launcher.name or self.root.resolve().name


def find_config(start: Path) -> Path:
    """Walk up from `start` to the first launcher.toml, pyproject.toml with [tool.launcher], or
    Procfile (in that order in each directory)."""
    found = discovery.find_config(str(start))
    if found is None:
        raise discovery.not_found(str(start), "create one with `launcher init`, or name a file with -f FILE")
    return Path(found)


def load(
    path: Path | str | None = None,
    *,
    profile: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env_files: Sequence[str] | None = None,
    partial: bool = False,
) -> Loaded:
    """Read and validate the configuration; raise ConfigError listing every problem found.
    `env_files` (`-e`), relative to `cwd`, replace `[launcher] env_file`.

    With `partial`, an invalid configuration that can be read comes back as the part of it that
    validates, its problems in `problems`, so that `build_plan` reports them with its own."""
    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    config_path = (cwd / path) if path is not None else find_config(cwd)
    problems: list[Diagnostic] = []

    main = _read_main(config_path, cwd)
    if isinstance(main, Diagnostic):
        raise ConfigError([main])
    base = Layered(main.data, dict(main.origins), Origin(main.label))
    profiles = read_profiles(base, config_path.parent, cwd, problems)
    base.data.pop("profiles", None)

    local = _read_optional(config_path.parent / LOCAL_NAME, cwd, problems)
    env_layer = _environment_layer(environ, problems)
    name, name_origin = profile_name(profile, base, local, env_layer, environ)
    chain = profile_chain(name, name_origin, profiles, problems) if name is not None else []
    merged = _merged(base, chain, (local, env_layer, _flag_layer(overrides or {})))
    config = _validated(merged, problems)
    files = _env_files(config, merged, config_path.parent, cwd, env_files, problems)
    if problems and not partial:
        raise ConfigError(in_file_order([*problems, *check_services(config, merged)]))
    run = run_settings(chain)
    return Loaded(
        config,
        merged,
        config_path,
        name,
        run.select,
        run.select_origin,
        run.watch,
        files,
        [base, *chain, *([local] if local is not None else [])],
        sorted(profiles),
        run.debug,
        run.debug_origin,
        {n: p.data["description"] for n, p in profiles.items() if isinstance(p.data.get("description"), str)},
        problems,
    )


def _flag_layer(overrides: Mapping[str, Any]) -> Layered:
    """The command line's settings, each from the command line."""
    layer = Layered(dict(overrides), {}, Origin("command line"))
    for key in layer.data:
        layer.origins[(key,)] = layer.fallback
    return layer


def _merged(base: Layered, chain: list[Layered], overlays: tuple[Layered | None, ...]) -> Layered:
    """The layers in one, later wins: the main file, the profile chain's [launcher], [env] and
    [services] (oldest ancestor first), the overlays (local file, LAUNCHER_*, command line)."""
    merged = Layered(fallback=base.fallback)
    merged.merge(base)
    for layer in chain:
        for key in ("launcher", "env", "services"):
            if key in layer.data:
                merged.merge(layer.sub((key,)), (key,))
    for overlay in overlays:
        if overlay is not None:
            merged.merge(overlay)
    return merged


def _validated(merged: Layered, problems: list[Diagnostic]) -> Config:
    """The configuration; if it is invalid, the part of it that validates."""
    config: Config | None
    config, found = validate(Config, merged)
    problems.extend(found)
    # Invalid: the rules between services judge what did validate (all problems at once).
    return config if config is not None else _partial_config(merged, problems)


def _read_main(path: Path, cwd: Path) -> Document | Diagnostic:
    label = display_path(path, cwd)
    if not path.is_file():
        return Diagnostic(
            Code.NO_CONFIG,
            f"configuration file {label} does not exist",
            Origin(label),
            "check the path given with -f, or run `launcher init`",
        )
    if path.suffix != ".toml":
        return procfile_document(path, label, path.read_text(errors="replace"))
    document = parse_toml(path, label)
    if isinstance(document, Document) and path.name == "pyproject.toml":
        return pyproject_document(document)
    return document


def _read_optional(path: Path, cwd: Path, problems: list[Diagnostic]) -> Layered | None:
    if not path.is_file():
        return None
    document = parse_toml(path, display_path(path, cwd))
    if isinstance(document, Diagnostic):
        problems.append(document)
        return None
    layer = Layered(document.data, document.origins, Origin(document.label))
    for key in list(document.data):
        if key not in ("launcher", "env", "services"):
            problems.append(
                Diagnostic(
                    Code.UNKNOWN_KEY,
                    f"unknown key '{key}' in {document.label}",
                    layer.origin((key,)),
                    did_you_mean(key, ["launcher", "env", "services"])
                    or "a local file may hold [launcher], [env] and [services.<name>] only",
                )
            )
            # Reported here with the local file's own hint; validation must not report it again.
            del layer.data[key]
    return layer


_ENV_SETTINGS = {
    "LAUNCHER_MODE": "mode",
    "LAUNCHER_PORTS": "ports",
    "LAUNCHER_START_TIMEOUT": "start_timeout",
    "LAUNCHER_STOP_TIMEOUT": "stop_timeout",
    "LAUNCHER_LOG_FORMAT": "log_format",
    "LAUNCHER_LOG_LEVEL": "log_level",
}


def _environment_layer(environ: Mapping[str, str], problems: list[Diagnostic]) -> Layered:
    layer = Layered(fallback=Origin("environment"))
    settings: dict[str, Any] = {}
    for variable, key in _ENV_SETTINGS.items():
        raw = environ.get(variable)
        if not raw:
            continue
        origin = Origin(f"environment variable {variable}")
        try:
            settings[key] = _env_value(key, raw)
        except ValueError:
            problems.append(
                Diagnostic(
                    Code.LAUNCHER_VARIABLE,
                    f"{variable}={raw!r} is not a valid value",
                    origin,
                    "LAUNCHER_PORTS takes LOW-HIGH (e.g. 8000-8010); timeouts take seconds",
                )
            )
            continue
        layer.origins[("launcher", key)] = origin
    if settings:
        layer.data["launcher"] = settings
    return layer


def _env_value(key: str, raw: str) -> Any:
    if key == "ports":
        low, _, high = raw.partition("-")
        return [int(low), int(high or low)]
    if key.endswith("_timeout"):
        return float(raw)
    return raw.strip().lower()


def _partial_config(merged: Layered, problems: list[Diagnostic]) -> Config:
    """The valid part of an invalid configuration: each service and [launcher] without the keys
    that fail or stand-ins for them (config/validation.py), [env] without the values that fail;
    a service that is not even a table is left out."""
    settings, hidden = valid_part(Settings, merged, ("launcher",))
    services = {}
    raw = merged.data.get("services")
    for name in raw if isinstance(raw, dict) else ():
        service, found = valid_part(Service, merged, ("services", name))
        hidden += found
        if service is not None:
            services[name] = service
    problems += hidden
    env = merged.data.get("env")
    return Config(
        launcher=settings or Settings(),
        env={k: v for k, v in env.items() if isinstance(v, str | int | float | bool)}
        if isinstance(env, dict)
        else {},
        services=services,
    )


def _env_files(
    config: Config,
    merged: Layered,
    root: Path,
    cwd: Path,
    given: Sequence[str] | None,
    problems: list[Diagnostic],
) -> EnvFiles:
    """`[launcher] env_file` (relative to the project, read when present), or the `-e` files
    that replace it (relative to the working directory, each must exist); and each service's
    `env_file` (each must exist)."""
    if given is not None:
        stack = [(cwd / name, True) for name in given]
        origins = {"": Origin("command line")}
    else:
        configured = config.launcher.env_file
        names = [configured] if isinstance(configured, str) else configured
        stack = [(root / name, False) for name in names]
        origins = {"": merged.origin(("launcher", "env_file"))}
    services: dict[str, list[Path]] = {}
    for name, service in config.services.items():
        if service.env_file is not None:
            names = [service.env_file] if isinstance(service.env_file, str) else service.env_file
            services[name] = [root / file for file in names]
            origins[name] = merged.origin(("services", name, "env_file"))
    return read_env_files(stack, services, origins, cwd, problems)
