"""The pytest plugin (entry point `pytest11`): a whole stack for a test session.

    pytest --launcher-profile test      # the stack starts before collection, and its
                                        # environment (DATABASE_URL, API_URL, ...) is in os.environ

    def test_health(launcher_stack):
        assert urlopen(launcher_stack.url("api_gateway") + "/health").status == 200

    def test_two_stacks(launcher_factory):
        a = launcher_factory(profile="minimal")
        b = launcher_factory("other/launcher.toml", services=["redis"])

Given a profile (`--launcher-profile` / ini `launcher_profile`), the session's stack starts at
session start, before collection, and its environment (`running.env`: what `launcher run --
CMD` gives CMD) is put into os.environ until the session ends, so that settings read when a
test module is imported see the stack (`--launcher-no-env` opts out). It starts only where
tests run: not for --collect-only, --fixtures or --setup-plan, and under pytest-xdist once, in
the controller, before the workers start (they inherit its environment). A failed start ends
the session with exit code 1. `launcher_stack` is that stack; without a profile it is started
by the first test that asks for it (with the configuration's default_profile).

`--launcher-config` / `--launcher-timeout` (or the ini options `launcher_config`, ...) name
the file and the seconds a start may take. `launcher_factory` starts stacks that are torn down
when the test ends. A failing test's report gets a section with the last lines of every
service of the stacks it used (the session's, when it started at session start, always).
Nothing is left running after the session: it stops every stack, and when pytest itself dies
(killed, or ended by pytest-timeout's thread method, which skips teardown) each stack's reaper
ends its processes.

Without a profile the launcher is imported only when a fixture is used: collecting a test
suite that has this plugin installed costs nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
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
# What the session start owns: its stack and the environment it put into os.environ.
_STARTED = pytest.StashKey[contextlib.ExitStack]()
# Options that show the tests or fixtures without running any.
_NOT_RUNNING = ("collectonly", "showfixtures", "show_fixtures_per_test", "setupplan")

Factory = Callable[..., "RunningStack"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("launcher", "launcher stacks (launcher_stack, launcher_factory)")
    options = (
        ("config", "the launcher.toml of launcher_stack (default: found from the rootdir)"),
        ("profile", "start this profile's stack before collection (launcher_stack is that stack)"),
        ("timeout", f"seconds a stack may take to become ready (default: {DEFAULT_TIMEOUT:g})"),
    )
    for name, text in options:
        group.addoption(f"--launcher-{name}", dest=f"launcher_{name}", default=None, help=text)
        parser.addini(f"launcher_{name}", text, default=None)
    group.addoption(
        "--launcher-no-env",
        dest="launcher_no_env",
        action="store_true",
        help="leave os.environ alone: do not put the profile's stack's environment into it",
    )


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


def _xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# Before pytest-xdist starts its workers (its own hook is trylast): they inherit os.environ.
@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Given a profile, start its stack and put its environment into os.environ; a failed
    start ends the session (exit code 1) with the error, its service's last lines included."""
    config = session.config
    profile = _option(config, "profile")
    if (
        profile is None
        or _xdist_worker(config)
        or any(getattr(config.option, o, False) for o in _NOT_RUNNING)
    ):
        return
    from launcher.core.errors import LauncherError

    owned = contextlib.ExitStack()
    try:
        running = owned.enter_context(_started(config, None, profile, {}))
    except LauncherError as exc:
        _say(config, f"launcher: the stack of profile '{profile}' did not start\n{exc}")
        pytest.exit(f"launcher: the stack of profile '{profile}' did not start", returncode=1)
    config.stash[_STARTED] = owned
    config.stash[_SESSION] = [("launcher_stack", running)]
    if not config.getoption("launcher_no_env"):
        owned.enter_context(_environment(running.env))


# After the session's fixtures are torn down (in pytest's own pytest_sessionfinish).
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    owned = session.config.stash.get(_STARTED, None)
    if owned is not None:
        del session.config.stash[_STARTED]
        session.config.stash[_SESSION] = []
        owned.close()  # os.environ as it was, then the stack stopped


def pytest_report_header(config: pytest.Config) -> str | None:
    if _STARTED not in config.stash:
        return None
    running = config.stash[_SESSION][0][1]
    where = (
        "not in os.environ (--launcher-no-env)" if config.getoption("launcher_no_env") else "in os.environ"
    )
    return (
        f"launcher: stack {running.env.get('LAUNCHER_STACK', '?')} (profile {_option(config, 'profile')}) "
        f"ready, {len(running.status())} services; its environment {where}"
    )


def _say(config: pytest.Config, text: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(text)
    else:
        print(text, file=sys.stderr)


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """`env` in os.environ while the block runs; then those variables as they were (unset
    again where they were not set)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def launcher_stack(request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    """The session's stack: the profile's, started at session start; without a profile, started
    once, ready when the first test that asks gets it."""
    config = request.config
    if _STARTED in config.stash:
        yield config.stash[_SESSION][0][1]
        return
    if _xdist_worker(config) and _option(config, "profile") is not None:
        pytest.fail(
            "launcher_stack: under pytest-xdist the profile's stack runs once, in the controller, "
            "and its workers have only its environment: read the addresses from os.environ "
            "(API_URL, API_PORT, ...), or run without -n",
            pytrace=False,
        )
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
    # Setup and call only: by teardown the test's own stacks have stopped. The session's stack
    # serves every test when it started at session start (through os.environ, fixture or not).
    if report.failed and report.when in ("setup", "call"):
        used = _STARTED in item.config.stash or "launcher_stack" in getattr(item, "fixturenames", ())
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
