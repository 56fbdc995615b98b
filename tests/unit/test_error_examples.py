"""docs/errors.md's examples are what the program prints.

An example is a ```text block that starts with a command line (`$ launcher check`, perhaps with
`VAR=value` before `launcher`) and goes on with what it prints, after the blocks of the files it
needs: a ```toml block is launcher.toml, and a block whose info string names a path after the
language (```toml profiles/dev.toml, ```python shop/api.py, ```text Procfile) is that file. Each
example runs in an empty directory holding only its files, and must print its lines first.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from launcher.cli.main import main
from launcher.core.codes import Code

DOC = Path(__file__).parents[2] / "docs" / "errors.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.M | re.S)
# The codes no configuration file shows: they need a run under debugpy, or no debugpy.
NOT_SHOWN = {Code.CANNOT_DEBUG, Code.NO_DEBUGPY}


@dataclass(frozen=True)
class Example:
    code: str  # the section's
    files: dict[str, str]
    env: dict[str, str]
    argv: list[str]
    printed: list[str]

    @property
    def name(self) -> str:
        return f"{self.code}: {shlex.join(self.argv)}"


def examples() -> list[Example]:
    found = []
    for section in re.split(r"^(?=### LCH-)", DOC.read_text(), flags=re.M)[1:]:
        code = section.removeprefix("### ")[:8]
        files: dict[str, str] = {}
        for match in FENCE.finditer(section):
            info, body = match.group(1).split(), match.group(2)
            if info == ["text"]:
                lines = body.splitlines()
                if lines[0].startswith("$ "):
                    found.append(_example(code, files, lines))
                else:
                    assert not files, f"{code}: the output after a file block starts with `$ launcher ...`"
                files = {}
            elif info:
                files[info[1] if len(info) > 1 else "launcher.toml"] = body
    return found


def _example(code: str, files: dict[str, str], lines: list[str]) -> Example:
    words = shlex.split(lines[0].removeprefix("$ "))
    env = {}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[0] == "launcher", lines[0]
    return Example(code, files, env, words[1:], lines[1:])


EXAMPLES = examples()


def test_every_configuration_error_has_an_example_that_runs() -> None:
    wanted = {c for c in Code if c.startswith("LCH-1")} - NOT_SHOWN | {Code.PORT_RANGE_EXHAUSTED}
    assert sorted(wanted - {e.code for e in EXAMPLES}) == []


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_the_example_is_what_the_program_prints(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for path, body in example.files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body)
    referenced = {m for body in example.files.values() for m in re.findall(r"\$\{(\w+)", body)}
    for name in [n for n in os.environ if n.startswith("LAUNCHER_") or n in referenced]:
        monkeypatch.delenv(name)
    for name, value in example.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    main(example.argv)
    out, err = capsys.readouterr()
    printed = (err or out).splitlines()
    assert printed[: len(example.printed)] == example.printed
    assert re.match(rf"(error|warning)\[{example.code}\]: ", example.printed[0]), "an example of its own code"
