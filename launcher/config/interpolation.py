"""`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}` and `$$`.

Defaults may nest (`${A:-${B}}`). A bare `$NAME` is left as it is, so that `shell = true`
commands keep their shell variables.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping

_EXPR = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>.*))?", re.S)
_FORMS = "write ${NAME}, ${NAME:-default} or ${NAME:?message}; $$ for a literal $"
# What shlex (POSIX, no comments) reads as more than a word's character, and its blanks.
_QUOTING = re.compile(r"[\"'\\]")
_BLANKS = re.compile(r"[ \t\r\n]+")
_SPAN = re.compile(r"\x00(\d+)\x00")


class InterpolationError(ValueError):
    """A `${...}` expression that cannot be evaluated, and what to do about it; `variable`
    names the required variable that is not set (None: the expression itself is malformed)."""

    def __init__(self, message: str, hint: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.variable = variable


def interpolate(text: str, env: Mapping[str, str]) -> str:
    if "$" not in text:
        return text  # most values: each process's environment interpolates hundreds
    return "".join(
        literal if expression is None else _evaluate(expression, env) for literal, expression in _pieces(text)
    )


def references(text: str) -> Iterator[tuple[str, str | None]]:
    """Each variable `text` refers to, with its operator (None, `:-`, `-`, `:?` or `?`); those of
    defaults too. A malformed expression ends the list: it is a problem of its own."""
    try:
        for _, expression in _pieces(text):
            match = _EXPR.fullmatch(expression or "")
            if match is not None:
                yield match.group("name"), match.group("op")
                yield from references(match.group("arg") or "")
    except InterpolationError:
        return


def _pieces(text: str) -> Iterator[tuple[str, str | None]]:
    """`text` as literal pieces (`$$` already made `$`) and the insides of its `${...}`
    expressions, each expression as `("", inside)`."""
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar < 0:
            yield text[i:], None
            return
        yield text[i:dollar], None
        following = text[dollar + 1 : dollar + 2]
        if following == "{":
            end = _closing_brace(text, dollar + 2)
            yield "", text[dollar + 2 : end]
            i = end + 1
        else:
            yield "$", None
            i = dollar + (2 if following == "$" else 1)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise InterpolationError(
        f"unclosed interpolation {text[start - 2 :]!r}", "close it with `}`; write $$ for a literal $"
    )


def _evaluate(expression: str, env: Mapping[str, str]) -> str:
    match = _EXPR.fullmatch(expression)
    if match is None:
        raise InterpolationError(f"invalid interpolation '${{{expression}}}'", _FORMS)
    name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
    value = env.get(name)
    unset = value is None or (op is not None and op.startswith(":") and value == "")
    if not unset:
        return value or ""
    if op in (":-", "-"):
        return interpolate(arg, env)
    if op in (":?", "?"):
        raise InterpolationError(
            f"${{{name}}}: {arg or 'is required'}", f"set {name} in the environment, .env or [env]", name
        )
    return ""


def split_words(text: str) -> list[str]:
    """Split a command like a shell would, keeping each `${...}` inside the word it stands in.

    `echo ${GREETING:-hello world}` is two words, not three: the expression is set aside before
    splitting and put back after. Raises InterpolationError for an unclosed `${`, ValueError
    for unbalanced quotes.
    """
    spans: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        end = _closing_brace(text, start + 2)
        out.append(text[i:start] + f"\x00{len(spans)}\x00")
        spans.append(text[start : end + 1])
        i = end + 1
    masked = "".join(out)
    # shlex reads a character at a time (most of a plan's time with 50 commands): a command
    # without quotes or backslashes is split the same at its blanks.
    words = shlex.split(masked) if _QUOTING.search(masked) else [w for w in _BLANKS.split(masked) if w]
    if not spans:
        return words
    return [_SPAN.sub(lambda m: spans[int(m.group(1))], word) for word in words]
