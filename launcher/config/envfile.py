"""Env files, read the way python-dotenv reads them, with python-dotenv's own parser.

`export` prefixes, single and double quotes (escapes in double quotes), values over several
lines, comments, and `${VAR}` / `${VAR:-default}` expansion, exactly as the project's own
`load_dotenv()` would read the file. Reading happens here, at load time: each entry keeps its
value as written and its line. Expanding happens later, when the plan knows the launcher's
environment (`expanded`).
"""

from __future__ import annotations

import io
from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin, display_path

# Set by the launcher for each process, before anything is interpolated: never declared.
RESERVED = ("PORT", "LAUNCHER_SERVICE")


@dataclass(frozen=True)
class Entry:
    """One `KEY=value` of an env file: the value as written (quotes and escapes resolved,
    `${...}` not yet expanded), and its file and line."""

    key: str
    value: str
    origin: Origin


@dataclass
class EnvFiles:
    """What a configuration's env files hold."""

    # `[launcher] env_file` (default `.env`), or the `-e` files that replace it, in order.
    stack: list[Entry] = field(default_factory=list)
    # Each service's `env_file` files, by service.
    services: dict[str, list[Entry]] = field(default_factory=dict)
    # Every env file looked for, present or not (what a cached `check` depends on).
    paths: list[Path] = field(default_factory=list)
    # Lines ignored, each with why (PORT and LAUNCHER_SERVICE are the launcher's).
    warnings: list[Diagnostic] = field(default_factory=list)


def read_env_files(
    stack: Sequence[tuple[Path, bool]],
    services: Mapping[str, Sequence[Path]],
    origins: Mapping[str, Origin],
    cwd: Path,
    problems: list[Diagnostic],
) -> EnvFiles:
    """The stack's env files (each with whether it must exist: `-e` files must, the configured
    `env_file` is read when present) and each service's (which must exist); `origins` gives the
    line that names them (`""` for the stack's, the service's name for its own)."""
    files = EnvFiles()
    for path, required in stack:
        files.paths.append(path)
        if path.is_file() or required:
            files.stack += _read(path, origins[""], cwd, files.warnings, problems)
    for name, paths in services.items():
        files.paths += paths
        entries: list[Entry] = []
        for path in paths:
            entries += _read(
                path, origins[name], cwd, files.warnings, problems, f"services.{name}.env_file: "
            )
        files.services[name] = entries
    return files


def _read(
    path: Path,
    named_at: Origin,
    cwd: Path,
    warnings: list[Diagnostic],
    problems: list[Diagnostic],
    key: str = "",
) -> list[Entry]:
    """The entries of the env file at `path`, which the key `key` names (a service's `env_file`;
    none for the stack's) at `named_at`."""
    label = display_path(path, cwd)
    try:
        # utf-8-sig: a byte-order mark (some editors write one) is not part of the first key.
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError)
        problems.append(
            Diagnostic(
                Code.ENV_FILE,
                f"{key}env file {label} {'does not exist' if missing else f'cannot be read: {exc.strerror}'}",
                named_at,
                f"create {label}, or stop naming it" if missing else f"check the permissions of {label}",
            )
        )
        return []
    return parse_env(text, label, warnings, problems)


def parse_env(text: str, label: str, warnings: list[Diagnostic], problems: list[Diagnostic]) -> list[Entry]:
    """The entries of an env file's text; a line python-dotenv cannot parse is a problem at its
    line (where python-dotenv would only log it and skip it: a launcher says so before starting)."""
    from dotenv.parser import parse_stream

    entries = []
    for binding in parse_stream(io.StringIO(text)):
        origin = Origin(label, binding.original.line)
        if binding.error:
            problems.append(
                Diagnostic(
                    Code.ENV_FILE,
                    # Not the line itself: it may hold a secret.
                    f"cannot parse {label} at line {binding.original.line} (python-dotenv would "
                    "skip the statement that starts there)",
                    origin,
                    "write KEY=value (an `export ` before it is fine); quote a value that holds "
                    "spaces, quotes or #, and close every quote",
                )
            )
        elif binding.key in RESERVED:
            warnings.append(
                Diagnostic(
                    Code.RESERVED_VARIABLE,
                    f"{binding.key} in {label} is ignored: the launcher sets it for each service",
                    origin,
                    f"remove it from {label}; a service with a port reads it as PORT, another's as X_PORT",
                    severity="warning",
                )
            )
        elif binding.key is not None and binding.value is not None:
            # A key without `=` has no value for python-dotenv's load_dotenv either: skipped.
            entries.append(Entry(binding.key, binding.value, origin))
    return entries


def expanded(entries: Iterable[Entry], environ: Mapping[str, str]) -> tuple[list[Entry], list[Entry]]:
    """The entries that apply, with `${VAR}` expanded, and those the launcher's environment
    overrides (it sets the same variable: CI's DATABASE_URL beats a committed .env).

    As `load_dotenv()` (override=False) does: a `${VAR}` sees the environment first, then the
    earlier entries, nothing else; an unset one is empty, `${VAR:-default}` gives the default.
    """
    from dotenv.variables import parse_variables

    earlier: dict[str, str] = {}
    context = ChainMap[str, str](dict(environ), earlier)
    applied: list[Entry] = []
    overridden: list[Entry] = []
    for entry in entries:
        value = "".join(atom.resolve(context) for atom in parse_variables(entry.value))
        earlier[entry.key] = value
        (overridden if entry.key in environ else applied).append(replace(entry, value=value))
    return applied, overridden
