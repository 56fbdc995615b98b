"""The pytest plugin, through a real inner pytest (pytester, in a subprocess): the fixtures
start real stacks, a profile's stack starts before collection with its environment in
os.environ (restored at the end), a failing test reports each service's last lines, and nothing
is left running when the inner session ends, is interrupted or is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
from helpers import PROGRAMS, free_port_block, toml_list, wait_until

pytestmark = pytest.mark.integration
# A block of ports of its own for this session: a fixed range would be shared with
# whatever else runs on the machine (another test session included).
PORTS = free_port_block(20)

HTTP_OK = PROGRAMS / "http_ok.py"

CONFIG = f"""
[launcher]
ports = [{PORTS[0]}, {PORTS[1]}]
default_profile = "web"

[services.api]
command = ["{sys.executable}", "{HTTP_OK}", "--delay", "0.2"]
port = "auto"
probe = {{ http = "/health" }}

[services.echo]
command = ["{sys.executable}", "-c", "import time; print('echo up', flush=True); time.sleep(300)"]

[services.broken]
command = ["{sys.executable}", "-c", "import sys; print('broken: no database', flush=True); sys.exit(3)"]
port = "auto"  # ready once the port accepts: it exits first
start_retries = 0

[env]  # as a project's settings read it, at import time
DATABASE_URL = "postgresql://app@127.0.0.1:${{API_PORT}}/app"

[profiles.web]
select = ["api", "echo"]

[profiles.bad]
select = ["broken"]
"""


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", launcher=CONFIG)
    pytester.makeini("[pytest]\nlauncher_timeout = 30\n")
    return pytester


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # A subprocess: the inner session's stacks are its own, and it can be killed.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=90)


def test_launcher_stack_serves_every_test_of_the_session(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        textwrap.dedent(
            """
            import urllib.request

            def test_health(launcher_stack):
                with urllib.request.urlopen(launcher_stack.url("api") + "/health") as response:
                    assert response.status == 200

            def test_same_stack_and_its_environment(launcher_stack):
                assert launcher_stack.env["API_URL"] == launcher_stack.url("api")
                assert {s.name: s.state for s in launcher_stack.status()} == {
                    "api": "ready", "echo": "ready"}
                assert "echo up" in launcher_stack.logs("echo")
            """
        )
    )
    result = run_inner(inner)
    result.assert_outcomes(passed=2)


def test_a_failing_start_of_the_profile_ends_the_session_with_the_service_and_its_output(
    inner: pytest.Pytester,
) -> None:
    inner.makepyfile("def test_uses_it(launcher_stack):\n    pass\n")
    result = run_inner(inner, "--launcher-profile", "bad")
    assert result.ret == 1  # before collection: no test ran
    result.stdout.fnmatch_lines(
        [
            "launcher: the stack of profile 'bad' did not start",
            "*LCH-2002*service 'broken' failed to start*",
            "*broken: no database*",
        ]
    )


SETTINGS = """
import os

# Read once, at import, as a project's settings module does.
DATABASE_URL = os.environ.get("DATABASE_URL")
API_URL = os.environ.get("API_URL")
"""


def test_the_profiles_stack_is_in_os_environ_before_collection_and_restored_after(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://ci@db/outer")  # the declared value wins
    monkeypatch.delenv("API_URL", raising=False)
    inner.makeini("[pytest]\nlauncher_timeout = 30\nlauncher_profile = web\n")
    after = inner.path / "after.json"
    inner.makeconftest(
        f"""
        import json, os

        def pytest_unconfigure(config):  # after the session: what the plugin left in os.environ
            names = ("DATABASE_URL", "API_URL", "API_PORT", "LAUNCHER_STACK")
            with open({str(after)!r}, "w") as file:
                json.dump({{name: os.environ.get(name) for name in names}}, file)
        """
    )
    inner.makepyfile(settings=SETTINGS)
    inner.makepyfile(
        test_app=textwrap.dedent(
            """
            import os, urllib.request
            from settings import API_URL, DATABASE_URL

            def test_settings_saw_the_stack(launcher_stack):
                port = launcher_stack.port("api")
                assert DATABASE_URL == f"postgresql://app@127.0.0.1:{port}/app"
                assert API_URL == launcher_stack.url("api") == os.environ["API_URL"]
                assert os.environ["LAUNCHER_STACK"] == launcher_stack.env["LAUNCHER_STACK"]

            def test_no_fixture_needed():
                with urllib.request.urlopen(API_URL + "/health") as response:
                    assert response.status == 200
            """
        )
    )
    result = run_inner(inner)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["launcher: stack * (profile web) ready, 2 services; its environment in os.environ"]
    )
    assert json.loads(after.read_text()) == {
        "DATABASE_URL": "postgresql://ci@db/outer",
        "API_URL": None,
        "API_PORT": None,
        "LAUNCHER_STACK": None,
    }


def test_launcher_no_env_starts_the_stack_but_leaves_os_environ_alone(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    inner.makepyfile(settings=SETTINGS)
    inner.makepyfile(
        test_app=textwrap.dedent(
            """
            import os
            from settings import DATABASE_URL

            def test_not_in_the_environment(launcher_stack):
                assert DATABASE_URL is None and "LAUNCHER_STACK" not in os.environ
                assert launcher_stack.env["DATABASE_URL"].startswith("postgresql://app@127.0.0.1:")
                assert {s.name for s in launcher_stack.status()} == {"api", "echo"}
            """
        )
    )
    result = run_inner(inner, "--launcher-profile", "web", "--launcher-no-env")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["launcher: stack * (profile web) ready, 2 services; its environment not in*"]
    )


@pytest.mark.parametrize("show", [["--collect-only"], ["--fixtures"], ["--setup-plan"]])
def test_the_profiles_stack_starts_only_where_tests_run(inner: pytest.Pytester, show: list[str]) -> None:
    inner.makepyfile("def test_uses_it(launcher_stack):\n    pass\n")
    result = run_inner(inner, "--launcher-profile", "bad", *show)  # it would fail to start
    assert result.ret == 0, result.stdout.str()
    assert "did not start" not in result.stdout.str()


def test_a_failing_test_reports_the_profiles_services_fixture_or_not(inner: pytest.Pytester) -> None:
    inner.makepyfile("def test_fails():\n    assert False, 'the test itself failed'\n")
    result = run_inner(inner, "--launcher-profile", "web")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*launcher: launcher_stack*", "echo (ready, pid *)*", "*| echo up"])


def test_under_xdist_the_stack_starts_once_in_the_controller(pytester: pytest.Pytester) -> None:
    """Its workers get its environment (they read it at import), and start nothing."""
    pytest.importorskip("xdist")
    starts = pytester.path / "starts"
    mark = f"import time; open({str(starts)!r}, 'a').write('started '); time.sleep(300)"
    once = f"""
