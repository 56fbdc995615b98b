"""The demo's own tests, against the whole stack that `launcher_stack` starts once for the
session (configured in ../pytest.ini): the gateway, the migration and both agents."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from launcher import RunningStack


def call(stack: RunningStack, method: str, path: str, body: object = None) -> Any:
    request = urllib.request.Request(
        stack.url("api_gateway") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read()
    return json.loads(text) if text else None


def test_health(launcher_stack: RunningStack) -> None:
    assert call(launcher_stack, "GET", "/health") == {"status": "ok"}


def test_a_new_job_is_drafted_and_approved_by_the_agents(launcher_stack: RunningStack) -> None:
    job = call(launcher_stack, "POST", "/jobs", {"title": "A chapter from the tests"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        titles = [c["title"] for c in call(launcher_stack, "GET", "/chapters")]
        if job["title"] in titles:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"job {job['id']} was never approved: {call(launcher_stack, 'GET', '/jobs')}")
    assert "approved job" in "\n".join(launcher_stack.logs("reviewer_agent"))


def test_every_service_is_up(launcher_stack: RunningStack) -> None:
    states = {s.name: s.state for s in launcher_stack.status()}
    assert states == {
        "migrate": "completed",
        "api_gateway": "ready",
        "writer_agent": "ready",
        "reviewer_agent": "ready",
    }
