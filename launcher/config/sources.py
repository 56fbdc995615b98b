"""Reading TOML while remembering, for every key, the line it was written on.

`tomllib` gives values but no positions, so a light scan of the text maps each key path to its
line: table headers, `key = value` lines (dotted keys included) and the keys of inline tables.
It only needs to be right for valid TOML, since tomllib has parsed the text first.

A pyproject.toml's `[tool.launcher]` table is read as a launcher.toml (`pyproject_document`),
its keys' lines kept.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin

Key = tuple[str, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_\-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_KEY_PART = re.compile(_BARE_OR_QUOTED)
_DOTTED = rf"{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*"
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_INLINE_KEY = re.compile(rf"[{{,]\s*({_DOTTED})\s*=")
_TOML_ERROR_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass
class Document:
    """A parsed file: its data and the origin of every key path in it."""

    path: Path
    label: str
    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[Key, Origin] = field(default_factory=dict)

    def origin(self, key: Key) -> Origin:
        """The origin of `key`, or of its nearest ancestor that has one."""
        while key:
            if key in self.origins:
                return self.origins[key]
            key = key[:-1]
        return Origin(self.label)


def split_key(text: str) -> Key:
    parts = _KEY_PART.findall(text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def locate_keys(text: str, label: str) -> dict[Key, Origin]:
    origins: dict[Key, Origin] = {}
    table: Key = ()
    array_counts: dict[Key, int] = {}
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        if header and not _ASSIGN.match(line):
            table = split_key(header.group(2))
            if header.group(1) == "[[":
                index = array_counts.get(table, 0)
                array_counts[table] = index + 1
                table = (*table, str(index))
            # `[a.b.c]` also places `a` and `a.b` (implicit tables) at their first mention.
            for depth in range(1, len(table) + 1):
                origins.setdefault(table[:depth], Origin(label, number))
            continue
        assign = _ASSIGN.match(line)
        if not assign:
            continue
        key = (*table, *split_key(assign.group(1)))
        origins.setdefault(key, Origin(label, number))
        rest = line[assign.end() :]
        for quote in ('"""', "'''"):
            if rest.count(quote) % 2 == 1:
                in_multiline = quote
        if rest.lstrip().startswith("{"):
            _locate_inline(rest, key, label, number, origins)
    return origins


def _locate_inline(text: str, prefix: Key, label: str, line: int, out: dict[Key, Origin]) -> None:
    # Nested inline tables: track the key path of each open brace.
    stack: list[Key] = [prefix]
    pending: Key | None = None
    position = 0
    while position < len(text):
        char = text[position]
        if char in "\"'":
            end = text.find(char, position + 1)
            position = len(text) if end < 0 else end + 1
            continue
        if char == "{":
            stack.append(pending if pending is not None else stack[-1])
            pending = None
        elif char == "}":
            if len(stack) > 1:
                stack.pop()
            else:
                return
        if char in "{,":
            match = _INLINE_KEY.match(text, position)
            if match:
                pending = (*stack[-1], *split_key(match.group(1)))
                out.setdefault(pending, Origin(label, line))
                position = match.end()
                continue
        position += 1


def parse_toml(path: Path, label: str, text: str | None = None) -> Document | Diagnostic:
    """Parse a TOML file into a Document, or return the LCH-1001 diagnostic of its syntax error."""
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_ERROR_POSITION.search(message)
        origin = Origin(label)
        if position:
            origin = Origin(label, int(position.group(1)), int(position.group(2)))
            message = message[: position.start()].strip()
        return Diagnostic(
            Code.TOML_SYNTAX,
            f"TOML syntax error: {message}",
            origin,
            "fix the syntax at that position (strings need quotes, tables need [brackets])",
        )
    except UnicodeDecodeError as exc:
        return Diagnostic(
            Code.TOML_SYNTAX, f"file is not valid UTF-8: {exc.reason}", Origin(label), "save it as UTF-8"
        )
    except OSError as exc:
        return Diagnostic(
            Code.NO_CONFIG, f"cannot read {label}: {exc.strerror}", Origin(label), "check the path"
        )
    return Document(path, label, data, locate_keys(text, label))


PYPROJECT_TABLE = ("tool", "launcher")
# The tables of a configuration beside [launcher]. In pyproject.toml they are sub-tables of
# [tool.launcher], whose own keys are [launcher]'s, as ruff and pytest write their settings.
SECTIONS = ("env", "services", "profiles")


def pyproject_document(document: Document) -> Document | Diagnostic:
    """The `[tool.launcher]` table of a parsed pyproject.toml as a configuration document:
    `[tool.launcher.env]`, `.services.NAME` and `.profiles.NAME` become `[env]`,
    `[services.NAME]` and `[profiles.NAME]`, every other key of the table a key of `[launcher]`.
    Each key keeps the line it has in the pyproject.toml."""
    tool = document.data.get("tool")
    table = tool.get("launcher") if isinstance(tool, dict) else None
    if not isinstance(table, dict) or not table:
        return Diagnostic(
            Code.NO_CONFIG,
            f"{document.label} has no [tool.launcher] table",
            Origin(document.label),
            "add [tool.launcher] to it, or use a launcher.toml",
        )
    if isinstance(table.get("launcher"), dict):
        return Diagnostic(
            Code.UNKNOWN_KEY,
            "[tool.launcher.launcher] is not read: the settings go directly in [tool.launcher]",
            document.origin((*PYPROJECT_TABLE, "launcher")),
            "move its keys (name, ports, mode, ...) up into [tool.launcher]",
        )
    data: dict[str, Any] = {}
    for key, value in table.items():
        place = _pyproject_place(key, value)
        target = data.setdefault("launcher", {}) if len(place) > 1 else data
        target[key] = value
    depth = len(PYPROJECT_TABLE)
    origins = {
        (*_pyproject_place(key[depth], table[key[depth]]), *key[depth + 1 :]): origin
        for key, origin in document.origins.items()
        if key[:depth] == PYPROJECT_TABLE and len(key) > depth and key[depth] in table
    }
    if "launcher" in data:
        origins[("launcher",)] = document.origin(PYPROJECT_TABLE)
    return Document(document.path, document.label, data, origins)


def _pyproject_place(key: str, value: Any) -> Key:
    """Where a key of [tool.launcher] goes: a section at the top level; a setting in [launcher].
    Another table stays at the top level, where validation reports it as an unknown section."""
    if key in SECTIONS or isinstance(value, dict):
        return (key,)
    return ("launcher", key)