[services.once]
command = {toml_list([sys.executable, "-c", mark])}

[profiles.once]
select = ["api", "once"]
"""
    pytester.makefile(".toml", launcher=CONFIG + once)
    for n in range(4):
        pytester.makepyfile(
            **{
                f"test_worker_{n}": textwrap.dedent(
                    """
                    import os, urllib.request

                    API_URL = os.environ["API_URL"]  # at import, in the worker

                    def test_reaches_the_stack():
                        assert os.environ.get("PYTEST_XDIST_WORKER")
                        with urllib.request.urlopen(API_URL + "/health") as response:
                            assert response.status == 200
                    """
                )
            }
        )
    result = run_inner(pytester, "-n", "2", "--launcher-profile", "once", "--launcher-timeout", "30")
    result.assert_outcomes(passed=4)
    assert starts.read_text() == "started "


# SIGINT back to its default first: a session started in the background of a script (`cmd &`)
# runs with SIGINT ignored, and an ignored signal stays ignored across fork and exec, so the
# Ctrl-C this test sends would never reach the inner session.
_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def _inner_command(*args: str) -> list[str]:
    return [sys.executable, "-c", _DEFAULT_SIGINT, "-m", "pytest", "-p", "no:cacheprovider", *args]


@pytest.mark.parametrize("how", ["ctrl-c", "sigkill", "timeout-thread"])
def test_nothing_outlives_an_inner_session_that_dies(inner: pytest.Pytester, how: str) -> None:
    """Ctrl-C runs pytest's teardown. pytest-timeout's thread method ends pytest with
    os._exit, and SIGKILL ends it at once: no teardown runs, and the stack's reaper must take
    the services down all the same."""
    pids_file = inner.path / "pids.txt"
    inner.makepyfile(
        textwrap.dedent(
            f"""
            import time

            def test_hangs(launcher_stack):
                with open({str(pids_file)!r}, "w") as file:
                    file.write(" ".join(str(s.pid) for s in launcher_stack.status()))
                time.sleep(300)
            """
        )
    )
    args = ["--timeout", "3", "--timeout-method", "thread"] if how == "timeout-thread" else []
    process = subprocess.Popen(
        _inner_command(*args),
        cwd=inner.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=os.environ.copy(),
    )
    try:
        text = wait_until(lambda: pids_file.exists() and pids_file.read_text(), timeout=60)
        pids = [int(p) for p in str(text).split()]
        assert len(pids) == 2
        if how == "sigkill":
            process.kill()
        elif how == "ctrl-c":
            process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        wait_until(lambda: not any(_alive(p) for p in pids), timeout=5, message="services outlived pytest")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_the_plugin_costs_nothing_when_unused(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        textwrap.dedent(
            """
            import sys

            def test_nothing_heavy_imported():
                heavy = {"launcher.library.stack", "launcher.runtime.orchestrator"}
                heavy |= {"aiohttp", "pydantic", "uvicorn"}
                assert not heavy & set(sys.modules)
            """
        )
    )
    result = run_inner(inner)
    result.assert_outcomes(passed=1)


def test_options_are_listed_in_pytest_help(inner: pytest.Pytester) -> None:
    result = run_inner(inner, "--help")
    result.stdout.fnmatch_lines(["*--launcher-config*", "*--launcher-profile*", "*launcher_timeout*"])


def test_a_bad_timeout_is_a_usage_error_before_any_test(inner: pytest.Pytester) -> None:
    inner.makepyfile("def test_uses_it(launcher_stack):\n    pass\n")
    result = run_inner(inner, "--launcher-timeout", "soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--launcher-timeout*'soon' is not a number of seconds*"])
