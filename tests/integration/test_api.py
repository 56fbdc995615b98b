"""The control API (docs/api.md) against a real stack: every route, the event stream, logs that
follow, /healthz, /metrics, and a schemathesis run checking the answers against the OpenAPI
document. The safety rules are tests/integration/test_api_security.py's."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import psutil
import pytest
import schemathesis
from api_helpers import TOKEN, Served, read_events, serve
from helpers import PROGRAMS, ProjectFactory, alive, free_port_block, program, toml_list, wait_until
from prometheus_client.parser import text_string_to_metric_families

import launcher
from launcher.control import logstreams, server
from launcher.control.openapi import DOCUMENT

pytestmark = pytest.mark.integration
PORTS = free_port_block(20)
PY = sys.executable

STACK = f"""
[launcher]
ports = [{PORTS[0]}, {PORTS[1]}]
stop_timeout = 5

[services.setup]
command = ["{PY}", "-c", "print('setup done')"]
oneshot = true

[services.api]
command = {toml_list(program("http_ok"))}
port = "auto"
probe = {{ http = "/health" }}
liveness = {{ http = "/health", interval = 0.2 }}
depends_on = ["setup"]

[services.worker]
command = {toml_list(program("stack_service", "worker", "--lines", "3", "--grandchild"))}
depends_on = {{ api = "ready" }}
probe = {{ log = "worker line 3" }}
"""


@pytest.fixture
def served(project: ProjectFactory) -> Iterator[Served]:
    with serve(project(STACK)) as running:
        yield running


def service(served: Served, name: str) -> dict[str, Any]:
    services: list[dict[str, Any]] = served.get("/v1/status").json()["services"]
    return next(s for s in services if s["name"] == name)


def hit(served: Served, name: str, path: str = "/health") -> None:
    """A request to service `name` (http_ok logs each request it answers, 404s too)."""
    port = service(served, name)["port"]
    with (
        contextlib.suppress(urllib.error.HTTPError),
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5),
    ):
        pass


# -- reading -----------------------------------------------------------------------------


def test_status_answers_the_stack_with_every_service(served: Served) -> None:
    answer = served.get("/v1/status")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    stack = answer.json()
    assert stack["state"] == "running"
    assert stack["mode"] == "multi"
    assert stack["profile"] is None
    assert stack["pid"] > 0
    assert stack["started_at"] <= time.time()
    by_name = {s["name"]: s for s in stack["services"]}
    assert list(by_name) == ["setup", "api", "worker"]
    assert by_name["setup"]["state"] == "completed"
    assert by_name["setup"]["exit_code"] == 0
    assert by_name["setup"]["pid"] is None
    api = by_name["api"]
    assert api["state"] == "ready"
    assert alive(api["pid"])
    assert api["url"] == f"http://127.0.0.1:{api['port']}"
    assert api["restarts"] == 0
    assert api["started_at"] <= api["ready_at"]
    assert api["last_probe"]["ok"] is True
    assert api["last_probe"]["detail"] == "HTTP 200"
    assert api["last_probe"]["latency"] >= 0
    assert api["last_probe"]["at"] >= api["started_at"]
    assert by_name["setup"]["last_probe"] is None  # it has no probe
    # A log probe waits for its line rather than checking: its one result, when it was ready.
    worker = by_name["worker"]
    assert worker["last_probe"]["detail"] == "matched: worker line 3"
    assert worker["last_probe"]["at"] == worker["ready_at"]


def test_last_probe_follows_the_liveness_checks(served: Served) -> None:
    first = service(served, "api")["last_probe"]["at"]
    wait_until(lambda: service(served, "api")["last_probe"]["at"] > first, timeout=5, interval=0.05)


def test_one_service_with_its_argv_env_and_dependencies(served: Served) -> None:
    answer = served.get("/v1/services/worker")
    assert answer.status == 200
    worker = answer.json()
    assert worker["name"] == "worker"
    assert worker["state"] == "ready"
    assert worker["argv"] == program("stack_service", "worker", "--lines", "3", "--grandchild")
    assert worker["env"]["LAUNCHER_SERVICE"] == "worker"
    assert worker["env"]["API_URL"] == service(served, "api")["url"]
    assert worker["depends_on"] == [{"name": "api", "condition": "ready"}]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/services/nope"),
        ("GET", "/v1/services/nope/logs"),
        ("POST", "/v1/services/nope/start"),
        ("POST", "/v1/services/nope/stop"),
        ("POST", "/v1/services/nope/restart"),
    ],
)
def test_an_unknown_service_is_404_naming_the_known_ones(served: Served, method: str, path: str) -> None:
    answer = served.request(method, path)
    assert answer.status == 404
    assert answer.json() == {
        "error": "no service 'nope' in this stack (it has: setup, api, worker)",
        "code": "LCH-4003",
    }


def test_unknown_routes_and_methods_answer_json_errors(served: Served) -> None:
    missing = served.get("/v2/status")
    assert missing.status == 404
    assert missing.json()["code"] is None
    wrong = served.get("/v1/stop")
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "POST"
    assert "error" in wrong.json()


def test_bad_parameters_are_400(served: Served) -> None:
    for query in ("tail=-1", "tail=many", "follow=perhaps"):
        answer = served.get(f"/v1/logs?{query}")
        assert answer.status == 400, query
        assert answer.json()["code"] is None


def test_openapi_document_is_served(served: Served) -> None:
    answer = served.get("/v1/openapi.json")
    assert answer.status == 200
    assert answer.json() == json.loads(json.dumps(DOCUMENT))
    assert answer.json()["openapi"].startswith("3.1")


# -- steering ----------------------------------------------------------------------------


def test_stop_then_start_a_service(served: Served) -> None:
    pid = service(served, "worker")["pid"]
    stopped = served.post("/v1/services/worker/stop")
    assert stopped.status == 200
    assert stopped.json()["state"] == "stopped"
    assert stopped.json()["pid"] is None
    assert not alive(pid)
    started = served.post("/v1/services/worker/start")
    assert started.status == 200
    assert started.json()["state"] == "ready"
    assert started.json()["pid"] != pid
    assert alive(started.json()["pid"])


def test_start_of_a_running_service_answers_it_as_it_is(served: Served) -> None:
    pid = service(served, "api")["pid"]
    answer = served.post("/v1/services/api/start")
    assert answer.status == 200
    assert answer.json()["pid"] == pid


def test_restart_answers_once_the_new_process_is_ready(served: Served) -> None:
    before = service(served, "api")
    answer = served.post("/v1/services/api/restart", headers={"Content-Type": "application/json"}, body=b"{}")
    assert answer.status == 200
    after = answer.json()
    assert after["state"] == "ready"
    assert after["pid"] != before["pid"]
    assert not alive(before["pid"])
    hit(served, "api")  # ready means it answers, now


def test_concurrent_restarts_leave_one_process(served: Served) -> None:
    answers: list[int] = []

    def restart() -> None:
        answers.append(served.post("/v1/services/worker/restart").status)

    threads = [threading.Thread(target=restart) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [200, 200, 200]
    worker = service(served, "worker")
    assert worker["state"] == "ready"
    launcher_pid = served.get("/v1/status").json()["pid"]
    workers = [
        p
        for p in psutil.Process(launcher_pid).children()
        if any("stack_service" in word for word in p.cmdline())
    ]
    assert [p.pid for p in workers] == [worker["pid"]]


def test_a_start_that_fails_is_409_with_its_last_lines(project: ProjectFactory) -> None:
    root = project(None)
    flag = root / "fail-now"
    script = (
        "import os, sys, time; print('flaky run', flush=True); "
        f"sys.exit(3) if os.path.exists({str(flag)!r}) else time.sleep(300)"
    )
    (root / "launcher.toml").write_text(
        f"[services.flaky]\ncommand = {toml_list([PY, '-c', script])}\nstart_retries = 0\n"
    )
    with serve(root) as served:
        assert served.post("/v1/services/flaky/stop").status == 200
        flag.touch()
        answer = served.post("/v1/services/flaky/start")
        assert answer.status == 409
        error = answer.json()
        assert error["code"] == "LCH-2002"
        assert error["error"].startswith("service 'flaky' failed to start: exited with code 3")
        assert "flaky run" in error["output"]
        assert service(served, "flaky")["state"] == "failed"


def test_post_stop_asks_for_the_stack_to_stop(served: Served) -> None:
    answer = served.post("/v1/stop")
    assert answer.status == 202
    assert answer.json() == {"state": "stopping"}
    assert served.stops == ["stop"]


def test_control_is_refused_while_the_stack_stops(served: Served) -> None:
    served.orchestrator.state = "stopping"  # as orchestrator.stop() sets it first
    try:
        answer = served.post("/v1/services/worker/restart")
    finally:
        served.orchestrator.state = "running"
    assert answer.status == 409
    assert answer.json()["error"] == "the stack is stopping"
    assert service(served, "worker")["state"] == "ready"


# -- logs --------------------------------------------------------------------------------


def test_service_logs_answer_its_last_lines(served: Served) -> None:
    wait_until(lambda: "worker line 3" in served.get("/v1/services/worker/logs").json()["lines"])
    answer = served.get("/v1/services/worker/logs?tail=2").json()
    assert answer == {"service": "worker", "lines": ["worker line 2", "worker line 3"]}
    assert served.get("/v1/services/worker/logs?tail=0").json()["lines"] == []


def test_stack_logs_merge_every_service_in_the_order_they_came(served: Served) -> None:
    wait_until(lambda: "worker line 3" in served.get("/v1/services/worker/logs").json()["lines"])
    lines = served.get("/v1/logs").json()["lines"]
    services = [entry["service"] for entry in lines]
    # setup ran first, then api, then the worker (which waits for api to be ready).
    assert services.index("setup") < services.index("api") < services.index("worker")
    assert {"service": "setup", "line": "setup done"} in lines
    worker = [entry["line"] for entry in lines if entry["service"] == "worker"]
    assert worker == ["worker starting", "worker line 1", "worker line 2", "worker line 3"]
    tail = served.get("/v1/logs?tail=1").json()["lines"]
    assert [entry["service"] for entry in tail].count("worker") == 1  # the last line of each
    assert {"service": "worker", "line": "worker line 3"} in tail
    assert {"service": "setup", "line": "setup done"} in tail


def _ndjson(response: Any) -> Iterator[dict[str, str]]:
    while line := response.readline():
        yield json.loads(line)


def test_service_logs_follow_streams_new_lines_as_ndjson(served: Served) -> None:
    connection = served.unix()
    connection.request("GET", "/v1/services/api/logs?tail=1&follow=true")
    response = connection.getresponse()
    try:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/x-ndjson"
        lines = _ndjson(response)
        assert next(lines)["service"] == "api"  # the tail first
        hit(served, "api", "/followed")
        # Only api's lines come (liveness checks are logged too): wait for ours.
        assert any("GET /followed" in entry["line"] for entry in lines if entry["service"] == "api")
    finally:
        connection.close()


def test_stack_logs_follow_streams_every_service(served: Served) -> None:
    connection = served.unix()
    connection.request("GET", "/v1/logs?tail=0&follow=1")
    response = connection.getresponse()
    try:
        assert response.status == 200
        served.post("/v1/services/worker/restart")
        seen = set()
        for entry in _ndjson(response):
            seen.add((entry["service"], entry["line"]))
            if ("worker", "worker line 3") in seen:
                break
        assert ("worker", "worker starting") in seen
    finally:
        connection.close()


# -- events ------------------------------------------------------------------------------


def test_events_stream_a_snapshot_then_each_change(served: Served) -> None:
    connection = served.unix()
    connection.request("GET", "/v1/events")
    response = connection.getresponse()
    try:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        events = read_events(response)
        kind, snapshot = next(events)
        assert kind == "snapshot"
        assert [s["state"] for s in snapshot["services"]] == ["completed", "ready", "ready"]
        served.post("/v1/services/worker/stop")
        changes = []
        for kind, data in events:
            assert kind == "state"
            changes.append(data)
            if data["new"] == "stopped":
                break
        assert [(c["service"], c["old"], c["new"]) for c in changes] == [
            ("worker", "ready", "stopping"),
            ("worker", "stopping", "stopped"),
        ]
        assert changes[0]["reason"] == "sending SIGTERM"
        assert abs(changes[0]["time"] - time.time()) < 10
    finally:
        connection.close()


def test_an_idle_event_stream_gets_keep_alive_comments(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "KEEPALIVE", 0.1)
    connection = served.unix()
    connection.request("GET", "/v1/events")
    response = connection.getresponse()
    try:
        events = read_events(response)
        assert next(events)[0] == "snapshot"
        assert next(events) == ("", "keep-alive")
    finally:
        connection.close()


def test_closing_the_api_ends_open_streams_at_once(served: Served) -> None:
    responses = []
    for path in ("/v1/events", "/v1/logs?follow=true", "/v1/services/api/logs?follow=true&tail=0"):
        connection = served.unix()
        connection.request("GET", path)
        responses.append((connection, connection.getresponse()))
    events = read_events(responses[0][1])
    assert next(events)[0] == "snapshot"
    started = time.monotonic()
    served.call(served.server.aclose())
    assert time.monotonic() - started < 1.0
    try:
        for _, response in responses:
            response.read()  # to its end: each stream has ended
    finally:
        for connection, _ in responses:
            connection.close()
    assert not served.socket_path.exists()


def test_streams_end_when_the_stack_stops_without_the_api_closing(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library stack may stop without its ApiServer closing: the streams end on their own."""
    monkeypatch.setattr(server, "KEEPALIVE", 0.1)  # the event stream's
    monkeypatch.setattr(logstreams, "KEEPALIVE", 0.1)  # the log streams'
    events_connection, logs_connection = served.unix(), served.unix()
    events_connection.request("GET", "/v1/events")
    logs_connection.request("GET", "/v1/logs?tail=0&follow=true")
    events, logs = events_connection.getresponse(), logs_connection.getresponse()
    try:
        assert next(read_events(events))[0] == "snapshot"
        served.call(served.orchestrator.stop())
        told = [data for kind, data in read_events(events) if kind == "state"]  # to its end
        assert ("api", "stopping", "stopped") in [(c["service"], c["old"], c["new"]) for c in told]
        logs.read()  # ends too
    finally:
        events_connection.close()
        logs_connection.close()


