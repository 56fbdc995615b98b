"""A oneshot: create or upgrade the schema, idempotently. `python -m infinitescribe.migrate`."""

from __future__ import annotations

from infinitescribe import db

MIGRATIONS = [
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY, title TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'new',  -- new, writing, drafted, reviewing, approved, rejected
        draft TEXT, created_at TEXT DEFAULT CURRENT_TIMESTAMP)""",
    """CREATE TABLE chapters (
        id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL REFERENCES jobs(id), title TEXT, text TEXT,
        approved_at TEXT DEFAULT CURRENT_TIMESTAMP)""",
]


def main() -> None:
    db.path().parent.mkdir(parents=True, exist_ok=True)
    connection = db.connect()
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    current = row[0] or 0
    for version, statement in enumerate(MIGRATIONS, start=1):
        if version > current:
            connection.execute(statement)
            connection.execute("INSERT INTO schema_version VALUES (?)", (version,))
            print(f"applied migration {version}", flush=True)
    print(f"schema at version {len(MIGRATIONS)} in {db.path()}", flush=True)


if __name__ == "__main__":
    main()
