"""The control API's safety rules (docs/api.md#safety, pitfalls T10.1-T10.5, T10.7): Host and
Origin checks against DNS rebinding and web pages, 415 for cross-site forms, the TCP bearer
token, masked secrets, and a socket that only its user can reach."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import TOKEN, Served, serve
from helpers import ProjectFactory, alive, free_port_block, program, toml_list, wait_until

import launcher
from launcher.control.listening import bind_unix
from launcher.control.server import ApiServer
from launcher.runtime.orchestrator import Orchestrator
from launcher.runtime.output import make_sink

pytestmark = pytest.mark.integration
PORTS = free_port_block(20)
PY = sys.executable
SECRET = "hunter2-very-secret"
LEAKY = (  # a service that prints its own secrets
    "import os, time; "
    "print('my password is', os.environ['DB_PASSWORD'], os.environ['DATABASE_URL'], flush=True); "
    "time.sleep(300)"
)

STACK = f"""
[launcher]
ports = [{PORTS[0]}, {PORTS[1]}]

[env]
DB_PASSWORD = "{SECRET}"
DATABASE_URL = "postgres://app:pw-in-url@127.0.0.1:5432/app"
LOG_LEVEL = "info"

[services.api]
command = {toml_list(program("http_ok"))}
port = "auto"
probe = {{ http = "/health" }}

