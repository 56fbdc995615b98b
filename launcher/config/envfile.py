"""`.env` files in the honcho/foreman/compose syntax, read with honcho's own parser."""

from __future__ import annotations

from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of an env file; ValueError when it cannot be parsed."""
    from honcho.environ import parse

    text = path.read_text(encoding="utf-8", errors="replace")
    values: dict[str, str] = parse(text)
    return values
