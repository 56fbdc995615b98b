"""The client commands' pure parts: the status table, one-line summaries, log prefixes, and the
client's HTTP reading and project discovery (no processes, no sockets)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from attach_fakes import NOW
from attach_fakes import service as svc

from launcher.cli import logs, status
from launcher.control import cells, client
from launcher.core.errors import ConfigError
from launcher.runtime import statefile, statejson
from launcher.runtime.output import COLOURS


def stack(*services: dict[str, Any], profile: str | None = "full") -> Any:
    return {
        "stack": "shop",
        "state": "running",
        "profile": profile,
        "mode": "multi",
        "pid": 4242,
        "started_at": NOW - 185,
        "services": list(services),
    }


def test_the_table_has_the_stack_line_then_one_aligned_row_per_service() -> None:
    text = status.render(
        stack(
            svc(
                "api_gateway",
                pid=4250,
                port=8000,
                url="http://127.0.0.1:8000",
                started_at=NOW - 65,
                restarts=2,
                last_probe={"ok": True, "detail": "HTTP 200", "latency": 0.002, "at": NOW - 3},
            ),
            svc("migrate", "completed", exit_code=0, started_at=NOW - 90),
            svc("worker", "failed", exit_code=3, restarts=5, started_at=NOW - 10),
            svc("statsd", "ready", pid=4251, port=8125, started_at=NOW - 65),
        ),
        NOW,
    )
    assert text.splitlines() == [
        "stack shop (profile full, mode multi): running, launcher pid 4242, up 3m05s",
        "SERVICE      STATE               PID   URL                    UPTIME  RESTARTS  LAST PROBE",
        "api_gateway  ready               4250  http://127.0.0.1:8000  1m05s   2         "
        "ok: HTTP 200, 3s ago",
        "migrate      completed (exit 0)  -     -                      -       0         -",
        "worker       failed (exit 3)     -     -                      -       5         -",
        "statsd       ready               4251  port 8125              1m05s   0         -",
    ]


def test_a_stack_without_profile_or_services() -> None:
    text = status.render(stack(profile=None), NOW)
    assert text.splitlines()[0].startswith("stack shop (no profile, mode multi): running")
    assert text.splitlines()[1].split() == [
        "SERVICE",
        "STATE",
        "PID",
        "URL",
        "UPTIME",
        "RESTARTS",
        "LAST",
        "PROBE",
    ]


def test_a_failing_probe_and_a_probe_without_detail() -> None:
    assert cells.probe({"ok": False, "detail": "connection refused", "latency": 0.0, "at": NOW}, NOW) == (
        "failing: connection refused, 0s ago"
    )
    assert cells.probe({"ok": True, "detail": "", "latency": 0.0, "at": NOW - 7200}, NOW) == "ok, 2h00m ago"
    assert cells.probe(None, NOW) == "-"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-1, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m00s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (90061, "1d01h"),
    ],
)
def test_durations_keep_two_units(seconds: float, text: str) -> None:
    assert cells.duration(seconds) == text


@pytest.mark.parametrize(
    ("action", "fields", "line"),
    [
        (
            "start",
            {"pid": 7, "url": "http://127.0.0.1:8000"},
            "started api: ready, pid 7, http://127.0.0.1:8000",
        ),
        ("restart", {"pid": 8}, "restarted api: ready, pid 8"),
        ("stop", {"state": "stopped", "url": "http://127.0.0.1:8000"}, "stopped api"),
        ("start", {"state": "completed"}, "started api: completed"),
    ],
)
def test_a_service_command_says_what_happened_in_one_line(
    action: str, fields: dict[str, Any], line: str
) -> None:
    assert cells.summary(action, svc("api", **{"state": "ready", **fields})) == line


def test_every_service_line_gets_its_padded_name_coloured_as_run_colours_it() -> None:
    # Padded as `run` pads them: to the longest name, `launcher` (its own lines' name) included.
    plain = logs.Prefixes(["api", "worker"], colour=False)
    assert plain("api") == "api      | "
    assert plain("newcomer") == "newcomer | "
    coloured = logs.Prefixes(["api", "worker"], colour=True)
    assert coloured("worker") == f"{COLOURS[1]}worker   | \x1b[0m"
    assert coloured("newcomer") == f"{COLOURS[2]}newcomer | \x1b[0m"


def test_the_state_file_statefile_writes_is_what_the_client_reads(tmp_path: Path) -> None:
    record = statefile.StackRecord(
        "shop",
        "running",
        4242,
        1.5,
        "run-1",
        api="/tmp/api.sock",
        services=[statefile.ServiceRecord("web", "ready")],
    )
    statefile.write(tmp_path, record)
    state = statejson.read_json(str(tmp_path))
    assert state is not None
    assert (state["api"], state["pid"], state["services"][0]["name"]) == ("/tmp/api.sock", 4242, "web")
    assert statefile.read(tmp_path) == record
    (tmp_path / "launcher.toml").write_text("")
    assert client.connect(str(tmp_path / "launcher.toml")).state == state


def test_a_state_file_launcher_did_not_write_is_none(tmp_path: Path) -> None:
    state = Path(statejson.state_path(tmp_path))
    state.parent.mkdir()
    for text in ("", "[1, 2]", '{"stack": "x"}', '{"services": [1]}'):
        state.write_text(text)
        assert statefile.read(tmp_path) is None
    assert statejson.read_json(tmp_path) == {"services": [1]}


def test_a_failed_start_keeps_the_reason_without_what_service_error_puts_back() -> None:
    assert client._reason("service 'api' failed to start: exited with code 1", "api") == (
        "failed to start: exited with code 1"
    )
    assert client._reason("error[LCH-2003]: service 'api' did not become ready\n  | x", "api") == (
        "did not become ready"
    )


def reader(data: bytes) -> Any:
    return io.BufferedReader(io.BytesIO(data))


def test_an_answer_by_content_length() -> None:
    answer = reader(
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}x"
    )
    status_code, headers = client._head(answer)
    assert (status_code, headers["content-type"]) == (404, "application/json")
    assert b"".join(client._body(answer, status_code, headers)) == b"{}"


def test_a_chunked_answer_comes_chunk_by_chunk_and_splits_into_lines() -> None:
    answer = reader(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'7\r\n{"a":1}\r\n9;ext=1\r\n\n{"b":2}\n\r\n3\r\n{"c\r\n4\r\n":3}\r\n0\r\n\r\n'
    )
    status_code, headers = client._head(answer)
    chunks = list(client._body(answer, status_code, headers))
    assert chunks == [b'{"a":1}', b'\n{"b":2}\n', b'{"c', b'":3}']
    assert list(client._lines(iter(chunks))) == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def test_an_answer_to_the_end_and_one_cut_short() -> None:
    answer = reader(b"HTTP/1.0 200 OK\r\n\r\nall of it")
    status_code, headers = client._head(answer)
    assert b"".join(client._body(answer, status_code, headers)) == b"all of it"
    short = reader(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    status_code, headers = client._head(short)
    with pytest.raises(ConnectionError, match="7 bytes early"):
        b"".join(client._body(short, status_code, headers))
    with pytest.raises(ConnectionError, match="not an HTTP answer"):
        client._head(reader(b"SSH-2.0-OpenSSH\r\n"))


def test_the_project_is_found_walking_up_as_the_loader_finds_it(tmp_path: Path) -> None:
    (tmp_path / "launcher.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert client.project_root(None, str(deep)) == str(tmp_path)
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.black]\n")
    assert client.project_root(None, str(deep)) == str(tmp_path)
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.launcher]\nname = 'x'\n")
    assert client.project_root(None, str(deep)) == str(tmp_path / "a")
    assert client.project_root("../../launcher.toml", str(deep)) == str(tmp_path)


def test_no_project_and_a_missing_file_are_lch_1015(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LCH-1015") as missing:
        client.project_root("nope.toml", str(tmp_path))
    assert "configuration file nope.toml does not exist" in str(missing.value)
    with pytest.raises(ConfigError, match=r"no launcher\.toml found in / or any parent"):
        client.project_root(None, "/")
