"""The pytest plugin, through a real inner pytest (pytester, in a subprocess): the fixtures
start real stacks, a failing test reports each service's last lines, and nothing is left
running when the inner session ends, is interrupted or is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
from helpers import PROGRAMS, free_port_block, wait_until

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


def test_profile_option_and_a_failing_start_names_the_service_and_its_output(
    inner: pytest.Pytester,
) -> None:
    inner.makepyfile("def test_uses_it(launcher_stack):\n    pass\n")
    result = run_inner(inner, "--launcher-profile", "bad")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*LCH-2002*service 'broken' failed to start*", "*broken: no database*"])


def test_a_failing_test_reports_the_last_lines_of_each_service(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        textwrap.dedent(
            """
            def test_fails(launcher_factory):
                launcher_factory(profile="web")
                assert False, "the test itself failed"
            """
        )
    )
    result = run_inner(inner)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*launcher: launcher_factory #1*",
            "api (ready, pid *): last * lines",
            "echo (ready, pid *)*",
            "*| echo up",
        ]
    )


def test_launcher_factory_starts_several_stacks_and_stops_them_after_the_test(
    inner: pytest.Pytester,
) -> None:
    inner.makepyfile(
        textwrap.dedent(
            """
            import os, psutil

            PIDS = []

            def test_two(launcher_factory):
                a = launcher_factory(profile="web")
                b = launcher_factory(services=["echo"], overrides={"launcher": {"ports": [18430, 18440]}})
                assert a.port("api") != 0
                PIDS.extend(s.pid for s in [*a.status(), *b.status()])
                assert len(PIDS) == 3 and all(psutil.pid_exists(p) for p in PIDS)

            def test_gone_after_the_test():
                assert PIDS and not any(
                    psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in PIDS)
            """
        )
    )
    result = run_inner(inner)
    result.assert_outcomes(passed=2)


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
