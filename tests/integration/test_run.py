"""`launcher run` end to end: real launcher processes running real services, started in
dependency order, stopped in reverse by Ctrl-C, SIGTERM and SIGHUP with 128 + N; `-- CMD` with
the stack's environment and CMD's exit code; SERVICE words and --no-deps narrow the stack.

The other files of test_run_*.py cover starting, stopping, output, ports and kinds of service.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest
from helpers import (
    Events,
    Launch,
    LauncherRun,
    ProjectFactory,
    service,
    stack_project,
    wait_until,
)

pytestmark = pytest.mark.integration


def stack(project: ProjectFactory) -> tuple[Path, Events]:
    """db <- api (HTTP) <- worker, plus cache on its own."""
    made = stack_project(project)
    events = made.events
    made.write(
        f"""
[services.db]
command = {service("db", events, "--listen", "--delay", "0.3")}
port = "auto"
restart = "always"

[services.api]
command = {service("api", events, "--listen", "--http", "--stop-delay", "0.2")}
port = "auto"
depends_on = ["db"]
probe = {{ http = "/" }}
restart = "always"

[services.worker]
command = {service("worker", events)}
probe = {{ log = "^worker starting$" }}
depends_on = {{ api = "ready" }}
restart = "always"

[services.cache]
command = {service("cache", events)}
probe = {{ log = "^cache starting$" }}
""",
        launcher='name = "t"\nstop_timeout = 5',
    )
    return made.root, events


def started(launcher: LauncherRun, events: Events, count: int = 4) -> None:
    launcher.wait_output(f"{count}/{count} services ready")
    # A service without a probe counts as ready once spawned, perhaps before its first line.
    wait_until(lambda: len(events.names("started")) == count, 10, message="every service's first line")


def test_starts_in_dependency_order_and_ctrl_c_stops_in_reverse_without_restarts(
    project: ProjectFactory, launch: Launch
) -> None:
    root, events = stack(project)
    launcher = launch(root)
    started(launcher, events)
    order = events.pairs()
    assert order.index(("db", "ready")) < order.index(("api", "started"))
    assert order.index(("api", "ready")) < order.index(("worker", "started"))
    assert re.search(r"^\d\d:\d\d:\d\d db +\| db starting$", launcher.output, re.M)

    # What a terminal does on Ctrl-C: SIGINT to the foreground group, the launcher's own.
    os.killpg(launcher.process.pid, signal.SIGINT)
    assert launcher.wait() == 130
    stops = events.names("stopping")
    assert stops.index("worker") < stops.index("api") < stops.index("db")
    assert sorted(stops) == ["api", "cache", "db", "worker"]
    assert all(events.count(name, "started") == 1 for name in ("db", "api", "worker", "cache"))
    assert "restarting" not in launcher.output
    assert not (root / ".launcher" / "state.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_gracefully_with_128_plus_n(
    project: ProjectFactory, launch: Launch, sig: signal.Signals
) -> None:
    root, events = stack(project)
    launcher = launch(root)
    started(launcher, events)
    launcher.signal(sig)
    assert launcher.wait() == 128 + sig
    assert f"{sig.name}: stopping" in launcher.output
    stops = events.names("stopping")
    assert stops.index("worker") < stops.index("api") < stops.index("db")


def test_run_command_gets_the_stack_environment_and_exits_with_its_code(
    project: ProjectFactory, launch: Launch
) -> None:
    root, events = stack(project)
    script = (
        "import os, sys, urllib.request; "
        "body = urllib.request.urlopen(os.environ['API_URL']).read().decode(); "
        "names = sorted(k for k in os.environ if k.endswith(('_URL', '_PORT'))); "
        "print('got', body, os.environ['LAUNCHER_STACK'], *names, flush=True); "
        "sys.exit(7)"
    )
    launcher = launch(root, "--", sys.executable, "-c", script)
    assert launcher.wait() == 7
    output = launcher.output
    # Every service with a port gives X_PORT and X_URL; the worker and cache have none.
    assert "got api t API_PORT API_URL DB_PORT DB_URL" in output
    assert sorted(events.names("stopping")) == ["api", "cache", "db", "worker"]


@pytest.mark.parametrize(("how", "code"), [("SIGTERM", 143), ("SIGKILL", 137)])
def test_run_command_killed_by_a_signal_exits_128_plus_n(
    project: ProjectFactory, launch: Launch, how: str, code: int
) -> None:
    root, _ = stack(project)
    script = f"import os, signal; os.kill(os.getpid(), signal.{how})"
    launcher = launch(root, "--", sys.executable, "-c", script)
    assert launcher.wait() == code


def test_ctrl_c_reaches_the_command_and_the_stack_comes_down_after_it(
    project: ProjectFactory, launch: Launch
) -> None:
    root, events = stack(project)
    script = "import time; print('command running', flush=True); time.sleep(60)"
    launcher = launch(root, "--", sys.executable, "-c", script)
    launcher.wait_output("command running")
    os.killpg(launcher.process.pid, signal.SIGINT)
    assert launcher.wait() == 130
    assert sorted(events.names("stopping")) == ["api", "cache", "db", "worker"]


def test_a_command_that_cannot_run_exits_127_after_tearing_down(
    project: ProjectFactory, launch: Launch
) -> None:
    root, events = stack(project)
    launcher = launch(root, "--", str(root / "no-such-program"))
    assert launcher.wait() == 127
    assert "cannot run" in launcher.output
    assert sorted(events.names("stopping")) == ["api", "cache", "db", "worker"]


def test_service_words_narrow_the_stack_to_them_and_their_dependencies(
    project: ProjectFactory, launch: Launch
) -> None:
    root, events = stack(project)
    launcher = launch(root, "api")
    launcher.wait_output("2/2 services ready")
    wait_until(lambda: len(events.names("started")) == 2, 10, message="db and api")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    assert sorted(events.names("started")) == ["api", "db"]


def test_no_deps_starts_only_the_named_services(project: ProjectFactory, launch: Launch) -> None:
    root, events = stack(project)
    launcher = launch(root, "worker", "cache", "--no-deps")
    launcher.wait_output("2/2 services ready")
    wait_until(lambda: len(events.names("started")) == 2, 10, message="worker and cache")
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130
    assert sorted(events.names("started")) == ["cache", "worker"]