def test_a_client_that_goes_away_ends_its_stream(served: Served) -> None:
    connection = served.unix()
    connection.request("GET", "/v1/services/api/logs?follow=true")
    connection.getresponse()
    streams = served.server._logs  # what the server keeps per open stream
    assert len(streams) == 1
    connection.close()
    wait_until(lambda: not streams, timeout=5, message="the stream's feed dropped")


# -- health and metrics ------------------------------------------------------------------


def test_healthz_is_200_when_every_service_is_ready_and_503_otherwise(served: Served) -> None:
    healthy = served.get("/healthz")
    assert healthy.status == 200
    assert healthy.json() == {"healthy": True, "not_ready": []}
    served.post("/v1/services/worker/stop")
    unhealthy = served.get("/healthz")
    assert unhealthy.status == 503
    assert unhealthy.json() == {"healthy": False, "not_ready": ["worker"]}


def _metrics(served: Served) -> dict[str, Any]:
    answer = served.get("/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(answer.body.decode())}


def _value(family: Any, suffix: str = "", **labels: str) -> float:
    for sample in family.samples:
        if sample.name == family.name + suffix and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise AssertionError(f"no sample {family.name}{suffix} {labels}")


def test_metrics_have_every_documented_name(served: Served) -> None:
    families = _metrics(served)
    documented = {
        "launcher_service_state",
        "launcher_service_restarts",
        "launcher_service_time_to_ready_seconds",
        "launcher_probe_duration_seconds",
        "launcher_probe_failures",
        "launcher_service_cpu_seconds",
        "launcher_service_memory_bytes",
        "launcher_info",
        "launcher_up_seconds",
        "process_cpu_seconds",
        "process_resident_memory_bytes",
    }
    assert documented <= set(families)
    assert _value(families["launcher_service_state"], service="api", state="ready") == 1
    assert _value(families["launcher_service_state"], service="api", state="starting") == 0
    assert _value(families["launcher_service_state"], service="setup", state="completed") == 1
    assert _value(families["launcher_service_restarts"], "_total", service="api") == 0
    assert 0 < _value(families["launcher_service_time_to_ready_seconds"], service="api") < 30
    assert (
        _value(families["launcher_probe_duration_seconds"], "_count", service="api", probe="readiness") >= 1
    )
    assert _value(families["launcher_probe_failures"], "_total", service="api", probe="liveness") == 0
    info = families["launcher_info"].samples[0].labels
    assert info == {"version": launcher.__version__, "stack": "project", "mode": "multi"}
    assert _value(families["launcher_up_seconds"]) > 0


def test_metrics_count_the_liveness_checks(served: Served) -> None:
    def checks() -> float:
        return _value(
            _metrics(served)["launcher_probe_duration_seconds"], "_count", service="api", probe="liveness"
        )

    first = checks()
    wait_until(lambda: checks() > first, timeout=5, interval=0.05)


def test_metrics_measure_each_service_s_whole_process_tree(served: Served) -> None:
    families = _metrics(served)
    worker = psutil.Process(service(served, "worker")["pid"])
    wait_until(lambda: worker.children(), message="the worker's grandchild")
    tree = [worker, *worker.children(recursive=True)]
    memory = _value(families["launcher_service_memory_bytes"], service="worker")
    assert memory > worker.memory_info().rss  # its child's memory counts too
    assert memory == pytest.approx(sum(p.memory_info().rss for p in tree), rel=0.2)
    assert _value(families["launcher_service_cpu_seconds"], "_total", service="worker") > 0
    # A service that is not running has no process: no CPU or memory sample.
    assert not any(s.labels["service"] == "setup" for s in families["launcher_service_memory_bytes"].samples)


def test_a_scrape_does_not_hold_up_the_loop(served: Served) -> None:
    """The psutil walk runs off the loop: a scrape and a status request at once both answer."""
    answers: list[float] = []

    def scrape() -> None:
        for _ in range(5):
            served.get("/metrics")

    thread = threading.Thread(target=scrape)
    thread.start()
    while thread.is_alive():
        started = time.perf_counter()
        served.get("/v1/status")
        answers.append(time.perf_counter() - started)
    thread.join()
    assert max(answers) < 0.5


def shared_stack(events: Path) -> str:
    return f"""
[launcher]
ports = [{PORTS[0]}, {PORTS[1]}]
mode = "shared"

[env]
EVENTS = "{events}"

[services.alpha]
app = "hosted.services:alpha"
cwd = "{PROGRAMS}"
probe = {{ http = "/health" }}

[services.worker]
task = "hosted.services:worker"
cwd = "{PROGRAMS}"
depends_on = {{ alpha = "ready" }}
"""


def test_hosted_services_cpu_and_memory_are_the_host_s_only(project: ProjectFactory) -> None:
    root = project(None)
    (root / "launcher.toml").write_text(shared_stack(root / "events.txt"))
    with serve(root) as served:
        stack = served.get("/v1/status").json()
        assert stack["mode"] == "shared"
        host = [s["name"] for s in stack["services"] if s["name"] not in ("alpha", "worker")]
        assert len(host) == 1
        families = _metrics(served)
        names = {s.labels["service"] for s in families["launcher_service_memory_bytes"].samples}
        assert names == set(host)
        assert _value(families["launcher_service_state"], service="alpha", state="ready") == 1


# -- the OpenAPI document, checked by schemathesis -----------------------------------------

EXAMPLES = 15  # per operation; with the runs on a real service below, about 10 s in all


def test_answers_conform_to_the_openapi_document(project: ProjectFactory) -> None:
    """schemathesis generates requests from the served document and checks every answer
    against it (status codes, content types, schemas, auth), over TCP with the token.

    schemathesis's own pytest integration does not run under pytest 9 (it reads a node's
    `_nodeid`), so each operation's strategy is driven by hypothesis directly."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serve(project(STACK), tcp=True) as served:
        base = f"http://127.0.0.1:{served.tcp_port}"
        schema = schemathesis.openapi.from_url(f"{base}/v1/openapi.json", headers=auth)
        # The event stream never ends by itself; its route is tested above instead (and
        # schemathesis leaves out the document's own route).
        operations = [result.ok() for result in schema.exclude(path="/v1/events").get_all_operations()]
        assert len(operations) == 12
        for operation in operations:
            _conforms(operation.as_strategy(), base, auth, EXAMPLES)
            if "{name}" in operation.path:  # a generated name is unknown: also a real one
                _conforms(operation.as_strategy(path_parameters={"name": "api"}), base, auth, 4)


def _conforms(cases: Any, base: str, auth: dict[str, str], examples: int) -> None:
    @hypothesis.given(case=cases)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def check(case: Any) -> None:
        if case.query and str(case.query.get("follow")).lower() in ("true", "1"):
            case.query["follow"] = "false"  # a stream that follows does not end either
        case.call_and_validate(base_url=base, headers=auth, timeout=30)

    check()
