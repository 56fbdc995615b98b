from __future__ import annotations

import json
import os
import time
import urllib.request

from linkqueue import settings
from linkqueue.redisclient import Redis


def call(url: str, body: str | None = None) -> dict[str, object]:
    data = body.encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as response:
        answer: dict[str, object] = json.loads(response.read())
    return answer


def test_web_is_up(web_url: str) -> None:
    assert call(f"{web_url}/health") == {"status": "ok"}


def test_a_submitted_link_is_checked_by_the_worker(web_url: str) -> None:
    created = call(f"{web_url}/links", "https://example.org/docs")
    deadline = time.monotonic() + 10
    while (link := call(f"{web_url}/links/{created['id']}"))["status"] != "checked":
        assert time.monotonic() < deadline, f"the worker did not check {link}"
        time.sleep(0.05)
    assert link["host"] == "example.org"


def test_the_queue_is_the_redis_that_the_env_file_names() -> None:
    url = settings.REDIS_URL
    assert url == f"redis://127.0.0.1:{os.environ['REDIS_PORT']}/0"
    queue = Redis.connect(url)
    try:
        assert queue.command("PING") == "PONG"
    finally:
        queue.close()
