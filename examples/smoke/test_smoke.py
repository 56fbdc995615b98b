"""Smoke tests for CI, run against a stack that is already up:

    python -m launcher run ci -- python -m pytest examples/smoke

`launcher run ci -- CMD` starts the stack, waits until every service is ready, runs CMD with
`API_GATEWAY_URL` (and every other X_URL / X_PORT) in its environment, tears the stack down
and exits with CMD's code. These tests need nothing but that environment.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

URL = os.environ.get("API_GATEWAY_URL")
pytestmark = pytest.mark.skipif(URL is None, reason="run under `launcher run ci -- pytest examples/smoke`")


def get(path: str) -> object:
    with urllib.request.urlopen(f"{URL}{path}", timeout=5) as response:
        return json.loads(response.read())


def test_the_gateway_is_healthy() -> None:
    assert get("/health") == {"status": "ok"}


def test_the_gateway_serves_jobs() -> None:
    assert isinstance(get("/jobs"), list)


def test_the_stack_environment_is_there() -> None:
    assert os.environ["LAUNCHER_STACK"] == "infinitescribe"
    assert f"http://127.0.0.1:{os.environ['API_GATEWAY_PORT']}" == URL
