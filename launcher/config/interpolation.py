"""`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}` and `$$`.

Defaults may nest (`${A:-${B}}`). A bare `$NAME` is left as it is, so that `shell = true`
commands keep their shell variables.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

_EXPR = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>.*))?", re.S)
_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


class InterpolationError(ValueError):
    """A `${...}` expression that cannot be evaluated; `variable` names what was missing."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


def interpolate(text: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        following = text[dollar + 1 : dollar + 2]
        if following == "$":
            out.append("$")
            i = dollar + 2
        elif following == "{":
            end = _closing_brace(text, dollar + 2)
            out.append(_evaluate(text[dollar + 2 : end], env))
            i = end + 1
        else:
            out.append("$")
            i = dollar + 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise InterpolationError(f"unclosed interpolation {text[start - 2 :]!r}")


def _evaluate(expression: str, env: Mapping[str, str]) -> str:
    match = _EXPR.fullmatch(expression)
    if match is None:
        raise InterpolationError(f"invalid interpolation '${{{expression}}}'")
    name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
    value = env.get(name)
    unset = value is None or (op is not None and op.startswith(":") and value == "")
    if not unset:
        return value or ""
    if op in (":-", "-"):
        return interpolate(arg, env)
    if op in (":?", "?"):
        raise InterpolationError(f"${{{name}}}: {arg or 'is required'}", name)
    return ""


def split_words(text: str) -> list[str]:
    """Split a command like a shell would, keeping each `${...}` inside the word it stands in.

    `echo ${GREETING:-hello world}` is two words, not three: the expression is set aside before
    splitting and put back after. Raises ValueError for unbalanced quotes.
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
    words = shlex.split("".join(out))
    return [re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], word) for word in words]
