"""The links, in the SQLite database at DATABASE_PATH."""

from __future__ import annotations

import sqlite3

from linkqueue import settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    host TEXT
)
"""


def connect() -> sqlite3.Connection:
    connection = sqlite3.connect(settings.DATABASE_PATH, timeout=5)
    connection.row_factory = sqlite3.Row
    return connection
