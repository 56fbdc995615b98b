"""Secret references: how a secret stands in an exported command, probe or script.

A secret's value is never written out. Where a command or a probe target holds one, the export
writes `${NAME}` instead, and the engine supplies NAME from its own environment mechanism
(systemd's EnvironmentFile, supervisord's environment, runit's envdir, compose's env_file, a
Kubernetes Secret) and expands it when it runs the process: systemd and Kubernetes expand
`${NAME}` / `$(NAME)` themselves, the others run the command through `sh`, where a reference is
double-quoted (`"${NAME}"`: one word, whatever it holds) and everything else single-quoted.

Pure: text in, text out.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping

from launcher.core.masking import is_secret_key, mask_text

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A secret shorter than this is not looked for in commands: it would match ordinary words.
SHORTEST = 4


def reference(name: str) -> str:
    return f"${{{name}}}"


def references(texts: Iterable[str]) -> tuple[str, ...]:
    """The names `texts` refer to as `${NAME}`, sorted, each once."""
    return tuple(sorted({m.group(1) for text in texts for m in REFERENCE.finditer(text)}))


def placeholders(texts: Iterable[str]) -> dict[str, str]:
    """Each secret-looking variable `texts` interpolate, as its own reference: compiled with
    these as the environment, a plan holds `${REDIS_PASSWORD}` where a value would be, so an
    export needs no secret at hand and writes none. (A value the project declares wins.)"""
    from launcher.config.interpolation import references as interpolated

    names = {name for text in texts for name, _ in interpolated(text) if is_secret_key(name)}
    return {name: reference(name) for name in sorted(names)}


def hide(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with each secret value (`secrets`: name -> value) written as its reference,
    the longest values first (a URL that holds a password is one reference, not two)."""
    for name, value in sorted(secrets.items(), key=lambda item: -len(item[1])):
        if len(value) >= SHORTEST:
            text = text.replace(value, reference(name))
    return text


def in_clear(text: str) -> bool:
    """Whether `text` still holds a password in a URL that is not a reference."""
    bare = REFERENCE.sub("", text)
    return mask_text(bare) != bare


def shell_word(word: str, names: Iterable[str]) -> str:
    """`word` quoted for sh, its references to `names` left for the shell to expand."""
    wanted = set(names)
    parts, last = [], 0
    for match in REFERENCE.finditer(word):
        if match.group(1) not in wanted:
            continue
        if match.start() > last:
            parts.append(shlex.quote(word[last : match.start()]))
        parts.append(f'"{match.group(0)}"')
        last = match.end()
    if not parts:
        return shlex.quote(word)
    if last < len(word):
        parts.append(shlex.quote(word[last:]))
    return "".join(parts)


def shell_line(argv: Iterable[str], names: Iterable[str]) -> str:
    """An argv as sh text, its references to `names` expanded by that shell."""
    wanted = tuple(names)
    return " ".join(shell_word(word, wanted) for word in argv)


def expanded(argv: tuple[str, ...], names: Iterable[str]) -> tuple[str, ...]:
    """Which of `names` the engine (or a shell in front) must expand in `argv`: none in a
    `shell = true` command, whose own shell expands them from the environment as it runs."""
    if argv[:2] == ("/bin/sh", "-c"):
        return ()
    found = set(references(argv))
    return tuple(name for name in names if name in found)
