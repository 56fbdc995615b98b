"""`launcher env`'s export lines: any POSIX shell evaluates them back to the same values."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from launcher.cli.env import exports

AWKWARD = {
    "PLAIN": "value",
    "EMPTY": "",
    "QUOTES": 'it\'s "quoted"',
    "ONLY_QUOTE": "'",
    "DOLLARS": "$HOME ${PATH} $(echo no) `echo no`",
    "BACKSLASHES": "a\\nb\\\\c\\",
    "LINES": "first\nsecond\n",
    "SPACES": "  a  b  ",
    "UNICODE": "café ☕",
}


def test_each_value_is_single_quoted_and_the_lines_are_sorted() -> None:
    text = exports({"B": "it's", "A": "x"})
    assert text == "export A='x'\nexport B='it'\\''s'\n"


def test_names_no_shell_can_hold_are_left_out() -> None:
    assert exports({"BASH_FUNC_f%%": "() { :; }", "A-B": "x", "ÉTÉ": "x", "_OK1": "y"}) == "export _OK1='y'\n"


@pytest.mark.parametrize("shell", ["sh", "bash", "dash"])
def test_a_shell_evaluates_them_back_exactly(shell: str) -> None:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"no {shell} here")
    names = " ".join(f'"${name}"' for name in AWKWARD)
    script = f'eval "$1"; printf "%s\\0" {names}'
    done = subprocess.run(
        [path, "-c", script, shell, exports(AWKWARD)], capture_output=True, timeout=10, env={}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().split("\0")[:-1] == list(AWKWARD.values())
