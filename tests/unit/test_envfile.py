"""Env files are read the way python-dotenv reads them (launcher/config/envfile.py): `export`,
quotes and escapes, values over several lines, comments, `${VAR}` from the earlier lines and
from the launcher's environment, which wins as with `load_dotenv()`; a line it cannot parse is
LCH-1023 at that line, and PORT or LAUNCHER_SERVICE a warning."""

from __future__ import annotations

import io
import os
import textwrap

import pytest
from dotenv import dotenv_values, load_dotenv

from launcher.config.envfile import Entry, expanded, parse_env
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin


def entries(text: str) -> list[Entry]:
    warnings: list[Diagnostic] = []
    problems: list[Diagnostic] = []
    found = parse_env(textwrap.dedent(text), ".env", warnings, problems)
    assert problems == []
    assert warnings == []
    return found


def read(text: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """What applies over `environ`, expanded."""
    applied, _ = expanded(entries(text), environ or {})
    return {entry.key: entry.value for entry in applied}


def test_export_prefixes_quotes_escapes_and_comments() -> None:
    assert read(r"""
        # a comment
        export PLAIN=one
        export  SPACED = two  # a comment after a value
        DOUBLE="a \"quoted\" word\tand\nlines"
        SINGLE='as \n written'
        HASH="not # a comment"
        EMPTY=
        KEY_ONLY
    """) == {
        "PLAIN": "one",
        "SPACED": "two",
        "DOUBLE": 'a "quoted" word\tand\nlines',
        "SINGLE": "as \\n written",
        "HASH": "not # a comment",
        "EMPTY": "",
    }


def test_a_quoted_value_spans_lines_and_the_next_entry_keeps_its_line() -> None:
    found = entries('CERT="-----BEGIN-----\nMIIB\n-----END-----"\nNEXT=1\n')
    assert [(e.key, e.value, e.origin) for e in found] == [
        ("CERT", "-----BEGIN-----\nMIIB\n-----END-----", Origin(".env", 1)),
        ("NEXT", "1", Origin(".env", 4)),
    ]


def test_variables_expand_from_earlier_lines_and_from_the_environment() -> None:
    assert read(
        """
        export POSTGRES_PASSWORD=s3cret
        DATABASE_URL=postgresql://postgres:${POSTGRES_PASSWORD}@localhost/app
        QUOTED="${POSTGRES_PASSWORD}!"
        HOME_DIR=${HOME}/app
        LATER=${DEFINED_BELOW}
        DEFAULTED=${UNSET_ANYWHERE:-fallback}
        EMPTY_WHEN_UNSET=[${UNSET_ANYWHERE}]
        BARE=$POSTGRES_PASSWORD
        DEFINED_BELOW=x
        """,
        {"HOME": "/home/me"},
    ) == {
        "POSTGRES_PASSWORD": "s3cret",
        "DATABASE_URL": "postgresql://postgres:s3cret@localhost/app",
        "QUOTED": "s3cret!",
        "HOME_DIR": "/home/me/app",
        "LATER": "",  # only the lines above
        "DEFAULTED": "fallback",
        "EMPTY_WHEN_UNSET": "[]",
        "BARE": "$POSTGRES_PASSWORD",  # python-dotenv expands ${VAR} only
        "DEFINED_BELOW": "x",
    }


def test_the_environment_overrides_an_entry_and_is_what_later_lines_see() -> None:
    applied, overridden = expanded(
        entries("""
            DATABASE_URL=postgresql://localhost/dev
            COPY=${DATABASE_URL}
        """),
        {"DATABASE_URL": "postgresql://ci/test"},
    )
    assert [(e.key, e.value) for e in applied] == [("COPY", "postgresql://ci/test")]
    assert [e.key for e in overridden] == ["DATABASE_URL"]


SAMPLE = """\
# The same as python-dotenv, read by python-dotenv
export A=1
B="two ${A}"
C='three ${B}'
D=${A}${B} # trailing comment
E="multi
line ${A}"
F=${NOT_SET_HERE_EITHER:-d}
G=\\\\n
"""


def test_the_values_are_python_dotenvs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_HERE_EITHER", raising=False)
    for name in "ABCDEFG":
        monkeypatch.delenv(name, raising=False)
    assert read(SAMPLE, dict(os.environ)) == dotenv_values(stream=io.StringIO(SAMPLE))


def test_the_environment_wins_as_with_load_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"A": "from the environment", "PATH": "/bin"}
    monkeypatch.setattr(os, "environ", dict(environ))
    load_dotenv(stream=io.StringIO(SAMPLE), override=False)
    applied, overridden = expanded(entries(SAMPLE), environ)
    assert {**environ, **{e.key: e.value for e in applied}} == os.environ
    assert [e.key for e in overridden] == ["A"]


def test_a_line_python_dotenv_cannot_parse_is_an_error_at_its_line() -> None:
    warnings: list[Diagnostic] = []
    problems: list[Diagnostic] = []
    found = parse_env("GOOD=1\nA: B\nALSO_GOOD=2\n", "config/app.env", warnings, problems)
    assert [e.key for e in found] == ["GOOD", "ALSO_GOOD"]
    assert [(p.code, p.origin) for p in problems] == [(Code.ENV_FILE, Origin("config/app.env", 2))]
    assert problems[0].message.startswith("cannot parse config/app.env at line 2 ")


@pytest.mark.parametrize("name", ["PORT", "LAUNCHER_SERVICE"])
def test_port_and_launcher_service_are_ignored_with_a_warning(name: str) -> None:
    warnings: list[Diagnostic] = []
    problems: list[Diagnostic] = []
    found = parse_env(f"A=1\nexport {name}=9999\n", ".env", warnings, problems)
    assert [e.key for e in found] == ["A"]
    assert problems == []
    assert [(w.code, w.origin, w.severity) for w in warnings] == [
        (Code.RESERVED_VARIABLE, Origin(".env", 2), "warning")
    ]
    assert warnings[0].render().startswith(f"warning[LCH-1034]: {name} in .env is ignored")
