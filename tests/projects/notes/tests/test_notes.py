from __future__ import annotations

import contextlib
import json
import os
import urllib.request

from notes import db


def test_a_note_posted_to_the_api_is_in_the_tests_database() -> None:
    request = urllib.request.Request(
        os.environ["API_URL"] + "/notes",
        data=json.dumps({"text": "buy milk"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        created = json.loads(response.read())
    with contextlib.closing(db.connect()) as connection:
        row = connection.execute("SELECT text FROM notes WHERE id = ?", (created["id"],)).fetchone()
    assert row == ("buy milk",)
