"""Ports at run time (DESIGN.md section 3): an `auto` port skips ports that other programs hold;
a fixed port that is taken is LCH-3002 naming the holder; a range that cannot serve every
service is LCH-3001; in each case nothing starts."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
from collections.abc import Callable, Iterator

import pytest
from helpers import (
    Events,
    Launch,
    ProjectFactory,
    cli,
    free_port_block,
    service,
    stack_project,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def hold() -> Iterator[Callable[[int], socket.socket]]:
    """`hold(port)`: listen on 127.0.0.1:port (0: any) from this process until the test ends."""
    held: list[socket.socket] = []

    def listen(port: int) -> socket.socket:
        sock = socket.socket()
        sock.bind(("127.0.0.1", port))
        sock.listen()
        held.append(sock)
        return sock

    yield listen
    for sock in held:
        sock.close()


def test_auto_ports_skip_the_ports_other_programs_hold(
    project: ProjectFactory, launch: Launch, hold: Callable[[int], socket.socket]
) -> None:
    stack = stack_project(project)
    hold(stack.low)
    hold(stack.low + 2)
    stack.write(f"""
[services.a]
command = {service("a", stack.events, "--listen")}
port = "auto"
[services.b]
command = {service("b", stack.events, "--listen")}
port = "auto"
""")
    launcher = launch(stack.root)
    launcher.wait_output("2/2 services ready")
    state = json.loads((stack.root / ".launcher" / "state.json").read_text())
    ports = {s["name"]: s["port"] for s in state["services"]}
    assert ports == {"a": stack.low + 1, "b": stack.low + 3}
    launcher.signal(signal.SIGINT)
    assert launcher.wait() == 130


@pytest.mark.parametrize("kind", ["command", "app"])
def test_a_taken_fixed_port_is_lch_3002_naming_the_holder_and_nothing_starts(
    project: ProjectFactory, launch: Launch, hold: Callable[[int], socket.socket], kind: str
) -> None:
    port = hold(0).getsockname()[1]
    root = project()
    events = Events(root / "events")
    web = f"command = {service('web', events, '--listen')}" if kind == "command" else 'app = "web:app"'
    (root / "launcher.toml").write_text(f"""
[services.first]
command = {service("first", events)}
probe = {{ log = "^first starting$" }}
[services.web]
{web}
port = {port}
depends_on = ["first"]
""")
    launcher = launch(root)
    assert launcher.wait() == 1
    output = launcher.output
    holder = re.escape(
        f"error[LCH-3002]: port {port} of service 'web' is already in use by pid {os.getpid()}"
    )
    assert re.search(holder + r" \(\S*python\S* -m pytest .*\)$", output, re.M), output
    assert "hint: stop that program" in output
    assert not events.path.exists(), "a service started although the ports could not all be had"


def test_a_range_too_small_for_every_auto_port_is_lch_3001_and_nothing_starts(
    project: ProjectFactory, launch: Launch, hold: Callable[[int], socket.socket]
) -> None:
    low, _ = free_port_block(2)
    hold(low)
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(f"""
[launcher]
ports = [{low}, {low + 1}]
[services.a]
command = {service("a", events, "--listen")}
port = "auto"
[services.b]
command = {service("b", events, "--listen")}
port = "auto"
""")
    launcher = launch(root)
    assert launcher.wait() == 1
    assert f"error[LCH-3001]: no free port left in {low}-{low + 1} for 'b'" in launcher.output
    assert not events.path.exists()


def test_two_services_on_one_fixed_port_is_a_configuration_error(
    project: ProjectFactory, launch: Launch
) -> None:
    root = project()
    events = Events(root / "events")
    (root / "launcher.toml").write_text(f"""
[services.a]
command = {service("a", events)}
port = 18999
[services.b]
command = {service("b", events)}
port = 18999
""")
    launcher = launch(root)
    assert launcher.wait() == 2
    assert "error[LCH-1018]: services 'a' and 'b' both use port 18999" in launcher.output
    assert not events.path.exists()


def test_a_port_taken_before_a_late_service_spawns_is_reported_not_probed(
    project: ProjectFactory, launch: Launch, hold: Callable[[int], socket.socket]
) -> None:
    # The port was free when the stack was planned, but another program took it before the
    # service that owns it was spawned: its probe must not pass against that other program.
    stack = stack_project(project)
    stack.write(f"""
[services.gate]
command = {service("gate", stack.events, "--listen", "--delay", "1")}
port = "auto"
[services.late]
command = {service("late", stack.events, "--listen")}
port = "auto"
depends_on = ["gate"]
start_retries = 0
""")
    launcher = launch(stack.root)
    launcher.wait_output("[late] waiting")
    state = stack.root / ".launcher" / "state.json"
    wait_until(state.exists, 10, message="the state file")
    late_port = next(s["port"] for s in json.loads(state.read_text())["services"] if s["name"] == "late")
    hold(late_port)
    assert launcher.wait() == 1
    output = launcher.output
    assert "[late] ready" not in output
    assert f"port {late_port} is already in use by pid {os.getpid()}" in output


def test_each_replica_gets_a_port_of_its_own_and_x_port_names_the_first(project: ProjectFactory) -> None:
    stack = stack_project(project)
    stack.write(f"""
[services.web]
command = {service("web", stack.events, "--listen")}
port = "auto"
replicas = 2
""")
    show = "import os; print('seen', os.environ['WEB_PORT'], os.environ['WEB_URL'])"
    done = cli(stack.root, "run", "--no-color", "--", sys.executable, "-c", show)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"seen {stack.low} http://127.0.0.1:{stack.low}" in done.stdout
    # Both replicas listened on $PORT, which readiness (a port that accepts) proves distinct.
    assert len(stack.events.pids("web")) == 2
    assert "2/2 services ready" in done.stdout
