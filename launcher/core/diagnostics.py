"""Diagnostics: what is wrong with a configuration, where, and what to do about it.

Every configuration problem becomes one `Diagnostic`; the loader collects all of them before
anything is raised, so a user sees every problem at once. The codes are stable: the `Code`s of
launcher/core/codes.py, each explained in docs/errors.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Origin:
    """Where a value came from: a file and line, or a named layer such as `default`."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


DEFAULT_ORIGIN = Origin("default")


@dataclass(frozen=True)
class Diagnostic:
    """One problem (or warning): its code, what is wrong, where, and what to do about it."""

    code: str
    message: str
    origin: Origin | None = None
    hint: str | None = None
    # "error", or "warning": said (by `check`, and when the stack starts), but refusing nothing.
    severity: str = "error"

    def render(self) -> str:
        lines = [f"{self.severity}[{self.code}]: {self.message}"]
        if self.origin is not None:
            lines.append(f"  --> {self.origin}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    text = "\n".join(d.render() for d in items)
    if len(items) > 1:
        text += f"\n{len(items)} problems found"
    return text


def in_file_order(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Each problem once, grouped by file (in the order each file's first problem was found)
    and by line within a file; problems without a place last."""
    unique = list(dict.fromkeys(diagnostics))
    files = list(dict.fromkeys(d.origin.file for d in unique if d.origin is not None))

    def place(d: Diagnostic) -> tuple[int, int, int]:
        if d.origin is None:
            return (len(files), 0, 0)
        return (files.index(d.origin.file), d.origin.line or 0, d.origin.column or 0)

    return sorted(unique, key=place)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    import difflib  # only a problem asks: a valid configuration's check does not import it

    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def display_path(path: Path, base: Path | None = None) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    base = base or Path.cwd()
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)
