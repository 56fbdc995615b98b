"""The demo's SQLite database: where it is, and a connection to it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

# Relative paths are taken from examples/, whatever the working directory: in shared mode the
# gateway runs inside the launcher's host process, which runs in the project's directory.
EXAMPLES = Path(__file__).resolve().parent.parent


def path() -> Path:
    return EXAMPLES / os.environ.get("DEMO_DB", "../.launcher/demo.sqlite3")


def connect() -> sqlite3.Connection:
    connection = sqlite3.connect(path(), check_same_thread=False, isolation_level=None, timeout=5)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    return connection
