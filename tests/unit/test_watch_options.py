"""`--watch` on `run` and `up`, and `up -d` passing it on to the launcher it starts."""

from __future__ import annotations

from launcher.cli.main import parse
from launcher.cli.up import _run_words


def test_run_and_up_take_watch() -> None:
    assert parse(["run", "--watch"]).watch
    assert not parse(["run"]).watch
    assert parse(["up", "full", "-d", "--watch"]).watch


def test_up_detached_passes_watch_on() -> None:
    assert "--watch" in _run_words(parse(["up", "full", "-d", "--watch"]))
    assert "--watch" not in _run_words(parse(["up", "full", "-d"]))
