"""The pure rules of hot reload (launcher/runtime/watchrules.py): ignores, owners, who follows whom, and
the debouncer on a fake clock (plain numbers: the debouncer is told the time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.plan.spec import DependencySpec, ProcessSpec
from launcher.runtime.watchrules import Debouncer, ignored, owners, restart_order, short_list

ROOT = Path("/p")


def spec(
    name: str,
    watch: tuple[str, ...] = (),
    *,
    depends: tuple[DependencySpec, ...] = (),
    ignore: tuple[str, ...] = (),
    host: str | None = None,
) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        service=name,
        kind="command",
        argv=("x",),
        cwd=ROOT,
        env={},
        watch=tuple(ROOT / w for w in watch),
        watch_ignore=ignore,
        depends_on=depends,
        host=host,
    )


@pytest.mark.parametrize(
    "relative",
    [
        "api/.routes.py.swp",
        "api/.routes.py.swx",
        "api/routes.py~",
        "api/.#routes.py",
        "api/4913",
        "api/__pycache__/routes.cpython-311.pyc",
        "api/routes.pyc",
        ".git/index",
        "api/.mypy_cache/x.json",
        "api/.pytest_cache/v",
        ".launcher/state.json",
    ],
)
def test_editor_and_cache_files_are_ignored(relative: str) -> None:
    assert ignored(ROOT / relative, ROOT)


@pytest.mark.parametrize("relative", ["api/routes.py", "api/templates/index.html", "api/4913.py"])
def test_source_files_are_not_ignored(relative: str) -> None:
    assert not ignored(ROOT / relative, ROOT)


def test_watch_ignore_matches_a_component_or_the_relative_path() -> None:
    patterns = ("*.log", "fixtures", "api/tests/*")
    assert ignored(ROOT / "api/debug.log", ROOT, patterns)
    assert ignored(ROOT / "api/fixtures/data.json", ROOT, patterns)
    assert ignored(ROOT / "api/tests/test_x.py", ROOT, patterns)
    assert not ignored(ROOT / "api/routes.py", ROOT, patterns)


def test_owners_are_the_services_watching_a_file_not_ignoring_it() -> None:
    specs = [
        spec("a", ("a",)),
        spec("b", ("b", "shared.py")),
        spec("c"),
        spec("d", ("a",), ignore=("*.html",)),
    ]
    assert owners(specs, [ROOT / "a/x.py"], ROOT) == ["a", "d"]
    assert owners(specs, [ROOT / "a/page.html"], ROOT) == ["a"]
    assert owners(specs, [ROOT / "shared.py"], ROOT) == ["b"]
    assert owners(specs, [ROOT / "elsewhere.py", ROOT / "ab/x.py"], ROOT) == []


def test_followers_with_restart_true_follow_transitively_in_dependency_order() -> None:
    specs = [
        spec("db"),
        spec("api", depends=(DependencySpec("db", "ready"),)),
        spec("worker", depends=(DependencySpec("api", "ready", restart=True),)),
        spec("beat", depends=(DependencySpec("worker", "started", restart=True),)),
        spec("web", depends=(DependencySpec("api", "ready"),)),
    ]
    assert restart_order(specs, ["api"]) == ["api", "worker", "beat"]
    assert restart_order(specs, ["db"]) == ["db"]
    assert restart_order(specs, ["beat", "api"]) == ["api", "worker", "beat"]


def test_a_hosted_service_restarts_its_host_and_everything_in_it() -> None:
    specs = [
        spec("cache"),
        spec("shared-host"),
        spec("alpha", host="shared-host"),
        spec("worker", host="shared-host"),
        spec("cli", depends=(DependencySpec("alpha", "ready"),)),
        spec("follower", depends=(DependencySpec("alpha", "ready", restart=True),)),
    ]
    assert restart_order(specs, ["alpha"]) == ["shared-host", "alpha", "worker", "follower"]


def test_short_list_names_files_relative_to_the_project() -> None:
    files = [ROOT / f"api/m{i}.py" for i in range(5)]
    assert short_list(files[:2], ROOT) == "api/m0.py, api/m1.py"
    assert short_list(files, ROOT) == "api/m0.py, api/m1.py, api/m2.py and 2 more"


def test_a_burst_is_over_after_a_quiet_period() -> None:
    burst = Debouncer(quiet=0.1, max_wait=2.0)
    assert burst.deadline() is None
    burst.changed(ROOT / "a.py", 10.0)
    burst.changed(ROOT / "a.py", 10.05)
    assert burst.deadline() == pytest.approx(10.15)
    taken = burst.take()
    assert taken is not None
    assert (taken.files, taken.first) == ([ROOT / "a.py"], 10.0)
    assert burst.deadline() is None
    assert burst.take() is None


def test_a_stream_that_never_pauses_is_cut_at_the_maximum_wait() -> None:
    burst = Debouncer(quiet=0.1, max_wait=2.0)
    now = 0.0
    while now < 5.0:  # a change every 20 ms, for 5 s
        burst.changed(ROOT / "a.py", now)
        now += 0.02
    assert burst.deadline() == pytest.approx(2.0)


def test_a_storm_of_fifty_saves_in_one_second_is_one_burst() -> None:
    burst = Debouncer(quiet=0.1, max_wait=2.0)
    fired = []
    for i in range(50):
        now = i * 0.02
        deadline = burst.deadline()
        if deadline is not None and deadline <= now:
            fired.append(burst.take())
        burst.changed(ROOT / "a.py", now)
    assert fired == []
    assert burst.deadline() == pytest.approx(0.98 + 0.1)


def test_an_atomic_save_counts_as_a_change_of_its_destination_only() -> None:
    burst = Debouncer()
    burst.changed(ROOT / "a/.x.py.tmp", 1.0, created=True)
    burst.changed(ROOT / "a/.x.py.tmp", 1.001)
    burst.moved(ROOT / "a/.x.py.tmp", ROOT / "a/x.py", 1.002)
    taken = burst.take()
    assert taken is not None
    assert taken.files == [ROOT / "a/x.py"]


def test_a_rename_of_an_old_file_counts_both_sides() -> None:
    burst = Debouncer()
    burst.moved(ROOT / "a/old.py", ROOT / "a/new.py", 1.0)
    taken = burst.take()
    assert taken is not None
    assert taken.files == [ROOT / "a/old.py", ROOT / "a/new.py"]


def test_a_vim_backup_save_is_one_change_of_the_file() -> None:
    # vim's `backupcopy=no`: rename x.py to x.py~ (ignored, so no destination), write a new
    # x.py, delete x.py~ (ignored, never reported).
    burst = Debouncer()
    burst.moved(ROOT / "a/x.py", None, 1.0)
    burst.changed(ROOT / "a/x.py", 1.001, created=True)
    burst.changed(ROOT / "a/x.py", 1.002)
    taken = burst.take()
    assert taken is not None
    assert taken.files == [ROOT / "a/x.py"]


def test_a_temporary_file_that_came_and_went_is_no_change() -> None:
    burst = Debouncer()
    burst.changed(ROOT / "a/tmp123", 1.0, created=True)
    burst.removed(ROOT / "a/tmp123", 1.01)
    assert burst.take() is None


def test_roots_watch_directories_recursively_files_through_their_directory(tmp_path: Path) -> None:
    from launcher.runtime.watching import roots

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "settings.toml").write_text("")
    scheduled, missing = roots(
        [tmp_path / "pkg", tmp_path / "pkg" / "sub", tmp_path / "settings.toml", tmp_path / "gone"]
    )
    assert scheduled == [(tmp_path.resolve() / "pkg", True), (tmp_path.resolve(), False)]
    assert missing == [tmp_path.resolve() / "gone"]