[services.leaky]
command = {toml_list([PY, "-c", LEAKY])}
probe = {{ log = "my password is" }}
"""


@pytest.fixture
def served(project: ProjectFactory) -> Iterator[Served]:
    with serve(project(STACK), tcp=True) as running:
        yield running


def pid_of(served: Served, name: str) -> int:
    services = served.get("/v1/status").json()["services"]
    pid: int = next(s for s in services if s["name"] == name)["pid"]
    return pid


AUTH = {"Authorization": f"Bearer {TOKEN}"}


# -- Host and Origin (DNS rebinding, web pages) ------------------------------------------


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "localhost.evil.example", "localhost:1234", ""]
)
def test_a_foreign_host_is_403_on_the_unix_socket(served: Served, host: str) -> None:
    answer = served.get("/v1/status", headers={"Host": host})
    assert answer.status == 403
    assert answer.json()["error"].startswith(f"Host {host!r} is not this API's own")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"])
def test_the_loopback_names_are_the_unix_socket_s_own(served: Served, host: str) -> None:
    assert served.get("/v1/status", headers={"Host": host}).status == 200


def test_a_foreign_host_is_403_on_tcp_even_with_the_token(served: Served) -> None:
    port = served.tcp_port
    for host in ("evil.example", f"evil.example:{port}", "localhost", f"localhost:{port + 1}"):
        answer = served.get("/v1/status", headers={"Host": host, **AUTH}, connection=served.tcp())
        assert answer.status == 403, host


def test_the_loopback_names_with_the_port_are_the_tcp_listener_s_own(served: Served) -> None:
    for name in ("localhost", "127.0.0.1", "[::1]"):
        headers = {"Host": f"{name}:{served.tcp_port}", **AUTH}
        assert served.get("/v1/status", headers=headers, connection=served.tcp()).status == 200, name


def test_a_request_without_host_is_403(served: Served) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(served.socket_path))
        sock.sendall(b"GET /v1/status HTTP/1.0\r\n\r\n")
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.0 403")


def test_a_request_from_a_web_page_is_403(served: Served) -> None:
    pid = pid_of(served, "api")
    answer = served.post(
        "/v1/services/api/restart",
        headers={"Origin": "http://evil.example", "Content-Type": "application/json"},
        body=b"{}",
    )
    assert answer.status == 403
    assert pid_of(served, "api") == pid
    assert served.get("/v1/status", headers={"Origin": "http://localhost"}).status == 200


def test_no_cors_preflight_is_answered(served: Served) -> None:
    answer = served.request(
        "OPTIONS",
        "/v1/services/api/restart",
        headers={"Origin": "http://localhost", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status == 405
    assert "Access-Control-Allow-Origin" not in answer.headers


# -- cross-site forms --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
def test_a_form_or_text_post_is_415_and_does_nothing(served: Served, content_type: str) -> None:
    pid = pid_of(served, "api")
    answer = served.post("/v1/services/api/restart", headers={"Content-Type": content_type}, body=b'{"a": 1}')
    assert answer.status == 415
    assert answer.json() == {"error": "a request body must be application/json", "code": None}
    stopped = served.post("/v1/stop", headers={"Content-Type": content_type}, body=b"x")
    assert stopped.status == 415
    assert served.stops == []
    assert pid_of(served, "api") == pid
    assert alive(pid)


def test_a_json_post_or_one_without_a_body_is_accepted(served: Served) -> None:
    json_post = served.post(
        "/v1/stop", headers={"Content-Type": "application/json; charset=utf-8"}, body=b"{}"
    )
    assert json_post.status == 202
    assert served.post("/v1/stop").status == 202
    assert served.stops == ["stop", "stop"]


def test_get_on_a_route_that_changes_things_is_405(served: Served) -> None:
    pid = pid_of(served, "api")
    for path in ("/v1/services/api/restart", "/v1/services/api/stop", "/v1/stop"):
        assert served.get(path).status == 405
    assert pid_of(served, "api") == pid
    assert served.stops == []


# -- the TCP token -----------------------------------------------------------------------


def test_tcp_without_the_token_is_401(served: Served) -> None:
    answer = served.get("/v1/status", connection=served.tcp())
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json()["error"] == "a bearer token is required on TCP"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer " + "x" * len(TOKEN), "Bearer " + TOKEN[:-1], "Basic " + TOKEN, TOKEN, "Bearer"],
)
def test_tcp_with_a_wrong_token_is_401(served: Served, authorization: str) -> None:
    answer = served.get("/healthz", headers={"Authorization": authorization}, connection=served.tcp())
    assert answer.status == 401


def test_tcp_with_the_token_is_200_and_it_guards_every_route(served: Served) -> None:
    assert served.get("/v1/status", headers=AUTH, connection=served.tcp()).status == 200
    assert served.get("/metrics", connection=served.tcp()).status == 401
    assert served.post("/v1/stop", connection=served.tcp()).status == 401
    assert served.stops == []
    assert served.get("/metrics", headers=AUTH, connection=served.tcp()).status == 200


def test_the_unix_socket_needs_no_token(served: Served) -> None:
    assert served.get("/v1/status").status == 200


@pytest.mark.parametrize("path", ["/v1/env", "/v1/services/leaky/env"])
def test_the_environment_is_the_unix_socket_s_alone_and_in_clear(served: Served, path: str) -> None:
    assert served.get(path, connection=served.tcp()).status == 401
    refused = served.get(path, headers=AUTH, connection=served.tcp())
    assert refused.status == 403
    assert refused.json()["error"] == f"{path} is served on the unix socket only, not on TCP"
    assert SECRET.encode() not in refused.body
    answer = served.get(path)
    assert answer.status == 200
    env = answer.json()["env"]
    assert (env["DB_PASSWORD"], env["DATABASE_URL"]) == (
        SECRET,
        "postgres://app:pw-in-url@127.0.0.1:5432/app",
    )


def test_a_tcp_listener_without_a_token_is_refused(project: ProjectFactory, tmp_path: Path) -> None:
    plan = launcher.load(project(STACK) / "launcher.toml").plan()
    orchestrator = Orchestrator(plan, sink=make_sink(io.StringIO()), state_file=False)  # not started
    server = ApiServer(orchestrator, on_stop=lambda: None)
    with pytest.raises(ValueError, match="needs a token"):
        asyncio.run(server.start(tmp_path / "api.sock", ("127.0.0.1", 0)))
    assert not (tmp_path / "api.sock").exists()


# -- secrets -----------------------------------------------------------------------------


def test_secret_values_are_masked_in_the_service_detail(served: Served) -> None:
    answer = served.get("/v1/services/leaky")
    assert answer.status == 200
    env = answer.json()["env"]
    assert env["DB_PASSWORD"] == "******"
    assert env["DATABASE_URL"] == "postgres://app:******@127.0.0.1:5432/app"
    assert env["LOG_LEVEL"] == "info"  # what is not secret stays readable
    assert SECRET.encode() not in answer.body
    assert b"pw-in-url" not in answer.body
    assert SECRET not in " ".join(answer.json()["argv"])


def test_secret_values_are_masked_in_every_answer(served: Served) -> None:
    wait_until(lambda: served.get("/v1/services/leaky/logs").json()["lines"], message="leaky's line")
    for path in ("/v1/status", "/v1/services/leaky/logs", "/v1/logs", "/metrics", "/v1/services/api"):
        body = served.get(path).body
        assert SECRET.encode() not in body, path
        assert b"pw-in-url" not in body, path
    line = served.get("/v1/services/leaky/logs").json()["lines"][0]
    assert line == "my password is ****** postgres://app:******@127.0.0.1:5432/app"


def test_secrets_of_the_launcher_s_environment_are_masked_too(
    project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "inherited-from-the-shell")
    echo = "import os, time; print(os.environ['DEPLOY_TOKEN'], flush=True); time.sleep(300)"
    root = project(f'[services.echo]\ncommand = {toml_list([PY, "-c", echo])}\nprobe = {{ log = "." }}\n')
    with serve(root) as served:
        wait_until(lambda: served.get("/v1/services/echo/logs").json()["lines"], message="echo's line")
        assert served.get("/v1/services/echo/logs").json()["lines"] == ["******"]
        assert b"inherited-from-the-shell" not in served.get("/v1/logs").body


# -- the socket --------------------------------------------------------------------------


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory with a mode of its own (0750), as the lead's run directory would be
    0700: the API must leave it as it is."""
    directory = Path(tempfile.mkdtemp(prefix="lch-sock-"))
    directory.chmod(0o750)
    try:
        yield directory
    finally:
        for entry in directory.iterdir():
            entry.unlink()
        directory.rmdir()


def test_the_socket_is_0600_even_under_umask_0_and_its_directory_untouched(
    project: ProjectFactory, socket_dir: Path
) -> None:
    previous = os.umask(0)
    try:
        with serve(project(STACK), socket_dir=socket_dir) as served:
            mode = served.socket_path.stat().st_mode
            assert stat.S_ISSOCK(mode)
            assert stat.S_IMODE(mode) == 0o600
            assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o750
            assert served.get("/v1/status").status == 200
            # The umask is the process's: it is back as it was.
            assert os.umask(0) == 0
    finally:
        os.umask(previous)
    assert not (socket_dir / "api.sock").exists()  # removed on close


def test_a_stale_socket_is_replaced(project: ProjectFactory, socket_dir: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(socket_dir / "api.sock"))
    stale.close()  # a launcher that died left this behind
    with serve(project(STACK), socket_dir=socket_dir) as served:
        assert served.get("/v1/status").status == 200


def test_a_file_that_is_no_socket_is_left_alone(socket_dir: Path) -> None:
    path = socket_dir / "api.sock"
    path.write_text("not a socket")
    with pytest.raises(FileExistsError):
        bind_unix(path)
    assert path.read_text() == "not a socket"
