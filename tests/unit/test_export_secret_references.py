"""Secret references in exported commands and checks, and the interpreter an export names."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from launcher.exports import interpreter
from launcher.exports.probecommands import check_argv, without_password
from launcher.exports.secretrefs import expanded, hide, in_clear, placeholders, shell_line, shell_word
from launcher.exports.systemd import exec_line
from launcher.plan.spec import ProbeSpec


def test_a_reference_is_expanded_by_sh_as_one_word_and_nothing_else_is() -> None:
    word = "a b:${PASSWORD}@$HOME"
    quoted = shell_word(word, ["PASSWORD"])
    assert quoted == "'a b:'\"${PASSWORD}\"'@$HOME'"
    shown = subprocess.run(
        ["sh", "-c", f"printf %s {quoted}"],
        env={"PASSWORD": "x y*", "HOME": "/h"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == "a b:x y*@$HOME"
    assert shell_word(word, []) == shlex.quote(word)
    assert shell_line(["run", "${T}"], ["T"]) == 'run "${T}"'


def test_values_become_references_longest_first() -> None:
    secrets = {"URL": "redis://:pw12@h:1", "PW": "pw12", "SHORT": "ab"}
    assert hide("-u redis://:pw12@h:1 -a pw12 ab", secrets) == "-u ${URL} -a ${PW} ab"
    assert in_clear("redis://:pw12@h:1")
    assert not in_clear("redis://:${PW}@h:1")
    assert in_clear("redis://:x${PW}@h:1")


def test_placeholders_are_for_secret_looking_names_only() -> None:
    found = placeholders(["run ${API_TOKEN} ${PORT}", "${A:-${DB_PASSWORD}}"])
    assert found == {"API_TOKEN": "${API_TOKEN}", "DB_PASSWORD": "${DB_PASSWORD}"}


def test_shell_commands_expand_their_own_references() -> None:
    assert expanded(("/bin/sh", "-c", "run ${T}"), ["T"]) == ()
    assert expanded(("run", "${T}", "${U}"), ["T", "V"]) == ("T",)


def test_systemd_expands_a_reference_and_keeps_every_other_dollar() -> None:
    assert exec_line(["run", "-a", "${REDIS_PASSWORD}", "$HOME", "x${T}"], ["REDIS_PASSWORD"]) == (
        'run -a "${REDIS_PASSWORD}" "$$HOME" "x$${T}"'
    )


def test_probes_with_a_password_read_it_from_the_environment() -> None:
    redis = check_argv(ProbeSpec("redis", "redis://:${REDIS_PASSWORD}@127.0.0.1:6390/0"))
    assert redis == (
        "sh",
        "-c",
        'REDISCLI_AUTH="${REDIS_PASSWORD}" redis-cli -u redis://127.0.0.1:6390/0 ping | grep -q PONG',
    )
    user = check_argv(ProbeSpec("redis", "redis://app:${REDIS_PASSWORD}@cache:6390"))
    assert user is not None
    assert "redis-cli -u redis://app@cache:6390 ping" in user[2]
    whole = check_argv(ProbeSpec("redis", "${REDIS_URL}"))
    assert whole == ("sh", "-c", 'redis-cli --no-auth-warning -u "${REDIS_URL}" ping | grep -q PONG')
    postgres = check_argv(ProbeSpec("postgres", "${DATABASE_URL}", timeout=2))
    assert postgres == ("sh", "-c", 'pg_isready -q -d "${DATABASE_URL}" -t 2')
    cmd = check_argv(ProbeSpec("cmd", "check", argv=("check", "--token", "${API_TOKEN}")))
    assert cmd == ("sh", "-c", 'check --token "${API_TOKEN}"')
    assert without_password("postgresql://shop:pw@db:5432/shop") == "postgresql://shop@db:5432/shop"
    assert without_password("db:5432") == "db:5432"


def test_the_interpreter_is_an_absolute_path_where_the_export_runs(tmp_path: Path) -> None:
    resolve = interpreter.resolve
    assert resolve("/usr/bin/python3", ".venv/bin/python", "/srv", None, {}) == "/usr/bin/python3"
    assert resolve(None, ".venv/bin/python", "/srv/app", None, {}) == "/srv/app/.venv/bin/python"
    assert resolve("./env/bin/python", None, "/srv", None, {}) == "/srv/env/bin/python"
    assert resolve("python3.12", None, "/srv", None, {}) == "python3.12"  # a command on PATH there
    assert resolve(None, None, "/app", None, {}) == "/app/.venv/bin/python"
    # For this machine: what `run` would use here, the project's virtualenv first.
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").touch()
    assert resolve(None, None, str(tmp_path), tmp_path, {}) == str(venv / "python")
    assert interpreter.with_python(("python3", "-m", "x"), "/v/bin/python") == ("/v/bin/python", "-m", "x")
    assert interpreter.with_python(("pythonic",), "/v/bin/python") == ("pythonic",)
    assert interpreter.search_path("python", None) is None
    assert interpreter.search_path("/v/bin/python", "/v/bin:/usr/bin") == "/v/bin:/usr/bin"


def test_a_command_is_looked_for_on_this_machines_path(tmp_path: Path) -> None:
    found = interpreter.resolve(None, "sh", str(tmp_path), tmp_path, {"PATH": "/bin:/usr/bin"})
    assert found in ("/bin/sh", "/usr/bin/sh")
