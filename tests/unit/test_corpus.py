"""Every bad configuration under tests/corpus/bad yields its codes, files and lines, all at
once, with the right exit code and never a traceback.

Each case is a directory with the project's files and `expect.toml`:
`errors = [{ code, file, line?, message?, hint? }]` (`message` and `hint`: text that the
error's message and hint contain), and optionally `args` (words after `check`), `env`, `file`
(what -f names; default launcher.toml), `exit` (default 2) and `count` (how many errors there
are: no more than those expected, when it is their number).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from launcher.cli.main import main

CORPUS = Path(__file__).parents[1] / "corpus" / "bad"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_configuration(
    case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expect = tomllib.loads((case / "expect.toml").read_text())
    for name, value in expect.get("env", {}).items():
        monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("LAUNCHER_") and n not in expect.get("env", {})]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(case)
    code = main(["-f", expect.get("file", "launcher.toml"), "check", *expect.get("args", [])])
    out, err = capsys.readouterr()
    assert code == expect.get("exit", 2), err
    assert "Traceback" not in out + err
    found = re.findall(r"^error\[(LCH-\d+)\]: (.*)\n  --> (.*)(?:\n  hint: (.*))?", err, re.M)
    if "count" in expect:
        assert len(re.findall(r"^error\[", err, re.M)) == expect["count"], err
    for wanted in expect["errors"]:
        where = wanted["file"] + (f":{wanted['line']}" if "line" in wanted else "")
        assert any(
            c == wanted["code"]
            and (
                o == where
                or o.startswith(where + ":")
                or ("line" not in wanted and o.startswith(wanted["file"]))
            )
            and wanted.get("message", "") in message
            and wanted.get("hint", "") in hint
            for c, message, o, hint in found
        ), f"expected {wanted} at {where}; got:\n{err}"
