"""The notes, in the SQLite database that DATABASE_URL names (`sqlite:///relative/path`)."""

from __future__ import annotations

import sqlite3

from notes import settings

SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"


def path() -> str:
    scheme, _, where = settings.DATABASE_URL.partition(":///")
    if scheme != "sqlite" or not where:
        raise ValueError(f"DATABASE_URL must be sqlite:///PATH, not {settings.DATABASE_URL!r}")
    return where


def connect() -> sqlite3.Connection:
    return sqlite3.connect(path(), timeout=5)
