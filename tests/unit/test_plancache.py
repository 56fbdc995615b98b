"""`run`'s plan cache (launcher/cli/plancache.py): a second run of an unchanged project takes its
plan from `.launcher/cache/` without forking the planning child; any change of what the plan was
made from (a file, an env file, the environment, the arguments, a port taken since) plans again;
a corrupt entry is a miss; the warnings of the load are said again on a hit."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import NoReturn

import pytest

from launcher.cli import plancache
from launcher.cli.main import parse
from launcher.cli.planning import Planning
from launcher.plan.spec import Plan

CONFIG = """\
[launcher]
ports = [{low}, {high}]

[services.api]
command = ["sleep", "5"]
port = "auto"
env = {{ GREETING = "${{GREETING:-hello}}" }}

[profiles.quiet]
select = ["api"]
env = {{ QUIET = "1" }}
"""


def _args(*words: str) -> argparse.Namespace:
    args = parse(["run", *words])
    args.command_argv = []
    return args


def _plan(*words: str) -> tuple[Plan, bool]:
    """The plan of `launcher run WORDS`, and whether it came from the cache."""
    planning = Planning.start(_args(*words))
    outcome = planning.outcome()
    assert not isinstance(outcome, int), "the plan failed"
    return outcome[0], planning.cached is not None


def _no_fork() -> NoReturn:
    raise AssertionError("a planning child was forked")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    low = 20000 + os.getpid() % 20000  # a block of ports for this process's tests
    (tmp_path / "launcher.toml").write_text(CONFIG.format(low=low, high=low + 50))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GREETING", raising=False)
    return tmp_path


def test_a_second_run_takes_its_plan_from_the_cache_without_a_child(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, cached = _plan()
    assert not cached
    assert list((project / ".launcher" / "cache").glob("plan-*.pickle"))
    assert (project / ".launcher" / ".gitignore").read_text() == "*\n"
    monkeypatch.setattr(os, "fork", _no_fork)
    second, cached = _plan()
    assert cached
    assert second == first


@pytest.mark.parametrize(
    "change",
    ["config", "env-file", "environment", "profile", "mode", "local-file", "profile-file"],
)
def test_any_change_of_what_the_plan_was_made_from_plans_again(
    project: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    words: tuple[str, ...] = ()
    _plan()
    assert _plan()[1]
    if change == "config":
        text = (project / "launcher.toml").read_text()
        (project / "launcher.toml").write_text(text.replace('"5"', '"6"'))
    elif change == "env-file":
        (project / ".env").write_text("EXTRA=1\n")
    elif change == "environment":
        monkeypatch.setenv("GREETING", "bonjour")
    elif change == "profile":
        words = ("quiet",)
    elif change == "mode":
        words = ("--mode", "multi")
    elif change == "local-file":
        (project / "launcher.local.toml").write_text('[env]\nLOCAL = "1"\n')
    elif change == "profile-file":
        (project / "profiles").mkdir()
        (project / "profiles" / "extra.toml").write_text('select = ["api"]\n')
    plan, cached = _plan(*words)
    assert not cached
    if change == "environment":
        assert plan.specs[0].env["GREETING"] == "bonjour"
    if change == "config":
        assert plan.specs[0].argv == ("sleep", "6")
    assert _plan(*words)[1]  # the new plan is kept in its turn


def test_a_new_value_in_the_env_file_is_seen(project: Path) -> None:
    (project / ".env").write_text("GREETING=hi\n")
    assert _plan()[0].specs[0].env["GREETING"] == "hi"
    (project / ".env").write_text("GREETING=ho\n")  # same size: the content decides
    plan, cached = _plan()
    assert (plan.specs[0].env["GREETING"], cached) == ("ho", False)


def test_an_automatic_port_taken_since_plans_again(project: Path) -> None:
    first, _ = _plan()
    port = first.specs[0].port
    assert port is not None
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        plan, cached = _plan()
    assert not cached
    assert plan.specs[0].port != port


def test_a_corrupt_entry_is_a_miss_never_an_error(project: Path) -> None:
    _plan()
    [entry] = (project / ".launcher" / "cache").glob("plan-*.pickle")
    for garbage in (b"", b"not a pickle", entry.read_bytes()[:40]):
        entry.write_bytes(garbage)
        plan, cached = _plan()
        assert (plan.names, cached) == (["api"], False)
    assert _plan()[1]


def test_the_warnings_of_the_load_are_said_again_on_a_hit(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (project / ".env").write_text("PORT=1\nGREETING=hi\n")  # PORT is the launcher's: ignored
    _plan()
    first = capfd.readouterr().err
    assert "PORT" in first
    assert _plan()[1]
    assert capfd.readouterr().err == first


def test_debug_is_never_cached(project: Path) -> None:
    assert plancache.entry_for(_args("--debug", "api")) is None


def test_a_plan_that_cannot_be_unpickled_after_its_head_held_is_made_again(project: Path) -> None:
    import pickle

    _plan()
    [entry] = (project / ".launcher" / "cache").glob("plan-*.pickle")
    head, _ = pickle.loads(entry.read_bytes())
    entry.write_bytes(pickle.dumps((head, b"not the plan")))
    planning = Planning.start(_args())
    assert planning.cached is not None  # the head holds: its first services may be spawned
    outcome = planning.outcome()
    assert not isinstance(outcome, int)
    assert outcome[0].names == ["api"]
