"""The pytest plugin (entry point `pytest11`): a whole stack in a fixture.

    def test_health(launcher_stack):
        assert urlopen(launcher_stack.url("api_gateway") + "/health").status == 200

    def test_two_stacks(launcher_factory):
        a = launcher_factory(profile="minimal")
        b = launcher_factory("other/launcher.toml", services=["redis"])

`launcher_stack` is one stack for the whole session, configured by `--launcher-config` /
`--launcher-profile` / `--launcher-timeout` or the ini options of the same names
(`launcher_config`, ...). `launcher_factory` starts stacks that are torn down when the test
ends. A failing test's report gets a section with the last lines of every service of the
stacks it used. Nothing is left running after the session: teardown stops every stack, and
when pytest itself dies (killed, or ended by pytest-timeout's thread method, which skips
teardown) each stack's reaper ends its processes.

The launcher is imported only when a fixture is used: collecting a test suite that has this
plugin installed costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from launcher.library.stack import RunningStack

TAIL = 30  # lines of each service in a failing test's report
DEFAULT_TIMEOUT = 60.0

# Every stack a test may have used, with a label: the session's and the test's own.
_ACTIVE = pytest.StashKey[list[tuple[str, "RunningStack"]]]()
_SESSION = pytest.StashKey[list[tuple[str, "RunningStack"]]]()

Factory = Callable[..., "RunningStack"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("launcher", "launcher stacks (launcher_stack, launcher_factory)")
    options = (
        ("config", "the launcher.toml of launcher_stack (default: found from the rootdir)"),
        ("profile", "the profile of launcher_stack (default: its default_profile)"),
        ("timeout", f"seconds a stack may take to become ready (default: {DEFAULT_TIMEOUT:g})"),
    )
    for name, text in options:
        group.addoption(f"--launcher-{name}", dest=f"launcher_{name}", default=None, help=text)
        parser.addini(f"launcher_{name}", text, default=None)


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"launcher_{name}")
    if value is None:
        value = config.getini(f"launcher_{name}")
    return str(value) if value else None


def _timeout(config: pytest.Config) -> float:
    raw = _option(config, "timeout")
    try:
        return float(raw) if raw is not None else DEFAULT_TIMEOUT
    except ValueError:
        raise pytest.UsageError(
            f"--launcher-timeout / launcher_timeout: {raw!r} is not a number of seconds"
        ) from None


def pytest_configure(config: pytest.Config) -> None:
    _timeout(config)  # a bad value stops the session before any test runs


def _config_path(config: pytest.Config, given: str | Path | None) -> Path | None:
    """A path relative to the rootdir; None lets the loader search upwards from the rootdir."""
    chosen = given if given is not None else _option(config, "config")
    return config.rootpath / chosen if chosen is not None else None


@contextlib.contextmanager
def _started(
    config: pytest.Config, path: str | Path | None, profile: str | None, options: dict[str, Any]
) -> Iterator[RunningStack]:
    import launcher

    timeout = options.pop("timeout", None)
    stack = launcher.load(_config_path(config, path), profile=profile, cwd=config.rootpath, **options)
    with stack.start(timeout=timeout if timeout is not None else _timeout(config)) as running:
        yield running


@pytest.fixture(scope="session")
def launcher_stack(request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    """The session's stack, started once, ready when the first test that asks gets it."""
    config = request.config
    with _started(config, None, _option(config, "profile"), {}) as running:
        config.stash.setdefault(_SESSION, []).append(("launcher_stack", running))
        try:
            yield running
        finally:
            config.stash[_SESSION].clear()


@pytest.fixture
def launcher_factory(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """`launcher_factory(config=None, profile=None, **load_options)`: a started stack, torn
    down when the test ends (several per test are fine)."""
    session = request.config
    used: list[tuple[str, RunningStack]] = []
    request.node.stash[_ACTIVE] = used

    with contextlib.ExitStack() as stacks:

        def factory(
            config: str | Path | None = None, profile: str | None = None, **load_options: Any
        ) -> RunningStack:
            running = stacks.enter_context(_started(session, config, profile, dict(load_options)))
            used.append((f"launcher_factory #{len(used) + 1}", running))
            return running

        yield factory


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Setup and call only: by teardown the test's own stacks have stopped.
    if report.failed and report.when in ("setup", "call"):
        used = "launcher_stack" in getattr(item, "fixturenames", ())
        stacks = [*(item.config.stash.get(_SESSION, []) if used else []), *item.stash.get(_ACTIVE, [])]
        for label, running in stacks:
            report.sections.append((f"launcher: {label}", _tails(running)))
    return report


def _tails(running: RunningStack) -> str:
    parts = []
    for status in running.status():
        lines = running.logs(status.name, tail=TAIL)
        head = f"{status.name} ({status.state}, pid {status.pid or '-'}): last {len(lines)} lines"
        parts.append("\n".join([head, *(f"  | {line}" for line in lines)]))
    return "\n".join(parts)
